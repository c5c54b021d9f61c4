import type { DynoOptions } from '../dyno/options';
import type { SizeName } from '../dyno/sizes';
import type { Engine } from '../engine/engine';
import { DynodError, UsageError } from '../errors';
import { Backoff, type RestartPolicy } from './backoff';
import { runtimeMetricLines, MetricsState } from './metrics';
import { Slot, type LogSink, type SlotContext } from './slot';
import type { DynoInfo, FormationEntry, Procfile, ReleaseInfo } from './types';

/** The releases and config vars of an app, as the formation uses them (ConfigStore). */
export interface ReleaseSource {
  /** the newest release, made if there is none yet */
  ensureInitialRelease(): ReleaseInfo;
  releases(): ReleaseInfo[];
  varsOf(version: number): Record<string, string>;
  mark(version: number, status: 'succeeded' | 'failed', releaseStatus?: number | null, older?: 'expired' | 'succeeded'): void;
}

export interface FormationOptions {
  engine: Engine;
  logs: LogSink;
  /** the app's name: its cgroup group, its control socket, its config */
  app: string;
  /** mounted copy-on-write at /app in every dyno */
  appDir: string;
  procfile: Procfile;
  formation: FormationEntry[];
  /** .env files applied before the config vars (the app's .env) */
  baseEnv: Record<string, string>;
  /** applied after the config vars (`-e` files) */
  overrideEnv: Record<string, string>;
  releases: ReleaseSource;
  /** $PORT in web dynos; web.N is published on host port port + N (until the router) */
  port: number;
  /** the dynos' network: private (egress, default) or none (loopback only) */
  net?: 'private' | 'none';
  /** host ports every dyno reaches at 127.0.0.1 inside (--allow-host-port) */
  allowHostPorts?: number[];
  /** publish web dynos on host ports (default true) */
  publish?: boolean;
  /** replace up web dynos one by one, each new one up before the old one stops (with a router in front) */
  preboot?: boolean;
  bootTimeoutMs?: number;
  graceMs?: number;
  restart?: RestartPolicy;
  backoffScale?: number;
  /** log-runtime-metrics lines every 20 s per dyno */
  runtimeMetrics?: boolean;
  metricsIntervalMs?: number;
  /** daily cycling period, 0 for none */
  cycleMs?: number;
  /** Heroku's release phase timeout: 1 h */
  releaseTimeoutMs?: number;
}

/** The result of one release phase. */
export interface ReleaseOutcome {
  version: number;
  ok: boolean;
  /** the release dyno's exit status; null when there is no release type */
  status: number | null;
  message: string;
}

const MEMORY_TICK_MS = 2_000;

/**
 * Heroku's dyno manager for one app on this host: the release phase, then the
 * formation's dynos (each a Slot), scaling, restarts, config releases, memory
 * errors and runtime metrics. Every dyno is a real dyno of the engine, in the app's
 * cgroup group. Nothing here prints: lines go to the LogSink.
 */
export class Formation {
  private readonly slots = new Map<string, Slot>();
  private entries: FormationEntry[];
  private vars: Record<string, string> = {};
  private version = 0;
  private readonly ctx: SlotContext;
  private readonly opts: Required<Omit<FormationOptions, 'publish'>> & { publish: boolean };
  private memoryTimer: NodeJS.Timeout | undefined;
  private readonly metrics = new MetricsState();
  private sinceMetrics = 0;
  private stopping = false;
  /** one release at a time: config changes queue behind each other */
  private releasing: Promise<unknown> = Promise.resolve();
  /** the formation's slots exist (start() made them after the first release phase) */
  private booted = false;
  /** one-offs `dynod run` clients run attached: ps shows them, stop() asks their client to end them */
  private readonly oneOffs = new Map<string, { info: DynoInfo; stop: (graceMs: number) => Promise<void> }>();
  private readonly changeListeners = new Set<() => void>();
  private readonly detached = new Map<string, Slot>();

  constructor(options: FormationOptions) {
    this.opts = {
      publish: true,
      bootTimeoutMs: 60_000,
      graceMs: 30_000,
      restart: 'heroku',
      backoffScale: 1,
      runtimeMetrics: false,
      metricsIntervalMs: 20_000,
      cycleMs: 0,
      releaseTimeoutMs: 3_600_000,
      preboot: false,
      allowHostPorts: [],
      net: 'private',
      ...options,
    };
    this.entries = options.formation.map((e) => ({ ...e }));
    const self = this;
    this.ctx = {
      engine: options.engine,
      logs: options.logs,
      group: options.app,
      // a release phase runs with its release's config; every other dyno with the running release's
      options: (slot) => self.dynoOptions(slot.name, slot.command, slot.size, {}, slot.type === 'web', slot.type === 'release' ? self.opts.releases.varsOf(slot.number) : undefined),
      get bootTimeoutMs() {
        return self.opts.bootTimeoutMs;
      },
      get graceMs() {
        return self.opts.graceMs;
      },
      get cycleMs() {
        return self.opts.cycleMs;
      },
      changed: () => {
        for (const cb of this.changeListeners) cb();
      },
    };
  }

  get app(): string {
    return this.opts.app;
  }

  get appDir(): string {
    return this.opts.appDir;
  }

  get procfile(): Procfile {
    return this.opts.procfile;
  }

  /** The running release's version. */
  get release(): number {
    return this.version;
  }

  /** The environment of a dyno of this app: the app's .env, the config vars (the running release's), the -e files. */
  environment(vars: Record<string, string> = this.vars): Record<string, string> {
    return { ...this.opts.baseEnv, ...vars, ...this.opts.overrideEnv };
  }

  /**
   * Options for a dyno of this app (formation, release, or one-off). A web dyno's $PORT is
   * the router's to give, whatever a config var says (other dynos see the config var, as on Heroku).
   */
  dynoOptions(name: string, command: string, size: SizeName, extraEnv: Record<string, string> = {}, web = false, vars?: Record<string, string>): DynoOptions {
    const env = { ...this.environment(vars), ...extraEnv };
    if (web) delete env.PORT;
    return {
      // Heroku runs the Procfile's command through a shell: $PORT and pipes work.
      command: ['/bin/sh', '-c', command],
      size,
      app: this.opts.appDir,
      name,
      port: this.opts.port,
      env,
      net: this.opts.net,
      allowHostPorts: this.opts.allowHostPorts,
    };
  }

  /**
   * The release phase of the newest release, then every dyno of the formation.
   * Rejects (nothing booted) when the release phase fails.
   */
  async start(): Promise<void> {
    const release = this.opts.releases.ensureInitialRelease();
    // release phases run one at a time: a config:set meanwhile waits for this one (deploy)
    const first = this.runRelease(release.version);
    this.releasing = first.catch(() => {});
    const outcome = await first;
    if (!outcome.ok) throw new DynodError(outcome.message, { step: 'release phase' }, outcome.status ?? 125);
    if (this.stopping) return;
    // what `scale` asked for meanwhile is in this.entries: the slots are made here, once
    await Promise.all(this.entries.flatMap((e) => Array.from({ length: e.quantity }, (_, i) => this.addSlot(e, i + 1))));
    this.booted = true;
    this.memoryTimer = setInterval(() => this.tick(), this.tickMs);
    for (const slot of this.slots.values()) void slot.boot();
  }

  private async addSlot(entry: FormationEntry, n: number): Promise<Slot> {
    const type = this.type(entry.type);
    const hostPort = entry.type === 'web' && this.opts.publish ? this.opts.port + n : null;
    const slot = new Slot(this.ctx, entry.type, n, entry.size, type.command, new Backoff(this.opts.restart, this.opts.backoffScale), hostPort);
    await slot.publish();
    this.slots.set(slot.name, slot);
    return slot;
  }

  private type(name: string) {
    const t = this.opts.procfile.types.find((p) => p.name === name);
    if (!t) throw new UsageError(`Couldn't find that process type (${name}).`);
    return t;
  }

  /**
   * Runs the release phase of `version` (Heroku: a `release` type in a one-off dyno
   * release.N with the new config; 1 h at most) and, when it succeeds, makes that
   * release's config the running one.
   */
  private async runRelease(version: number): Promise<ReleaseOutcome> {
    const vars = this.opts.releases.varsOf(version);
    const releaseType = this.opts.procfile.types.find((t) => t.name === 'release');
    if (!releaseType) {
      this.opts.releases.mark(version, 'succeeded', null, 'succeeded');
      this.vars = vars;
      this.version = version;
      return { version, ok: true, status: null, message: `v${version}: no release phase` };
    }
    // Only release.N sees the new config (ctx.options): a dyno that boots meanwhile (scale,
    // restart, a crash) gets the running release's, and keeps it if this one fails (Heroku's rule).
    const slot = new Slot(this.ctx, 'release', version, this.sizeOf('release'), releaseType.command, new Backoff('never', 1), null, true);
    const done = new Promise<void>((resolve) => (slot.onEnd = () => resolve()));
    this.detached.set(slot.name, slot);
    slot.boot();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.opts.logs.system(slot.name, `Release phase timed out after ${Math.round(this.opts.releaseTimeoutMs / 1000)} seconds`);
      void slot.stop(0);
    }, this.opts.releaseTimeoutMs);
    await done;
    clearTimeout(timer);
    this.detached.delete(slot.name);
    const status = slot.exitStatus;
    const ok = !timedOut && status === 0;
    this.opts.releases.mark(version, ok ? 'succeeded' : 'failed', status);
    if (ok) {
      this.vars = vars;
      this.version = version;
      return { version, ok, status, message: `v${version}: release phase succeeded` };
    }
    const why = timedOut ? 'timed out' : `exited with status ${status}`;
    return { version, ok, status: status ?? 125, message: `release phase of v${version} ${why} (release: ${releaseType.command}); no dyno boots this release` };
  }

  private sizeOf(type: string): SizeName {
    return this.entries.find((e) => e.type === type)?.size ?? this.entries[0]?.size ?? 'standard-1x';
  }

  /**
   * A new release (config vars changed): its release phase, then every dyno restarts
   * with the new environment. A failed release leaves the running dynos as they were.
   */
  deploy(version: number): Promise<ReleaseOutcome> {
    const next = this.releasing.then(async () => {
      const outcome = await this.runRelease(version);
      if (outcome.ok && !this.stopping) {
        for (const slot of this.slots.values()) {
          slot.backoff.reset();
          slot.restarts = 0;
        }
        this.replace([...this.slots.values()]);
      }
      return outcome;
    });
    this.releasing = next.catch(() => {});
    return next;
  }

  /** Heroku's `ps:scale`: more slots boot, the highest-numbered ones stop; a new size restarts the type. */
  async scale(next: FormationEntry[]): Promise<void> {
    // before the first release phase has passed no dyno runs: the formation boots at the new scale
    if (!this.booted) {
      this.entries = next.map((e) => ({ ...e }));
      return;
    }
    const booting: Slot[] = [];
    const stopping: Promise<void>[] = [];
    for (const entry of next) {
      const old = this.entries.find((e) => e.type === entry.type);
      const resized = old !== undefined && old.size !== entry.size;
      const mine = [...this.slots.values()].filter((s) => s.type === entry.type).sort((a, b) => a.number - b.number);
      for (const slot of mine.slice(entry.quantity)) {
        this.slots.delete(slot.name);
        stopping.push(slot.stop());
      }
      for (const slot of mine.slice(0, entry.quantity)) {
        if (resized) {
          slot.size = entry.size;
          slot.backoff.reset();
          booting.push(slot);
        }
      }
      for (let n = mine.length + 1; n <= entry.quantity; n++) booting.push(await this.addSlot(entry, n));
    }
    this.entries = next.map((e) => ({ ...e }));
    for (const slot of booting) slot.boot();
    await Promise.all(stopping);
  }

  get formation(): FormationEntry[] {
    return this.entries.map((e) => ({ ...e }));
  }

  /** The web dynos' slots (the router's backends). */
  webSlots(): Slot[] {
    return [...this.slots.values()].filter((s) => s.type === 'web');
  }

  /** Called whenever a dyno's state changes (the router's backend set may have). */
  onChange(cb: () => void): () => void {
    this.changeListeners.add(cb);
    return () => this.changeListeners.delete(cb);
  }

  /** The slots a `-d NAME` / `-p TYPE` selection names (all without either); a clear error for none. */
  select(sel: { dyno?: string; type?: string }): Slot[] {
    const all = [...this.slots.values()];
    if (sel.dyno) {
      const s = this.slots.get(sel.dyno) ?? this.detached.get(sel.dyno);
      if (!s) throw new UsageError(`no dyno ${sel.dyno} on ${this.app}; dynos: ${this.ps().map((d) => d.name).join(', ') || 'none'}`);
      return [s];
    }
    if (sel.type) {
      this.type(sel.type);
      return all.filter((s) => s.type === sel.type);
    }
    return all;
  }

  /** `dynod restart`: each selected dyno is replaced (the new one starts as the old one gets SIGTERM). */
  restart(sel: { dyno?: string; type?: string }): string[] {
    // an attached one-off is not restarted (nor on Heroku): it stops
    const attached = sel.dyno ? this.attachedIn(sel) : [];
    for (const [, o] of attached) void o.stop(this.opts.graceMs);
    if (attached.length) return attached.map(([name]) => name);
    const slots = this.select(sel);
    for (const slot of slots) {
      slot.backoff.reset();
      slot.restarts = 0;
      this.opts.logs.system(slot.name, 'Restarting');
    }
    this.replace(slots);
    return slots.map((s) => s.name);
  }

  /**
   * New lives for these slots. Web dynos behind the router are replaced one by one,
   * each new one up before the old one gets its SIGTERM (Heroku's preboot), so a
   * restart under load loses no request; the others start as the old ones stop.
   */
  private replace(slots: Slot[]): void {
    const rolling = this.opts.preboot ? slots.filter((s) => s.type === 'web' && s.state === 'up') : [];
    for (const slot of slots) if (!rolling.includes(slot)) void slot.boot();
    void (async () => {
      for (const slot of rolling) if (!this.stopping) await slot.boot({ preboot: true });
    })();
  }

  /** `dynod stop`: a formation dyno stops and the manager starts it again (Heroku's Common Runtime); a one-off just stops. */
  async stopDynos(sel: { dyno?: string; type?: string }): Promise<string[]> {
    const attached = this.attachedIn(sel);
    const slots = sel.dyno && attached.length ? [] : this.oneOffType(sel) ? [...this.detached.values()] : this.select(sel);
    await Promise.all([
      ...attached.map(([, o]) => o.stop(this.opts.graceMs)),
      ...slots.map(async (slot) => {
        if (slot.oneOff) return slot.stop();
        if (this.stopping || this.slots.get(slot.name) !== slot) return slot.stop(undefined, false);
        // it comes back as a restart does: the new one starts as the old one gets its SIGTERM;
        // the verb returns once the old one has ended (its grace, R12)
        const old = slot.current;
        void slot.boot();
        await old?.wait();
      }),
    ]);
    return [...attached.map(([name]) => name), ...slots.map((s) => s.name)];
  }

  /** -p run names the one-offs (their type, as ps shows them), unless the Procfile has a type of that name. */
  private oneOffType(sel: { type?: string }): boolean {
    return sel.type === 'run' && !this.opts.procfile.types.some((t) => t.name === 'run');
  }

  /** The attached one-offs a selection names: -d run.N, or all of them with -p run; their clients end them. */
  private attachedIn(sel: { dyno?: string; type?: string }): Array<[string, { stop: (graceMs: number) => Promise<void> }]> {
    if (sel.dyno) return this.oneOffs.has(sel.dyno) ? [[sel.dyno, this.oneOffs.get(sel.dyno)!]] : [];
    return this.oneOffType(sel) ? [...this.oneOffs.entries()] : [];
  }

  /** Every dyno's state, one-offs first (`dynod ps`). */
  ps(): DynoInfo[] {
    return [...[...this.oneOffs.values()].map((o) => o.info), ...[...this.detached.values()].map((s) => s.info()), ...[...this.slots.values()].map((s) => s.info())];
  }

  /** A one-off started by a client (`dynod run` attached): shown by ps while the client holds it. */
  registerOneOff(info: DynoInfo, stop: (graceMs: number) => Promise<void>): () => void {
    this.oneOffs.set(info.name, { info, stop });
    return () => this.oneOffs.delete(info.name);
  }

  /** A free run.N name (Heroku's one-off numbers are not sequential). */
  oneOffName(): string {
    for (;;) {
      const name = `run.${1000 + Math.floor(Math.random() * 9000)}`;
      if (!this.oneOffs.has(name) && !this.detached.has(name)) return name;
    }
  }

  /** `dynod run --detach`: a one-off owned by the manager, its output in the log stream. */
  runDetached(command: string, size: SizeName): Slot {
    const name = this.oneOffName();
    const slot = new Slot(this.ctx, 'run', Number(name.slice(4)), size, command, new Backoff('never', 1), null, true);
    this.detached.set(name, slot);
    slot.onEnd = () => this.detached.delete(name);
    slot.boot();
    return slot;
  }

  /** The selected slot's running dyno, for exec. */
  running(name: string) {
    if (this.oneOffs.has(name)) throw new UsageError(`${name} runs attached to its dynod run; exec reaches the formation's dynos and detached one-offs`);
    const slot = this.select({ dyno: name })[0]!;
    if (!slot.current || slot.state !== 'up') throw new UsageError(`${name} is not running (${slot.state})`);
    return slot.current;
  }

  /** memory checks every 2 s, or as often as the runtime metrics when they come faster */
  private get tickMs(): number {
    return this.opts.runtimeMetrics ? Math.min(MEMORY_TICK_MS, this.opts.metricsIntervalMs) : MEMORY_TICK_MS;
  }

  private tick(): void {
    const now = Date.now();
    for (const slot of this.slots.values()) slot.checkMemory(now);
    if (!this.opts.runtimeMetrics) return;
    this.metrics.prune(new Set([...this.slots.values(), ...this.detached.values()].flatMap((s) => (s.current ? [s.current.id] : []))));
    this.sinceMetrics += this.tickMs;
    if (this.sinceMetrics < this.opts.metricsIntervalMs) return;
    this.sinceMetrics = 0;
    for (const slot of [...this.slots.values(), ...this.detached.values()]) {
      if (slot.state !== 'up' || !slot.current) continue;
      for (const line of runtimeMetricLines(slot.name, slot.current, this.metrics, now)) this.opts.logs.system(slot.name, line);
    }
  }

  /** Stops every dyno (SIGTERM, SIGKILL after the grace); `hurry()` cuts the grace short. */
  async stop(graceMs = this.opts.graceMs): Promise<void> {
    this.stopping = true;
    clearInterval(this.memoryTimer);
    const all = [...this.slots.values(), ...this.detached.values()];
    await Promise.all([...all.map((s) => s.stop(graceMs)), ...[...this.oneOffs.values()].map((o) => o.stop(graceMs))]);
    this.slots.clear();
    this.detached.clear();
    this.metrics.clear();
  }

  hurry(): void {
    for (const s of [...this.slots.values(), ...this.detached.values()]) s.hurry();
    for (const o of this.oneOffs.values()) void o.stop(0);
  }
}
