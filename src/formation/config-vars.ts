import { UsageError } from '../errors';

/*
 * Config var keys and values (heroku-dynos.md section 3). Heroku's API takes almost any
 * key, but its documented rule is letters, digits and "_"; dynod enforces it, and no
 * leading digit either, because a dyno's environment is read by shells (`.profile`,
 * `$KEY` in Procfile commands) and `config -s` output is meant to be sourced.
 *
 * Reserved, like Heroku's "__" and platform-set names:
 *   - "__…" (Heroku's reservation) and "DYNOD_…" (dynod's own, as Heroku keeps HEROKU_);
 *   - DYNO: dynod sets it in every dyno (web.1, run.4520), a config var could never show.
 * Not reserved: PORT (Heroku lets it be set: web dynos still get their own PORT, other
 * dynos and one-offs see the config var) and HEROKU_… (apps moved from Heroku read
 * HEROKU_APP_NAME and the like; here nothing else sets them).
 */

/** Heroku's limit on the keys and values of one app, which dynod keeps. */
export const CONFIG_VARS_MAX_BYTES = 32 * 1024;

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Why `key` cannot be a config var key, or null when it can. */
export function configKeyProblem(key: string): string | null {
  if (!KEY_RE.test(key)) return 'Config var keys may only contain letters, digits and _, and may not start with a digit.';
  if (key.startsWith('__')) return 'Keys starting with __ are reserved.';
  if (key.startsWith('DYNOD_')) return 'Keys starting with DYNOD_ are reserved for dynod.';
  if (key === 'DYNO') return 'dynod sets DYNO in every dyno (its name, e.g. web.1).';
  return null;
}

/** Throws a UsageError naming `key` when it is not a valid config var key. */
export function validateConfigKey(key: string): void {
  const problem = configKeyProblem(key);
  if (problem) throw new UsageError(`${key} is invalid. ${problem}`);
}

/** Throws a UsageError when `value` cannot be put in an environment. */
export function validateConfigValue(key: string, value: string): void {
  if (typeof value !== 'string') throw new UsageError(`${key}: a config var value must be a string`);
  if (value.includes('\0')) throw new UsageError(`${key}: a config var value may not contain a NUL byte`);
}

/**
 * `config:set` arguments → pairs: `KEY=VALUE`, split at the first "=" (values may hold
 * more), the last of a repeated key wins (as heroku does).
 */
export function parseConfigSetArgs(args: readonly string[]): Record<string, string> {
  if (args.length === 0) throw new UsageError('Must specify KEY and VALUE to set: dynod config:set KEY1=VALUE1 [KEY2=VALUE2 ...]');
  const pairs: Record<string, string> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new UsageError(`${arg} is invalid. Must be in the format FOO=bar.`);
    const key = arg.slice(0, eq);
    const value = arg.slice(eq + 1);
    validateConfigKey(key);
    validateConfigValue(key, value);
    // a repeated key moves to where it was last given, as the value does
    delete pairs[key];
    pairs[key] = value;
  }
  return pairs;
}

/** `config:unset` arguments → keys (any name: unsetting one that is not set does nothing). */
export function parseConfigUnsetArgs(args: readonly string[]): string[] {
  if (args.length === 0) throw new UsageError('Must specify KEY to unset: dynod config:unset KEY1 [KEY2 ...]');
  for (const arg of args) {
    if (arg === '' || arg.includes('=')) throw new UsageError(`${arg} is invalid. Must be a config var key, e.g. FOO.`);
  }
  return [...new Set(args)];
}

/** Bytes of keys and values (UTF-8), what Heroku's 32 KB limit counts. */
export function configSize(vars: Readonly<Record<string, string>>): number {
  let n = 0;
  for (const [k, v] of Object.entries(vars)) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}

/** Throws a UsageError when `vars` exceed the per-app limit. */
export function checkConfigSize(app: string, vars: Readonly<Record<string, string>>): void {
  const size = configSize(vars);
  if (size > CONFIG_VARS_MAX_BYTES) {
    throw new UsageError(`config vars of ${app} would take ${size} bytes; the limit is ${CONFIG_VARS_MAX_BYTES} bytes (32 KB) of keys and values per app`);
  }
}
