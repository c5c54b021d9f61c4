import { Body, type RequestHead } from './request-head';
import type { ResponseHead } from './response-head';

/** The Via value dynod adds, in both directions (vegur: `1.1 vegur`). */
export const VIA = '1.1 dynod';

/**
 * The request head as the dyno gets it: HTTP/1.1 (vegur speaks 1.1 to dynos whatever the
 * client spoke), the client's end-to-end headers as they came, the framing the router
 * checked, and the headers Heroku adds: X-Request-Id, X-Forwarded-For (appended),
 * X-Forwarded-Proto and X-Forwarded-Port (the router's, never the client's),
 * X-Request-Start (ms), Via.
 */
export function upstreamHead(h: RequestHead, requestId: string, forwardedFor: string, proto: string, port: number, startMs: number): string {
  let s = `${h.method} ${h.target} HTTP/1.1\r\n${h.kept}`;
  if (h.body === Body.Chunked) s += `Transfer-Encoding: ${h.transferEncoding}\r\n`;
  else if (h.hadLength) s += `Content-Length: ${h.length}\r\n`;
  if (h.upgrade !== '') s += `Connection: Upgrade\r\nUpgrade: ${h.upgrade}\r\n`;
  if (h.expectContinue) s += 'Expect: 100-continue\r\n';
  return (
    s +
    `X-Request-Id: ${requestId}\r\nX-Forwarded-For: ${forwardedFor}\r\nX-Forwarded-Proto: ${proto}\r\n` +
    `X-Forwarded-Port: ${port}\r\nX-Request-Start: ${startMs}\r\nVia: ${h.via === '' ? VIA : `${h.via}, ${VIA}`}\r\n\r\n`
  );
}

/** How the client is told the connection goes on, or not, after this response. */
export const enum Persist {
  /** HTTP/1.1 keep-alive: nothing to say */
  Default,
  /** an HTTP/1.0 client that asked for keep-alive */
  KeepAlive,
  Close,
}

/**
 * The response head as the client gets it: HTTP/1.1 (vegur), the dyno's end-to-end
 * headers, framing (chunked passes through unless the client cannot take it: dechunk),
 * Via, and the router's own Connection.
 */
export function clientHead(r: ResponseHead, dechunk: boolean, persist: Persist): string {
  let s = `HTTP/1.1 ${r.statusText}\r\n${r.kept}`;
  if (r.transferEncoding !== '') {
    if (!dechunk) s += `Transfer-Encoding: ${r.transferEncoding}\r\n`;
  } else if (r.length >= 0) {
    s += `Content-Length: ${r.length}\r\n`;
  }
  s += r.via === '' ? `Via: ${VIA}\r\n` : `Via: ${r.via}, ${VIA}\r\n`;
  if (persist === Persist.Close) s += 'Connection: close\r\n';
  else if (persist === Persist.KeepAlive) s += 'Connection: keep-alive\r\n';
  return `${s}\r\n`;
}

/** A 101 Switching Protocols head for the client. */
export function upgradeHead(r: ResponseHead): string {
  const via = r.via === '' ? VIA : `${r.via}, ${VIA}`;
  return `HTTP/1.1 ${r.statusText}\r\n${r.kept}Connection: Upgrade\r\nUpgrade: ${r.upgrade}\r\nVia: ${via}\r\n\r\n`;
}

/** An informational (1xx other than 101) head, passed to an HTTP/1.1 client. */
export function informationalHead(r: ResponseHead): string {
  return `HTTP/1.1 ${r.statusText}\r\n${r.kept}\r\n`;
}

/** The client's address as X-Forwarded-For shows it: IPv4 without its ::ffff: prefix. */
export function clientAddress(remote: string | undefined): string {
  if (remote === undefined) return '';
  return remote.startsWith('::ffff:') && remote.indexOf('.') > 0 ? remote.slice(7) : remote;
}
