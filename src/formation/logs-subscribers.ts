import { log } from '../log';
import { formatTimestamp } from './logs-format';
import { matchesFilter } from './logs-ring';
import type { LogFilter, LogLine } from './types';

/**
 * What a subscriber is given each line with. It may return a promise (e.g. until
 * its socket drained): lines that come meanwhile wait in its queue, and once the
 * queue is full they are dropped and counted, and the subscriber is told with one
 * `dynod[logs]: Error L11 (Tail buffer overflow)` line where they are missing, as
 * Logplex tells a slow `heroku logs --tail` [heroku-dynos.md section 6]. A callback
 * that throws or rejects is unsubscribed (its reader is gone).
 */
export type LogListener = (line: LogLine) => void | Promise<void>;

export interface SubscribeOptions {
  /** lines waiting for a busy listener before lines are dropped (default 1500) */
  queue?: number;
}

export const SUBSCRIBER_QUEUE = 1500;

/** The L11 line: Heroku's words, dynod's pseudo-dyno. */
export function tailOverflowLine(time: number, dropped: number, since: number): LogLine {
  return {
    time,
    source: 'dynod',
    dyno: 'logs',
    message: `Error L11 (Tail buffer overflow) -> This tail session dropped ${dropped} messages since ${formatTimestamp(since)}`,
  };
}

export class Subscriber {
  private readonly queue: LogLine[] = [];
  private busy = false;
  private closed = false;
  private dropped = 0;
  private droppedSince = 0;

  constructor(
    private readonly filter: LogFilter,
    private readonly listener: LogListener,
    private readonly limit: number,
    private readonly clock: () => number,
    private readonly onGone: (s: Subscriber) => void,
  ) {}

  offer(line: LogLine): void {
    if (this.closed || !matchesFilter(line, this.filter)) return;
    if (!this.busy && this.queue.length === 0 && this.dropped === 0) {
      this.deliver(line);
      return;
    }
    if (this.dropped > 0 && this.queue.length < this.limit) this.queueDropNotice();
    if (this.queue.length < this.limit) this.queue.push(line);
    else if (this.dropped++ === 0) this.droppedSince = line.time;
    this.pump();
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private queueDropNotice(): void {
    this.queue.push(tailOverflowLine(this.clock(), this.dropped, this.droppedSince));
    this.dropped = 0;
  }

  private pump(): void {
    while (!this.busy && !this.closed) {
      if (this.queue.length === 0 && this.dropped > 0) this.queueDropNotice();
      const line = this.queue.shift();
      if (!line) return;
      this.deliver(line);
    }
  }

  private deliver(line: LogLine): void {
    let r: void | Promise<void>;
    try {
      r = this.listener(line);
    } catch (e) {
      this.fail(e);
      return;
    }
    if (r && typeof r.then === 'function') {
      this.busy = true;
      r.then(
        () => {
          this.busy = false;
          this.pump();
        },
        (e: unknown) => this.fail(e),
      );
    }
  }

  private fail(e: unknown): void {
    if (this.closed) return;
    this.close();
    log.warn({ err: e instanceof Error ? e.message : String(e) }, 'log subscriber failed: unsubscribed');
    this.onGone(this);
  }
}
