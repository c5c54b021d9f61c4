import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Dyno } from '../dyno/dyno';
import { findSize } from '../dyno/sizes';
import { DynodError, EXIT_DYNOD_ERROR } from '../errors';
import type { Formation } from '../formation/manager';
import { exitTimeoutLines } from '../formation/slot';
import type { DynoInfo, FormationEntry, LogFilter, LogLine, ReleaseInfo, ScaleChange } from '../formation/types';
import { native } from '../native';
import { appRunDir, infoPath, lockPath, socketPath, type AppInfo } from './paths';
import type { ConfigResult, Event, InfoResult, PsResult, Reply, Request, RunResult, ScaleResult } from './protocol';

/** What the control server drives: the formation and the pieces around it. */
export interface ControlDeps {
  formation: Formation;
  logs: {
    recent(filter: LogFilter, n: number): LogLine[];
    subscribe(filter: LogFilter, onLine: (line: LogLine) => void): () => void;
    system(dyno: string, message: string): void;
  };
  config: {
    set(pairs: Record<string, string>): ReleaseInfo;
    unset(keys: string[]): ReleaseInfo;
  };
  applyScale(current: FormationEntry[], changes: ScaleChange[]): { next: FormationEntry[]; changed: string[] };
  /** the plain data `dynod exec` needs to enter a running dyno */
  execTarget(dyno: Dyno): unknown;
  /** `dynod stop --all`: end the formation as Ctrl-C would */
  stopAll(): void;
}

const MAX_REQUEST = 1 << 20;

/**
 * The control socket of one running app: /run/dynod/<app>/control.sock in a
 * directory only root can enter. It holds the app's lock (flock on
 * /run/dynod/<app>/lock) for as long as it runs: a second dynod for the same app is
 * refused, and a directory left by a dynod that was SIGKILLed is taken over and
 * cleaned by the next one.
 */
export class ControlServer {
  private server: net.Server | null = null;
  private lockFd = -1;
  private readonly clients = new Set<net.Socket>();
  private readonly tails = new Set<net.Socket>();

  constructor(private readonly deps: ControlDeps) {}

  async listen(): Promise<void> {
    const app = this.deps.formation.app;
    const dir = appRunDir(app);
    // /run/dynod itself: root's only, so only root reaches any app's socket
    fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.chmodSync(dir, 0o700);
    this.lockFd = fs.openSync(lockPath(app), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    if (!native().flock(this.lockFd, true)) {
      fs.closeSync(this.lockFd);
      this.lockFd = -1;
      const pid = readPid(app);
      throw new DynodError(`app ${app} is already running${pid ? ` (dynod pid ${pid})` : ''}; stop it first (dynod stop --all --name ${app})`, { step: 'control socket' });
    }
    // Ours now: whatever a killed dynod left here is stale.
    fs.rmSync(socketPath(app), { force: true });
    const server = net.createServer((sock) => this.accept(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath(app), () => {
        server.off('error', reject);
        resolve();
      });
    });
    fs.chmodSync(socketPath(app), 0o600);
    server.on('error', () => {});
    this.server = server;
    const info: AppInfo = { app, appDir: this.deps.formation.appDir, pid: process.pid, startedAt: new Date().toISOString() };
    fs.writeFileSync(infoPath(app), `${JSON.stringify(info)}\n`, { mode: 0o600 });
  }

  private accept(sock: net.Socket): void {
    this.clients.add(sock);
    sock.on('close', () => this.clients.delete(sock));
    sock.on('error', () => sock.destroy());
    let buf = '';
    const onData = (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > MAX_REQUEST) sock.destroy();
        return;
      }
      sock.off('data', onData);
      const rest = buf.slice(nl + 1);
      let req: Request;
      try {
        req = JSON.parse(buf.slice(0, nl)) as Request;
      } catch {
        return void reply(sock, { ok: false, error: 'control socket: a request is one JSON object per line', exitCode: EXIT_DYNOD_ERROR }, true);
      }
      void this.handle(req, sock, rest);
    };
    sock.on('data', onData);
  }

  private async handle(req: Request, sock: net.Socket, rest: string): Promise<void> {
    try {
      const stream = await this.dispatch(req, sock, rest);
      if (!stream) sock.end();
    } catch (e) {
      const err = DynodError.from(e);
      reply(sock, { ok: false, error: err.message, exitCode: err.exitCode }, true);
    }
  }

  /** Answers one request; true when the connection stays open for events. */
  private async dispatch(req: Request, sock: net.Socket, rest: string): Promise<boolean> {
    const f = this.deps.formation;
    const ok = (result: unknown) => reply(sock, { ok: true, result });
    switch (req.op) {
      case 'info':
        ok({ app: f.app, appDir: f.appDir, pid: process.pid, release: f.release } satisfies InfoResult);
        return false;
      case 'ps': {
        const types = req.types ?? [];
        // "run": the one-offs' type, also without a Procfile type of that name
        for (const t of types) if (t !== 'run') f.select({ type: t });
        const dynos = f.ps().filter((d) => !types.length || types.includes(d.type));
        const commands = Object.fromEntries(f.procfile.types.map((t) => [t.name, t.command]));
        ok({ app: f.app, dynos, formation: f.formation, commands } satisfies PsResult);
        return false;
      }
      case 'scale': {
        if (!req.changes?.length) {
          ok({ formation: f.formation, changed: [] } satisfies ScaleResult);
          return false;
        }
        const { next, changed } = this.deps.applyScale(f.formation, req.changes);
        await f.scale(next);
        ok({ formation: f.formation, changed } satisfies ScaleResult);
        return false;
      }
      case 'restart':
        ok(f.restart(req));
        return false;
      case 'stop':
        if (req.all) {
          ok([]);
          setImmediate(() => this.deps.stopAll());
          return false;
        }
        ok(await f.stopDynos(req));
        return false;
      case 'logs':
        return this.logs(req, sock);
      case 'config:set':
      case 'config:unset': {
        const release = req.op === 'config:set' ? this.deps.config.set(req.pairs) : this.deps.config.unset(req.keys);
        // an unset of keys that are not set makes no release: the running one stays, nothing restarts
        if (release.version === f.release) {
          ok({ release: { ...release, status: 'succeeded' }, restarted: false, ok: true, message: '' } satisfies ConfigResult);
          return false;
        }
        const outcome = await f.deploy(release.version);
        ok({ release: { ...release, status: outcome.ok ? 'succeeded' : 'failed' }, restarted: outcome.ok, ok: outcome.ok, message: outcome.message } satisfies ConfigResult);
        return false;
      }
      case 'run':
        return this.run(req, sock, rest);
      case 'exec': {
        ok(this.deps.execTarget(f.running(req.dyno)));
        return false;
      }
      default:
        throw new DynodError(`control socket: unknown request ${JSON.stringify((req as { op?: unknown }).op)}`, { step: 'control socket' });
    }
  }

  private logs(req: Extract<Request, { op: 'logs' }>, sock: net.Socket): boolean {
    const lines = this.deps.logs.recent(req.filter, req.num);
    reply(sock, { ok: true, result: lines.length });
    for (const line of lines) event(sock, { line });
    if (!req.tail) return false;
    const off = this.deps.logs.subscribe(req.filter, (line) => {
      // A tail that cannot keep up is cut loose rather than buffered without bound.
      if (sock.writableLength > 4 << 20) return void sock.destroy();
      event(sock, { line });
    });
    this.tails.add(sock);
    sock.on('close', () => {
      off();
      this.tails.delete(sock);
    });
    sock.resume();
    return true;
  }

  /**
   * A one-off. --detach: the manager runs it, its output in the log stream. Attached:
   * the client runs it itself (its terminal, its stdin) with the options given here,
   * and tells us when it started and ended; ps shows it while the client is there.
   */
  private run(req: Extract<Request, { op: 'run' }>, sock: net.Socket, rest: string): boolean {
    const f = this.deps.formation;
    const size = req.size ? findSize(req.size).name : 'standard-1x';
    // A Procfile type as the first word runs that type's command, with the rest appended (heroku run).
    const type = f.procfile.types.find((t) => t.name === req.command[0]);
    const command = type ? [type.command, ...req.command.slice(1).map(shellQuote)].join(' ') : req.command.map(shellQuote).join(' ');
    if (req.detach) {
      const slot = f.runDetached(command, size);
      reply(sock, { ok: true, result: { name: slot.name, command } satisfies RunResult });
      return false;
    }
    const name = f.oneOffName();
    const options = f.dynoOptions(name, command, size, req.env);
    const info: DynoInfo = {
      name, type: 'run', number: Number(name.slice(4)), state: 'starting', since: new Date().toISOString(), size, command,
      oneOff: true, pid: null, hostPort: null, restarts: 0, restartAt: null, memoryBytes: null, cpuSeconds: null,
    };
    const log = (m: string) => this.deps.logs.system(name, m);
    const gone = new Promise<void>((r) => sock.once('close', () => r()));
    // ended by its client, which sends SIGTERM into it and SIGKILL after graceMs (0: at once)
    const stop = (graceMs: number): Promise<void> => {
      if (sock.destroyed) return Promise.resolve();
      if (info.state === 'down') return gone;
      log(`Stopping all processes with ${graceMs > 0 ? 'SIGTERM' : 'SIGKILL'}`);
      event(sock, { stop: { graceMs } });
      // the client sends SIGKILL when the grace runs out: R12, as for the formation's dynos
      if (graceMs > 0) {
        const r12 = setTimeout(() => {
          if (info.state !== 'down') for (const line of exitTimeoutLines(graceMs)) log(line);
        }, graceMs);
        void gone.then(() => clearTimeout(r12));
      }
      return Promise.race([gone, new Promise<void>((r) => setTimeout(r, graceMs + 5_000).unref())]);
    };
    const unregister = f.registerOneOff(info, stop);
    log(`Starting process with command \`${command}\``);
    reply(sock, { ok: true, result: { name, options: { ...options, interactive: req.tty || undefined, tty: req.tty || undefined } } satisfies RunResult });
    let buf = rest;
    sock.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let ev: Event;
        try {
          ev = JSON.parse(line) as Event;
        } catch {
          continue;
        }
        if ('started' in ev) {
          info.pid = ev.started.pid;
          info.state = 'up';
          info.since = new Date().toISOString();
          log('State changed from starting to up');
        } else if ('exited' in ev) {
          info.pid = null;
          log(`Process exited with status ${ev.exited.status}`);
          info.state = 'down';
          log('State changed from up to down');
        }
      }
    });
    sock.on('close', () => {
      unregister();
      // a client killed with its one-off (the dyno dies with the process that runs it)
      if (info.state !== 'down') log(`State changed from ${info.state} to down`);
    });
    sock.resume();
    return true;
  }

  async close(): Promise<void> {
    const app = this.deps.formation.app;
    // A tail gets the formation's last lines and word that it stopped; one that does not
    // read them within a second is cut (dynod does not wait on a client to end).
    for (const c of this.clients) {
      if (!this.tails.has(c)) c.destroy();
      else {
        event(c, { ended: 'stopped' });
        c.end();
        setTimeout(() => c.destroy(), 1000).unref();
      }
    }
    if (this.server) await new Promise<void>((r) => this.server!.close(() => r()));
    this.server = null;
    if (this.lockFd >= 0) {
      fs.rmSync(appRunDir(app), { recursive: true, force: true });
      fs.closeSync(this.lockFd);
      this.lockFd = -1;
    }
  }
}

function reply(sock: net.Socket, r: Reply, end = false): void {
  if (sock.destroyed) return;
  sock.write(`${JSON.stringify(r)}\n`);
  if (end) sock.end();
}

function event(sock: net.Socket, e: Event): void {
  if (!sock.destroyed) sock.write(`${JSON.stringify(e)}\n`);
}

function readPid(app: string): number | null {
  try {
    return (JSON.parse(fs.readFileSync(infoPath(app), 'utf8')) as AppInfo).pid;
  } catch {
    return null;
  }
}

/** A word as /bin/sh reads it back unchanged. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
