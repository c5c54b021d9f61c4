import * as path from 'node:path';
import { UsageError } from '../errors';
import { CAPABILITIES } from '../linux/capabilities';
import type { DynoCgroup } from '../cgroup';
import { DYNO_PATH, type DynoPlan } from './plan';
import { readProcStat, stillRunning } from '../linux/proc-stat';

export { readProcStat };

/**
 * Everything `dynod exec` needs to enter a running dyno, as plain data that
 * survives JSON: the formation manager makes it (Dyno.execTarget()) and hands it to
 * the CLI over its socket; execIn() enters with it from that other process.
 */
export interface ExecTarget {
  /** $DYNO, e.g. web.1 (for messages) */
  name: string;
  /** the start's instance id, which is also the dyno's hostname */
  id: string;
  /** PID 1 (dynod-init) as the host sees it */
  pid: number;
  /** PID 1's start time, /proc/<pid>/stat field 22 (clock ticks after boot): a reused pid has another */
  startTime: number;
  /** the namespaces the dyno has of its own (always pid and mount); the session joins them all at once */
  namespaces: DynoPlan['namespaces'];
  /** v2: the cgroup directory (the session is born in it); v1: the cgroup.procs file of each controller's cgroup */
  cgroup: { version: 1 | 2; dir: string; procsFiles: string[] };
  /** the command's user inside the dyno */
  user: { uid: number; gid: number };
  /** capability names the command keeps: none for the dyno user, Docker's default 14 for --user root */
  capabilities: string[];
  /** the dyno's seccomp choice: "default", "unconfined", or the absolute path of a Docker JSON profile */
  seccomp: string;
  rlimits: { nproc: number; nofile: number };
  umask: number;
  cwd: string;
  /**
   * The session's environment. As `heroku ps:exec`, not the app's config (no --env,
   * no --env-file values): the dyno's base environment, PATH, HOME, LANG, and its
   * actual PORT and DYNO. TERM is the session's own (ExecIO.term).
   */
  env: Record<string, string>;
}

const NAMESPACES = ['user', 'pid', 'mount', 'uts', 'ipc', 'net', 'cgroup'] as const;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PID_MAX = 4194304;

/** The environment of an exec session in a dyno of this plan (see ExecTarget.env). */
export function sessionEnv(plan: Pick<DynoPlan, 'env' | 'name'>): Record<string, string> {
  return { PATH: DYNO_PATH, HOME: '/app', LANG: 'C.UTF-8', PORT: plan.env.PORT!, DYNO: plan.name };
}

/** The target of a running dyno of `plan`, whose PID 1 is `pid` (started at `startTime`) in `cgroup`. */
export function execTargetOf(plan: DynoPlan, run: { id: string; pid: number; startTime: number; cgroup: Pick<DynoCgroup, 'version' | 'intoDir' | 'procsFiles'> }): ExecTarget {
  return {
    name: plan.name,
    id: run.id,
    pid: run.pid,
    startTime: run.startTime,
    namespaces: [...plan.namespaces],
    cgroup: { version: run.cgroup.version, dir: run.cgroup.intoDir, procsFiles: [...run.cgroup.procsFiles] },
    user: { uid: plan.user.uid, gid: plan.user.gid },
    capabilities: [...plan.capabilities],
    seccomp: plan.seccomp,
    rlimits: { ...plan.rlimits },
    umask: plan.umask,
    cwd: plan.cwd,
    env: sessionEnv(plan),
  };
}

/** Whether the target's PID 1 still runs: the same start time, and not a zombie. */
export function targetRunning(t: Pick<ExecTarget, 'pid' | 'startTime'>): boolean {
  return stillRunning(t.pid, t.startTime);
}

// ---- checking a target that arrived as JSON ----

function bad(field: string, expected: string): never {
  throw new UsageError(`exec target: ${field}: expected ${expected}`);
}

function record(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(field, 'an object');
  return v as Record<string, unknown>;
}

function only(o: Record<string, unknown>, field: string, keys: readonly string[]): void {
  const where = field === 'target' ? '' : `${field}: `;
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new UsageError(`exec target: ${where}unknown field ${JSON.stringify(k)}; accepted: ${keys.join(', ')}`);
}

function int(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) bad(field, `an integer in ${min}..${max}`);
  return v;
}

function str(v: unknown, field: string, test?: (s: string) => boolean, expected = 'a string'): string {
  if (typeof v !== 'string' || v.includes('\0') || (test && !test(v))) bad(field, expected);
  return v;
}

function strings(v: unknown, field: string, test: (s: string) => boolean, expected: string): string[] {
  if (!Array.isArray(v)) bad(field, `an array of ${expected}`);
  return v.map((x, i) => str(x, `${field}[${i}]`, test, expected));
}

const absolute = (s: string) => path.posix.isAbsolute(s);

/**
 * An ExecTarget that came from elsewhere (a socket, a file), checked field by field:
 * a copy of it, or a UsageError naming the first field that is wrong and what it accepts.
 */
export function checkExecTarget(value: unknown): ExecTarget {
  const o = record(value, 'target');
  only(o, 'target', ['name', 'id', 'pid', 'startTime', 'namespaces', 'cgroup', 'user', 'capabilities', 'seccomp', 'rlimits', 'umask', 'cwd', 'env']);
  const name = str(o.name, 'name', (s) => /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/.test(s), 'a dyno name such as web.1');
  const id = str(o.id, 'id', (s) => s.length > 0, 'a non-empty string');
  const pid = int(o.pid, 'pid', 2, PID_MAX);
  const startTime = int(o.startTime, 'startTime', 0, Number.MAX_SAFE_INTEGER);
  const namespaces = strings(o.namespaces, 'namespaces', (s) => (NAMESPACES as readonly string[]).includes(s), NAMESPACES.join(' | ')) as ExecTarget['namespaces'];
  if (new Set(namespaces).size !== namespaces.length) bad('namespaces', 'each namespace once');
  if (!namespaces.includes('pid') || !namespaces.includes('mount')) bad('namespaces', 'a list that includes "pid" and "mount" (every dyno has them)');
  const cg = record(o.cgroup, 'cgroup');
  only(cg, 'cgroup', ['version', 'dir', 'procsFiles']);
  if (cg.version !== 1 && cg.version !== 2) bad('cgroup.version', '1 or 2');
  const version = cg.version;
  const dir = str(cg.dir, 'cgroup.dir', (s) => (version === 2 ? absolute(s) : s === ''), version === 2 ? 'an absolute path (cgroup v2)' : '"" (cgroup v1)');
  const procsFiles = strings(cg.procsFiles, 'cgroup.procsFiles', (s) => absolute(s) && s.endsWith('/cgroup.procs'), 'absolute paths of cgroup.procs files');
  if (version === 1 && procsFiles.length === 0) bad('cgroup.procsFiles', 'at least one file (cgroup v1)');
  const user = record(o.user, 'user');
  only(user, 'user', ['uid', 'gid']);
  const caps = strings(o.capabilities, 'capabilities', (s) => (CAPABILITIES as readonly string[]).includes(s), 'capability names such as CAP_CHOWN');
  const seccomp = str(o.seccomp, 'seccomp', (s) => s === 'default' || s === 'unconfined' || absolute(s), '"default", "unconfined" or the absolute path of a profile');
  const rl = record(o.rlimits, 'rlimits');
  only(rl, 'rlimits', ['nproc', 'nofile']);
  const env = record(o.env, 'env');
  const envOut: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (!ENV_KEY.test(k)) bad(`env.${k}`, 'a name of letters, digits and _ (not starting with a digit)');
    envOut[k] = str(v, `env.${k}`, undefined, 'a string without NUL');
  }
  return {
    name,
    id,
    pid,
    startTime,
    namespaces,
    cgroup: { version, dir, procsFiles },
    user: { uid: int(user.uid, 'user.uid', 0, 0xfffffffe), gid: int(user.gid, 'user.gid', 0, 0xfffffffe) },
    capabilities: caps,
    seccomp,
    rlimits: { nproc: int(rl.nproc, 'rlimits.nproc', 1, Number.MAX_SAFE_INTEGER), nofile: int(rl.nofile, 'rlimits.nofile', 1, Number.MAX_SAFE_INTEGER) },
    umask: int(o.umask, 'umask', 0, 0o777),
    cwd: str(o.cwd, 'cwd', absolute, 'an absolute path'),
    env: envOut,
  };
}
