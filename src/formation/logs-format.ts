import type { Logger } from 'pino';
import type { LogLine } from './types';

/**
 * How a log line is printed. `text` is Heroku's (heroku-dynos.md section 6):
 *
 *     2026-11-29T18:40:01.123456+00:00 app[web.1]: Listening on 5000
 *
 * `json` is one pino line per log line, with these fields in this order (stable;
 * pino-pretty reads them):
 *
 *     {"level":30,"time":"2026-11-29T18:40:01.123456+00:00","source":"app","dyno":"web.1","msg":"Listening on 5000"}
 *
 * `level` is always 30 (pino's info: dynod has no severity for a dyno's output),
 * `time` is the same RFC 5424 text as in the text format, `source` is `app` or
 * `dynod`, `dyno` the dyno or pseudo-dyno (router, logs) and `msg` the message.
 */
export type LogFormat = 'text' | 'json';

export interface FormatOptions {
  /** default 'text' */
  format?: LogFormat;
  /** ANSI colours in the text format (decide with useColor) */
  color?: boolean;
}

/** RFC 5424 with microseconds, in UTC: 2026-11-29T18:40:01.123456+00:00 (time: ms since the epoch, fractions kept). */
export function formatTimestamp(time: number): string {
  const micros = Math.round(time * 1000);
  const seconds = Math.floor(micros / 1_000_000);
  const fraction = String(micros - seconds * 1_000_000).padStart(6, '0');
  if (seconds !== cachedSecond) {
    // a whole second's prefix is the same for every line in it: one Date per second
    cachedSecond = seconds;
    cachedPrefix = new Date(seconds * 1000).toISOString().slice(0, 19);
  }
  return `${cachedPrefix}.${fraction}+00:00`;
}

let cachedSecond = NaN;
let cachedPrefix = '';

const TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/;

/** The inverse of formatTimestamp (any RFC 5424 offset, up to nanoseconds): ms since the epoch, or null. */
export function parseTimestamp(text: string): number | null {
  const m = TIMESTAMP.exec(text);
  if (!m) return null;
  const whole = Date.parse(`${m[1]}${m[3] === 'Z' ? '+00:00' : m[3]}`);
  if (Number.isNaN(whole)) return null;
  const fraction = m[2] ? Number(`0.${m[2]}`) * 1000 : 0;
  return whole + fraction;
}

/**
 * The prefix colours of the text format on a terminal: one per dyno name, the same
 * on every run (a hash of the name picks it), and dynod's own lines in bold, which
 * no dyno gets. Red is left out: it reads as an error.
 */
const DYNO_COLORS = ['36', '33', '32', '35', '34', '96', '93', '92', '95', '94'] as const;
const DYNOD_COLOR = '1';
const RESET = '\x1b[0m';

/** The SGR parameters of a line's prefix colour. */
export function colorOf(line: Pick<LogLine, 'source' | 'dyno'>): string {
  if (line.source === 'dynod') return DYNOD_COLOR;
  // FNV-1a: stable across runs and Node versions, unlike anything keyed on object identity
  let h = 0x811c9dc5;
  for (let i = 0; i < line.dyno.length; i++) {
    h ^= line.dyno.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return DYNO_COLORS[h % DYNO_COLORS.length]!;
}

/**
 * Whether to colour: a forced choice (--color / --no-color) wins; otherwise only on
 * a terminal, and never with NO_COLOR set to anything non-empty (no-color.org) or
 * TERM=dumb.
 */
export function useColor(opts: { force?: boolean; isTTY: boolean; env?: NodeJS.ProcessEnv }): boolean {
  if (opts.force !== undefined) return opts.force;
  const env = opts.env ?? process.env;
  if (env.NO_COLOR) return false;
  if (env.TERM === 'dumb') return false;
  return opts.isTTY;
}

let jsonLogger: Logger | undefined;
let jsonOut = '';

/** pino, loaded on first use (text output never pays for it), writing into jsonOut synchronously. */
function json(): Logger {
  if (!jsonLogger) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pino = require('pino') as typeof import('pino');
    jsonLogger = pino.default({ base: null, timestamp: false, level: 'info' }, { write: (s: string) => { jsonOut = s; } });
  }
  return jsonLogger;
}

/** One line as printed, without its newline. */
export function formatLine(line: LogLine, opts: FormatOptions = {}): string {
  const time = formatTimestamp(line.time);
  if (opts.format === 'json') {
    json().info({ time, source: line.source, dyno: line.dyno }, line.message);
    return jsonOut.endsWith('\n') ? jsonOut.slice(0, -1) : jsonOut;
  }
  const prefix = `${line.source}[${line.dyno}]:`;
  if (opts.color) return `${time} \x1b[${colorOf(line)}m${prefix}${RESET} ${line.message}`;
  return `${time} ${prefix} ${line.message}`;
}

// The text format, with or without the colour formatLine puts around the prefix.
// The message is everything after the one space that follows the prefix.
const TEXT_LINE = /^(\S+) (?:\x1b\[[\d;]*m)?(app|dynod)\[([^\]\s]+)\]:(?:\x1b\[0m)? ([^]*)$/;

/**
 * A printed line back as a LogLine (text, coloured or not, or json), or null when it
 * is not one: for `dynod logs` reading lines and for tests checking output.
 */
export function parseLine(text: string): LogLine | null {
  if (text.startsWith('{')) {
    let o: unknown;
    try {
      o = JSON.parse(text);
    } catch {
      return null;
    }
    if (typeof o !== 'object' || o === null) return null;
    const { time, source, dyno, msg } = o as Record<string, unknown>;
    if (typeof time !== 'string' || (source !== 'app' && source !== 'dynod') || typeof dyno !== 'string' || typeof msg !== 'string') return null;
    const t = parseTimestamp(time);
    return t === null ? null : { time: t, source, dyno, message: msg };
  }
  const m = TEXT_LINE.exec(text);
  if (!m) return null;
  const t = parseTimestamp(m[1]!);
  if (t === null) return null;
  return { time: t, source: m[2] as LogLine['source'], dyno: m[3]!, message: m[4]! };
}
