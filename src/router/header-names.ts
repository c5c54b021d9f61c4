/**
 * The header names the router acts on, recognised without lower-casing every name:
 * by length first, then a case-insensitive compare of the characters.
 */
export const enum H {
  Other = 0,
  Host,
  ContentLength,
  TransferEncoding,
  Connection,
  KeepAlive,
  ProxyConnection,
  Te,
  Upgrade,
  Expect,
  Via,
  XRequestId,
  XRequestStart,
  XForwardedFor,
  XForwardedProto,
  XForwardedPort,
  /** hop-by-hop in a request (vegur drops them with the others) */
  ProxyAuthorization,
  Trailer,
}

/** s[at, at + lower.length) equals lower, ignoring ASCII case (lower is lower-case letters, digits, '-') */
export function sameName(s: string, at: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    if ((s.charCodeAt(at + i) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** The kind of the header whose name is s[at, at + len). */
export function headerKind(s: string, at: number, len: number): H {
  switch (len) {
    case 2:
      return sameName(s, at, 'te') ? H.Te : H.Other;
    case 3:
      return sameName(s, at, 'via') ? H.Via : H.Other;
    case 4:
      return sameName(s, at, 'host') ? H.Host : H.Other;
    case 6:
      return sameName(s, at, 'expect') ? H.Expect : H.Other;
    case 7:
      if (sameName(s, at, 'upgrade')) return H.Upgrade;
      return sameName(s, at, 'trailer') ? H.Trailer : H.Other;
    case 10:
      if (sameName(s, at, 'connection')) return H.Connection;
      return sameName(s, at, 'keep-alive') ? H.KeepAlive : H.Other;
    case 12:
      return sameName(s, at, 'x-request-id') ? H.XRequestId : H.Other;
    case 14:
      return sameName(s, at, 'content-length') ? H.ContentLength : H.Other;
    case 15:
      if (sameName(s, at, 'x-forwarded-for')) return H.XForwardedFor;
      return sameName(s, at, 'x-request-start') ? H.XRequestStart : H.Other;
    case 16:
      if (sameName(s, at, 'x-forwarded-port')) return H.XForwardedPort;
      return sameName(s, at, 'proxy-connection') ? H.ProxyConnection : H.Other;
    case 17:
      if (sameName(s, at, 'x-forwarded-proto')) return H.XForwardedProto;
      return sameName(s, at, 'transfer-encoding') ? H.TransferEncoding : H.Other;
    case 19:
      return sameName(s, at, 'proxy-authorization') ? H.ProxyAuthorization : H.Other;
    default:
      return H.Other;
  }
}

/** What a Connection header says: the options the router knows, and any other header names it lists. */
export interface ConnectionTokens {
  close: boolean;
  keepAlive: boolean;
  upgrade: boolean;
  /** lower-case names of further hop-by-hop headers, or null */
  others: string[] | null;
}

export function addConnectionTokens(value: string, into: ConnectionTokens): void {
  // the usual value is one option: no split, no lower-casing
  if (value.indexOf(',') < 0) {
    const n = value.length;
    if (n === 10 && sameName(value, 0, 'keep-alive')) into.keepAlive = true;
    else if (n === 5 && sameName(value, 0, 'close')) into.close = true;
    else if (n === 7 && sameName(value, 0, 'upgrade')) into.upgrade = true;
    else addToken(value.toLowerCase(), into);
    return;
  }
  for (const raw of value.split(',')) addToken(raw.trim().toLowerCase(), into);
}

function addToken(t: string, into: ConnectionTokens): void {
  if (t === 'close') into.close = true;
  else if (t === 'keep-alive') into.keepAlive = true;
  else if (t === 'upgrade') into.upgrade = true;
  else if (t !== '') (into.others ??= []).push(t);
}

/** A scratch ConnectionTokens, cleared (parsing is synchronous: one at a time). */
export function clearedTokens(t: ConnectionTokens): ConnectionTokens {
  t.close = false;
  t.keepAlive = false;
  t.upgrade = false;
  t.others = null;
  return t;
}

/** The value of the header line whose colon is at `colon` and whose CRLF starts at `cr`, without surrounding blanks. */
export function headerValue(s: string, colon: number, cr: number): string {
  let a = colon + 1;
  let b = cr;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return s.slice(a, b);
}

/** how much of a buffer is looked at as text first, to find the end of a head */
const PEEK = 4096;
const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * The head at the start of buf as latin1 text up to and with its last header's CRLF
 * (one char per byte: offsets are byte offsets, and bytes pass on intact), or null
 * while the blank line that ends it has not come. scanFrom: where an earlier search
 * stopped. The first look is at most PEEK bytes as text, so a body that came along
 * is not converted.
 */
export function headText(buf: Buffer, scanFrom: number): string | null {
  if (scanFrom === 0) {
    const peek = buf.toString('latin1', 0, Math.min(buf.length, PEEK));
    const blank = peek.indexOf('\r\n\r\n');
    if (blank >= 0) return peek.slice(0, blank + 2);
    if (buf.length <= PEEK) return null;
    scanFrom = PEEK - 3;
  }
  const blank = buf.indexOf(CRLFCRLF, scanFrom);
  return blank < 0 ? null : buf.toString('latin1', 0, blank + 2);
}

const LF_BYTE = 10;

/**
 * A line of buf ends in LF without CR before it. Such a head never shows the CRLF CRLF
 * that ends it, so an incomplete head is checked for one: refused now, not after the
 * idle timeout. from: where an earlier look at the same head stopped.
 */
export function hasBareLf(buf: Buffer, from = 0): boolean {
  for (let i = buf.indexOf(LF_BYTE, from); i >= 0; i = buf.indexOf(LF_BYTE, i + 1)) {
    if (i === 0 || buf[i - 1] !== 13) return true;
  }
  return false;
}

/** Header lines ("Name: value\r\n"…) without those whose lower-cased name is in names. */
export function withoutHeaders(lines: string, names: readonly string[]): string {
  let out = '';
  let pos = 0;
  while (pos < lines.length) {
    const nl = lines.indexOf('\n', pos);
    const colon = lines.indexOf(':', pos);
    const name = lines.slice(pos, colon).toLowerCase();
    if (!names.includes(name)) out += lines.slice(pos, nl + 1);
    pos = nl + 1;
  }
  return out;
}

/** The last comma-separated token of a header value, lower-cased. */
export function lastToken(value: string): string {
  const comma = value.lastIndexOf(',');
  return (comma < 0 ? value : value.slice(comma + 1)).trim().toLowerCase();
}

/** A Content-Length value: digits only (a list of equal values is one value), else -1. */
export function parseLength(value: string): number {
  if (value.indexOf(',') >= 0) {
    // "5, 5" is 5 (RFC 9110 §8.6); "5, 6" is invalid
    const parts = value.split(',');
    const first = parseLength(parts[0]!.trim());
    for (let i = 1; i < parts.length; i++) if (parseLength(parts[i]!.trim()) !== first) return -1;
    return first;
  }
  const n = value.length;
  if (n === 0 || n > 15) return -1;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** RFC 9110 token characters */
export function isTchar(c: number): boolean {
  if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57)) return true;
  switch (c) {
    case 33: case 35: case 36: case 37: case 38: case 39: case 42: case 43:
    case 45: case 46: case 94: case 95: case 96: case 124: case 126:
      return true;
    default:
      return false;
  }
}

/** Control characters (HTAB aside) and DEL: never in a field value or a request target. */
export function isCtl(c: number): boolean {
  return (c < 32 && c !== 9) || c === 127;
}

/**
 * The header line s[pos, cr) with its colon at `colon`: a name that is not a token, or a
 * value with a control character (NUL, a lone CR: a parser after ours could split the
 * line where we did not, RFC 9110 §5.5) is what is wrong with it; null when nothing is.
 */
export function fieldProblem(s: string, pos: number, colon: number, cr: number): 'bad header name' | 'bad header value' | null {
  for (let i = pos; i < colon; i++) if (!isTchar(s.charCodeAt(i))) return 'bad header name';
  for (let i = colon + 1; i < cr; i++) if (isCtl(s.charCodeAt(i))) return 'bad header value';
  return null;
}
