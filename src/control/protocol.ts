import type { DynoOptions } from '../dyno/options';
import type { DynoInfo, FormationEntry, LogFilter, LogLine, ReleaseInfo, ScaleChange } from '../formation/types';

/**
 * The control socket's protocol: one JSON object per line. A client sends one
 * request per connection; the server answers with one Reply, and for streams
 * (logs --tail, an attached one-off) keeps the connection for Event lines.
 */
export type Request =
  | { op: 'info' }
  | { op: 'ps'; types?: string[] }
  | { op: 'scale'; changes?: ScaleChange[] }
  | { op: 'restart'; dyno?: string; type?: string }
  | { op: 'stop'; dyno?: string; type?: string; all?: boolean }
  | { op: 'logs'; filter: LogFilter; num: number; tail: boolean }
  | { op: 'config:set'; pairs: Record<string, string> }
  | { op: 'config:unset'; keys: string[] }
  | { op: 'run'; command: string[]; size?: string; env: Record<string, string>; detach: boolean; tty: boolean }
  | { op: 'exec'; dyno: string };

export interface InfoResult {
  app: string;
  appDir: string;
  pid: number;
  release: number;
}

export interface PsResult {
  app: string;
  dynos: DynoInfo[];
  formation: FormationEntry[];
  commands: Record<string, string>;
}

export interface ScaleResult {
  formation: FormationEntry[];
  changed: string[];
}

export interface ConfigResult {
  release: ReleaseInfo;
  /** false when no formation was there to restart */
  restarted: boolean;
  ok: boolean;
  message: string;
}

/** An attached one-off: the client starts the dyno itself, with these options. */
export interface RunResult {
  name: string;
  /** the command line the one-off runs (through /bin/sh -c), as its log line shows it */
  command?: string;
  options?: DynoOptions;
}

export type Reply = { ok: true; result: unknown } | { ok: false; error: string; exitCode: number };

/** What flows after the reply: log lines, and an attached one-off's news from the client. */
export type Event =
  | { line: LogLine }
  | { started: { pid: number } }
  | { exited: { status: number } }
  | { stop: { graceMs: number } }
  // the last event of a logs --tail whose formation stopped (a tail cut without it: dynod was killed)
  | { ended: 'stopped' };
