import type { RouterCode } from './codes';
import type { Backend } from './types';
import type { UpConn } from './upstream';

/** What the router keeps about one dyno: requests in flight, quarantine, idle connections. */
export class BackendState {
  private ownCode: RouterCode = 'H21';
  /** requests in flight that the JavaScript router sent */
  inFlight = 0;
  /**
   * While the native plane also serves this dyno, what the planes share of it, changed
   * with atomic operations (the limit and the quarantine are the dyno's, not a plane's):
   * [0] requests in flight, [1] the end of its quarantine (monoMs()), [2] its code (19, 21).
   */
  shared: BigInt64Array | null = null;
  quarantinedUntil = 0;
  /** the code of the last quarantine, whichever plane made it (quarantine() writes the shared one too) */
  get quarantineCode(): RouterCode {
    if (this.shared === null) return this.ownCode;
    return Atomics.load(this.shared, 2) === 19n ? 'H19' : 'H21';
  }
  /** idle keep-alive connections, the most recently used last */
  readonly idle: UpConn[] = [];
  /** no longer listed by the source, or drained: no new request; in-flight ones finish */
  retired = false;

  constructor(
    readonly backend: Backend,
    private readonly maxIdle: number,
  ) {}

  /** requests in flight to this dyno, from both planes */
  busy(): number {
    return this.shared === null ? this.inFlight : Number(Atomics.load(this.shared, 0));
  }

  /** takes a slot unless max are in flight */
  take(max: number): boolean {
    const c = this.shared;
    if (c === null) {
      if (this.inFlight >= max) return false;
    } else {
      for (let v = Atomics.load(c, 0); ; ) {
        if (v >= BigInt(max)) return false;
        const was = Atomics.compareExchange(c, 0, v, v + 1n);
        if (was === v) break;
        v = was;
      }
    }
    this.inFlight++;
    return true;
  }

  give(): void {
    this.inFlight--;
    if (this.shared !== null) Atomics.sub(this.shared, 0, 1n);
  }

  quarantined(now: number): boolean {
    if (now < this.quarantinedUntil) return true;
    // the native plane's quarantine of the dyno (a connect that failed there)
    return this.shared !== null && Atomics.load(this.shared, 1) > monoMs();
  }

  quarantine(until: number, code: RouterCode): void {
    this.quarantinedUntil = until;
    this.ownCode = code;
    if (this.shared !== null) {
      Atomics.store(this.shared, 2, code === 'H19' ? 19n : 21n);
      Atomics.store(this.shared, 1, monoMs() + BigInt(Math.ceil(until - performance.now())));
    }
  }

  /** an idle connection to reuse, or null */
  takeIdle(): UpConn | null {
    const c = this.idle.pop();
    return c === undefined ? null : c;
  }

  /** the connection carried a whole exchange and may carry another */
  putIdle(c: UpConn, now: number): void {
    if (this.retired || c.closed || this.idle.length >= this.maxIdle) {
      c.destroy();
      return;
    }
    c.idleSince = now;
    this.idle.push(c);
  }

  forget(c: UpConn): void {
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
  }

  /** close connections idle since before `before` */
  closeIdleBefore(before: number): void {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const c = this.idle[i]!;
      if (c.idleSince < before) c.destroy();
    }
  }

  retire(): void {
    this.retired = true;
    for (const c of [...this.idle]) c.destroy();
    this.idle.length = 0;
  }
}

/** CLOCK_MONOTONIC in ms: the native plane's clock for quarantines */
function monoMs(): bigint {
  return process.hrtime.bigint() / 1_000_000n;
}
