import type { RouterCode } from './codes';
import type { Backend } from './types';
import type { UpConn } from './upstream';

/** What the router keeps about one dyno: requests in flight, quarantine, idle connections. */
export class BackendState {
  inFlight = 0;
  quarantinedUntil = 0;
  quarantineCode: RouterCode = 'H21';
  /** idle keep-alive connections, the most recently used last */
  readonly idle: UpConn[] = [];
  /** no longer listed by the source, or drained: no new request; in-flight ones finish */
  retired = false;

  constructor(
    readonly backend: Backend,
    private readonly maxIdle: number,
  ) {}

  quarantined(now: number): boolean {
    return now < this.quarantinedUntil;
  }

  quarantine(until: number, code: RouterCode): void {
    this.quarantinedUntil = until;
    this.quarantineCode = code;
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
