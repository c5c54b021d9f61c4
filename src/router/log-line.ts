import type { RouterCode } from './codes';
import { CODES } from './codes';

/** What one router line says about a request. */
export interface RouterLineFields {
  code: RouterCode | null;
  /** H26: what was wrong with the request */
  cause?: string;
  method: string;
  path: string;
  host: string;
  requestId: string;
  fwd: string;
  /** '' when no dyno was reached */
  dyno: string;
  /** ms, or -1 when no connection was made */
  connect: number;
  /** ms, or -1 when the request never reached a dyno */
  service: number;
  status: number;
  /** bytes relayed from the dyno to the client, or -1 when no dyno was reached */
  bytes: number;
  protocol: 'http' | 'https';
}

/**
 * Heroku's router line:
 *   at=info method=GET path="/" host=… request_id=… fwd="…" dyno=web.2 connect=0ms service=12ms status=200 bytes=1234 protocol=http
 *   at=error code=H12 desc="Request timeout" method=… dyno=web.1 connect=0ms service=30001ms status=503 bytes=0 protocol=http
 * with empty dyno=, connect=, service= and bytes= when no dyno was reached, and sock=
 * at the end for H18 (backend), H27 and H28 (client).
 */
export function routerLine(f: RouterLineFields): string {
  let head = 'at=info';
  let sock = '';
  if (f.code !== null) {
    const info = CODES[f.code];
    head = `at=${info.level} code=${f.code} desc="${info.desc}"`;
    if (f.cause !== undefined) head += ` cause="${quoted(f.cause)}"`;
    if (info.sock !== undefined) sock = ` sock=${info.sock}`;
  }
  return (
    `${head} method=${f.method} path="${quoted(f.path)}" host=${f.host} request_id=${f.requestId} fwd="${quoted(f.fwd)}" ` +
    `dyno=${f.dyno} connect=${ms(f.connect)} service=${ms(f.service)} status=${f.status} bytes=${f.bytes < 0 ? '' : f.bytes} protocol=${f.protocol}${sock}`
  );
}

function ms(v: number): string {
  return v < 0 ? '' : `${Math.round(v)}ms`;
}

/**
 * A quote inside a quoted value would end it early, and a control character (a refused
 * request's target may hold one) would reach the log's reader raw: percent-encoded.
 */
const UNSAFE = /["\x00-\x1f\x7f]/g;
function quoted(v: string): string {
  return v.search(UNSAFE) < 0 ? v : v.replace(UNSAFE, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}
