// Driving `dynod start` and its verbs as a user would, with run and state
// directories of the test's own (DYNOD_RUN_DIR, DYNOD_STATE_DIR).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { DYNOD, dynod, hostEnv, type Result } from './dynod';
import { tempApp, type AppFile } from './app';

interface Test {
  teardown(fn: () => void | Promise<void>): void;
}

export interface FormationOpts {
  /** files of the app directory (a Procfile at least) */
  files: Record<string, AppFile>;
  /** arguments after `dynod start` */
  args?: string[];
  /** the app's name (default: a unique one) */
  name?: string;
  env?: Record<string, string>;
}

let seq = 0;

/** A running `dynod start` whose stdout is collected line by line. */
export class RunningFormation {
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: Array<() => void> = [];
  stderr = '';

  constructor(
    readonly proc: ChildProcess,
    readonly app: string,
    readonly dir: string,
    readonly env: NodeJS.ProcessEnv,
  ) {
    let buf = '';
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (s: string) => {
      buf += s;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        this.lines.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (s: string) => (this.stderr += s));
    this.exited = new Promise((resolve) => proc.on('exit', (code, signal) => {
      for (const w of this.waiters.splice(0)) w();
      resolve({ code, signal });
    }));
  }

  /** Resolves with the first line (from `from` on) that matches; rejects after timeoutMs with the log so far. */
  async waitFor(re: RegExp, timeoutMs = 20_000, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.slice(from).find((l) => re.test(l));
      if (hit) return hit;
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) throw new Error(`dynod start ended before ${re}:\n${this.log()}\nstderr: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`no line matching ${re} within ${timeoutMs} ms:\n${this.log()}\nstderr: ${this.stderr}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  /** Waits until `n` lines (from `from` on) match. */
  async waitForCount(re: RegExp, n: number, timeoutMs = 20_000, from = 0): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hits = this.lines.slice(from).filter((l) => re.test(l));
      if (hits.length >= n) return hits;
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) throw new Error(`dynod start ended with ${hits.length}/${n} lines matching ${re}:\n${this.log()}\nstderr: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`${hits.length}/${n} lines matching ${re} within ${timeoutMs} ms:\n${this.log()}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  log(): string {
    return this.lines.join('\n');
  }

  /** Another dynod verb for this app (`dynod ps --name APP ...`). */
  cli(args: string[], opts: { input?: string; timeoutMs?: number; cwd?: string } = {}): Promise<Result> {
    return dynod(args, { env: this.envForCli(), cwd: opts.cwd ?? this.dir, input: opts.input, timeoutMs: opts.timeoutMs ?? 60_000 });
  }

  envForCli(): Record<string, string | undefined> {
    return { DYNOD_RUN_DIR: this.env.DYNOD_RUN_DIR, DYNOD_STATE_DIR: this.env.DYNOD_STATE_DIR };
  }

  /** Ctrl-C: resolves with dynod's exit. */
  async interrupt(sig: NodeJS.Signals = 'SIGINT'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(sig);
    return this.exited;
  }
}

/**
 * Starts `dynod start` in a fresh app directory with its own run and state
 * directories; the teardown stops it (SIGKILL if it must) and removes them.
 */
export function startFormation(t: Test, opts: FormationOpts): RunningFormation {
  const dir = tempApp(t, opts.files);
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-state-'));
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-run-'));
  const app = opts.name ?? `t${process.pid}-${++seq}`;
  const env = hostEnv({ DYNOD_RUN_DIR: runDir, DYNOD_STATE_DIR: state, NO_COLOR: '1', ...opts.env });
  // env -i: tap puts its loader back into NODE_OPTIONS of every child it sees (see helpers/dynod.ts)
  const argv = ['-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), DYNOD, 'start', '--name', app, ...(opts.args ?? [])];
  const proc = spawn('/usr/bin/env', argv, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const f = new RunningFormation(proc, app, dir, env);
  t.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await f.exited;
    }
    fs.rmSync(state, { recursive: true, force: true });
    fs.rmSync(runDir, { recursive: true, force: true });
  });
  return f;
}

/** GET http://127.0.0.1:port/path → body (rejects on any error). */
export function get(port: number, urlPath = '/', timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** A web process: answers every request with $DYNO and the value of $1 (an env var name). */
export const WEB = (envVar = 'FOO') =>
  `exec node -e "require('http').createServer((q,s)=>s.end(process.env.DYNO+' '+(process.env.${envVar}||'-'))).listen(process.env.PORT,()=>console.log('listening on',process.env.PORT))"`;

/** A free base port: nothing listens on base+1..base+width. */
export async function freePortBase(width = 10): Promise<number> {
  const net = await import('node:net');
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const free = await Promise.all(
      Array.from({ length: width }, (_, i) => new Promise<boolean>((resolve) => {
        const s = net.createServer();
        s.once('error', () => resolve(false));
        s.listen(base + 1 + i, '127.0.0.1', () => s.close(() => resolve(true)));
      })),
    );
    if (free.every(Boolean)) return base;
  }
}

/** The process exists (a zombie too). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export { DYNOD };
