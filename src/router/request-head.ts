import { LIMITS } from './limits';
import { H, addConnectionTokens, clearedTokens, fieldProblem, hasBareLf, headText, headerKind, headerValue, isCtl, isTchar, lastToken, parseLength, withoutHeaders, type ConnectionTokens } from './header-names';

export const enum Body {
  None = 0,
  Length = 1,
  Chunked = 2,
}

/**
 * What routing needs of a request head, parsed from raw bytes. Header lines the router
 * does not act on are kept verbatim, in order, to be passed on as they came.
 */
export class RequestHead {
  method = '';
  target = '';
  /** 1 for HTTP/1.1, 0 for HTTP/1.0 */
  minor = 1;
  /** offset just past the blank line: where the body starts */
  end = 0;
  host = '';
  body: Body = Body.None;
  /** the body's length (Body.Length), or 0 */
  length = 0;
  /** a Content-Length header was sent (also for 0) */
  hadLength = false;
  /** the Transfer-Encoding value (Body.Chunked) */
  transferEncoding = '';
  /** the client wants the connection kept open after this request */
  keepAlive = true;
  /** the protocol of an upgrade request (Connection: upgrade + Upgrade), or '' */
  upgrade = '';
  expectContinue = false;
  /** the client's X-Request-Id, X-Forwarded-For and Via, or '' */
  requestId = '';
  forwardedFor = '';
  via = '';
  /** header lines passed on unchanged, each with its CRLF */
  kept = '';
}

/** A request the router refuses: the status to answer and the cause to log. */
export class HeadError {
  /** what is known of the request, for the router line */
  method = '';
  target = '';
  host = '';

  constructor(
    readonly status: number,
    readonly cause: string,
  ) {}
}

function fault(h: RequestHead, status: number, cause: string): HeadError {
  const e = new HeadError(status, cause);
  e.method = h.method;
  e.target = h.target;
  e.host = h.host;
  return e;
}

const LF = 10;

/** bytes of blank lines (CRLF) before a request line, which RFC 9112 §2.2 lets a server skip */
export function leadingBlankLines(buf: Buffer): number {
  let i = 0;
  while (i + 1 < buf.length && buf[i] === 13 && buf[i + 1] === LF) i += 2;
  return i;
}

/**
 * Parses the request head at the start of buf. Returns null while the head is
 * incomplete (scanFrom: where to resume the search for its end), a HeadError for a
 * request the router refuses, else the head.
 */
const TOKENS: ConnectionTokens = { close: false, keepAlive: false, upgrade: false, others: null };

export function parseRequestHead(buf: Buffer, scanFrom: number): RequestHead | HeadError | null {
  const s = headText(buf, scanFrom);
  if (s === null) return incomplete(buf, scanFrom);
  if (s.length + 2 > LIMITS.requestHead) return new HeadError(431, 'request head too large');
  const h = new RequestHead();
  h.end = s.length + 2;

  const eol = s.indexOf('\n');
  if (eol > LIMITS.requestLine + 1) return new HeadError(414, 'request line too long');
  if (s.charCodeAt(eol - 1) !== 13) return new HeadError(400, 'bare LF');
  const bad = requestLine(s, eol - 1, h);
  if (bad !== null) return bad;

  const conn = clearedTokens(TOKENS);
  let hostSeen = false;
  let lengthSeen = false;
  let upgradeValue = '';
  let kept = '';
  let runStart = eol + 1;
  let count = 0;
  let pos = eol + 1;
  while (pos < s.length) {
    const nl = s.indexOf('\n', pos);
    if (s.charCodeAt(nl - 1) !== 13) return fault(h, 400, 'bare LF');
    if (++count > LIMITS.headers) return fault(h, 431, 'too many headers');
    const first = s.charCodeAt(pos);
    // obs-fold: a line that continues the one before (RFC 9112 §5.2 lets a server refuse it)
    if (first === 32 || first === 9) return fault(h, 400, 'folded header line');
    const colon = s.indexOf(':', pos);
    if (colon < 0 || colon > nl) return fault(h, 400, 'header line without colon');
    const nameLen = colon - pos;
    if (nameLen === 0) return fault(h, 400, 'empty header name');
    if (nameLen > LIMITS.headerName) return fault(h, 431, 'header name too long');
    const before = s.charCodeAt(colon - 1);
    if (before === 32 || before === 9) return fault(h, 400, 'space before colon');
    const wrong = fieldProblem(s, pos, colon, nl - 1);
    if (wrong !== null) return fault(h, 400, wrong);
    if (nl - colon - 2 > LIMITS.headerValue && headerValue(s, colon, nl - 1).length > LIMITS.headerValue) return fault(h, 431, 'header value too long');
    const kind = headerKind(s, pos, nameLen);
    if (kind !== H.Other) {
      const value = headerValue(s, colon, nl - 1);
      if (kind === H.Host) {
        // kept as sent; a second Host is ambiguous (RFC 9112 §3.2)
        if (hostSeen) return fault(h, 400, 'more than one Host header');
        hostSeen = true;
        if (!validHost(value)) return fault(h, 400, 'bad Host header');
        h.host = value;
      } else {
        kept += s.slice(runStart, pos);
        runStart = nl + 1;
        switch (kind) {
          case H.ContentLength: {
            const n = parseLength(value);
            if (n < 0 || (lengthSeen && n !== h.length)) return fault(h, 400, 'bad Content-Length');
            lengthSeen = true;
            h.length = n;
            break;
          }
          case H.TransferEncoding:
            h.transferEncoding = h.transferEncoding === '' ? value : `${h.transferEncoding}, ${value}`;
            break;
          case H.Connection:
            addConnectionTokens(value, conn);
            break;
          case H.Upgrade:
            upgradeValue = value;
            break;
          case H.Expect:
            if (value.toLowerCase() !== '100-continue') return fault(h, 417, 'Expect other than 100-continue');
            h.expectContinue = true;
            break;
          case H.XRequestId:
            h.requestId = value;
            break;
          case H.XForwardedFor:
            if (value !== '') h.forwardedFor = h.forwardedFor === '' ? value : `${h.forwardedFor}, ${value}`;
            break;
          case H.Via:
            if (value !== '') h.via = h.via === '' ? value : `${h.via}, ${value}`;
            break;
          // Keep-Alive, Proxy-Connection, TE, Proxy-Authorization, Trailer: hop-by-hop; X-Forwarded-Proto/-Port,
          // X-Request-Start: the router's to set, never the client's
          default:
            break;
        }
      }
    }
    pos = nl + 1;
  }
  if (runStart < s.length) kept += s.slice(runStart);
  if (conn.others !== null) kept = withoutHeaders(kept, conn.others);
  h.kept = kept;

  if (!hostSeen) return fault(h, 400, 'no Host header');
  if (h.transferEncoding !== '') {
    // chunked must come last (RFC 9112 §6.3); it beats a Content-Length (vegur)
    if (lastToken(h.transferEncoding) !== 'chunked') return fault(h, 400, 'Transfer-Encoding not ending in chunked');
    // chunked once only (RFC 9112 §7): "chunked, chunked" may be unwrapped once or twice
    if (h.transferEncoding.toLowerCase().split(',').filter((x) => x.trim() === 'chunked').length > 1) return fault(h, 400, 'chunked more than once');
    h.body = Body.Chunked;
    h.length = 0;
  } else if (lengthSeen) {
    h.hadLength = true;
    h.body = h.length > 0 ? Body.Length : Body.None;
  }
  // with both a Transfer-Encoding and a Content-Length the length is ignored, and the
  // connection closes after the answer (RFC 9112 §6.1): what follows may be framed two ways
  const bothLengths = h.transferEncoding !== '' && lengthSeen;
  h.keepAlive = !bothLengths && (h.minor === 1 ? !conn.close : conn.keepAlive && !conn.close);
  // an HTTP/1.0 request's Upgrade is ignored (RFC 9110 §7.8)
  if (conn.upgrade && upgradeValue !== '' && h.minor === 1) h.upgrade = upgradeValue;
  // an HTTP/1.0 client cannot take a 100 Continue (RFC 9110 §10.1.1)
  if (h.minor === 0) h.expectContinue = false;
  return h;
}

/** Method, target and version from s[0, end); null when acceptable. */
function requestLine(s: string, end: number, h: RequestHead): HeadError | null {
  const sp1 = s.indexOf(' ');
  if (sp1 <= 0 || sp1 > end) return new HeadError(400, 'bad request line');
  const sp2 = s.indexOf(' ', sp1 + 1);
  // a third space makes the version part longer than HTTP/x.y: refused below
  if (sp2 < 0 || sp2 > end || sp2 === sp1 + 1) return new HeadError(400, 'bad request line');
  for (let i = 0; i < sp1; i++) {
    if (!isTchar(s.charCodeAt(i))) return new HeadError(400, 'bad method');
  }
  h.method = s.slice(0, sp1);
  h.target = s.slice(sp1 + 1, sp2);
  if (sp1 > LIMITS.method) return fault(h, 400, 'method too long');
  // no control character, HTAB included (RFC 9112 §3.2: a target is visible characters)
  for (let i = sp1 + 1; i < sp2; i++) if (isCtl(s.charCodeAt(i)) || s.charCodeAt(i) === 9) return fault(h, 400, 'bad request target');
  // a tunnel through the router to anywhere: vegur takes every method but this one
  if (h.method === 'CONNECT') return fault(h, 405, 'CONNECT not supported');
  if (end - sp2 - 1 !== 8 || !s.startsWith('HTTP/', sp2 + 1)) return new HeadError(400, 'bad HTTP version');
  const major = s.charCodeAt(sp2 + 6);
  const minor = s.charCodeAt(sp2 + 8);
  if (s.charCodeAt(sp2 + 7) !== 46 || major < 48 || major > 57 || minor < 48 || minor > 57) return new HeadError(400, 'bad HTTP version');
  if (major !== 49 || minor > 49) return new HeadError(505, 'HTTP version not supported');
  h.minor = minor - 48;
  return null;
}

/**
 * A Host value: uri-host [":" port] (RFC 9110 §7.2), i.e. a reg-name, an IPv4 address or an
 * IP-literal, of RFC 3986's characters; empty is allowed. Anything else is refused (RFC 9112
 * §3.2), so the router line's host= holds no blank or control character either.
 */
function validHost(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57)) continue;
    switch (c) {
      // - . _ ~ % ! $ & ' ( ) * + , ; = : [ ]
      case 45: case 46: case 95: case 126: case 37: case 33: case 36: case 38: case 39:
      case 40: case 41: case 42: case 43: case 44: case 59: case 61: case 58: case 91: case 93:
        continue;
      default:
        return false;
    }
  }
  return true;
}

/** The head is not complete yet: refuse now what can never become acceptable. */
function incomplete(buf: Buffer, scanFrom: number): HeadError | null {
  const eol = buf.indexOf(LF);
  if (eol < 0) return buf.length > LIMITS.requestLine + 1 ? new HeadError(414, 'request line too long') : null;
  if (eol > LIMITS.requestLine + 1) return new HeadError(414, 'request line too long');
  if (buf.length > LIMITS.requestHead) return new HeadError(431, 'request head too large');
  if (hasBareLf(buf, scanFrom)) return new HeadError(400, 'bare LF');
  return null;
}
