import { BackendState } from './backend-state';
import type { Backend } from './types';

/** Why no dyno was picked. */
export const enum NoPick {
  /** every eligible dyno has its maximum in flight: the request waits in the backlog */
  Full = 1,
  /** every dyno not yet tried is quarantined */
  Quarantined,
  /** every dyno was tried */
  Exhausted,
}

/** Something waiting for room on a dyno (an Exchange). */
export interface Waiter {
  resume(): void;
}

/**
 * vegur's checkout step: a random dyno among those with room, not quarantined and not
 * tried yet for this request; Heroku's per-dyno limit of requests in flight and the
 * backlog (per web dyno) of requests that wait for room.
 */
export class Checkout {
  /** the dynos requests may go to, in the source's order */
  private list: BackendState[] = [];
  private readonly byBackend = new Map<Backend, BackendState>();
  private readonly backlog: Waiter[] = [];
  private readonly scratch: BackendState[] = [];
  /** names drained through the router: their current dynos get nothing new */
  private readonly drained = new Set<Backend>();

  constructor(
    private readonly maxInFlight: number,
    private readonly backlogPerDyno: number,
    private readonly random: () => number,
  ) {}

  get listed(): number {
    return this.list.length;
  }

  get waiting(): number {
    return this.backlog.length;
  }

  states(): readonly BackendState[] {
    return this.list;
  }

  /** The source's dynos now: new ones get a state; gone or drained ones retire (their idle connections close). */
  refresh(backends: readonly Backend[]): void {
    const next: BackendState[] = [];
    const seen = new Set<Backend>();
    for (const b of backends) {
      if (seen.has(b) || this.drained.has(b)) continue;
      seen.add(b);
      let s = this.byBackend.get(b);
      if (s === undefined) {
        s = new BackendState(b, this.maxInFlight);
        this.byBackend.set(b, s);
      }
      next.push(s);
    }
    for (const [b, s] of this.byBackend) {
      if (!seen.has(b)) {
        s.retire();
        this.byBackend.delete(b);
      }
    }
    for (const b of this.drained) if (!backends.includes(b)) this.drained.delete(b);
    this.list = next;
  }

  /** The dynos named so get no new request, until the source lists other dynos of that name. */
  drain(name: string, backends: readonly Backend[]): void {
    for (const b of backends) if (b.name === name) this.drained.add(b);
    this.refresh(backends);
  }

  /** A dyno for a request, its slot taken (inFlight + 1), or why none. */
  pick(tried: readonly BackendState[] | null, now: number): BackendState | NoPick {
    const list = this.list;
    const n = list.length;
    if (n === 0) return NoPick.Exhausted;
    // the common case: the first random choice is fine (uniform among eligible either way)
    const first = list[(this.random() * n) | 0]!;
    if (this.eligible(first, tried, now) && first.take(this.maxInFlight)) return first;
    const ok = this.scratch;
    ok.length = 0;
    let untried = 0;
    let unquarantined = 0;
    for (const s of list) {
      if (tried !== null && tried.includes(s)) continue;
      untried++;
      if (s.quarantined(now)) continue;
      unquarantined++;
      if (s.busy() < this.maxInFlight) ok.push(s);
    }
    // the native plane may take a slot between the look and the take: another pick then
    while (ok.length > 0) {
      const i = (this.random() * ok.length) | 0;
      const s = ok[i]!;
      if (s.take(this.maxInFlight)) {
        ok.length = 0;
        return s;
      }
      ok.splice(i, 1);
    }
    if (unquarantined > 0) return NoPick.Full;
    return untried > 0 ? NoPick.Quarantined : NoPick.Exhausted;
  }

  /** the code of a quarantine that blocks every untried dyno */
  quarantineCode(tried: readonly BackendState[] | null): 'H19' | 'H21' {
    for (const s of this.list) if (tried === null || !tried.includes(s)) return s.quarantineCode === 'H19' ? 'H19' : 'H21';
    return 'H21';
  }

  /** Joins the backlog, or false when it is full (H11). */
  enqueue(w: Waiter): boolean {
    if (this.backlog.length >= this.backlogPerDyno * this.list.length) return false;
    this.backlog.push(w);
    this.flagWaiting();
    // a slot the native plane freed between the look for room and the flag sent no word: look again
    if (this.waitFlag !== null) queueMicrotask(() => this.pump(performance.now()));
    return true;
  }

  dequeue(w: Waiter): void {
    const i = this.backlog.indexOf(w);
    if (i >= 0) this.backlog.splice(i, 1);
    this.flagWaiting();
  }

  /** The native plane's word "requests wait for room": it then says when it frees a slot. */
  waitFlag: BigInt64Array | null = null;

  private flagWaiting(): void {
    if (this.waitFlag !== null) Atomics.store(this.waitFlag, 0, this.backlog.length > 0 ? 1n : 0n);
  }

  /** A request is done with its dyno: its slot frees, and the first waiting request may take one. */
  release(s: BackendState, now: number): void {
    s.give();
    this.pump(now);
  }

  /** Waiting requests resume while some dyno has room. */
  pump(now: number): void {
    // each waiter once per pump: one that finds no room it may use (all tried) queues again
    let n = this.backlog.length;
    while (n-- > 0 && this.backlog.length > 0 && this.hasRoom(now)) this.backlog.shift()!.resume();
    this.flagWaiting();
  }

  private hasRoom(now: number): boolean {
    for (const s of this.list) if (s.busy() < this.maxInFlight && !s.quarantined(now)) return true;
    return false;
  }

  private eligible(s: BackendState, tried: readonly BackendState[] | null, now: number): boolean {
    return s.busy() < this.maxInFlight && !s.quarantined(now) && (tried === null || !tried.includes(s));
  }

  /** every state, retired on close */
  retireAll(): void {
    for (const s of this.byBackend.values()) s.retire();
    this.byBackend.clear();
    this.list = [];
    this.backlog.length = 0;
    this.flagWaiting();
    this.waitFlag = null;
  }
}
