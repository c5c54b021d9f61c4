import * as fs from 'node:fs';
import { log } from '../log';
import { UsageError } from '../errors';
import { formatTimestamp } from './logs-format';
import type { LogLine } from './types';

/**
 * The merged stream's way out to an fd (dynod's stdout), never blocking the event
 * loop. See logs.ts for why it reopens and why it drops; in short:
 *
 * - a pipe, FIFO or terminal is reopened through /proc/self/fd/N with O_NONBLOCK:
 *   a description of our own, so the shared one keeps its flags. Writes are
 *   fs.writeSync, which then never waits: EAGAIN means full, and the write is tried
 *   again after 1, 2, 4… up to 50 ms. (Node has no public non-blocking writer for a
 *   terminal: tty.WriteStream makes its handle blocking. Polling serves both.)
 * - a regular file, a socket (which cannot be reopened) and anything else is written
 *   as it is, through libuv's thread pool (fs.write), one write in flight: a stalled
 *   socket reader blocks one pool thread, not the loop, and flags are left alone.
 *
 * What waits is bounded (maxPendingBytes); beyond it whole lines are dropped and
 * counted until half of it has been written, and then one L10 line says how many.
 */

export const DEFAULT_MAX_PENDING = 16 * 1024 * 1024;
const MIN_MAX_PENDING = 64 * 1024;
/** bytes handed to one write(2) */
const BATCH = 64 * 1024;
const MAX_RETRY_MS = 50;

/**
 * reopened: our own non-blocking description of the fd's pipe or terminal;
 * file: a regular file, written synchronously (it never blocks for long);
 * threadpool: the fd as it is (a socket…), through the thread pool; none: no output (null, or
 * an fd that is not open); broken: a write failed (EPIPE: the reader is gone).
 */
export type OutputMode = 'reopened' | 'file' | 'threadpool' | 'none' | 'broken';

export interface OutputOptions {
  maxPendingBytes?: number;
  /** the text of a line (without its newline) */
  format: (line: LogLine) => string;
  clock: () => number;
  /** a write failed for good (EPIPE, EIO…): output stops, dynos go on */
  onError?: (err: Error) => void;
}

export interface OutputStats {
  mode: OutputMode;
  /** bytes waiting to be written */
  pendingBytes: number;
  /** lines dropped since the start (overflow, or after the output broke) */
  dropped: number;
}

/** The L10 line: Heroku's code, dynod's words and pseudo-dyno. */
export function outputOverflowLine(time: number, dropped: number, since: number): LogLine {
  return {
    time,
    source: 'dynod',
    dyno: 'logs',
    message: `Error L10 (output buffer overflow) -> ${dropped} log lines dropped since ${formatTimestamp(since)}`,
  };
}

/** A char device that is a pty master: reopening /dev/ptmx would make a new pty, not reach this one. */
const PTMX_RDEV = (5 << 8) | 2;

/** The fd to write to and how: see the comment at the top. */
function openOutput(fd: number | null): { mode: OutputMode; fd: number; own: boolean } {
  if (fd === null) return { mode: 'none', fd: -1, own: false };
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } catch {
    return { mode: 'none', fd: -1, own: false };
  }
  // A regular file takes a write at once (the page cache): written synchronously, once per
  // loop turn, nothing waits and nothing is dropped however fast the dynos write.
  if (st.isFile()) return { mode: 'file', fd, own: false };
  if (st.isFIFO() || (st.isCharacterDevice() && st.rdev !== PTMX_RDEV)) {
    try {
      const { O_WRONLY, O_NONBLOCK, O_NOCTTY } = fs.constants;
      return { mode: 'reopened', fd: fs.openSync(`/proc/self/fd/${fd}`, O_WRONLY | O_NONBLOCK | O_NOCTTY), own: true };
    } catch (e) {
      // ENXIO: a pipe without a reader (the first write says EPIPE); EACCES, no /proc…
      log.warn({ fd, err: (e as Error).message }, 'log output not reopened: written through the thread pool');
    }
  }
  return { mode: 'threadpool', fd, own: false };
}

export class LogOutput {
  private mode: OutputMode;
  private readonly fd: number;
  private readonly ownFd: boolean;
  private readonly max: number;
  private readonly format: (line: LogLine) => string;
  private readonly clock: () => number;
  private readonly onError: ((err: Error) => void) | undefined;

  /** lines waiting, each with its newline */
  private queue: string[] = [];
  private queueHead = 0;
  /** the part of a write that did not go out yet (never dropped: a line is whole or absent) */
  private current: Buffer | null = null;
  private pending = 0;
  private inFlight = false;
  private scheduled: NodeJS.Immediate | null = null;
  private retry: NodeJS.Timeout | null = null;
  private retryMs = 1;

  private dropping = false;
  private droppedNow = 0;
  private droppedSince = 0;
  private droppedTotal = 0;
  private closed = false;
  /** close() is done: a thread-pool write that ends later changes nothing */
  private finished = false;
  private idle: (() => void)[] = [];

  constructor(fd: number | null, opts: OutputOptions) {
    const max = opts.maxPendingBytes ?? DEFAULT_MAX_PENDING;
    if (!Number.isSafeInteger(max) || max < MIN_MAX_PENDING) {
      throw new UsageError(`log output buffer ${max}: accepted a whole number of bytes, at least ${MIN_MAX_PENDING}`);
    }
    this.max = max;
    this.format = opts.format;
    this.clock = opts.clock;
    this.onError = opts.onError;
    const o = openOutput(fd);
    this.mode = o.mode;
    this.fd = o.fd;
    this.ownFd = o.own;
  }

  stats(): OutputStats {
    return { mode: this.mode, pendingBytes: this.pending, dropped: this.droppedTotal };
  }

  write(line: LogLine): void {
    if (this.closed || this.mode === 'none') return;
    if (this.mode === 'broken') {
      this.droppedTotal++;
      return;
    }
    if (this.dropping) {
      if (this.pending <= this.max / 2) this.resume();
      else {
        this.drop(line);
        return;
      }
    }
    const text = `${this.format(line)}\n`;
    const bytes = Buffer.byteLength(text);
    if (this.pending + bytes > this.max) {
      this.dropping = true;
      this.drop(line);
      return;
    }
    this.enqueue(text, bytes);
  }

  /**
   * Waits for what is pending to be written (at most timeoutMs), then lets go of the
   * fd and timers. A reader still stalled then may be left with a part of a line:
   * the rest of it can no longer be written.
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.dropping && this.mode !== 'broken' && this.mode !== 'none') this.resume();
    if (this.busy()) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.idle.push(resolve);
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
      // the last write's request is released once its callback (which resolved us) returns
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.finished = true;
    if (this.scheduled) clearImmediate(this.scheduled);
    if (this.retry) clearTimeout(this.retry);
    this.scheduled = null;
    this.retry = null;
    // only the reopened description is ours (written synchronously: nothing in flight)
    if (this.ownFd) fs.closeSync(this.fd);
    this.discard();
  }

  private busy(): boolean {
    return this.current !== null || this.queueHead < this.queue.length || this.inFlight;
  }

  private drop(line: LogLine): void {
    if (this.droppedNow++ === 0) this.droppedSince = line.time;
    this.droppedTotal++;
  }

  /** Half the buffer is free again: one line says how many were lost, where they were lost. */
  private resume(): void {
    this.dropping = false;
    if (this.droppedNow === 0) return;
    const text = `${this.format(outputOverflowLine(this.clock(), this.droppedNow, this.droppedSince))}\n`;
    this.droppedNow = 0;
    this.enqueue(text, Buffer.byteLength(text));
  }

  private enqueue(text: string, bytes: number): void {
    this.queue.push(text);
    this.pending += bytes;
    // one write per loop turn: every line read in this turn goes out together
    if (!this.scheduled && !this.retry && !this.inFlight) this.scheduled = setImmediate(() => this.flush());
  }

  /** The next bytes to write: what is left of the last write, or up to BATCH bytes of whole lines. */
  private take(): Buffer | null {
    if (this.current) return this.current;
    if (this.queueHead >= this.queue.length) return null;
    let end = this.queueHead;
    let size = 0;
    while (end < this.queue.length && (end === this.queueHead || size + this.queue[end]!.length <= BATCH)) size += this.queue[end++]!.length;
    const text = end - this.queueHead === 1 ? this.queue[this.queueHead]! : this.queue.slice(this.queueHead, end).join('');
    this.queueHead = end;
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    this.current = Buffer.from(text, 'utf8');
    return this.current;
  }

  private flush(): void {
    this.scheduled = null;
    this.retry = null;
    if (this.mode === 'reopened' || this.mode === 'file') this.flushReopened();
    else if (this.mode === 'threadpool') this.flushThreadpool();
  }

  private flushReopened(): void {
    for (let buf = this.take(); buf; buf = this.take()) {
      let n: number;
      try {
        n = fs.writeSync(this.fd, buf);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') this.waitWritable();
        else this.fail(e as Error);
        return;
      }
      this.wrote(n);
    }
    this.drained();
  }

  private flushThreadpool(): void {
    if (this.inFlight) return;
    const buf = this.take();
    if (!buf) {
      this.drained();
      return;
    }
    this.inFlight = true;
    fs.write(this.fd, buf, 0, buf.length, null, (err, n) => {
      this.inFlight = false;
      if (this.finished || this.mode === 'broken') return;
      if (err) {
        if (err.code === 'EAGAIN') this.waitWritable();
        else this.fail(err);
        return;
      }
      this.wrote(n);
      this.flushThreadpool();
    });
  }

  private wrote(n: number): void {
    const buf = this.current!;
    this.current = n < buf.length ? buf.subarray(n) : null;
    this.pending -= n;
    this.retryMs = 1;
    if (this.dropping && this.pending <= this.max / 2) this.resume();
  }

  /** Full (EAGAIN): nothing says when it is not, so look again a little later. */
  private waitWritable(): void {
    this.retry = setTimeout(() => this.flush(), this.retryMs);
    // pending output alone does not keep a process alive: close() is what waits for it
    this.retry.unref();
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
  }

  private drained(): void {
    for (const resolve of this.idle.splice(0)) resolve();
  }

  /** Drops what waits, counting its lines (of a partly written batch, those whose newline did not go out). */
  private discard(): void {
    let lines = this.queue.length - this.queueHead;
    const cur = this.current;
    if (cur) for (let i = cur.indexOf(0x0a); i >= 0; i = cur.indexOf(0x0a, i + 1)) lines++;
    this.droppedTotal += lines;
    this.queue = [];
    this.queueHead = 0;
    this.current = null;
    this.pending = 0;
  }

  private fail(err: Error): void {
    this.mode = 'broken';
    this.discard();
    this.drained();
    log.warn({ err: err.message }, 'log output failed: the merged stream is no longer printed');
    this.onError?.(err);
  }
}
