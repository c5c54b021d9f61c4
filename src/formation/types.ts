import type { SizeName } from '../dyno/sizes';

/**
 * The plain data of a formation, shared by the parsers, the manager, the control
 * socket and the CLI's output. Everything here is JSON as it crosses the socket.
 */

/** One Procfile line: `web: node server.js`. */
export interface ProcessType {
  /** as written in the Procfile: [A-Za-z0-9_-]+ */
  name: string;
  command: string;
  /** 1-based line in the Procfile, for messages */
  line: number;
}

/** A parsed Procfile: its types in file order. */
export interface Procfile {
  file: string;
  types: ProcessType[];
  /** things that were accepted but deserve a word (a duplicate type: the last one wins) */
  warnings: string[];
}

/** How many dynos of one type run, and how big they are. */
export interface FormationEntry {
  type: string;
  quantity: number;
  size: SizeName;
}

/** One change asked by `dynod scale` (Heroku's grammar: web=3, worker+1, web-1, web=2:standard-2x). */
export interface ScaleChange {
  type: string;
  /** '=' sets, '+' / '-' add or remove */
  op: '=' | '+' | '-';
  amount: number;
  size?: SizeName;
}

/** What the dyno manager shows of a dyno (ps, --json). */
export type FormationDynoState = 'starting' | 'up' | 'stopping' | 'crashed' | 'down';

export interface DynoInfo {
  /** web.1, worker.2, release.3, run.4520 */
  name: string;
  type: string;
  /** the N of type.N */
  number: number;
  state: FormationDynoState;
  /** when it entered this state (ISO 8601) */
  since: string;
  size: SizeName;
  command: string;
  /** one-off (run.N, release.N): never restarted */
  oneOff: boolean;
  /** PID 1 of the dyno on the host, null when none runs */
  pid: number | null;
  /** the host port its $PORT is published on (web dynos), null otherwise */
  hostPort: number | null;
  /** crash restarts since the last reset (release, restart, a boot that stayed up) */
  restarts: number;
  /** when the next restart is due (crashed dynos in their cool-off), ISO 8601 */
  restartAt: string | null;
  memoryBytes: number | null;
  cpuSeconds: number | null;
}

/** One release of an app: a change of config vars (or the first start). */
export interface ReleaseInfo {
  /** 1, 2, 3… shown as v1, v2 */
  version: number;
  /** e.g. "Set FOO, BAR config vars", "Remove FOO config vars", "Initial release" */
  description: string;
  /** ISO 8601 */
  createdAt: string;
  /**
   * pending until its release phase ran; failed when it failed (the previous release keeps
   * running); expired when a newer release succeeded before it ran (Heroku's word)
   */
  status: 'pending' | 'succeeded' | 'failed' | 'expired';
  /** the release phase's exit status when it ran */
  releaseStatus?: number | null;
  /** who made it (the user column of `releases`, Heroku's account email): the Unix user */
  user?: string;
}

/** One line of the formation's log stream. */
export interface LogLine {
  /** ms since the epoch; printed as RFC 5424 with microseconds */
  time: number;
  /** 'app' for what a dyno writes, 'dynod' for the manager's own lines (Heroku's `heroku`) */
  source: 'app' | 'dynod';
  /** web.1, worker.2, run.4520, router */
  dyno: string;
  /** without the newline; at most 10,000 bytes */
  message: string;
}

/** Which lines a reader wants (`dynod logs -s app -d web.1 -p web`). */
export interface LogFilter {
  source?: 'app' | 'dynod';
  dyno?: string;
  /** a process type: web matches web.1, web.2 */
  type?: string;
}
