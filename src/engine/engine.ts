import * as fs from 'node:fs';
import { detectCgroups, type CgroupBackend } from '../cgroup';
import { DynodError } from '../errors';
import { native, buildFile } from '../native';
import { SeccompFilters } from '../seccomp/filters';
import { Dyno, checkStartOptions, type DynoExit, type EngineResources, type StartOptions } from '../dyno/dyno';
import type { DynoOptions } from '../dyno/options';
import type { DynoPlan } from '../dyno/plan';
import { buildPlan, checkPlan } from './plans';
import { IdAllocator } from './ids';
import { SpareNamespaces } from './spare-ns';
import { EngineNetwork, type NetworkOptions } from '../net/dyno-network';
import { log } from '../log';

export interface EngineOptions {
  /**
   * How often cgroups left by dynods that died (SIGKILL, a crash) are removed, in
   * ms; the first sweep runs before the first start. Default 60 s; 0: only that first.
   */
  sweepIntervalMs?: number;
  /** the dynos' network (--net private): the IPv4 range their addresses come from */
  network?: NetworkOptions;
}

export interface RunResult {
  /** null when the dyno could not be started */
  dyno: Dyno | null;
  exit: DynoExit;
}

/**
 * What dynos share, owned in one place for a long-lived process: the cgroup
 * backend, the host-global user-namespace id allocator, the sealed dynod-init,
 * the compiled seccomp filters, the periodic sweep of stale cgroups, and the set
 * of live dynos. Engines are independent: two in one process, or two dynod
 * processes, never hand out the same id range or cgroup. close() releases it all.
 */
export class Engine {
  private backend: CgroupBackend | null = null;
  private readonly ids = new IdAllocator();
  private readonly spares = new SpareNamespaces(this.ids);
  private readonly seccomp = new SeccompFilters();
  private readonly network: EngineNetwork;
  private initFd = -1;
  private readonly live = new Set<Dyno>();
  private readonly sweepIntervalMs: number;
  private sweepTimer: NodeJS.Timeout | null = null;
  private firstSweep: Promise<void> | null = null;
  /** the sweep running now, if any: close() waits for it */
  private sweeping: Promise<void> | null = null;
  private closed = false;
  private readonly resources: EngineResources;

  constructor(options: EngineOptions = {}) {
    const interval = options.sweepIntervalMs ?? 60_000;
    if (!Number.isFinite(interval) || interval < 0)
      throw new DynodError(`sweepIntervalMs ${interval}: must be a number of milliseconds ≥ 0`, { step: 'engine' });
    this.sweepIntervalMs = interval;
    this.network = new EngineNetwork(options.network);
    const self = this;
    this.resources = {
      get cgroups() {
        return self.cgroups();
      },
      ids: this.ids,
      spares: this.spares,
      seccomp: this.seccomp,
      network: this.network,
      initFd: () => this.initBinary(),
      adopt: (dyno) => this.live.add(dyno),
      released: (dyno) => this.live.delete(dyno),
    };
  }

  /** The cgroup backend (v2 when the host offers its controllers, else v1), detected once. */
  private cgroups(): CgroupBackend {
    this.backend ??= detectCgroups();
    return this.backend;
  }

  /** The sealed copy of dynod-init every dyno of this engine execs as its PID 1. */
  private initBinary(): number {
    if (this.initFd < 0) this.initFd = native().sealedCopy(buildFile('dynod-init'));
    return this.initFd;
  }

  private sweep(): Promise<void> {
    this.sweeping ??= this.cgroups()
      .sweepStale()
      .then((n) => {
        if (n > 0) log.debug({ removed: n }, 'stale cgroups removed');
      })
      .catch((e: unknown) => log.warn({ err: e }, 'stale cgroup sweep failed'))
      .finally(() => (this.sweeping = null));
    return this.sweeping;
  }

  private startSweeping(): Promise<void> {
    if (!this.firstSweep) {
      // What a dynod killed with SIGKILL left of the host network goes with its cgroups.
      const net = this.network.sweep().then(
        (removed) => void (removed && log.debug({}, 'stale host network removed')),
        (e: unknown) => log.warn({ err: e }, 'stale network sweep failed'),
      );
      this.firstSweep = Promise.all([this.sweep(), net]).then(() => {});
      if (this.sweepIntervalMs > 0) {
        this.sweepTimer = setInterval(() => void this.sweep(), this.sweepIntervalMs);
        this.sweepTimer.unref();
      }
    }
    return this.firstSweep;
  }

  /**
   * Does now what the first start would otherwise wait for: the sweep of what dead
   * dynods left, and with `network: true` joining (or setting up) the host network that
   * dynos with egress hang on. A manager calls it before its own start-up work, which
   * then overlaps it (the host network runs nft). Never rejects: a failure here is the
   * first start's to report, which tries again.
   */
  prepare(opts: { network?: boolean } = {}): Promise<void> {
    if (this.closed || process.getuid?.() !== 0) return Promise.resolve();
    const swept = this.startSweeping();
    return (opts.network ? swept.then(() => this.network.hostNetwork()).then(() => {}) : swept).catch(() => {});
  }

  /** The complete plan for a dyno (what `dynod run --dry-run` prints), as frozen plain data. Needs no root. */
  plan(options: DynoOptions): DynoPlan {
    return buildPlan(options, this.cgroups().view);
  }

  /**
   * Starts a dyno from options or from a plan (any number of times: each start is
   * a new instance). Resolves once its command runs; rejects with a DynodError
   * (CommandError for 126/127) once everything the start held is released.
   */
  async start(what: DynoOptions | DynoPlan, opts: StartOptions = {}): Promise<Dyno> {
    try {
      if (this.closed) throw new DynodError('this engine is closed', { step: 'start' });
      checkStartOptions(opts);
      if (process.getuid?.() !== 0) throw new DynodError('must run as root (try sudo)', { step: 'permissions' });
      // PR_SET_PDEATHSIG belongs to the thread that clones: a dyno started from a
      // worker would die with that worker.
      if (!native().mainThread()) throw new DynodError('dynos are started from the main thread only (a dyno dies with the thread that started it)', { step: 'start' });
      const plan = 'mounts' in what ? checkPlan(what, this.cgroups().view) : this.plan(what);
      await this.startSweeping();
      if (this.closed) throw new DynodError('this engine is closed', { step: 'start' });
      return await Dyno.start(plan, this.resources, opts);
    } catch (e) {
      throw DynodError.from(e, 'start');
    }
  }

  /** Runs a dyno to its end. Never rejects: a failure to start comes back in exit.error. */
  async run(what: DynoOptions | DynoPlan, opts: StartOptions = {}): Promise<RunResult> {
    let dyno: Dyno;
    try {
      dyno = await this.start(what, { stdout: 'inherit', stderr: 'inherit', ...opts });
    } catch (e) {
      const err = DynodError.from(e);
      return { dyno: null, exit: { status: err.exitCode, code: null, signal: null, oomKilled: false, error: err } };
    }
    return { dyno, exit: await dyno.wait() };
  }

  /**
   * Resolves once the cleanup that outlives the dynos that ended is done: deleting a
   * veth waits out the kernel's RCU grace periods on the threadpool, after the dyno's
   * end (a measurement of held resources waits for this).
   */
  settled(): Promise<void> {
    return this.network.settled();
  }

  /** The dynos of this engine that have not ended (starting ones included). */
  get dynos(): Dyno[] {
    return [...this.live];
  }

  /**
   * Stops every live dyno (SIGTERM, SIGKILL after graceMs; default 0: at once),
   * waits for them, and releases what the engine holds. Further starts reject.
   */
  async close(options: { graceMs?: number } = {}): Promise<void> {
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    await Promise.all([...this.live].map((d) => d.stop(options.graceMs ?? 0).catch(() => d.wait())));
    await this.sweeping;
    await this.firstSweep;
    this.backend?.flushIdleParents();
    try {
      await this.network.close();
    } catch (e) {
      log.warn({ err: e }, 'host network release failed');
    }
    this.seccomp.close();
    this.spares.close();
    this.ids.close();
    if (this.initFd >= 0) fs.closeSync(this.initFd);
    this.initFd = -1;
  }
}

let defaultEngine: Engine | undefined;

/** The engine behind the module-level plan(), start() and run(). */
export function getDefaultEngine(): Engine {
  defaultEngine ??= new Engine();
  return defaultEngine;
}
