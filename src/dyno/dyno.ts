import { EventEmitter } from 'node:events';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as tty from 'node:tty';
import type { Readable, Writable } from 'node:stream';
import { native, initBinaryFd } from '../native';
import type { NativeRecord } from '../addon';
import { CommandError, DynodError } from '../errors';
import { detectCgroups, type CgroupBackend, type DynoCgroup } from '../cgroup';
import { Publisher } from '../net/publish';
import { compileSpawn } from './compile';
import { USERNS_BASE, USERNS_RANGES, USERNS_SIZE } from './constants';
import { seccompFd } from '../seccomp/precompiled';
import type { DynoPlan } from './plan';
import { log } from '../log';

export type StdioOption = 'inherit' | 'pipe' | 'ignore' | number;

export interface DynoIO {
  /** default "ignore" (stdin is /dev/null unless the plan is interactive) */
  stdin?: StdioOption;
  /** default "pipe" */
  stdout?: StdioOption;
  /** default "pipe" */
  stderr?: StdioOption;
}

export interface StartOptions extends DynoIO {
  /** record the phases of the start (DYNOD_TRACE=1) */
  trace?: boolean;
}

export type DynoState = 'starting' | 'up' | 'down' | 'crashed';

/** How a dyno ended. */
export interface DynoExit {
  /** what `dynod run` exits with: the command's status, 128+N for signal N, 125 for dynod's own failures */
  status: number;
  /** PID 1's exit code, or null when a signal ended it */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** the kernel OOM-killed a process of the dyno (Heroku's R15) */
  oomKilled: boolean;
  /** set when the dyno failed before its command ran */
  error: DynodError | null;
}

export interface TracePoint {
  phase: string;
  /** milliseconds since the start was requested */
  ms: number;
}

let sweep: Promise<number> | undefined;
const idmapCache = new Map<string, number>();

function signalNumber(sig: NodeJS.Signals | number): number {
  if (typeof sig === 'number') return sig;
  const n = os.constants.signals[sig];
  if (n === undefined) throw new DynodError(`unknown signal ${sig}`);
  return n;
}

function signalName(n: number): NodeJS.Signals | null {
  return (Object.entries(os.constants.signals).find(([, v]) => v === n)?.[0] as NodeJS.Signals) ?? null;
}

/**
 * A running dyno: PID 1 of its own namespaces, in its own cgroup. Emits
 * 'state' (from, to), 'up', 'exit' (DynoExit) and 'trace' (TracePoint).
 */
export class Dyno extends EventEmitter {
  readonly plan: DynoPlan;
  /** this start's own id (a plan is a template; each start is an instance); also its hostname, as on Heroku */
  readonly id: string = crypto.randomUUID();
  pid = -1;
  state: DynoState = 'starting';
  stdout: Readable | null = null;
  stderr: Readable | null = null;
  stdin: Writable | null = null;
  /** the dyno's terminal (pty master), when the plan asks for one */
  terminal: net.Socket | null = null;
  readonly traces: TracePoint[] = [];
  /** things the caller should know that did not stop the dyno (printed by the CLI as `dynod: warning: …`) */
  readonly warnings: string[] = [];
  readonly cgroupVersion: 1 | 2;
  intoCgroup = false;

  private pidfd = -1;
  private idLockFd = -1;
  /** first host id of the dyno's user namespace (0 without one) */
  idBase = 0;
  private ptyFd = -1;
  private exited = false;
  private stopping = false;
  private setupError: DynodError | null = null;
  private readonly t0 = process.hrtime.bigint();
  private readonly exitPromise: Promise<DynoExit>;
  private resolveExit!: (e: DynoExit) => void;
  private publisher: Publisher | null = null;
  private readonly cgroup: DynoCgroup;

  private constructor(plan: DynoPlan, backend: CgroupBackend) {
    super();
    this.plan = plan;
    this.cgroupVersion = backend.version;
    this.exitPromise = new Promise((r) => (this.resolveExit = r));
    this.cgroup = backend.create({ group: 'run', name: plan.name, id: this.id }, plan.limits);
  }

  /** The cgroup directories of this dyno (they exist while it runs). */
  get cgroupDirs(): string[] {
    return this.cgroup.dirs;
  }

  /**
   * Starts a dyno from a plan. Resolves once its command runs; rejects with a
   * DynodError (or CommandError: 126/127) when it could not be started, after
   * everything was cleaned up.
   */
  static async start(plan: DynoPlan, opts: StartOptions = {}): Promise<Dyno> {
    const backend = detectCgroups();
    sweep ??= backend.sweepStale().catch(() => 0);
    await sweep;
    const dyno = new Dyno(plan, backend);
    try {
      if (plan.network.publish.length) dyno.publisher = await Publisher.listen(plan.network.publish, () => (dyno.exited ? null : dyno.netnsTarget()));
    } catch (e) {
      await dyno.cgroup.remove();
      throw e;
    }
    dyno.mark('plan ready');
    try {
      return await dyno.launch(opts);
    } catch (e) {
      // Everything a start that failed before the dyno ran holds (no addon, EMFILE, a
      // refused spawn): the --publish listeners, the cgroup, the id range.
      await dyno.publisher?.close();
      await dyno.cgroup.remove().catch(() => {});
      dyno.releaseIds();
      throw DynodError.fromNative(e);
    }
  }

  private netnsTarget() {
    return { netnsSocket: () => (this.exited ? null : native().netnsSocket(this.pidfd)), port: Number(this.plan.env.PORT) };
  }

  private mark(phase: string, tNs?: number): void {
    const t = tNs !== undefined ? BigInt(Math.round(tNs)) : process.hrtime.bigint();
    const p = { phase, ms: Number(t - this.t0) / 1e6 };
    this.traces.push(p);
    this.emit('trace', p);
  }

  /**
   * Reserves a range of host ids for the dyno's user namespace that no other live
   * dyno holds, in this or any other dynod process (an abstract socket name per
   * range; the kernel frees it when its holder dies).
   */
  private reserveIds(): void {
    if (this.plan.userns !== 'private') return;
    const n = native();
    const start = crypto.randomInt(USERNS_RANGES);
    for (let i = 0; i < USERNS_RANGES; i++) {
      const k = (start + i) % USERNS_RANGES;
      const fd = n.lockName(`dynod/ids/${k}`);
      if (fd >= 0) {
        this.idLockFd = fd;
        this.idBase = USERNS_BASE + k * USERNS_SIZE;
        return;
      }
    }
    throw new DynodError(`all ${USERNS_RANGES} user namespace id ranges are in use`, { step: 'reserve ids' });
  }

  /** The dyno's user as the host sees it. */
  hostIds(): { uid: number; gid: number } {
    return { uid: this.idBase + this.plan.user.uid, gid: this.idBase + this.plan.user.gid };
  }

  private idmapNs(uidMap: string, gidMap: string): number {
    const key = `${uidMap}|${gidMap}`;
    let fd = idmapCache.get(key);
    if (fd === undefined) {
      fd = native().idmapUserns(uidMap, gidMap);
      idmapCache.set(key, fd);
    }
    return fd;
  }

  /** --rootfs in a user namespace: its files shown through the dyno's own id map, so its root owns them. */
  private rootfsMountFd(): number {
    if (this.plan.root.kind !== 'rootfs' || this.plan.userns !== 'private') return -1;
    const map = `0 ${this.idBase} ${USERNS_SIZE}\n`;
    return native().idmapMount(this.plan.root.path, this.idmapNs(map, map));
  }

  /** A detached idmapped mount of the app dir showing its owner's files as the dyno user's, or -1 when they already are. */
  private appMountFd(): number {
    const st = fs.statSync(this.plan.app.source);
    const { uid, gid } = this.hostIds();
    if (st.uid === uid && st.gid === gid) return -1;
    try {
      return native().idmapMount(this.plan.app.source, this.idmapNs(`${st.uid} ${uid} 1\n`, `${st.gid} ${gid} 1\n`));
    } catch (e) {
      const err = DynodError.fromNative(e);
      if (!['EINVAL', 'EOPNOTSUPP', 'ENOTSUP', 'EPERM'].includes(err.code)) throw err;
      // Overlayfs, 9p, NFS and tmpfs before Linux 6.3 cannot be idmapped (as inside most
      // containers). /app stays copy-on-write, but with the host's ownership: the dyno
      // user can write only what its host id could.
      this.warnings.push(
        `--app ${this.plan.app.source}: its filesystem does not support idmapped mounts (${err.code}); /app is copy-on-write with the host's ownership, so the dyno user can change only files anyone may write`,
      );
      return -1;
    }
  }

  private async launch(opts: StartOptions): Promise<Dyno> {
    const n = native();
    const toClose: number[] = [];
    const stdio = (['stdin', 'stdout', 'stderr'] as const).map((name, i): number => {
      let o: StdioOption = opts[name] ?? (i === 0 ? 'ignore' : 'pipe');
      if (name === 'stdin' && !this.plan.stdin) o = 'ignore';
      if (typeof o === 'number') return o;
      if (o === 'inherit') return i;
      if (o === 'ignore') {
        const fd = fs.openSync('/dev/null', i === 0 ? 'r' : 'w');
        toClose.push(fd);
        return fd;
      }
      const [r, w] = n.pipe();
      if (i === 0) {
        this.stdin = new net.Socket({ fd: w, readable: false, writable: true });
        toClose.push(r);
        return r;
      }
      const stream = new net.Socket({ fd: r, readable: true, writable: false });
      if (i === 1) this.stdout = stream;
      else this.stderr = stream;
      toClose.push(w);
      return w;
    }) as [number, number, number];

    let result;
    try {
      this.reserveIds();
      const appMountFd = this.appMountFd();
      if (appMountFd >= 0) toClose.push(appMountFd);
      const rootfsMountFd = this.rootfsMountFd();
      if (rootfsMountFd >= 0) toClose.push(rootfsMountFd);
      const spawnPlan = compileSpawn(this.plan, {
        hostname: this.id,
        cgroup: this.cgroup,
        stdio,
        initFd: initBinaryFd(),
        appMountFd,
        rootfsMountFd,
        idBase: this.idBase,
        seccompFd: seccompFd(this.plan.seccomp, this.plan.capabilities.length ? 'root' : 'dyno'),
        trace: !!opts.trace,
      });
      this.mark('spawn');
      result = n.spawn(spawnPlan, (err) => {
        this.mark('cgroup joined (parent)');
        // A child that failed on its own reports that; the join error is the fallback.
        if (err && !this.setupError) this.setupError = DynodError.fromStep(err);
      });
    } catch (e) {
      for (const fd of toClose) fs.closeSync(fd);
      this.stdout?.destroy();
      this.stderr?.destroy();
      this.stdin?.destroy();
      throw e;
    }
    for (const fd of toClose) fs.closeSync(fd);
    this.mark('spawned');
    this.pid = result.pid;
    this.pidfd = result.pidfd;
    this.intoCgroup = result.intoCgroup;

    let channelDone!: () => void;
    const channelClosed = new Promise<void>((r) => (channelDone = r));
    const started = new Promise<Dyno>((resolve, reject) => {
      n.watchChannel(result.channel, (rec) => {
        if (rec === null) {
          channelDone();
          const err = this.setupError;
          if (err) void this.exitPromise.then(() => reject(err));
          else {
            this.mark('command running');
            this.setState('up');
            this.emit('up');
            resolve(this);
          }
          return;
        }
        this.onRecord(rec);
      });
    });
    n.watchExit(result.pidfd, (exit) => {
      this.exited = true;
      this.mark('exited');
      void channelClosed.then(() => this.finish(exit.code, exit.signal));
    });
    return started;
  }

  private onRecord(rec: NativeRecord): void {
    if (rec.kind === 'trace') this.mark(rec.step, rec.tNs);
    else if (rec.kind === 'pty' && rec.fd !== undefined) {
      this.ptyFd = rec.fd;
      // A pty master is a TTY to libuv; tty.ReadStream is its read/write handle.
      this.terminal = new tty.ReadStream(rec.fd);
      // EIO on the master just means the last slave fd closed.
      this.terminal.on('error', (e: NodeJS.ErrnoException) => { if (e.code !== 'EIO') this.emit('error', e); });
    } else if (rec.kind === 'error') {
      log.debug({ rec }, 'setup error');
      this.setupError = rec.step === 'exec' ? new CommandError(rec.detail || this.plan.command[0]!, rec) : DynodError.fromStep(rec);
    }
  }

  private async finish(code: number | null, signal: number | null): Promise<void> {
    const oomKilled = this.cgroup.oomKills() > 0;
    await this.publisher?.close();
    try {
      await this.cgroup.remove();
    } catch (e) {
      log.warn({ err: e }, 'cgroup removal failed');
    }
    this.releaseIds();
    const status = this.setupError ? this.setupError.exitCode : code !== null ? code : 128 + (signal ?? 0);
    const exit: DynoExit = { status, code, signal: signal !== null ? signalName(signal) : null, oomKilled, error: this.setupError };
    this.setState(this.stopping ? 'down' : 'crashed');
    this.resolveExit(exit);
    this.emit('exit', exit);
  }

  private releaseIds(): void {
    if (this.idLockFd >= 0) fs.closeSync(this.idLockFd);
    this.idLockFd = -1;
  }

  private setState(to: DynoState): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    this.emit('state', from, to);
  }

  /** Sends a signal to the dyno; PID 1 passes it on to every process. False once the dyno is gone. */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.exited || this.pidfd < 0) return false;
    const num = signalNumber(signal);
    if (num === os.constants.signals.SIGTERM || num === os.constants.signals.SIGKILL) this.stopping = true;
    return native().signal(this.pidfd, num);
  }

  /** Heroku's shutdown: SIGTERM to every process, SIGKILL after the grace period (30 s). */
  async stop(graceMs = 30_000): Promise<DynoExit> {
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    try {
      return await this.exitPromise;
    } finally {
      clearTimeout(timer);
    }
  }

  resize(rows: number, cols: number): void {
    if (this.ptyFd >= 0 && !this.exited) native().resizePty(this.ptyFd, rows, cols);
  }

  /** Resolves when the dyno has ended and everything it held is released. */
  wait(): Promise<DynoExit> {
    return this.exitPromise;
  }

  /** The host addresses --publish listens on. */
  publishedAddresses(): net.AddressInfo[] {
    return this.publisher?.addresses() ?? [];
  }
}
