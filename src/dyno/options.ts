import type { SizeName } from './sizes';
import { UsageError } from '../errors';

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

/** What a field takes: the test, and the words for its error. */
export type OptionCheck = [ok: (v: unknown) => boolean, expected: string];
const isString = (v: unknown): v is string => typeof v === 'string';
export const isWhole = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const oneOf = (...values: string[]): OptionCheck => [(v) => values.includes(v as string), values.map((x) => JSON.stringify(x)).join(', ')];
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const terminalSide: OptionCheck = [(v) => isWhole(v) && v >= 1 && v <= 65535, 'a whole number from 1 to 65535'];

/** What each option takes, as the type above says: checked at run time for embedders without TypeScript. */
const OPTION_CHECKS: { [K in keyof Required<DynoOptions>]: OptionCheck } = {
  command: [(v) => Array.isArray(v) && v.every(isString), 'an array of strings'],
  size: [isString, 'a size name (see `dynod sizes`)'],
  memory: [(v) => isString(v) || isNumber(v), 'a number of bytes, or a string such as "128M"'],
  cpus: [isNumber, 'a number of CPUs'],
  pids: [isWhole, 'a whole number'],
  app: [isString, 'a directory'],
  rootfs: [isString, 'a directory'],
  name: [isString, 'a string'],
  port: [isWhole, 'a whole number from 1 to 65535'],
  env: [(v) => isRecord(v) && Object.values(v).every(isString), 'an object of string values'],
  envFile: [(v) => isString(v) || (Array.isArray(v) && v.every(isString)), 'a file, or an array of files'],
  term: [isString, 'a string'],
  user: oneOf('dyno', 'root'),
  net: oneOf('private', 'none', 'host'),
  publish: [(v) => Array.isArray(v) && v.every((x) => isString(x) || isWhole(x)), 'an array of ports or "[addr:]port" strings'],
  allowHostPorts: [(v) => Array.isArray(v) && v.every(isWhole), 'an array of port numbers'],
  interactive: [isBool, 'true or false'],
  tty: [isBool, 'true or false'],
  userns: oneOf('private', 'host'),
  seccomp: [isString, '"default", "unconfined" or the path of a profile'],
  rows: terminalSide,
  cols: terminalSide,
};

/**
 * Every option's type, and no option but these: a mistyped or misspelt field is a
 * UsageError naming it and what it takes (undefined stands for "not given").
 */
export function checkOptionTypes(options: unknown): asserts options is DynoOptions {
  checkFields('dyno options', '{ command: [...], ... }', options, OPTION_CHECKS);
}

/**
 * The fields of an options object against their checks (start()'s too): one UsageError
 * naming the first that is wrong or unknown; undefined stands for "not given".
 */
export function checkFields(what: string, example: string, value: unknown, checks: Record<string, OptionCheck>): void {
  if (!isRecord(value)) throw new UsageError(`${what}: an object (${example})`);
  for (const [key, v] of Object.entries(value)) {
    const check = Object.hasOwn(checks, key) ? checks[key] : undefined;
    if (!check) throw new UsageError(`${what}: unknown option ${JSON.stringify(key)}; known: ${Object.keys(checks).join(', ')}`);
    if (v !== undefined && !check[0](v)) throw new UsageError(`${what}: ${key} ${describe(v)}: expected ${check[1]}`);
  }
}

function describe(v: unknown): string {
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    return String(v);
  }
}
