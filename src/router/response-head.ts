import { LIMITS } from './limits';
import { H, addConnectionTokens, clearedTokens, fieldProblem, hasBareLf, headText, headerKind, headerValue, lastToken, parseLength, withoutHeaders, type ConnectionTokens } from './header-names';

/** How a response body ends. */
export const enum ResBody {
  /** no body: HEAD, 1xx, 204, 304 */
  None = 0,
  Length = 1,
  Chunked = 2,
  /** until the dyno closes the connection */
  Close = 3,
}

/** A dyno's response head: what the router needs, and the lines it passes on. */
export class ResponseHead {
  status = 0;
  /** 1 for HTTP/1.1, 0 for HTTP/1.0 */
  minor = 1;
  /** the status line from the code on: "200 OK" */
  statusText = '';
  end = 0;
  /** Content-Length, or -1 */
  length = -1;
  transferEncoding = '';
  chunked = false;
  /** the dyno lets the connection be used again (its framing permitting) */
  keepAlive = true;
  upgrade = '';
  via = '';
  /** header lines passed on unchanged */
  kept = '';
}

/** A response the router cannot pass on (H17). */
export class ResponseError {
  constructor(readonly cause: string) {}
}

const TOKENS: ConnectionTokens = { close: false, keepAlive: false, upgrade: false, others: null };

/** Parses the response head at the start of buf: null while incomplete. */
export function parseResponseHead(buf: Buffer, scanFrom: number): ResponseHead | ResponseError | null {
  const s = headText(buf, scanFrom);
  if (s === null) {
    if (buf.length > LIMITS.responseHead) return new ResponseError('response head too large');
    return hasBareLf(buf, scanFrom) ? new ResponseError('bare LF') : null;
  }
  if (s.length + 2 > LIMITS.responseHead) return new ResponseError('response head too large');
  const r = new ResponseHead();
  r.end = s.length + 2;
  const eol = s.indexOf('\n');
  if (eol > LIMITS.statusLine + 1 || s.charCodeAt(eol - 1) !== 13) return new ResponseError('bad status line');
  // HTTP/1.x NNN reason: vegur wants the three digits and the space before the reason
  if (!s.startsWith('HTTP/1.', 0) || s.charCodeAt(8) !== 32 || s.charCodeAt(12) !== 32 || eol - 1 < 13) {
    return new ResponseError('bad status line');
  }
  const m = s.charCodeAt(7);
  if (m !== 48 && m !== 49) return new ResponseError('bad status line');
  r.minor = m - 48;
  let status = 0;
  for (let i = 9; i < 12; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return new ResponseError('bad status code');
    status = status * 10 + d;
  }
  if (status < 100) return new ResponseError('bad status code');
  r.status = status;
  r.statusText = s.slice(9, eol - 1);

  const conn = clearedTokens(TOKENS);
  let lengthSeen = false;
  let kept = '';
  let runStart = eol + 1;
  let pos = eol + 1;
  while (pos < s.length) {
    const nl = s.indexOf('\n', pos);
    if (s.charCodeAt(nl - 1) !== 13) return new ResponseError('bare LF');
    const colon = s.indexOf(':', pos);
    if (colon <= pos || colon > nl) return new ResponseError('header line without colon');
    const wrong = fieldProblem(s, pos, colon, nl - 1);
    if (wrong !== null) return new ResponseError(wrong);
    const kind = headerKind(s, pos, colon - pos);
    if (isResponseHopHeader(kind)) {
      kept += s.slice(runStart, pos);
      runStart = nl + 1;
      const value = headerValue(s, colon, nl - 1);
      switch (kind) {
        case H.ContentLength: {
          const n = parseLength(value);
          if (n < 0 || (lengthSeen && n !== r.length)) return new ResponseError('bad Content-Length');
          lengthSeen = true;
          r.length = n;
          break;
        }
        case H.TransferEncoding:
          r.transferEncoding = r.transferEncoding === '' ? value : `${r.transferEncoding}, ${value}`;
          break;
        case H.Connection:
          addConnectionTokens(value, conn);
          break;
        case H.Upgrade:
          r.upgrade = value;
          break;
        case H.Via:
          if (value !== '') r.via = r.via === '' ? value : `${r.via}, ${value}`;
          break;
        // Keep-Alive, Proxy-Connection, TE: hop-by-hop, dropped
        default:
          break;
      }
    }
    pos = nl + 1;
  }
  if (runStart < s.length) kept += s.slice(runStart);
  if (conn.others !== null) kept = withoutHeaders(kept, conn.others);
  r.kept = kept;
  if (r.transferEncoding !== '') {
    // chunked last means chunked; any other coding last means "until close" (RFC 9112 §6.3)
    r.chunked = lastToken(r.transferEncoding) === 'chunked';
    r.length = -1;
  }
  r.keepAlive = r.minor === 1 ? !conn.close : conn.keepAlive && !conn.close;
  return r;
}

/** The response headers the router rewrites: framing, hop-by-hop, Via. */
function isResponseHopHeader(kind: H): boolean {
  switch (kind) {
    case H.ContentLength:
    case H.TransferEncoding:
    case H.Connection:
    case H.KeepAlive:
    case H.ProxyConnection:
    case H.Te:
    case H.Upgrade:
    case H.Via:
      return true;
    default:
      return false;
  }
}

/** How the body of this response ends, given the request's method. */
export function responseBody(r: ResponseHead, method: string): ResBody {
  const s = r.status;
  if (s < 200 || s === 204 || s === 304 || method === 'HEAD') return ResBody.None;
  if (r.transferEncoding !== '') return r.chunked ? ResBody.Chunked : ResBody.Close;
  if (r.length >= 0) return ResBody.Length;
  return ResBody.Close;
}
