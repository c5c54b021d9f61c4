import { UsageError } from '../errors';
import type { LogFilter, LogLine } from './types';

/** Logplex keeps the last 1,500 lines of an app for `heroku logs` [heroku-dynos.md section 5]. */
export const RECENT_LINES = 1500;

const NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * A filter as it may arrive over the control socket, checked: source app or dynod,
 * dyno and type names of letters, digits, '.', '_' and '-'.
 */
export function checkLogFilter(filter: LogFilter): LogFilter {
  if (typeof filter !== 'object' || filter === null) throw new UsageError('log filter: expected an object with source, dyno or type');
  const { source, dyno, type } = filter;
  if (source !== undefined && source !== 'app' && source !== 'dynod') {
    throw new UsageError(`log source ${JSON.stringify(source)}: accepted app or dynod`);
  }
  for (const [what, v] of [['dyno', dyno], ['process type', type]] as const) {
    if (v !== undefined && (typeof v !== 'string' || !NAME.test(v))) {
      throw new UsageError(`log ${what} ${JSON.stringify(v)}: accepted a name of letters, digits, '.', '_' or '-' (web.1, worker)`);
    }
  }
  return filter;
}

/** Whether a line passes a filter: a type matches its dynos (web: web.1, web.2; not webby.1) and a pseudo-dyno of that name (router). */
export function matchesFilter(line: LogLine, filter: LogFilter): boolean {
  if (filter.source !== undefined && line.source !== filter.source) return false;
  if (filter.dyno !== undefined && line.dyno !== filter.dyno) return false;
  if (filter.type !== undefined) {
    const d = line.dyno;
    const t = filter.type;
    if (!(d === t || (d.length > t.length && d.charCodeAt(t.length) === 0x2e && d.startsWith(t)))) return false;
  }
  return true;
}

/** The last `capacity` lines, oldest overwritten first. */
export class LogRing {
  private readonly lines: (LogLine | undefined)[];
  /** where the next line goes */
  private next = 0;
  private count = 0;

  constructor(readonly capacity = RECENT_LINES) {
    this.lines = new Array<LogLine | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  push(line: LogLine): void {
    this.lines[this.next] = line;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  /** The newest n lines that pass the filter, oldest first. */
  recent(filter: LogFilter, n: number): LogLine[] {
    const out: LogLine[] = [];
    for (let i = 1; i <= this.count && out.length < n; i++) {
      const line = this.lines[(this.next - i + this.capacity) % this.capacity]!;
      if (matchesFilter(line, filter)) out.push(line);
    }
    return out.reverse();
  }
}
