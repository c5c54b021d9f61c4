import * as tty from 'node:tty';
import type { Readable } from 'node:stream';
import { UsageError } from '../errors';
import { wallClock } from './logs-clock';
import { formatLine, useColor, type LogFormat } from './logs-format';
import { LineSplitter, emitLine } from './logs-lines';
import { DEFAULT_MAX_PENDING, LogOutput, type OutputMode } from './logs-output';
import { LogRing, RECENT_LINES, checkLogFilter } from './logs-ring';
import { SUBSCRIBER_QUEUE, Subscriber, type LogListener, type SubscribeOptions } from './logs-subscribers';
import type { LogFilter, LogLine } from './types';

/**
 * The log stream of a formation: what every dyno writes, and dynod's own lines,
 * merged into one sequence in Heroku's format (heroku-dynos.md section 6), kept
 * (the last 1,500 lines, Logplex's buffer) for `dynod logs`, handed to live readers
 * (`dynod logs -t`) and printed on dynod's stdout.
 *
 * One rule shapes it: nothing downstream may slow a dyno down or stall dynod.
 * A dyno writes into a pipe; if dynod stopped reading it, the dyno would block in
 * write(2) once 64 KiB wait, and a web dyno blocked there serves nobody. And dynod
 * is one event loop supervising every dyno: one blocking write(2) on its stdout
 * freezes boot timeouts, stop grace, restarts and the router with it. So:
 *
 * - Input is always read as it comes (flowing mode, never paused), cut into lines
 *   (logs-lines.ts: `\n`, `\r\n`, 10,000-byte chunks that never split a UTF-8
 *   sequence, the unfinished last line kept until more comes or the pipe ends).
 *
 * - Output never blocks, which Node's process.stdout does not promise: on Linux it
 *   writes synchronously to pipes and files, so `dynod start | less` left unscrolled
 *   would freeze every dyno's supervision. Making fd 1 non-blocking is no answer:
 *   O_NONBLOCK belongs to the open file description, which the shell shares with
 *   the other processes of the pipeline or terminal, and they would start getting
 *   EAGAIN. So a pipe, FIFO or terminal is reopened through /proc/self/fd/1: a new
 *   description of the same pipe or tty, ours alone, made non-blocking. A regular
 *   file never blocks for long and is written as it is (it must share the offset
 *   with whoever opened it); a socket cannot be reopened and is written as it is,
 *   through the thread pool, so a stalled reader holds a pool thread, not the loop.
 *   (logs-output.ts)
 *
 * - Whatever cannot be written yet waits, up to a bound (4 MiB by default). Beyond
 *   it whole lines are dropped and counted, and once the reader has caught up
 *   (half the bound written) one line says how many: `dynod[logs]: Error L10 (output
 *   buffer overflow) -> N log lines dropped since T`. Logplex does the same rather
 *   than stall an app (L10/L11). The kept lines and live readers are not affected:
 *   each reader has its own bounded queue and its own L11 line.
 *
 * Lines are stamped when dynod reads them (all lines of one read share the time),
 * in microseconds (logs-clock.ts). Order is the order of reading: per stream it is
 * the dyno's order. A formation dyno's stdout and stderr are one pipe (its stderr is
 * 'stdout'), so its lines keep the order it wrote them in; a stream attached apart
 * (another embedder's) interleaves as it is read, as on Heroku.
 */

export { formatLine, formatTimestamp, parseLine, parseTimestamp, useColor, colorOf, type LogFormat, type FormatOptions } from './logs-format';
export { MAX_LINE_BYTES, LineSplitter } from './logs-lines';
export { RECENT_LINES, checkLogFilter, matchesFilter } from './logs-ring';
export { outputOverflowLine, type OutputMode } from './logs-output';
export { tailOverflowLine, type LogListener, type SubscribeOptions } from './logs-subscribers';

export interface LogHubOptions {
  /** the fd the merged stream is printed on (default 1, dynod's stdout); null: not printed */
  output?: number | null;
  /** default 'text' */
  format?: LogFormat;
  /** colours forced on or off (--color / --no-color); default: on a terminal without NO_COLOR */
  color?: boolean;
  /** where NO_COLOR and TERM are read (default process.env) */
  env?: NodeJS.ProcessEnv;
  /** output waiting to be written before lines are dropped (default 4 MiB, at least 64 KiB) */
  maxPendingBytes?: number;
  /** ms since the epoch, fractions for microseconds (default: the wall clock) */
  clock?: () => number;
  /** the output failed for good (EPIPE: the reader is gone); dynos go on, unprinted */
  onOutputError?: (err: Error) => void;
}

export interface LogHubStats {
  /** lines in the sequence since the start */
  lines: number;
  outputMode: OutputMode;
  /** bytes waiting for the output */
  pendingBytes: number;
  /** lines the output dropped (overflow, or after it broke) */
  outputDropped: number;
  subscribers: number;
  /** streams being read */
  attached: number;
}

const DYNO_NAME = /^[A-Za-z0-9_.-]+$/;

function checkDynoName(dyno: string): void {
  if (typeof dyno !== 'string' || !DYNO_NAME.test(dyno)) {
    throw new UsageError(`log dyno name ${JSON.stringify(dyno)}: accepted letters, digits, '.', '_' or '-' (web.1, run.4520, router)`);
  }
}

interface Attachment {
  /** flushes the unfinished line, stops reading */
  finish(): void;
}

export class LogHub {
  private readonly ring = new LogRing(RECENT_LINES);
  private readonly output: LogOutput;
  private readonly clock: () => number;
  private readonly subscribers = new Set<Subscriber>();
  private readonly attachments = new Set<Attachment>();
  private lineCount = 0;
  /** lines emitted while a line is being delivered (by a listener): they follow it */
  private readonly backlog: LogLine[] = [];
  private emitting = false;
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(opts: LogHubOptions = {}) {
    const fd = opts.output === undefined ? 1 : opts.output;
    const format = opts.format ?? 'text';
    if (format !== 'text' && format !== 'json') throw new UsageError(`log format ${JSON.stringify(format)}: accepted text or json`);
    const color = format === 'text' && useColor({ force: opts.color, isTTY: fd !== null && tty.isatty(fd), env: opts.env });
    this.clock = opts.clock ?? wallClock;
    this.output = new LogOutput(fd, {
      maxPendingBytes: opts.maxPendingBytes ?? DEFAULT_MAX_PENDING,
      format: (line) => formatLine(line, { format, color }),
      clock: this.clock,
      onError: opts.onOutputError,
    });
  }

  /**
   * Reads a dyno's stdout or stderr until it ends, as `app[DYNO]` lines. Settles
   * (never rejects) once its last line is in the sequence; a stream error ends it.
   */
  attach(dyno: string, stream: Readable): Promise<void> {
    checkDynoName(dyno);
    if (this.closed || stream.readableEnded || stream.destroyed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let time = 0;
      const splitter = new LineSplitter((message) => this.emit({ time, source: 'app', dyno, message }));
      const onData = (chunk: Buffer | string) => {
        time = this.clock();
        splitter.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
      };
      const attachment: Attachment = {
        finish: () => {
          if (!this.attachments.delete(attachment)) return;
          stream.off('data', onData);
          stream.off('end', attachment.finish);
          stream.off('close', attachment.finish);
          time = this.clock();
          splitter.end();
          resolve();
        },
      };
      this.attachments.add(attachment);
      stream.on('data', onData);
      stream.on('end', attachment.finish);
      stream.on('close', attachment.finish);
      // stays: an error with nobody listening would be thrown; the error ends the stream ('close' follows)
      stream.on('error', () => attachment.finish());
      stream.resume();
    });
  }

  /** One of dynod's own lines (`dynod[DYNO]`): state changes, R10/R12/R14/R15… Newlines make several lines. */
  system(dyno: string, message: string): void {
    checkDynoName(dyno);
    if (this.closed) return;
    const time = this.clock();
    if (message.length <= 3333 && !message.includes('\n') && !message.endsWith('\r')) {
      this.emit({ time, source: 'dynod', dyno, message });
      return;
    }
    const text = message.endsWith('\n') ? message.slice(0, -1) : message;
    for (const part of text.split('\n')) emitLine(Buffer.from(part, 'utf8'), (m) => this.emit({ time, source: 'dynod', dyno, message: m }));
  }

  /** The newest n kept lines (of the last 1,500) that pass the filter, oldest first. */
  recent(filter: LogFilter, n: number): LogLine[] {
    checkLogFilter(filter);
    if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`log line count ${n}: accepted a whole number from 0 (the last ${RECENT_LINES} lines are kept)`);
    return this.ring.recent(filter, n);
  }

  /**
   * Every line from now on that passes the filter. A listener that returns a promise
   * gets the next line once it settles; meanwhile lines queue (options.queue, 1,500 by
   * default) and then drop, counted in an L11 line. Returns the unsubscribe function.
   */
  subscribe(filter: LogFilter, onLine: LogListener, options: SubscribeOptions = {}): () => void {
    checkLogFilter(filter);
    const limit = options.queue ?? SUBSCRIBER_QUEUE;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError(`log subscriber queue ${limit}: accepted a whole number of lines, at least 1`);
    if (this.closed) return () => {};
    const s = new Subscriber(filter, onLine, limit, this.clock, (gone) => this.subscribers.delete(gone));
    this.subscribers.add(s);
    return () => {
      s.close();
      this.subscribers.delete(s);
    };
  }

  stats(): LogHubStats {
    const o = this.output.stats();
    return {
      lines: this.lineCount,
      outputMode: o.mode,
      pendingBytes: o.pendingBytes,
      outputDropped: o.dropped,
      subscribers: this.subscribers.size,
      attached: this.attachments.size,
    };
  }

  /**
   * The end of the stream: unfinished lines of attached streams are emitted and
   * reading stops (the streams stay their owners'), subscribers are let go, and
   * pending output gets up to timeoutMs to be written; what is left then is dropped.
   * Afterwards no timer or fd of the hub remains, and system() and attach() are
   * ignored. (A thread-pool write to a stalled socket cannot be taken back: it
   * keeps the loop alive until its reader reads or goes.)
   */
  close(timeoutMs = 5_000): Promise<void> {
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new UsageError(`log close timeout ${timeoutMs}: accepted milliseconds, 0 or more`);
    this.closing ??= (async () => {
      for (const a of [...this.attachments]) a.finish();
      this.closed = true;
      for (const s of this.subscribers) s.close();
      this.subscribers.clear();
      await this.output.close(timeoutMs);
    })();
    return this.closing;
  }

  private emit(line: LogLine): void {
    if (this.emitting) {
      this.backlog.push(line);
      return;
    }
    this.emitting = true;
    try {
      for (let l: LogLine | undefined = line; l; l = this.backlog.shift()) {
        Object.freeze(l);
        this.lineCount++;
        this.ring.push(l);
        this.output.write(l);
        for (const s of this.subscribers) s.offer(l);
      }
    } finally {
      this.emitting = false;
    }
  }
}
