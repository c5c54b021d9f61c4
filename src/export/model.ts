import { findSize, type DynoSize } from '../dyno/sizes';
import { UsageError } from '../errors';
import { RELEASE_TYPE } from '../formation/procfile';
import type { FormationEntry, Procfile } from '../formation/types';

/*
 * What `dynod export` knows before any engine is chosen: the Procfile, the formation,
 * the app's environment and sizes, as plain data. Each engine's writer turns an
 * ExportPlan into files ({path, content, mode}) and does no I/O itself, so the same
 * input always gives the same bytes.
 */

/** A file an export writes, `path` relative to the output directory. */
export interface ExportFile {
  path: string;
  content: string;
  mode: number;
}

/** dynod run's grace between SIGTERM and SIGKILL (run.ts STOP_GRACE_MS, Heroku's 30 s). */
export const DYNOD_GRACE_S = 30;
/**
 * How long an engine waits after SIGTERM before killing everything itself: dynod's
 * grace, then room for dynod to SIGKILL the dyno and take its network down.
 */
export const STOP_TIMEOUT_S = DYNOD_GRACE_S + 5;
/** Heroku's release phase limit (heroku-dynos.md section 2). */
export const RELEASE_TIMEOUT_S = 3600;
/** The release phase's dyno name (dynod start names it release.<version>). */
export const RELEASE_DYNO = 'release.1';

export interface ExportInput {
  app: string;
  /** absolute path of the app directory where the engine runs it */
  appDir: string;
  procfile: Procfile;
  /** parseFormation's result: every type but release, in Procfile order */
  formation: readonly FormationEntry[];
  /** the dynos' environment: the app's .env, its config vars, the -e files (later wins) */
  env: Readonly<Record<string, string>>;
  /** $PORT inside each dyno (and the base of systemd's published host ports) */
  port: number;
  /** R10: how long a web dyno may take to listen on $PORT */
  bootTimeoutMs: number;
  /** absolute path of the dynod command where the engine runs it */
  dynod: string;
}

export interface PlannedType {
  type: string;
  command: string;
  /** the Procfile line, for messages */
  line: number;
  quantity: number;
  size: DynoSize;
  /** Heroku routes HTTP to `web` only: PORT published, boot timeout, health check */
  web: boolean;
}

export interface ExportPlan {
  app: string;
  appDir: string;
  dynod: string;
  procfileName: string;
  port: number;
  bootTimeoutMs: number;
  /** sorted by key */
  env: Array<[string, string]>;
  types: PlannedType[];
  /** the release phase, or null without a `release` type */
  release: { command: string; line: number; size: DynoSize } | null;
}

const ABSOLUTE = /^\//;

/** Checks the input and puts it in the order every writer follows. */
export function exportPlan(input: ExportInput): ExportPlan {
  if (!ABSOLUTE.test(input.appDir)) throw new UsageError(`--app ${input.appDir}: an absolute path`);
  if (!ABSOLUTE.test(input.dynod)) throw new UsageError(`--dynod ${input.dynod}: an absolute path (the dynod command on the host that runs the dynos)`);
  const types = input.formation.map((e): PlannedType => {
    const t = input.procfile.types.find((p) => p.name === e.type);
    if (!t) throw new UsageError(`Couldn't find that process type (${e.type}).`);
    return { type: e.type, command: t.command, line: t.line, quantity: e.quantity, size: findSize(e.size), web: e.type === 'web' };
  });
  const release = input.procfile.types.find((t) => t.name === RELEASE_TYPE);
  // as dynod start sizes its release dyno: the formation's first type's size
  const releaseSize = findSize(input.formation[0]?.size ?? 'standard-1x');
  return {
    app: input.app,
    appDir: input.appDir,
    dynod: input.dynod,
    procfileName: input.procfile.file,
    port: input.port,
    bootTimeoutMs: input.bootTimeoutMs,
    env: Object.entries(input.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    types,
    release: release ? { command: release.command, line: release.line, size: releaseSize } : null,
  };
}

/** What one dyno's `dynod run` gets; each engine fills in its own paths and ports. */
export interface DynoRun {
  name: string;
  size: DynoSize;
  /** --app: the app directory as the engine sees it */
  appDir: string;
  /** $PORT, as text (Nomad gives an interpolation) */
  port: string;
  envFile: string | null;
  publish: string | null;
  /** web dynos: the boot timeout */
  bootTimeoutMs: number | null;
  command: string;
}

/** "60s", or "1500ms" when not whole seconds (dynod's parseDuration reads both). */
export function durationArg(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * `dynod run …` after the dynod path: a formation's dyno as dynod start makes it
 * (its size, /app, $PORT, the app's environment, `/bin/sh -c COMMAND`).
 * A PORT among the app's variables would override --port (the env file comes after
 * the defaults), so web dynos get their own PORT back with -e, as on Heroku where a
 * PORT config var is seen by every dyno but web dynos.
 */
export function dynoRunArgs(plan: ExportPlan, d: DynoRun): string[] {
  const args = ['run', '--name', d.name, '--size', d.size.name, '--app', d.appDir, '--port', d.port];
  if (d.envFile !== null) args.push('--env-file', d.envFile);
  if (d.publish !== null) {
    if (plan.env.some(([k]) => k === 'PORT')) args.push('-e', `PORT=${d.port}`);
    args.push('--publish', d.publish);
  }
  if (d.bootTimeoutMs !== null) args.push('--boot-timeout', durationArg(d.bootTimeoutMs));
  // Heroku runs the Procfile's command through a shell: $PORT and pipes work.
  args.push('--', '/bin/sh', '-c', d.command);
  return args;
}

/**
 * The app's environment as a .env file that `dynod run --env-file` reads back
 * exactly (parseDotenv): every value double-quoted, with \\ \" \$ \n \r escaped so
 * nothing is expanded or split. Keys sorted: same input, same bytes.
 */
export function formatEnvFile(header: string[], env: ReadonlyArray<[string, string]>): string {
  const lines = header.map((h) => `# ${h}`);
  for (const [k, v] of env) lines.push(`${k}=${dotenvQuote(v)}`);
  return `${lines.join('\n')}\n`;
}

export function dotenvQuote(v: string): string {
  return `"${v.replace(/[\\"$\n\r]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\${c}`))}"`;
}
