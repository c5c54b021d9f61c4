import type { SizeName } from './sizes';

/** A number of bytes, or one with a unit: 134217728, '128M', '1.5G' (K, M, G, T: powers of 1024). */
export type ByteSize = number | `${number}` | `${number}${'K' | 'M' | 'G' | 'T' | 'k' | 'm' | 'g' | 't'}${'' | 'B' | 'b' | 'iB'}`;

/** What a caller asks for: the options of `dynod run`, as library input. Every value is checked at run time too. */
export interface DynoOptions {
  /** the command and its arguments */
  command: string[];
  /** dyno size, case-insensitive (default standard-1x) */
  size?: SizeName | Uppercase<SizeName>;
  /** override the size's RAM quota */
  memory?: ByteSize;
  /** override the size's CPU: a quota of this many CPUs */
  cpus?: number;
  /** override the size's process limit */
  pids?: number;
  /** the app directory mounted copy-on-write at /app (default: cwd) */
  app?: string;
  /** a complete root filesystem instead of the host stack */
  rootfs?: string;
  /** $DYNO (default run.N) */
  name?: string;
  /** $PORT (default 5000) */
  port?: number;
  /** extra environment, applied after envFile */
  env?: Record<string, string>;
  /** .env files, applied in order */
  envFile?: string | string[];
  /** passed through as $TERM when set */
  term?: string;
  /** the dyno user (default), or root inside the dyno's user namespace */
  user?: 'dyno' | 'root';
  /**
   * private (default): a network namespace of its own that reaches the outside (NAT
   * through dynod's bridge, DNS through the host's resolvers), never another dyno nor
   * a host port it was not given; none: a namespace with only lo; host: the host's network
   */
  net?: 'private' | 'none' | 'host';
  /** "[ADDR:]HOSTPORT" or a port: forwards to $PORT (private and none) */
  publish?: Array<string | number>;
  /** host ports the dyno reaches at 127.0.0.1:PORT, as the host's 127.0.0.1:PORT (private and none) */
  allowHostPorts?: number[];
  /** keep stdin open to the dyno */
  interactive?: boolean;
  /** give the dyno a terminal (with interactive) */
  tty?: boolean;
  /** private (default): a user namespace of its own, ids 0-65535 mapped to a host range reserved for the dyno; host: none */
  userns?: 'private' | 'host';
  /** 'default' (dynod's profile), 'unconfined', or the path of a Docker JSON profile */
  seccomp?: 'default' | 'unconfined' | (string & {});
  /** initial terminal size */
  rows?: number;
  cols?: number;
}
