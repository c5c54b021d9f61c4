import { UsageError } from '../errors';
import { findSize, type SizeName } from '../dyno/sizes';
import { RELEASE_TYPE } from './procfile';
import type { FormationEntry, Procfile, ScaleChange } from './types';

/**
 * Heroku's scaling limits (heroku-dynos.md section 1): 100 dynos per app across
 * types. The tier limits (eco/basic 1 per type, performance 10 per type) are
 * account rules, not dyno semantics, and are not enforced here.
 */
export const MAX_DYNOS = 100;

const FORMATION_FORM = 'expected TYPE, TYPE=N or TYPE=N:SIZE separated by commas (e.g. web=2,worker=1; all=N for every type)';
const FORMATION_ITEM = /^([A-Za-z0-9_-]+)(?:=(\d+))?(?::([\w-]+))?$/;
/** The heroku CLI's `ps:scale` argument regex, verbatim (heroku-dynos.md section 5). */
const SCALE_ARG = /^([\w-]+)([=+-]\d+)(?::([\w-]+))?$/;
const SCALE_FORM = 'expected TYPE=N, TYPE+N or TYPE-N, optionally with :SIZE (e.g. web=2, worker+1, web-1, web=2:standard-2x)';

function notFound(type: string, known: readonly string[]): UsageError {
  return new UsageError(`Couldn't find that process type (${type}). Process types: ${known.length ? known.join(', ') : 'none'}`);
}

function releaseError(what: string): UsageError {
  return new UsageError(`${what}: release is never part of the formation: it runs once for each new release (the release phase); scale the other types`);
}

function sizeOf(name: string, what: string): SizeName {
  try {
    return findSize(name).name;
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(`${what}: ${e.message}`);
    throw e;
  }
}

function checkTotal(entries: readonly FormationEntry[], what: string): void {
  const total = entries.reduce((n, e) => n + e.quantity, 0);
  if (total > MAX_DYNOS) throw new UsageError(`${what}: ${total} dynos in all; an app runs at most ${MAX_DYNOS} dynos`);
}

/**
 * The formation of `dynod start [FORMATION]`: `web=2,worker=1`, `web=2:standard-2x`,
 * bare `web,worker` (1 each, as node-foreman / `heroku local`; foreman would read 0),
 * `all=2` (foreman's: every type not named otherwise). No spec: one of each type.
 * Every type of the Procfile but `release` is in the result, in Procfile order, with
 * 0 when a spec does not name it; `release` never is (it is the release phase).
 */
export function parseFormation(spec: string | undefined, procfile: Procfile, defaultSize: SizeName): FormationEntry[] {
  const types = procfile.types.map((t) => t.name).filter((n) => n !== RELEASE_TYPE);
  if (spec === undefined) return types.map((type) => ({ type, quantity: 1, size: defaultSize }));
  const what = `formation ${JSON.stringify(spec)}`;
  if (spec.trim() === '') throw new UsageError(`${what}: empty; ${FORMATION_FORM}`);
  const named = new Map<string, { quantity: number; size: SizeName | undefined }>();
  let all: { quantity: number; size: SizeName | undefined } | undefined;
  for (const raw of spec.split(',')) {
    const item = raw.trim();
    const m = FORMATION_ITEM.exec(item);
    if (!m) throw new UsageError(`${what}: ${item === '' ? 'an empty item' : `bad item ${JSON.stringify(item)}`}; ${FORMATION_FORM}`);
    const type = m[1]!;
    const digits: string | undefined = m[2];
    const sizeText: string | undefined = m[3];
    const quantity = digits === undefined ? 1 : Number(digits);
    if (quantity > MAX_DYNOS) throw new UsageError(`${what}: ${type}=${digits}: at most ${MAX_DYNOS} dynos of a type`);
    const size = sizeText === undefined ? undefined : sizeOf(sizeText, `${what}: ${item}`);
    // foreman's shorthand, even if a Procfile type is named "all" (foreman does the same)
    if (type === 'all') {
      if (all) throw new UsageError(`${what}: all is given twice; ${FORMATION_FORM}`);
      all = { quantity, size };
      continue;
    }
    if (type === RELEASE_TYPE) throw releaseError(what);
    if (!types.includes(type)) throw notFound(type, types);
    if (named.has(type)) throw new UsageError(`${what}: ${type} is given twice; ${FORMATION_FORM}`);
    named.set(type, { quantity, size });
  }
  const entries = types.map((type): FormationEntry => {
    const e = named.get(type) ?? all;
    return { type, quantity: e?.quantity ?? 0, size: e?.size ?? all?.size ?? defaultSize };
  });
  checkTotal(entries, what);
  return entries;
}

/**
 * `dynod scale` arguments, with the heroku CLI's grammar: `web=3`, `worker+1`,
 * `web-1`, `web=2:standard-2x`. Unlike the heroku CLI, which drops an argument
 * that does not match (heroku/heroku-apps#128), each one is an error here.
 */
export function parseScaleArgs(args: readonly string[]): ScaleChange[] {
  const out: ScaleChange[] = [];
  for (const arg of args) {
    const m = SCALE_ARG.exec(arg);
    if (!m) throw new UsageError(`scale ${JSON.stringify(arg)}: ${SCALE_FORM}`);
    const type = m[1]!;
    const change = m[2]!;
    const sizeText: string | undefined = m[3];
    const op = change[0] as ScaleChange['op'];
    const amount = Number(change.slice(1));
    if (amount > MAX_DYNOS) throw new UsageError(`scale ${JSON.stringify(arg)}: ${change.slice(1)} is more than ${MAX_DYNOS}, the most dynos an app runs`);
    if (out.some((c) => c.type === type)) throw new UsageError(`scale ${JSON.stringify(arg)}: ${type} is given twice; give each type once`);
    const sc: ScaleChange = { type, op, amount };
    if (sizeText !== undefined) sc.size = sizeOf(sizeText, `scale ${JSON.stringify(arg)}`);
    out.push(sc);
  }
  return out;
}

/**
 * The formation after `changes`. `changed` lists the types the changes name, in the
 * formation's order, even when their number and size stay the same: the heroku CLI
 * prints every named type ("now running web at 2:…"). Scaling below zero stops at 0
 * (`web-5` with 2 running leaves 0; the heroku CLI passes "-5" to the API, which is
 * believed to clamp the same way: not confirmed by a source).
 */
export function applyScale(current: readonly FormationEntry[], changes: readonly ScaleChange[]): { next: FormationEntry[]; changed: string[] } {
  const next = current.map((e) => ({ ...e }));
  const known = current.map((e) => e.type);
  const named = new Set<string>();
  for (const c of changes) {
    const what = `scale ${c.type}${c.op}${c.amount}`;
    if (c.type === RELEASE_TYPE) throw releaseError(what);
    const e = next.find((x) => x.type === c.type);
    if (!e) throw notFound(c.type, known);
    const quantity = c.op === '=' ? c.amount : c.op === '+' ? e.quantity + c.amount : Math.max(0, e.quantity - c.amount);
    if (quantity > MAX_DYNOS) throw new UsageError(`${what}: ${quantity} dynos of ${c.type}; at most ${MAX_DYNOS}`);
    e.quantity = quantity;
    if (c.size !== undefined) e.size = findSize(c.size).name;
    named.add(c.type);
  }
  checkTotal(next, `scale ${changes.map((c) => `${c.type}${c.op}${c.amount}`).join(' ')}`);
  return { next, changed: next.filter((e) => named.has(e.type)).map((e) => e.type) };
}

function label(size: SizeName): string {
  return findSize(size).label;
}

/** Heroku's no-argument `scale` output: `web=3:Standard-2X worker=1:Standard-1X`, sorted; reusable as input. */
export function formatFormation(entries: readonly FormationEntry[]): string {
  return entries.map((e) => `${e.type}=${e.quantity}:${label(e.size)}`).sort().join(' ');
}

/** `Scaling dynos... done, now running web at 3:Standard-2X, worker at 1:Standard-1X` (the named types only). */
export function formatScaled(entries: readonly FormationEntry[], changed: readonly string[]): string {
  const parts = entries.filter((e) => changed.includes(e.type)).map((e) => `${e.type} at ${e.quantity}:${label(e.size)}`);
  return `Scaling dynos... done, now running ${parts.join(', ')}`;
}
