import type { RouterTimeouts } from './types';

/**
 * vegur's limits on requests (its README, "Protocol Details"), and what dynod answers
 * beyond them. vegur (cowboyku) answers 414 to a request line over 8192 bytes and 400 to
 * a header over its limits; dynod answers 414 alike but 431 (RFC 6585) for headers, the
 * code that names the cause. The total head is capped too (vegur has no such cap; 1000
 * headers of 8 KB would be 9 MB held per connection).
 */
export const LIMITS = {
  requestLine: 8192,
  /** a longer method is refused (400) */
  method: 127,
  headerName: 1000,
  headerValue: 8192,
  headers: 1000,
  requestHead: 1024 * 1024,
  /** a response's head (vegur: a header line up to 512 KB, a status line up to 8192 B) */
  responseHead: 1024 * 1024,
  statusLine: 8192,
  /** chunk-size lines, extensions and trailer lines of a chunked body */
  chunkLine: 8192,
} as const;

export const DEFAULT_TIMEOUTS: RouterTimeouts = {
  connect: 5_000,
  firstByte: 30_000,
  idle: 55_000,
  boot: 75_000,
  quarantine: 5_000,
  clientIdle: 60_000,
  poolIdle: 90_000,
};

export const MAX_IN_FLIGHT_PER_DYNO = 50;
export const BACKLOG_PER_DYNO = 50;
/** connect attempts for one request: Heroku's 10, or fewer dynos */
export const MAX_CONNECT_ATTEMPTS = 10;

/**
 * A request body is kept for a replay (the stale pooled connection) only up to this
 * size; a request with a longer or chunked body is sent on a fresh connection instead,
 * so it never meets a connection the dyno closed meanwhile.
 */
export const REPLAY_MAX = 64 * 1024;
/** bytes read ahead of the request being served (pipelining) before reading pauses */
export const READ_AHEAD_MAX = 256 * 1024;
/** body bytes held while the connection to the dyno is being made */
export const HOLD_MAX = 256 * 1024;
/** a body this small is sent in the same write as its head */
export const COALESCE_MAX = 16 * 1024;
