import type { Readable } from 'node:stream';
import type { Dyno, DynoExit, DynoStats } from '../dyno/dyno';
import type { DynoOptions } from '../dyno/options';
import type { Engine } from '../engine/engine';
import { DynodError } from '../errors';
import { Publisher } from '../net/publish';
import { Backoff } from './backoff';
import type { DynoInfo, FormationDynoState } from './types';
import type { SizeName } from '../dyno/sizes';

/** Where a slot writes: the formation's log stream. */
export interface LogSink {
  attach(dyno: string, stream: Readable): void;
  system(dyno: string, message: string): void;
}

/** What a slot needs of its formation, read at each boot (the release and size may have changed). */
export interface SlotContext {
  readonly engine: Engine;
  readonly logs: LogSink;
  /** the cgroup group: the app's name */
  readonly group: string;
  /** the options of this slot's next dyno */
  options(slot: Slot): DynoOptions;
  readonly bootTimeoutMs: number;
  readonly graceMs: number;
  /** Heroku's daily cycling, or 0 */
  readonly cycleMs: number;
  /** called when a boot reached up, a dyno ended, or a state changed: the formation may act */
  changed(slot: Slot): void;
}

const BOOT_TIMEOUT = (s: number) => `Error R10 (Boot timeout) -> Web process failed to bind to $PORT within ${s} seconds of launch`;

function fmtSeconds(ms: number): string {
  const s = ms / 1000;
  return Number.isInteger(s) ? String(s) : s.toFixed(1);
}

/** Heroku's R12 lines for a dyno still running when the grace (ms) after SIGTERM ran out. */
export function exitTimeoutLines(graceMs: number): string[] {
  return [`Error R12 (Exit timeout) -> At least one process failed to exit within ${fmtSeconds(graceMs)} seconds of SIGTERM`, 'Stopping process with SIGKILL'];
}

/** Heroku counts RSS + swap against the quota (heroku-dynos.md section 6). */
function memoryUsed(s: DynoStats): number {
  return (s.memory.rssBytes ?? 0) + (s.memory.swapBytes ?? 0);
}

/** The dyno's cgroup reading, or null when it has none (ended meanwhile). */
function readStats(d: Dyno): DynoStats | null {
  try {
    return d.stats();
  } catch {
    return null;
  }
}

function fmtMB(bytes: number): string {
  return `${(bytes / 1048576).toFixed(0)}MB`;
}

/**
 * One name of a formation (web.1) across its lives: boots a dyno, watches it (R10
 * boot check for web), restarts it after a crash by the formation's policy, stops it
 * gracefully (R12), cycles it. A restart starts the replacement as soon as SIGTERM is
 * sent to the old one (Heroku): for a moment two dynos carry the name; the slot's
 * host port always leads to the current one, and only once it is up.
 */
export class Slot {
  state: FormationDynoState = 'down';
  since = new Date();
  /** the dyno of this life (starting, up, or just ended) */
  current: Dyno | null = null;
  /** a preboot's new life, while the current one still serves */
  next: Dyno | null = null;
  private settleBoot: (() => void) | null = null;
  /** older lives still stopping */
  readonly retiring = new Set<Dyno>();
  readonly backoff: Backoff;
  restartAt: Date | null = null;
  /** crash restarts since the last reset */
  restarts = 0;
  /** true once the slot is removed (scale down, shutdown): no more boots */
  private removed = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private stableTimer: NodeJS.Timeout | undefined;
  private cycleTimer: NodeJS.Timeout | undefined;
  private bootAbort: AbortController | null = null;
  private publisher: Publisher | null = null;
  /** the last memory reading above the quota was logged at (R14 at most once a minute) */
  lastR14 = 0;
  lastOomKills = 0;
  size: SizeName;
  command: string;
  /** the status of the last life that ended */
  exitStatus: number | null = null;
  /** called when a life of this slot has ended and its state is settled (one-offs: the end) */
  onEnd: ((status: number) => void) | null = null;

  constructor(
    private readonly ctx: SlotContext,
    readonly type: string,
    readonly number: number,
    size: SizeName,
    command: string,
    backoff: Backoff,
    /** the host port its $PORT is published on, or null */
    readonly hostPort: number | null,
    readonly oneOff = false,
  ) {
    this.size = size;
    this.command = command;
    this.backoff = backoff;
  }

  get name(): string {
    return `${this.type}.${this.number}`;
  }

  private log(message: string): void {
    this.ctx.logs.system(this.name, message);
  }

  private setState(to: FormationDynoState): void {
    if (this.state === to) return;
    this.log(`State changed from ${this.state} to ${to}`);
    this.state = to;
    this.since = new Date();
    this.ctx.changed(this);
  }

  /** Listens on the host port (before the first boot, so a taken port fails the start). */
  async publish(): Promise<void> {
    if (this.hostPort === null) return;
    this.publisher = await Publisher.listen(
      [{ address: '127.0.0.1', hostPort: this.hostPort }],
      () => (this.current && this.state === 'up' ? this.current.netnsTarget() : null),
      (m) => this.log(`publish: ${m}`),
    );
  }

  /**
   * Starts a new life now (a restart asked for, a crash's cool-off over, a cycle).
   * With `preboot` (Heroku's preboot, for web dynos that are up), the old life keeps
   * serving until the new one is up, and only then gets its SIGTERM. Resolves when
   * the new life is up, or has failed.
   */
  boot(opts: { preboot?: boolean } = {}): Promise<void> {
    if (this.removed) return Promise.resolve();
    clearTimeout(this.restartTimer);
    this.restartAt = null;
    const previous = this.current;
    const preboot = !!opts.preboot && previous !== null && this.state === 'up' && !this.next;
    if (!preboot) {
      if (previous && previous.state !== 'down' && previous.state !== 'crashed') void this.retire(previous);
      // From here the old life is not the slot's: its end is only logged.
      this.current = null;
      this.setState('starting');
    }
    this.log(`Starting process with command \`${this.command}\``);
    let settle!: () => void;
    const settled = new Promise<void>((r) => (settle = r));
    this.settleBoot = settle;
    const abort = new AbortController();
    this.bootAbort = abort;
    let dyno: Dyno | null = null;
    const options = this.ctx.options(this);
    this.ctx.engine
      .start(options, {
        group: this.ctx.group,
        stdout: 'pipe',
        // one pipe for both, as logplex sees them: app[web.1] lines in the order written
        stderr: 'stdout',
        signal: abort.signal,
        onCreated: (d) => {
          dyno = d;
          if (preboot) this.next = d;
          else this.current = d;
          d.on('stopTimeout', (ms) => {
            for (const line of exitTimeoutLines(ms)) this.log(line);
          });
          d.on('warning', (m) => this.log(`warning: ${m}`));
          void d.wait().then((exit) => this.ended(d, exit));
        },
      })
      .then((d) => {
        if (d.stdout) this.ctx.logs.attach(this.name, d.stdout);
        if (this.type === 'web' && !this.oneOff) return this.bootCheck(d, abort.signal);
        if (this.current === d || this.next === d) this.up(d);
      })
      .catch((e: unknown) => {
        // A start that failed with a dyno (command not found, a setup step) is reported by ended().
        if (dyno !== null) return;
        if (abort.signal.aborted) {
          if (!this.removed) return;
          this.setState('down');
          this.onEnd?.(this.exitStatus ?? 125);
          return;
        }
        const err = DynodError.from(e);
        this.log(`Error: ${err.message}`);
        this.exitStatus = err.exitCode;
        this.crashed();
        this.onEnd?.(err.exitCode);
      })
      .finally(() => {
        if (this.bootAbort === abort) this.bootAbort = null;
        // up, or failed: either way this boot is over (ended() settles a dyno that dies later)
        if (this.state !== 'starting' || this.current !== dyno) settle();
      });
    return settled;
  }

  /** R10: a web dyno must listen on $PORT within the boot timeout. */
  private async bootCheck(d: Dyno, signal: AbortSignal): Promise<void> {
    try {
      await d.waitForPort(undefined, this.ctx.bootTimeoutMs);
    } catch (e) {
      if (signal.aborted || (this.current !== d && this.next !== d) || d.state !== 'up') return;
      if (DynodError.from(e).code !== 'ETIMEDOUT') return;
      this.log(BOOT_TIMEOUT(Number(fmtSeconds(this.ctx.bootTimeoutMs))));
      this.log('Stopping process with SIGKILL');
      d.kill('SIGKILL');
      return;
    }
    if ((this.current === d && this.state === 'starting') || this.next === d) this.up(d);
  }

  private up(d: Dyno): void {
    if (this.next === d) {
      // preboot: the new life takes over, the old one stops (it gets no new request from now on)
      const old = this.current;
      this.current = d;
      this.next = null;
      // The slot stayed up; the new life's own start is what the log shows (a new dyno on Heroku).
      this.log('State changed from starting to up');
      this.since = new Date();
      // the router drops the old life first: once it has SIGTERM, no new request reaches it
      this.ctx.changed(this);
      if (old && old.state !== 'down' && old.state !== 'crashed') void this.retire(old);
    }
    this.settleBoot?.();
    this.setState('up');
    clearTimeout(this.stableTimer);
    // A boot that stays up forgets the crashes before it.
    this.stableTimer = setTimeout(() => {
      this.backoff.reset();
      this.restarts = 0;
    }, this.backoff.stableMs);
    this.scheduleCycle();
  }

  private scheduleCycle(): void {
    clearTimeout(this.cycleTimer);
    if (!this.ctx.cycleMs || this.oneOff) return;
    // Heroku: every 24 h plus 0-216 min per dyno; the jitter keeps that ratio for other periods.
    const jitter = Math.random() * this.ctx.cycleMs * (216 / 1440);
    this.cycleTimer = setTimeout(() => {
      if (this.state !== 'up') return;
      this.log('Cycling');
      this.boot();
    }, this.ctx.cycleMs + jitter);
  }

  /** A life ended: log it, then settle the slot's state and the restart policy. */
  private ended(d: Dyno, exit: DynoExit): void {
    const name = this.name;
    if (exit.oomKilled) this.logR15(readStats(d));
    if (exit.error && exit.error.exitCode === 125) this.log(`Error: ${exit.error.message}`);
    else if (exit.error) this.log(exit.error.message);
    this.ctx.logs.system(name, `Process exited with status ${exit.status}`);
    this.retiring.delete(d);
    if (this.next === d) {
      // a preboot that failed: the current life keeps serving, and the new one is tried
      // again as a crash is (the restart policy), until one is up or the slot stops
      this.next = null;
      this.settleBoot?.();
      this.retryPreboot();
    }
    if (this.current !== d) return void this.ctx.changed(this);
    this.settleBoot?.();
    clearTimeout(this.stableTimer);
    clearTimeout(this.cycleTimer);
    this.exitStatus = exit.status;
    if (d.state === 'down' || this.removed) {
      this.setState('down');
      this.current = null;
    } else this.crashed();
    this.onEnd?.(exit.status);
  }

  /**
   * Heroku's R15 lines, with the reading that shows it when there is one: read after the
   * kill freed the memory (under a MB: the cgroup emptied), it would only say mem=0MB.
   */
  private logR15(s: DynoStats | null): void {
    if (s && memoryUsed(s) >= 1048576) this.logMemory(s);
    this.log('Error R15 (Memory quota vastly exceeded)');
  }

  /** `Process running mem=600MB(117.2%)`: RSS + swap against the quota. */
  private logMemory(s: DynoStats): void {
    const quota = s.memory.quotaBytes;
    const used = memoryUsed(s);
    if (quota) this.log(`Process running mem=${fmtMB(used)}(${((used / quota) * 100).toFixed(1)}%)`);
  }

  /** Checked on the formation's memory tick: R14 over the quota, R15 when the kernel killed a process. */
  checkMemory(now: number): void {
    const d = this.current;
    if (!d || this.state !== 'up') return;
    const s = readStats(d);
    if (!s) return;
    if (s.oomKills > this.lastOomKills) {
      // A process of the dyno was OOM-killed but the dyno lives on: Heroku kills the dyno at R15.
      this.lastOomKills = s.oomKills;
      this.logR15(s);
      this.log('Stopping process with SIGKILL');
      d.kill('SIGKILL');
      return;
    }
    const quota = s.memory.quotaBytes;
    if (quota && memoryUsed(s) > quota && now - this.lastR14 >= 60_000) {
      this.lastR14 = now;
      this.logMemory(s);
      this.log('Error R14 (Memory quota exceeded)');
    }
  }

  private retryPreboot(): void {
    if (this.removed || this.oneOff || this.state !== 'up' || !this.current) return;
    const what = 'Error: the new process crashed before it was up; the running one keeps serving';
    const delay = this.bootAfterCoolOff({ preboot: true });
    this.log(delay === null ? what : `${what}, next try in ${Math.ceil(delay / 1000)}s`);
  }

  private crashed(): void {
    // A one-off that ends has done its work: nobody restarts it, and it did not crash.
    if (this.oneOff) return this.setState('down');
    this.setState('crashed');
    if (this.removed) return;
    this.bootAfterCoolOff();
  }

  /** The next life after the restart policy's cool-off: its delay, or null when the policy gives up. */
  private bootAfterCoolOff(opts: { preboot?: boolean } = {}): number | null {
    const delay = this.backoff.next();
    if (delay === null) return null;
    this.restarts++;
    this.restartAt = new Date(Date.now() + delay);
    this.ctx.changed(this);
    this.restartTimer = setTimeout(() => void this.boot(opts), delay);
    return delay;
  }

  /** Stops the current life and any older ones still stopping (SIGTERM, SIGKILL after the grace). */
  private retire(d: Dyno, graceMs = this.ctx.graceMs): Promise<unknown> {
    if (d.state === 'down' || d.state === 'crashed') return d.wait();
    if (d.state !== 'stopping') this.log('Stopping all processes with SIGTERM');
    this.retiring.add(d);
    const stopped = d.stop(graceMs);
    // it is stopping now: the router sends it nothing new and closes its idle connections
    // (an app that drains on SIGTERM waits for those to close)
    this.ctx.changed(this);
    return stopped;
  }

  /**
   * Stops this slot for good (scale down, shutdown) or for now (`restart` boots it
   * again right after). Resolves when every life of it has ended.
   */
  async stop(graceMs = this.ctx.graceMs, remove = true): Promise<void> {
    if (remove) this.removed = true;
    clearTimeout(this.restartTimer);
    clearTimeout(this.cycleTimer);
    clearTimeout(this.stableTimer);
    this.restartAt = null;
    // Only a boot that has no dyno yet is aborted: a dyno that exists gets its grace.
    if (!this.current) this.bootAbort?.abort();
    const waits: Promise<unknown>[] = [...this.retiring].map((d) => d.stop(graceMs));
    if (this.next) waits.push(this.retire(this.next, graceMs));
    const d = this.current;
    if (d && d.state !== 'down' && d.state !== 'crashed') waits.push(this.retire(d, graceMs));
    else if (this.state === 'crashed' && remove) this.setState('down');
    await Promise.all(waits);
    if (remove) {
      if (this.state !== 'down') this.setState('down');
      await this.publisher?.close();
      this.publisher = null;
    }
  }

  /** A shorter grace for everything stopping now (the second Ctrl-C). */
  hurry(): void {
    for (const d of this.retiring) void d.stop(0);
    if (this.next) void this.next.stop(0);
    if (this.current && this.current.state === 'stopping') void this.current.stop(0);
  }

  info(): DynoInfo {
    const d = this.current;
    let memoryBytes: number | null = null;
    let cpuSeconds: number | null = null;
    if (d && (this.state === 'up' || this.state === 'starting')) {
      const s = readStats(d);
      if (s) {
        memoryBytes = memoryUsed(s);
        cpuSeconds = s.cpu.usageUsec === null ? null : s.cpu.usageUsec / 1e6;
      }
    }
    return {
      name: this.name,
      type: this.type,
      number: this.number,
      state: this.state,
      since: this.since.toISOString(),
      size: this.size,
      command: this.command,
      oneOff: this.oneOff,
      pid: d && d.pid > 0 && (this.state === 'up' || this.state === 'starting') ? d.pid : null,
      hostPort: this.hostPort,
      restarts: this.restarts,
      restartAt: this.restartAt?.toISOString() ?? null,
      memoryBytes,
      cpuSeconds,
    };
  }
}
