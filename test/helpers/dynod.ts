// Running ./bin/dynod from integration tests, as a user would.
import { spawn, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const DYNOD = path.join(ROOT, 'bin', 'dynod');

export interface Result {
  /** exit status, or null when a signal ended dynod */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  stdoutBuf: Buffer;
  /** wall time in milliseconds */
  ms: number;
  /** set when the helper had to SIGKILL a dynod that outlived its timeout */
  timedOut: boolean;
}

export interface RunOpts {
  /** written to dynod's stdin, then closed; without it stdin is /dev/null (unless keepStdinOpen) */
  input?: string | Buffer;
  /** give dynod a stdin pipe that is never written nor closed */
  keepStdinOpen?: boolean;
  /** dynod's working directory (the default app) */
  cwd?: string;
  /** added to (or, with undefined values, removed from) dynod's environment */
  env?: Record<string, string | undefined>;
  /** SIGKILL dynod after this long (default 60 s) */
  timeoutMs?: number;
  /** run dynod as this uid/gid instead of root */
  uid?: number;
  gid?: number;
  /**
   * rewrites the argv that starts dynod (`/usr/bin/env -i ... dynod ARGS...`), e.g. to start it
   * through `sh -c 'exec 9<file; exec "$@"' sh` or script(1); the wrapper must end up running that argv
   */
  wrap?: (argv: string[]) => string[];
}

/**
 * The environment dynod runs with: the test's own, minus what the test runner
 * injects (tap's loader in NODE_OPTIONS would be loaded by dynod's Node too) and
 * NODE_EXTRA_CA_CERTS. TERM only when a test asks for it (dynod passes it on),
 * so results do not depend on the terminal the suite runs in.
 */
export function hostEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'NODE_EXTRA_CA_CERTS' || k === 'NODE_OPTIONS' || k.startsWith('TAP') || k.startsWith('_TAPJS') || k.startsWith('DYNOD_') || k === 'TERM') continue;
    env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export interface Running {
  child: ChildProcess;
  pid: number;
  /** resolves when dynod has exited and its output is complete */
  result: Promise<Result>;
  /** everything dynod wrote to stdout so far */
  stdoutSoFar(): string;
  stderrSoFar(): string;
  /** resolves once stdout matches re (rejects after timeoutMs or when dynod exits first) */
  waitForStdout(re: RegExp, timeoutMs?: number): Promise<string>;
}

/** Starts ./bin/dynod ARGS... and collects its output. */
export function spawnDynod(args: string[], opts: RunOpts = {}): Running {
  // tap's processinfo puts its loader back into NODE_OPTIONS of every child it sees:
  // `env -i` makes dynod's environment exactly hostEnv() (env execs, so the pid stays dynod's)
  const env = hostEnv(opts.env);
  let argv = ['/usr/bin/env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), DYNOD, ...args];
  if (opts.wrap) argv = opts.wrap(argv);
  return spawnCollect(argv, { ...opts, env: undefined }, `dynod ${args.join(' ')}`);
}

export interface SpawnOpts {
  /** written to stdin, then closed; without it stdin is /dev/null (unless keepStdinOpen) */
  input?: string | Buffer;
  /** a stdin pipe that is never written nor closed */
  keepStdinOpen?: boolean;
  /** default: the system's temp dir */
  cwd?: string;
  /** the whole environment (default: this process's) */
  env?: NodeJS.ProcessEnv;
  /** SIGKILL after this long (default 60 s) */
  timeoutMs?: number;
  uid?: number;
  gid?: number;
}

/** Starts argv and collects its output; what names it in the helper's own messages. */
export function spawnCollect(argv: string[], opts: SpawnOpts, what = argv[0]!): Running {
  const t0 = Date.now();
  const stdinMode = opts.input !== undefined || opts.keepStdinOpen ? 'pipe' : 'ignore';
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: opts.cwd ?? os.tmpdir(),
    env: opts.env,
    stdio: [stdinMode, 'pipe', 'pipe'],
    uid: opts.uid,
    gid: opts.gid,
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (b: Buffer) => {
    out.push(b);
    for (const w of waiters) w();
  });
  child.stderr!.on('data', (b: Buffer) => err.push(b));
  if (opts.input !== undefined) {
    child.stdin!.on('error', () => { /* the command may not read it all */ });
    child.stdin!.end(opts.input);
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? 60_000);
  let exited = false;
  const result = new Promise<Result>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      exited = true;
      clearTimeout(timer);
      for (const w of waiters) w();
      const stdoutBuf = Buffer.concat(out);
      let stderr = Buffer.concat(err).toString('utf8');
      if (timedOut) stderr += `\n[test helper: ${what} did not exit within ${opts.timeoutMs ?? 60_000} ms and was SIGKILLed]\n`;
      resolve({ code, signal, stdout: stdoutBuf.toString('utf8'), stderr, stdoutBuf, ms: Date.now() - t0, timedOut });
    });
  });
  const stdoutSoFar = () => Buffer.concat(out).toString('utf8');
  return {
    child,
    pid: child.pid!,
    result,
    stdoutSoFar,
    stderrSoFar: () => Buffer.concat(err).toString('utf8'),
    waitForStdout: (re, timeoutMs = 10_000) =>
      new Promise<string>((resolve, reject) => {
        const check = () => {
          const s = stdoutSoFar();
          if (re.test(s)) {
            done();
            resolve(s);
          } else if (exited) {
            done();
            reject(new Error(`${what.split(' ')[0]} exited before its stdout matched ${re}: ${JSON.stringify(s)} stderr ${JSON.stringify(Buffer.concat(err).toString())}`));
          }
        };
        const t = setTimeout(() => {
          done();
          reject(new Error(`stdout did not match ${re} within ${timeoutMs} ms: ${JSON.stringify(stdoutSoFar())}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(t);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
  };
}

/** ./bin/dynod ARGS... to its end. */
export function dynod(args: string[], opts: RunOpts = {}): Promise<Result> {
  return spawnDynod(args, opts).result;
}

/** `dynod run FLAGS... -- COMMAND...` */
export function run(command: string[], flags: string[] = [], opts: RunOpts = {}): Promise<Result> {
  return dynod(['run', ...flags, '--', ...command], opts);
}

/** `dynod run FLAGS... -- sh -c SCRIPT` */
export function sh(script: string, flags: string[] = [], opts: RunOpts = {}): Promise<Result> {
  return run(['sh', '-c', script], flags, opts);
}

/** Lines of text without the trailing newline's empty element. */
export function lines(s: string): string[] {
  const l = s.split('\n');
  if (l[l.length - 1] === '') l.pop();
  return l;
}

/** Polls fn until it returns a value other than undefined/false, or throws after timeoutMs. */
export async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000, what = 'condition', intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
