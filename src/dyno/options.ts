/** What a caller asks for: the options of `dynod run`, as library input. */
export interface DynoOptions {
  /** the command and its arguments */
  command: string[];
  /** dyno size name, case-insensitive (default standard-1x) */
  size?: string;
  /** override the size's RAM quota: bytes or "128M" */
  memory?: string | number;
  /** override the size's CPU: a quota of this many CPUs */
  cpus?: string | number;
  /** override the size's process limit */
  pids?: string | number;
  /** the app directory mounted copy-on-write at /app (default: cwd) */
  app?: string;
  /** a complete root filesystem instead of the host stack */
  rootfs?: string;
  /** $DYNO (default run.N) */
  name?: string;
  /** $PORT (default 5000) */
  port?: string | number;
  /** extra environment, applied after envFile */
  env?: Record<string, string>;
  /** .env files, applied in order */
  envFile?: string | string[];
  /** passed through as $TERM when set */
  term?: string;
  /** "dyno" (default) or "root" */
  user?: string;
  /** "private" (default) or "host" */
  net?: string;
  /** "[ADDR:]HOSTPORT" forwards to $PORT (private network only) */
  publish?: Array<string | number>;
  /** keep stdin open to the dyno */
  interactive?: boolean;
  /** give the dyno a terminal (with interactive) */
  tty?: boolean;
  /** "private" (default): a user namespace of its own, ids 0-65535 mapped to a host range reserved for the dyno; "host": none */
  userns?: string;
  /** seccomp: "default" (dynod's profile), "unconfined", or the path of a Docker JSON profile */
  seccomp?: string;
  /** initial terminal size */
  rows?: number;
  cols?: number;
}
