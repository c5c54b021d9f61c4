import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as tty from 'node:tty';
import type { Readable, Writable } from 'node:stream';
import { native } from '../native';
import type { NativeExit, NativeRecord } from '../addon';
import { CommandError, DynodError, UsageError } from '../errors';
import type { CgroupBackend, CgroupStats, DynoCgroup } from '../cgroup';
import { NAME_RE } from '../cgroup/leaf';
import { checkFields, isWhole, type OptionCheck } from './options';
import { Publisher, type NetnsTarget } from '../net/publish';
import type { IdAllocator, IdRange } from '../engine/ids';
import type { Spare, SpareNamespaces } from '../engine/spare-ns';
import type { DynoNetLease, EngineNetwork } from '../net/dyno-network';
import type { SeccompFilters } from '../seccomp/filters';
import { spawnRequest } from './compile';
import { USERNS_SIZE } from './constants';
import type { DynoPlan } from './plan';
import { closeChildEnds, prepareStdio, releaseStdio, type DynoIO, type PreparedStdio } from './stdio';
import { listensOn } from './ready';
import { execTargetOf, readProcStat, type ExecTarget } from './exec-target';
import { log } from '../log';
import { randomUUID } from '../linux/random';
import { SIGNAL_ACCEPTED, signalName, signalNumber } from '../linux/signals';

export type { DynoIO, StdioOption } from './stdio';

export interface StartOptions extends DynoIO {
  /** record the phases of the start as 'trace' events (DYNOD_TRACE=1) */
  trace?: boolean;
  /** aborts a start that has not reached 'up': the dyno is killed and start() rejects */
  signal?: AbortSignal;
  /** the cgroup group the dyno goes in: the formation's name; 'run' (default) for one-offs */
  group?: string;
  /**
   * Called with the Dyno as soon as it exists, before anything of it runs: the place to
   * attach listeners that must see every event ('state' starting → up, 'trace', 'warning').
   * start() resolves only once the dyno is up.
   */
  onCreated?: (dyno: Dyno) => void;
}

const stdio = (...names: string[]): OptionCheck[0] => (v) => (isWhole(v) && v >= 0) || names.includes(v as string);
const STDOUT_NOTE = "('stdout' is for stderr only)";
const START_CHECKS: { [K in keyof Required<StartOptions>]: OptionCheck } = {
  stdin: [stdio('inherit', 'pipe', 'ignore'), `"inherit", "pipe", "ignore" or an fd ${STDOUT_NOTE}`],
  stdout: [stdio('inherit', 'pipe', 'ignore'), `"inherit", "pipe", "ignore" or an fd ${STDOUT_NOTE}`],
  stderr: [stdio('inherit', 'pipe', 'ignore', 'stdout'), '"inherit", "pipe", "ignore", "stdout" or an fd'],
  trace: [(v) => typeof v === 'boolean', 'true or false'],
  signal: [(v) => v instanceof AbortSignal, 'an AbortSignal'],
  group: [(v) => typeof v === 'string' && NAME_RE.test(v), 'a group name: letters, digits, ".", "_" and "-" (not first), at most 63 characters'],
  onCreated: [(v) => typeof v === 'function', 'a function'],
};

/**
 * start()'s second argument as its type says, checked at run time for embedders without
 * TypeScript (a bad AbortSignal would otherwise throw inside the start, after the dyno exists).
 */
export function checkStartOptions(opts: unknown): asserts opts is StartOptions {
  if (opts !== undefined) checkFields('start options', '{ stdout: "pipe", ... }', opts, START_CHECKS);
}

/**
 * starting → up → stopping → down | crashed. `down` when the exit was asked for
 * (stop()), `crashed` when nobody asked for it, whatever the status.
 */
export type DynoState = 'starting' | 'up' | 'stopping' | 'down' | 'crashed';

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

/** A dyno's resource use, read from its cgroup; the same shape on cgroup v1 and v2. */
export type DynoStats = CgroupStats;

/** The events of a Dyno and their arguments. A Dyno never emits 'error'. */
export interface DynoEvents {
  state: [from: DynoState, to: DynoState];
  up: [];
  exit: [exit: DynoExit];
  trace: [point: TracePoint];
  /** something the caller should know that did not stop the dyno */
  warning: [message: string];
  /** the grace of stop() ran out: SIGKILL was sent (Heroku's R12) */
  stopTimeout: [graceMs: number];
}

/** What a dyno uses of its engine: shared by every dyno the engine starts. */
export interface EngineResources {
  readonly cgroups: CgroupBackend;
  readonly ids: IdAllocator;
  /** the next private dyno's user and network namespaces, made ahead */
  readonly spares: SpareNamespaces;
  readonly seccomp: SeccompFilters;
  readonly network: EngineNetwork;
  initFd(): number;
  /** called when a start begins: the engine knows its dynos from then on (close() stops starting ones too) */
  adopt(dyno: Dyno): void;
  /** called once the dyno has ended (or failed to start) and released everything */
  released(dyno: Dyno): void;
}

function checkedSignal(sig: NodeJS.Signals | number): number {
  const n = signalNumber(sig);
  if (n === null) throw new DynodError(`unknown signal ${String(sig)}; ${SIGNAL_ACCEPTED}`, { step: 'signal dyno' });
  return n;
}

/** set once a kernel answered that it has no sock_diag for TCP: readiness reads /proc from then on */
let sockDiagMissing = false;

function abortError(signal: AbortSignal): DynodError {
  return new DynodError('start aborted', { step: 'start', code: 'ABORT_ERR' }, undefined, { cause: signal.reason });
}

/**
 * One running instance of a plan: PID 1 of its own namespaces, in its own cgroup,
 * with its own id, hostname and user-namespace id range. Made by Engine.start().
 */
export class Dyno extends EventEmitter<DynoEvents> {
  /** this start's id (a plan is a template; every start of it is a new instance); also its hostname, as on Heroku */
  readonly id: string = randomUUID();
  readonly plan: DynoPlan;
  readonly traces: TracePoint[] = [];
  /** things the caller should know that did not stop the dyno (printed by the CLI as `dynod: warning: …`) */
  readonly warnings: string[] = [];

  private _pid = -1;
  private _bornInCgroup = false;
  private _state: DynoState = 'starting';
  private pidfd = -1;
  private cgroup: DynoCgroup | null = null;
  private ids: IdRange | null = null;
  private stdio: PreparedStdio | null = null;
  private publisher: Publisher | null = null;
  private net: DynoNetLease | null = null;
  private _terminal: net.Socket | null = null;
  private ptyFd = -1;
  private exited = false;
  private stopRequested = false;
  private setupError: DynodError | null = null;
  private abortReason: DynodError | null = null;
  private readonly t0 = process.hrtime.bigint();
  private readonly exitPromise: Promise<DynoExit>;
  private resolveExit!: (e: DynoExit) => void;
  private readonly traceOn: boolean;
  /** exit delivered (or the start failed before a process existed) */
  private ended = false;
  /** the grace of the stop asked for (the shortest, when asked more than once) */
  private stopGraceMs: number | undefined;
  private termSent = false;
  private stopTimer: NodeJS.Timeout | undefined;
  private cgroupRemoved = false;
  /** the cgroup's last reading, kept for stats() after the end */
  private lastStats: DynoStats | null = null;

  // The start is settled once both the record channel has ended (the command was
  // exec'd, or the setup failed and said why) and the parent's cgroup join has
  // reported: 'up' is emitted only when both went well, never for a dyno the
  // parent has just killed.
  private settleStart: (err: DynodError | null) => void = () => {};
  /** start() has resolved or rejected: an end after that has no start to reject */
  private startSettled = false;
  /** waitForPort calls polling now, and their sock_diag socket in the dyno's network namespace */
  private portWaits = 0;
  private diagFd = -1;
  private channelEnded = false;
  private resolveSetup!: () => void;
  private readonly setupDone = new Promise<void>((r) => (this.resolveSetup = r));

  private constructor(plan: DynoPlan, private readonly engine: EngineResources, trace: boolean) {
    super();
    this.plan = plan;
    this.traceOn = trace;
    this.exitPromise = new Promise((r) => (this.resolveExit = r));
  }

  /** $DYNO */
  get name(): string {
    return this.plan.name;
  }
  get hostname(): string {
    return this.id;
  }
  /** PID 1 of the dyno as the host sees it (-1 before it exists) */
  get pid(): number {
    return this._pid;
  }
  get state(): DynoState {
    return this._state;
  }
  /**
   * the command's output with stdout: 'pipe' (read it: an unread pipe blocks the dyno once
   * 64 KiB wait; still unread when the dyno has ended, it is discarded so its fd closes)
   */
  get stdout(): Readable | null {
    return this.stdio?.stdout ?? null;
  }
  get stderr(): Readable | null {
    return this.stdio?.stderr ?? null;
  }
  /** with stdin: 'pipe' on an interactive plan */
  get stdin(): Writable | null {
    return this.stdio?.stdin ?? null;
  }
  /** the dyno's terminal (pty master), when the plan asks for one */
  get terminal(): net.Socket | null {
    return this._terminal;
  }
  /** the dyno's cgroup below dynod's own, e.g. dynod/run/web.1-3f2a9c1e */
  get cgroupPath(): string {
    return this.cgroup?.path ?? '';
  }
  /** the cgroup directories of this dyno (they exist while it runs) */
  get cgroupDirs(): readonly string[] {
    return this.cgroup?.dirs ?? [];
  }
  get cgroupVersion(): 1 | 2 {
    return this.engine.cgroups.version;
  }
  /** true when clone3 placed PID 1 in its cgroup at birth (cgroup v2), false when the parent moved it there */
  get bornInCgroup(): boolean {
    return this._bornInCgroup;
  }

  /**
   * Starts an instance of a validated plan. Resolves once its command runs; rejects
   * with a DynodError (CommandError for 126/127) after everything was released.
   */
  static async start(plan: DynoPlan, engine: EngineResources, opts: StartOptions = {}): Promise<Dyno> {
    const dyno = new Dyno(plan, engine, !!opts.trace);
    engine.adopt(dyno);
    try {
      opts.onCreated?.(dyno);
      return await dyno.launch(opts);
    } catch (e) {
      const err = DynodError.from(e, 'start dyno');
      dyno.endWithoutProcess(err);
      throw err;
    }
  }

  /** A start that failed before there was a process: wait() and stop() still resolve, with the error. */
  private endWithoutProcess(err: DynodError): void {
    if (this.ended) return;
    this.end({ status: err.exitCode, code: null, signal: null, oomKilled: false, error: err });
  }

  private mark(phase: string, tNs?: number): void {
    if (!this.traceOn) return;
    const t = tNs !== undefined ? BigInt(Math.round(tNs)) : process.hrtime.bigint();
    const p = { phase, ms: Number(t - this.t0) / 1e6 };
    this.traces.push(p);
    this.emit('trace', p);
  }

  private warn(message: string): void {
    this.warnings.push(message);
    this.emit('warning', message);
  }

  /** --rootfs in a user namespace: its files shown through the dyno's own id map, so its root owns them. */
  private rootfsMountFd(): number {
    if (this.plan.root.kind !== 'rootfs' || !this.ids) return -1;
    const map = `0 ${this.ids.base} ${USERNS_SIZE}\n`;
    return native().idmapMount(this.plan.root.path, map, map);
  }

  /**
   * A detached idmapped mount of the app dir showing its owner's files as the dyno
   * user's, or -1 when they already are. Made on the threadpool while the start takes
   * its other steps: the caller must await it, also on failure, and close the fd.
   */
  private async appMountFd(): Promise<number> {
    const st = fs.statSync(this.plan.app.source);
    const base = this.ids?.base ?? 0;
    const uid = base + this.plan.user.uid;
    const gid = base + this.plan.user.gid;
    if (st.uid === uid && st.gid === gid) return -1;
    try {
      return await new Promise<number>((resolve, reject) =>
        native().idmapMount(this.plan.app.source, `${st.uid} ${uid} 1\n`, `${st.gid} ${gid} 1\n`, (err, fd) => (err ? reject(DynodError.fromStep(err)) : resolve(fd))),
      );
    } catch (e) {
      const err = DynodError.from(e, 'idmap /app');
      if (!['EINVAL', 'EOPNOTSUPP', 'ENOTSUP', 'EPERM'].includes(err.code)) throw err;
      // Overlayfs, 9p, NFS and tmpfs before Linux 6.3 cannot be idmapped (as inside most
      // containers). /app stays copy-on-write, but with the host's ownership: the dyno
      // user can write only what its host id could.
      this.warn(
        `--app ${this.plan.app.source}: its filesystem does not support idmapped mounts (${err.code}); /app is copy-on-write with the host's ownership, so the dyno user can change only files anyone may write`,
      );
      return -1;
    }
  }

  private checkAbort(signal: AbortSignal | undefined): void {
    if (this.stopRequested) throw new DynodError('stopped before it started', { step: 'start' });
    if (signal?.aborted) throw abortError(signal);
  }

  private async launch(opts: StartOptions): Promise<Dyno> {
    const n = native();
    const plan = this.plan;
    const mountFds: number[] = [];
    let result;
    let appMount: Promise<number> | null = null;
    // A dyno in a user and a network namespace of its own is cloned through a spare when one is ready.
    const spares = plan.userns === 'private' && plan.network.mode !== 'host' ? this.engine.spares : null;
    let spare: Spare | null = null;
    try {
      this.checkAbort(opts.signal);
      spare = spares?.take() ?? null;
      if (spare) this.ids = spare.ids;
      else if (plan.userns === 'private') this.ids = this.engine.ids.reserve();
      appMount = this.appMountFd();
      appMount.catch(() => {}); // awaited below, or in the catch: never an unhandled rejection
      this.cgroup = this.engine.cgroups.create({ group: opts.group ?? 'run', name: plan.name, id: this.id }, plan.limits);
      if (plan.network.publish.length)
        this.publisher = await Publisher.listen(plan.network.publish, () => (this.exited || this.pidfd < 0 ? null : this.netnsTarget()), (m) => this.warn(m));
      this.checkAbort(opts.signal);
      this.mark('plan ready');
      this.stdio = prepareStdio(opts, plan.stdin);
      this.net = await this.engine.network.lease(plan, this.id);
      this.checkAbort(opts.signal);
      const appMountFd = await appMount;
      appMount = null;
      if (appMountFd >= 0) mountFds.push(appMountFd);
      const rootfsMountFd = this.rootfsMountFd();
      if (rootfsMountFd >= 0) mountFds.push(rootfsMountFd);
      const spawnPlan = spawnRequest(plan, {
        hostname: this.id,
        cgroup: this.cgroup,
        stdio: this.stdio.fds,
        initFd: this.engine.initFd(),
        appMountFd,
        rootfsMountFd,
        idBase: this.ids?.base ?? 0,
        seccompFd: this.engine.seccomp.fd(plan.seccomp, plan.capabilities.length ? 'root' : 'dyno'),
        trace: this.traceOn,
        network: this.net,
        spare: spare?.id ?? -1,
      });
      this.mark('spawn');
      result = n.spawn(spawnPlan);
    } catch (e) {
      // first: nothing below may keep it alive (its id range is this.ids, released below;
      // a spawn that took it has ended it already)
      if (spare) spares!.discard(spare, true);
      if (appMount !== null) mountFds.push(await appMount.catch(() => -1));
      for (const fd of mountFds) if (fd >= 0) fs.closeSync(fd);
      await this.release();
      throw e;
    } finally {
      if (result) for (const fd of mountFds) fs.closeSync(fd);
      // the next one is made while this dyno runs
      spares?.schedule();
    }
    if (result.viaSpare) this.mark('spare namespaces');
    closeChildEnds(this.stdio);
    this.net?.attach(result.netnsFds, (m) => this.warn(m));
    this._pid = result.pid;
    this.pidfd = result.pidfd;
    this._bornInCgroup = result.intoCgroup;
    this.mark('spawned');
    if (this.stopRequested) this.applyStop(); // asked while the clone was being made

    const started = new Promise<Dyno>((resolve, reject) => {
      this.settleStart = (err) => {
        this.startSettled = true;
        if (err) reject(err);
        else resolve(this);
      };
    });
    // awaited below; should anything before that throw, its rejection is no unhandled one
    started.catch(() => {});
    const onAbort = () => {
      if (this._state !== 'starting' || this.exited) return;
      this.abortReason = abortError(opts.signal!);
      this.signalPid1(os.constants.signals.SIGKILL);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) onAbort(); // aborted after the last check (awaiting /app's mount, or from a 'trace' listener)
    n.watchChannel(result.channel, (rec) => (rec === null ? this.onChannelEnd() : this.onRecord(rec)));
    n.watchExit(result.pidfd, (exit) => {
      this.exited = true;
      this.mark('exited');
      void this.setupDone.then(() => this.finish(exit));
    });
    try {
      return await started;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  private onChannelEnd(): void {
    this.channelEnded = true;
    this.maybeUp();
  }

  private maybeUp(): void {
    if (!this.channelEnded) return;
    this.resolveSetup();
    // Settled by finish(), after the exit: a failed setup, an abort, and a stop asked for
    // before up (its signal may end the command before its exec, which also ends the
    // channel: that is no proof the command ran). An exit seen first is no such sign: a
    // quick command (true) may be done before this process reads the channel's end.
    if (this.setupError || this.abortReason || this.stopRequested) return;
    this.mark('command running');
    this.setState('up');
    this.emit('up');
    this.settleStart(null);
  }

  /** Opens sockets in the dyno's network namespace (to reach its $PORT from the host), while it runs. */
  netnsTarget(): NetnsTarget {
    return {
      netnsSocket: () => {
        const pidfd = this.namespacePidfd();
        return pidfd === null ? null : native().netnsSocket(pidfd);
      },
      port: Number(this.plan.env.PORT),
    };
  }

  /** PID 1's pidfd while the dyno runs (its namespaces), else null; the dyno closes it when it ends. */
  namespacePidfd(): number | null {
    return this.exited || this.pidfd < 0 ? null : this.pidfd;
  }

  private onRecord(rec: NativeRecord): void {
    if (rec.kind === 'trace') this.mark(rec.step, rec.tNs);
    else if (rec.kind === 'pty' && rec.fd !== undefined) {
      this.ptyFd = rec.fd;
      // A pty master is a TTY to libuv; tty.ReadStream is its read/write handle.
      const term = new tty.ReadStream(rec.fd);
      // EIO on the master just means the last slave fd closed: the stream ends there.
      term.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EIO') this.warn(`terminal: ${e.code ?? e.message}`);
        term.destroy();
      });
      this._terminal = term;
    } else if (rec.kind === 'error') {
      log.debug({ rec }, 'setup error');
      this.setupError = rec.step === 'exec' ? new CommandError(rec.detail || this.plan.command[0]!, rec) : DynodError.fromStep(rec);
    }
  }

  /** Releases what a start holds, in any state: idempotent. */
  private async release(): Promise<void> {
    this.closeDiag();
    const publisher = this.publisher;
    this.publisher = null;
    await publisher?.close().catch(() => {});
    const net = this.net;
    this.net = null;
    try {
      await net?.release();
    } catch (e) {
      this.warn(DynodError.from(e).message);
    }
    const cgroup = this.cgroup;
    if (cgroup && !this.cgroupRemoved) {
      this.cgroupRemoved = true;
      try {
        await cgroup.remove();
      } catch (e) {
        this.warn(`cgroup ${cgroup.path}: ${DynodError.from(e).message}`);
      }
    }
    try {
      this.ids?.release();
    } catch (e) {
      this.warn(`id range: ${DynodError.from(e).message}`);
    }
    if (this.stdio && this._pid < 0) releaseStdio(this.stdio);
  }

  private async finish(exit: NativeExit): Promise<void> {
    let oomKilled = false;
    try {
      this.lastStats = this.cgroup?.stats() ?? null;
      // Where CPU time comes from /proc (v1 without cpu,cpuacct) nothing of the dyno is left
      // to read now: its PID 1's rusage at the reap counts every process it reaped.
      const cpu = this.lastStats?.cpu;
      if (cpu && exit.cpuUsec !== undefined && exit.cpuUsec > (cpu.usageUsec ?? 0)) cpu.usageUsec = exit.cpuUsec;
    } catch {
      // the counters are a courtesy; the exit is not
    }
    try {
      oomKilled = (this.lastStats ? this.lastStats.oomKills : (this.cgroup?.oomKills() ?? 0)) > 0;
    } catch {
      /* as above */
    }
    try {
      await this.release();
      // The dyno's output may still sit in an interposed pipe or the pty: deliver it first.
      const stdio = this.stdio;
      if (stdio) {
        stdio.stdin?.destroy();
        stdio.inputPump?.destroy();
        await Promise.all(stdio.outputPumps);
      }
      await this.releaseTerminal();
    } catch (e) {
      this.warn(`releasing ${this.name}: ${DynodError.from(e).message}`);
    }
    const { code, signal } = exit;
    const error = this.abortReason ?? this.setupError ?? (exit.error ? DynodError.fromStep(exit.error) : null);
    const status = error ? error.exitCode : code !== null ? code : 128 + (signal ?? 0);
    this.end({ status, code, signal: signal !== null ? signalName(signal) : null, oomKilled, error });
    this.drainUnread();
  }

  /**
   * Output nobody reads holds its pipe's fd for as long as the stream lives: once the
   * dyno has ended and the 'exit' listeners and wait()'s continuations had their turn, a
   * stream still unread (no 'data' or 'readable' listener, never piped, resumed or
   * paused) is drained and discarded, so its fd closes (as child_process does).
   */
  private drainUnread(): void {
    const streams = [this.stdio?.stdout, this.stdio?.stderr];
    setImmediate(() => {
      for (const s of streams) if (s && !s.destroyed && s.readableFlowing === null && s.listenerCount('readable') === 0) s.resume();
    });
  }

  /** A pty master nobody reads never sees EIO: close it once the output had its chance. */
  private async releaseTerminal(): Promise<void> {
    const term = this._terminal;
    if (!term || term.destroyed) return;
    if (term.readableFlowing) await new Promise((r) => { term.once('close', r); setTimeout(r, 1_000).unref(); });
    term.destroy();
  }

  /**
   * The end of a start, with or without a process: the engine forgets it, wait()
   * resolves, then 'state' and 'exit' are emitted. A listener that throws cannot undo
   * any of that; its exception surfaces as uncaught, as from any emitter.
   */
  private end(result: DynoExit): void {
    this.ended = true;
    clearTimeout(this.stopTimer);
    this.engine.released(this);
    this.resolveExit(result);
    if (!this.startSettled)
      this.settleStart(result.error ?? (this.stopRequested ? new DynodError('stopped before it was up', { step: 'start' }) : new DynodError('the dyno ended before its command ran', { step: 'start' })));
    const rethrow = (fn: () => void) => {
      try {
        fn();
      } catch (e) {
        process.nextTick(() => { throw e; });
      }
    };
    rethrow(() => this.setState(this.stopRequested ? 'down' : 'crashed'));
    rethrow(() => this.emit('exit', result));
  }

  private setState(to: DynoState): void {
    const from = this._state;
    if (from === to) return;
    this._state = to;
    this.emit('state', from, to);
  }

  private signalPid1(num: number): boolean {
    if (this.exited || this.pidfd < 0) return false;
    try {
      return native().signal(this.pidfd, num);
    } catch (e) {
      throw DynodError.from(e, 'signal dyno');
    }
  }

  /**
   * Sends a signal to the dyno; PID 1 passes SIGTERM, SIGINT, SIGHUP, SIGQUIT,
   * SIGUSR1, SIGUSR2 and SIGWINCH on to every process. False once the dyno is
   * gone. A signal is not a stop: an exit it causes is a crash (use stop()).
   */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    return this.signalPid1(checkedSignal(signal));
  }

  /**
   * Heroku's shutdown: SIGTERM to every process of the dyno, which all get the
   * grace period to exit (30 s by default), then SIGKILL. The dyno ends `down`.
   */
  async stop(graceMs = 30_000): Promise<DynoExit> {
    if (!Number.isFinite(graceMs) || graceMs < 0) throw new DynodError(`stop: grace ${graceMs}: must be a number of milliseconds ≥ 0`, { step: 'stop' });
    if (!this.ended) {
      if (!this.stopRequested) {
        this.stopRequested = true;
        this.setState('stopping');
      }
      // Before the clone there is nothing to signal: the start applies the stop once PID 1 exists.
      this.stopGraceMs = Math.min(this.stopGraceMs ?? graceMs, graceMs);
      if (this.pidfd >= 0) this.applyStop();
    }
    return this.exitPromise;
  }

  /** SIGTERM to PID 1 (which passes it to every process), SIGKILL when the grace is over; a shorter grace asked later wins. */
  private applyStop(): void {
    const grace = this.stopGraceMs ?? 0;
    const kill = () => {
      try {
        this.signalPid1(os.constants.signals.SIGKILL);
      } catch (e) {
        this.warn(`stop: ${DynodError.from(e).message}`);
      }
    };
    if (grace === 0) return kill();
    const timedOut = () => {
      if (this.exited) return;
      this.emit('stopTimeout', grace);
      kill();
    };
    if (!this.termSent) {
      this.termSent = true;
      try {
        this.signalPid1(os.constants.signals.SIGTERM);
      } catch (e) {
        this.warn(`stop: ${DynodError.from(e).message}`);
      }
    }
    clearTimeout(this.stopTimer);
    this.stopTimer = setTimeout(timedOut, grace);
  }

  /** Resolves when the dyno has ended and everything it held is released. */
  wait(): Promise<DynoExit> {
    return this.exitPromise;
  }

  /**
   * Resolves when a process of the dyno listens on TCP `port` (default $PORT), as
   * seen from the host in the dyno's network namespace (Heroku's boot check, R10);
   * rejects with a DynodError on timeout or when the dyno ends first.
   */
  waitForPort(port = Number(this.plan.env.PORT), timeoutMs = 60_000): Promise<void> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) return Promise.reject(new UsageError(`waitForPort: port ${String(port)}: a whole number from 1 to 65535`));
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) return Promise.reject(new UsageError(`waitForPort: timeout ${String(timeoutMs)}: a number of milliseconds ≥ 0`));
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const own = this.plan.network.mode !== 'host';
      const pids = () => this.processIds();
      this.portWaits++;
      const settle = (err: DynodError | null) => {
        if (--this.portWaits === 0) this.closeDiag();
        if (err) reject(err);
        else resolve();
      };
      const poll = () => {
        if (this.exited) return settle(new DynodError(`${this.name} ended before anything listened on port ${port}`, { step: 'wait for port', code: 'ESRCH' }));
        if (this._pid > 0 && this.listening(port, own, pids)) return settle(null);
        if (Date.now() - started >= timeoutMs)
          return settle(new DynodError(`nothing in ${this.name} listened on port ${port} within ${timeoutMs} ms`, { step: 'wait for port', code: 'ETIMEDOUT' }));
        setTimeout(poll, 20);
      };
      poll();
    });
  }

  /** The sock_diag socket kept while waitForPort polls: it also keeps the namespace, so it goes at the end. */
  private closeDiag(): void {
    if (this.diagFd < 0) return;
    fs.closeSync(this.diagFd);
    this.diagFd = -1;
  }

  /**
   * What `dynod exec` needs to enter this dyno from another process (plain data; see
   * execIn). Throws a DynodError (ESRCH) unless the dyno is up.
   */
  execTarget(): ExecTarget {
    // Until the exit is collected (exited), PID 1 is ours to reap: its pid cannot be reused.
    const stat = this._state === 'up' && !this.exited && this.cgroup && !this.cgroupRemoved ? readProcStat(this._pid) : null;
    if (!stat || !this.cgroup) throw new DynodError(`${this.name} is not running${this._state === 'up' ? '' : ` (${this._state})`}`, { step: 'exec', code: 'ESRCH' });
    return execTargetOf(this.plan, { id: this.id, pid: this._pid, startTime: stat.startTime, cgroup: this.cgroup });
  }

  /**
   * In a namespace of its own, a sock_diag query there (listening sockets only);
   * with the host's network, /proc's table and the dyno's own socket inodes.
   */
  private listening(port: number, own: boolean, pids: () => number[]): boolean {
    if (!own || this.pidfd < 0 || sockDiagMissing) return listensOn(this._pid, port, own, pids);
    try {
      // one socket in the namespace for all the polls: no thread and no setns per poll
      if (this.diagFd < 0) this.diagFd = native().netnsDiagSocket(this.pidfd);
      return native().tcpListening(this.diagFd, port);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // no tcp_diag in this kernel (a module not loaded, not shipped): /proc's table, as before
      if (code === 'ENOENT' || code === 'EOPNOTSUPP' || code === 'EPROTONOSUPPORT') {
        sockDiagMissing = true;
        return listensOn(this._pid, port, own, pids);
      }
      return false; // PID 1 just ended: the next poll sees the exit
    }
  }

  /** The host pids of every process of the dyno (from its cgroup). */
  processIds(): number[] {
    if (!this.cgroup || this.cgroupRemoved) return [];
    try {
      return this.cgroup.pids();
    } catch {
      return [];
    }
  }

  /** Memory, CPU time, processes and OOM kills, from the dyno's cgroup (the last reading once it has ended). */
  stats(): DynoStats {
    if (this.cgroup && !this.cgroupRemoved) {
      try {
        return this.cgroup.stats();
      } catch (e) {
        throw DynodError.from(e, 'dyno stats');
      }
    }
    if (this.lastStats) return this.lastStats;
    throw new DynodError(`${this.name}: no statistics (${this.exited ? 'it has ended' : 'it has not started'})`, { step: 'dyno stats' });
  }

  resize(rows: number, cols: number): void {
    if (this.ptyFd < 0 || this.exited || !this._terminal || this._terminal.destroyed) return;
    try {
      native().resizePty(this.ptyFd, rows, cols);
    } catch (e) {
      throw DynodError.from(e, 'resize terminal');
    }
  }

  /** The dyno's IPv4 address on dynod's bridge (--net private), null otherwise. */
  get address(): string | null {
    return this.net?.ip ?? null;
  }

  /** The host addresses --publish listens on. */
  publishedAddresses(): net.AddressInfo[] {
    return this.publisher?.addresses() ?? [];
  }
}
