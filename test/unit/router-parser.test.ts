import t, { type Test } from 'tap';
import { ChunkScanner } from '../../src/router/chunked';
import { Body, HeadError, RequestHead, leadingBlankLines, parseRequestHead } from '../../src/router/request-head';
import { ResBody, ResponseError, ResponseHead, parseResponseHead, responseBody } from '../../src/router/response-head';
import { headText, parseLength } from '../../src/router/header-names';
import { requestId, validRequestId } from '../../src/router/request-id';
import { routerLine } from '../../src/router/log-line';
import { errorResponse } from '../../src/router/error-page';
import { Persist, clientHead, upstreamHead, clientAddress } from '../../src/router/forward-headers';
import { LIMITS } from '../../src/router/limits';
import { prng } from '../helpers/router';

// ============================================================================
// The router's HTTP/1.x parsing (src/router/request-head.ts, response-head.ts,
// chunked.ts) and the text it writes: heads, router lines, error pages.

const req = (s: string) => parseRequestHead(Buffer.from(s, 'latin1'), 0);

function head(s: string): RequestHead {
  const r = req(s);
  if (!(r instanceof RequestHead)) throw new Error(`expected a head, got ${r === null ? 'incomplete' : `${r.status} ${r.cause}`}`);
  return r;
}

function refused(t: Test, s: string | Buffer, status: number, cause: string): void {
  const r = typeof s === 'string' ? req(s) : parseRequestHead(s, 0);
  t.ok(r instanceof HeadError, `refused: ${JSON.stringify(String(s).slice(0, 60))}`);
  if (r instanceof HeadError) t.same([r.status, r.cause], [status, cause]);
}

t.test('a simple GET: method, target, version, Host, kept lines', async (t) => {
  const h = head('GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n');
  t.equal(h.method, 'GET');
  t.equal(h.target, '/a?b=1');
  t.equal(h.minor, 1);
  t.equal(h.host, 'example.com');
  t.equal(h.body, Body.None);
  t.equal(h.keepAlive, true);
  t.equal(h.kept, 'Host: example.com\r\nAccept: */*\r\n');
  t.equal(h.end, 55);
});

t.test('incomplete heads wait; the end is found across reads', async (t) => {
  t.equal(req('GET / HTTP/1.1\r\nHost: a\r\n'), null);
  t.equal(req('GET / HTTP/1.1\r\nHost: a\r\n\r'), null);
  const buf = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY');
  // scanFrom from a previous look (the conn passes length - 3)
  const r = parseRequestHead(buf, 20);
  t.ok(r instanceof RequestHead);
  t.equal((r as RequestHead).end, buf.length - 4);
  // a head longer than the first look (4096 bytes as text) is found by the byte search
  const big = `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(6000)}\r\n\r\n`;
  const h = head(big);
  t.equal(h.end, big.length);
  t.equal(h.kept.length, big.length - 'GET / HTTP/1.1\r\n'.length - 2);
  t.equal(leadingBlankLines(Buffer.from('\r\n\r\nGET')), 4);
  t.equal(leadingBlankLines(Buffer.from('GET')), 0);
});

t.test('headText: the head as text, up to its last header line', async (t) => {
  t.equal(headText(Buffer.from('A\r\nB: c\r\n\r\nbody'), 0), 'A\r\nB: c\r\n');
  t.equal(headText(Buffer.from('A\r\nB: c\r\n'), 0), null);
  const long = Buffer.from(`A\r\n${'B: c\r\n'.repeat(1000)}\r\n`);
  t.equal(headText(long, 0)?.length, long.length - 2);
  t.equal(headText(long, 5000)?.length, long.length - 2);
});

t.test('body framing: Content-Length, chunked, both (chunked wins), equal duplicates', async (t) => {
  let h = head('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n');
  t.same([h.body, h.length, h.hadLength], [Body.Length, 5, true]);
  h = head('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n');
  t.same([h.body, h.length, h.hadLength], [Body.None, 0, true]);
  h = head('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n');
  t.same([h.body, h.transferEncoding], [Body.Chunked, 'chunked']);
  h = head('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: gzip, chunked\r\n\r\n');
  t.same([h.body, h.length, h.transferEncoding], [Body.Chunked, 0, 'gzip, chunked']);
  t.equal(h.kept, 'Host: a\r\n', 'Content-Length and Transfer-Encoding are the router\'s to write');
  t.equal(h.keepAlive, false, 'both: the connection closes after the answer (RFC 9112 §6.1)');
  t.equal(head('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n').keepAlive, true, 'chunked alone keeps it');
  h = head('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\ncontent-length: 7\r\n\r\n');
  t.same([h.body, h.length], [Body.Length, 7]);
  h = head('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7, 7\r\n\r\n');
  t.equal(h.length, 7);
  t.same([parseLength('12'), parseLength('1a'), parseLength(''), parseLength('5, 6'), parseLength('-1'), parseLength('9999999999999999')], [12, -1, -1, -1, -1, -1]);
});

t.test('connection options: keep-alive by version, close, HTTP/1.0 keep-alive, upgrade', async (t) => {
  t.equal(head('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n').keepAlive, false);
  t.equal(head('GET / HTTP/1.0\r\nHost: a\r\n\r\n').keepAlive, false);
  t.equal(head('GET / HTTP/1.0\r\nHost: a\r\nConnection: Keep-Alive\r\n\r\n').keepAlive, true);
  t.equal(head('GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n').keepAlive, false);
  let h = head('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
  t.equal(h.upgrade, 'websocket');
  t.equal(h.kept, 'Host: a\r\n');
  h = head('GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n');
  t.equal(h.upgrade, '', 'Upgrade without Connection: upgrade is no upgrade');
  // headers named in Connection are hop-by-hop too
  h = head('GET / HTTP/1.1\r\nX-Secret: 1\r\nHost: a\r\nConnection: keep-alive, X-Secret\r\nX-Other: 2\r\n\r\n');
  t.equal(h.kept, 'Host: a\r\nX-Other: 2\r\n');
});

t.test('hop-by-hop and router-owned headers are dropped; X-Request-Id, X-Forwarded-For, Via kept aside', async (t) => {
  const h = head(
    'GET / HTTP/1.1\r\nHost: a\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nX-Forwarded-Proto: https\r\n' +
      'X-Forwarded-Port: 443\r\nX-Request-Start: 1\r\nX-Request-Id: abc\r\nX-Forwarded-For: 1.2.3.4\r\nx-forwarded-for: 5.6.7.8\r\nVia: 1.0 fred\r\nCookie: a=b\r\n\r\n',
  );
  t.equal(h.kept, 'Host: a\r\nCookie: a=b\r\n');
  t.equal(h.requestId, 'abc');
  t.equal(h.forwardedFor, '1.2.3.4, 5.6.7.8');
  t.equal(h.via, '1.0 fred');
});

t.test('Expect: 100-continue is noted (not for HTTP/1.0); anything else is 417', async (t) => {
  t.equal(head('PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n').expectContinue, true);
  t.equal(head('PUT / HTTP/1.0\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n').expectContinue, false);
  refused(t, 'PUT / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n', 417, 'Expect other than 100-continue');
});

t.test('refused requests: status and cause (vegur: 414 for the request line; dynod: 431 for headers)', async (t) => {
  refused(t, 'GET / HTTP/1.1\r\n\r\n', 400, 'no Host header');
  refused(t, 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400, 'more than one Host header');
  refused(t, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n', 400, 'bad Content-Length');
  refused(t, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n', 400, 'bad Content-Length');
  refused(t, 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', 400, 'Transfer-Encoding not ending in chunked');
  refused(t, 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', 400, 'chunked more than once');
  refused(t, 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked , chunked\r\n\r\n', 400, 'chunked more than once');
  refused(t, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', 405, 'CONNECT not supported');
  refused(t, 'GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505, 'HTTP version not supported');
  refused(t, 'GET / HTTP/1.2\r\nHost: a\r\n\r\n', 505, 'HTTP version not supported');
  refused(t, 'GET / FTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad HTTP version');
  refused(t, 'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad HTTP version');
  refused(t, 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad request line');
  refused(t, 'GET\r\nHost: a\r\n\r\n', 400, 'bad request line');
  refused(t, 'G(T / HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad method');
  refused(t, 'GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n', 400, 'header line without colon');
  refused(t, 'GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n', 400, 'empty header name');
  refused(t, 'GET / HTTP/1.1\r\nHost: a\r\nX-A : v\r\n\r\n', 400, 'space before colon');
  refused(t, 'GET / HTTP/1.1\r\nHost: a\r\nX-A: v\r\n folded\r\n\r\n', 400, 'folded header line');
  refused(t, 'GET / HTTP/1.1\r\nHost: a\nX-A: v\r\n\r\n', 400, 'bare LF');
  refused(t, 'GET / HTTP/1.1\nHost: a\r\n\r\n', 400, 'bare LF');
});

t.test('what RFC 9110/9112 forbid in a head is refused, also before the head is complete', async (t) => {
  // a bare LF never shows the CRLF CRLF that ends a head: refused at once, not after the idle timeout
  refused(t, 'GET / HTTP/1.1\nHost: a\n\n', 400, 'bare LF');
  refused(t, 'GET / HTTP/1.1\r\nHost: a\n', 400, 'bare LF');
  refused(t, '\nGET / HTTP/1.1\r\n', 400, 'bare LF');
  t.equal(req('GET / HTTP/1.1\r\nHost: a\r\n'), null, 'CRLF lines so far: wait for the rest');
  // resumed where the last look stopped, the LF before it still seen with its CR
  const part = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\nX: b\n');
  t.ok(parseRequestHead(part, 14) instanceof HeadError);
  t.equal(parseRequestHead(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n'), 14), null);
  // a field name is a token; a value has no control character but HTAB (NUL, a lone CR: a dyno could split there)
  refused(t, 'GET / HTTP/1.1\r\nHost: a\r\nX Y: z\r\n\r\n', 400, 'bad header name');
  refused(t, 'GET / HTTP/1.1\r\nHost: a\r\nX(Y)@: q\r\n\r\n', 400, 'bad header name');
  refused(t, 'GET / HTTP/1.1\r\nHost: a\r\nX-A: v\u0000w\r\n\r\n', 400, 'bad header value');
  refused(t, 'GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n', 400, 'bad header value');
  refused(t, 'GET / HTTP/1.1\r\nHost: a\r\nX-A: a\u001bb\r\n\r\n', 400, 'bad header value');
  refused(t, 'GET / HTTP/1.1\r\nHost: a\r\nX-A: a\u007fb\r\n\r\n', 400, 'bad header value');
  t.equal(head('GET / HTTP/1.1\r\nHost: a\r\nX-A: a\tb \u00e9\r\n\r\n').kept, 'Host: a\r\nX-A: a\tb \u00e9\r\n', 'HTAB and obs-text pass');
  // Host: uri-host [":" port], nothing that could forge the router line
  refused(t, 'GET / HTTP/1.1\r\nHost: x status=999 dyno=web.9\r\n\r\n', 400, 'bad Host header');
  refused(t, 'GET / HTTP/1.1\r\nHost: a\u001b[31m\r\n\r\n', 400, 'bad header value');
  refused(t, 'GET / HTTP/1.1\r\nHost: a"b\r\n\r\n', 400, 'bad Host header');
  refused(t, 'GET / HTTP/1.1\r\nHost: user@a\r\n\r\n', 400, 'bad Host header');
  refused(t, 'GET / HTTP/1.1\r\nHost: a/b\r\n\r\n', 400, 'bad Host header');
  for (const host of ['example.com', 'example.com:8080', '127.0.0.1:5000', '[::1]:5000', 'a-b_c~d.e', '%41', ''])
    t.equal(head(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`).host, host, `Host: ${host}`);
  // the request target has no control character; a method is at most 127 characters (vegur)
  refused(t, 'GET /a\u001b[1m HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad request target');
  refused(t, 'GET /a\u0000 HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad request target');
  refused(t, 'GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad request target');
  t.equal(head(`${'M'.repeat(127)} / HTTP/1.1\r\nHost: a\r\n\r\n`).method.length, 127);
  refused(t, `${'M'.repeat(128)} / HTTP/1.1\r\nHost: a\r\n\r\n`, 400, 'method too long');
});

t.test('Proxy-Authorization and Trailer are dropped (vegur); an HTTP/1.0 Upgrade is ignored (RFC 9110 §7.8)', async (t) => {
  const h = head('GET / HTTP/1.1\r\nHost: a\r\nProxy-Authorization: Basic eA==\r\nTrailer: X-T\r\nX-B: c\r\n\r\n');
  t.equal(h.kept, 'Host: a\r\nX-B: c\r\n');
  t.equal(head('GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n').upgrade, 'websocket');
  const old = head('GET / HTTP/1.0\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n');
  t.equal(old.upgrade, '');
  t.equal(old.kept, 'Host: a\r\n', 'its Upgrade and Connection are hop-by-hop all the same');
});

t.test('vegur\'s limits, exactly: request line 8192, name 1000, value 8192, 1000 headers', async (t) => {
  const line = (n: number) => `GET /${'a'.repeat(n - 'GET / HTTP/1.1'.length)} HTTP/1.1`;
  t.equal(line(LIMITS.requestLine).length, 8192);
  t.ok(head(`${line(8192)}\r\nHost: a\r\n\r\n`) instanceof RequestHead, 'a request line of 8192 bytes passes');
  refused(t, `${line(8193)}\r\nHost: a\r\n\r\n`, 414, 'request line too long');
  // a request line that never ends is refused as soon as it is over the limit
  refused(t, `GET /${'a'.repeat(9000)}`, 414, 'request line too long');
  t.equal(req(`GET /${'a'.repeat(8000)}`), null, 'still within the limit: wait');
  t.ok(head(`GET / HTTP/1.1\r\nHost: a\r\n${'n'.repeat(1000)}: v\r\n\r\n`) instanceof RequestHead);
  refused(t, `GET / HTTP/1.1\r\nHost: a\r\n${'n'.repeat(1001)}: v\r\n\r\n`, 431, 'header name too long');
  t.ok(head(`GET / HTTP/1.1\r\nHost: a\r\nX: ${'v'.repeat(8192)}\r\n\r\n`) instanceof RequestHead);
  refused(t, `GET / HTTP/1.1\r\nHost: a\r\nX: ${'v'.repeat(8193)}\r\n\r\n`, 431, 'header value too long');
  const many = (n: number) => `GET / HTTP/1.1\r\nHost: a\r\n${Array.from({ length: n - 1 }, (_, i) => `X-${i}: v\r\n`).join('')}\r\n`;
  t.equal(head(many(1000)).kept.split('\r\n').length - 1, 1000);
  refused(t, many(1001), 431, 'too many headers');
  refused(t, Buffer.alloc(LIMITS.requestHead + 10, 'GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n'), 431, 'request head too large');
});

t.test('a refused request keeps what was known of it, for the router line', async (t) => {
  const r = req('POST /up HTTP/1.1\r\nHost: h\r\nExpect: nope\r\n\r\n');
  t.ok(r instanceof HeadError);
  t.same([(r as HeadError).method, (r as HeadError).target, (r as HeadError).host], ['POST', '/up', 'h']);
});

t.test('header bytes pass through intact (latin1 in, latin1 out), UTF-8 included', async (t) => {
  const raw = Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nHost: a\r\nX-Name: '), Buffer.from('Zoë ✓', 'utf8'), Buffer.from('\r\n\r\n')]);
  const h = parseRequestHead(raw, 0) as RequestHead;
  t.same(Buffer.from(h.kept, 'latin1'), Buffer.concat([Buffer.from('Host: a\r\nX-Name: '), Buffer.from('Zoë ✓', 'utf8'), Buffer.from('\r\n')]));
});

// ---------------------------------------------------------------- responses

const res = (s: string) => parseResponseHead(Buffer.from(s, 'latin1'), 0);

function rhead(s: string): ResponseHead {
  const r = res(s);
  if (!(r instanceof ResponseHead)) throw new Error(`expected a response head, got ${r === null ? 'incomplete' : r.cause}`);
  return r;
}

t.test('a Node response: framing and hop-by-hop headers taken out', async (t) => {
  const r = rhead('HTTP/1.1 200 OK\r\nDate: x\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok');
  t.same([r.status, r.minor, r.statusText, r.length, r.keepAlive, r.end], [200, 1, '200 OK', 2, true, 94]);
  t.equal(r.kept, 'Date: x\r\n');
  t.equal(responseBody(r, 'GET'), ResBody.Length);
  t.equal(responseBody(r, 'HEAD'), ResBody.None);
});

t.test('response framing: chunked, until close, none', async (t) => {
  const c = rhead('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n');
  t.same([c.chunked, c.length, responseBody(c, 'GET')], [true, -1, ResBody.Chunked]);
  t.equal(responseBody(rhead('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n'), 'GET'), ResBody.Close);
  t.equal(responseBody(rhead('HTTP/1.1 200 OK\r\n\r\n'), 'GET'), ResBody.Close);
  for (const s of [204, 304, 101, 103]) t.equal(responseBody(rhead(`HTTP/1.1 ${s} X\r\nContent-Length: 5\r\n\r\n`), 'GET'), ResBody.None, `${s}`);
  const old = rhead('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n');
  t.equal(old.keepAlive, false, 'HTTP/1.0 closes unless it says keep-alive');
  t.equal(rhead('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n').keepAlive, true);
  t.equal(rhead('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n').keepAlive, false);
});

t.test('malformed responses (H17)', async (t) => {
  for (const [s, cause] of [
    ['HTTP/1.1 200\r\n\r\n', 'bad status line'],
    ['HTTP/2 200 OK\r\n\r\n', 'bad status line'],
    ['HTTP/1.1 2x0 OK\r\n\r\n', 'bad status code'],
    ['HTTP/1.1 099 OK\r\n\r\n', 'bad status code'],
    ['ICY 200 OK\r\n\r\n', 'bad status line'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 'bad Content-Length'],
    ['HTTP/1.1 200 OK\r\nbroken\r\n\r\n', 'header line without colon'],
    ['HTTP/1.1 200 OK\r\nX A: b\r\n\r\n', 'bad header name'],
    ['HTTP/1.1 200 OK\r\nX-A: a\u0000b\r\n\r\n', 'bad header value'],
    ['HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n', 'bad header value'],
  ] as const) {
    const r = res(s);
    t.ok(r instanceof ResponseError, s);
    t.equal((r as ResponseError).cause, cause);
  }
  t.equal(rhead('HTTP/1.1 200 \r\n\r\n').statusText, '200 ', 'an empty reason after the space is accepted');
  t.equal(res('HTTP/1.1 200 OK\r\n'), null);
  // lines ended by a bare LF never end the head: H17 at once, not H18 when the dyno closes
  const lf = res('HTTP/1.1 200 OK\nContent-Length: 2\n\nok');
  t.ok(lf instanceof ResponseError);
  t.equal((lf as ResponseError).cause, 'bare LF');
});

t.test('heads as the router writes them', async (t) => {
  const h = head('POST /p HTTP/1.0\r\nHost: a\r\nContent-Length: 3\r\nVia: 1.0 x\r\n\r\n');
  t.equal(
    upstreamHead(h, 'id-1', '9.9.9.9, 127.0.0.1', 'https', 443, 1700000000123),
    'POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nX-Request-Id: id-1\r\nX-Forwarded-For: 9.9.9.9, 127.0.0.1\r\n' +
      'X-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\nX-Request-Start: 1700000000123\r\nVia: 1.0 x, 1.1 dynod\r\n\r\n',
  );
  const r = rhead('HTTP/1.1 404 Not Found\r\nX-A: 1\r\nContent-Length: 0\r\nVia: 1.1 app\r\n\r\n');
  t.equal(clientHead(r, false, Persist.Default), 'HTTP/1.1 404 Not Found\r\nX-A: 1\r\nContent-Length: 0\r\nVia: 1.1 app, 1.1 dynod\r\n\r\n');
  t.equal(clientHead(r, false, Persist.Close), 'HTTP/1.1 404 Not Found\r\nX-A: 1\r\nContent-Length: 0\r\nVia: 1.1 app, 1.1 dynod\r\nConnection: close\r\n\r\n');
  const c = rhead('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
  t.equal(clientHead(c, true, Persist.Close), 'HTTP/1.1 200 OK\r\nVia: 1.1 dynod\r\nConnection: close\r\n\r\n', 'dechunked for HTTP/1.0: no framing header, ends with the close');
  t.equal(clientHead(c, false, Persist.KeepAlive), 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nVia: 1.1 dynod\r\nConnection: keep-alive\r\n\r\n');
  t.same([clientAddress('::ffff:10.0.0.1'), clientAddress('::1'), clientAddress('1.2.3.4'), clientAddress(undefined)], ['10.0.0.1', '::1', '1.2.3.4', '']);
});

// ---------------------------------------------------------------- chunked

const CHUNKED = '5\r\nhello\r\n1;ext=1\r\n \r\n0A\r\n0123456789\r\n0\r\nTrailer-A: 1\r\n\r\n';

t.test('chunked: the end is found, the data comes out, at every split point', async (t) => {
  const all = Buffer.from(`${CHUNKED}NEXT`, 'latin1');
  const whole = new ChunkScanner();
  t.equal(whole.scan(all, 0, all.length), CHUNKED.length);
  t.ok(whole.done);
  for (let cut = 0; cut <= CHUNKED.length; cut++) {
    const s = new ChunkScanner();
    let data = '';
    const take = (b: Buffer, f: number, e: number) => (data += b.toString('latin1', f, e));
    const a = s.scan(all, 0, cut, take);
    t.equal(a, cut === CHUNKED.length ? cut : cut, `first part up to ${cut}`);
    const b = s.scan(all, cut, all.length, take);
    if (b !== CHUNKED.length) t.fail(`split at ${cut}: ended at ${b}`);
    if (data !== 'hello 0123456789') t.fail(`split at ${cut}: data ${JSON.stringify(data)}`);
  }
  t.pass('every split point');
});

t.test('chunked: byte by byte with a seeded random body', async (t) => {
  const rnd = prng(7);
  let body = '';
  let data = '';
  for (let i = 0; i < 50; i++) {
    const n = Math.floor(rnd() * 300);
    const chunk = Array.from({ length: n }, () => String.fromCharCode(Math.floor(rnd() * 256))).join('');
    if (n === 0) continue;
    body += `${n.toString(16)}\r\n${chunk}\r\n`;
    data += chunk;
  }
  body += '0\r\n\r\n';
  const buf = Buffer.from(body, 'latin1');
  const s = new ChunkScanner();
  let out = '';
  let end = -2;
  for (let i = 0; i < buf.length; i++) end = s.scan(buf, i, i + 1, (b, f, e) => (out += b.toString('latin1', f, e)));
  t.equal(end, buf.length);
  t.equal(out, data);
});

t.test('chunked: broken framing is refused', async (t) => {
  // control characters in an extension or a trailer: a bare LF there is how a request is smuggled past the router
  const ctls = ['5;a\nb\r\n', '5;a\x00\r\n', '5;\x7f\r\n', '0\r\nX-T: a\nb\r\n\r\n', '0\r\n\nX\r\n\r\n', '0\r\nX: \x01\r\n\r\n'];
  for (const bad of ['x\r\n', '5\r\nhelloX\r\n', '5\rX', '\r\n', '12345678901234\r\n', '0\r\nX\rY', ...ctls]) {
    const s = new ChunkScanner();
    const b = Buffer.from(bad, 'latin1');
    t.equal(s.scan(b, 0, b.length), -1, JSON.stringify(bad));
    t.ok(s.failed);
  }
  // HTAB and obs-text stay allowed there
  for (const ok of ['5;a=\tb\r\nhello\r\n0\r\n\r\n', '0\r\nX-T: a\tb\xe9\r\n\r\n']) {
    const s = new ChunkScanner();
    const b = Buffer.from(ok, 'latin1');
    t.equal(s.scan(b, 0, b.length), b.length, JSON.stringify(ok));
  }
});

// ---------------------------------------------------------------- ids, lines, pages

t.test('X-Request-Id: kept when 20-200 chars of [A-Za-z0-9+/=-], else a new UUID', async (t) => {
  const ok = ['a'.repeat(20), 'A-z0+9/=-'.repeat(3), 'x'.repeat(200)];
  const bad = ['a'.repeat(19), 'x'.repeat(201), `${'a'.repeat(20)}_`, `${'a'.repeat(20)} `, `${'a'.repeat(20)}é`, ''];
  for (const id of ok) t.equal(requestId(id), id);
  for (const id of bad) {
    t.notOk(validRequestId(id));
    t.match(requestId(id), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  }
});

t.test('router lines, exactly', async (t) => {
  const base = { method: 'GET', path: '/', host: 'localhost:5000', requestId: 'rid', fwd: '127.0.0.1', protocol: 'http' as const };
  t.equal(
    routerLine({ ...base, code: null, dyno: 'web.2', connect: 0.2, service: 12.4, status: 200, bytes: 1234 }),
    'at=info method=GET path="/" host=localhost:5000 request_id=rid fwd="127.0.0.1" dyno=web.2 connect=0ms service=12ms status=200 bytes=1234 protocol=http',
  );
  t.equal(
    routerLine({ ...base, code: 'H12', dyno: 'web.1', connect: 1, service: 30001, status: 503, bytes: 0 }),
    'at=error code=H12 desc="Request timeout" method=GET path="/" host=localhost:5000 request_id=rid fwd="127.0.0.1" dyno=web.1 connect=1ms service=30001ms status=503 bytes=0 protocol=http',
  );
  t.equal(
    routerLine({ ...base, code: 'H14', dyno: '', connect: -1, service: -1, status: 503, bytes: -1 }),
    'at=error code=H14 desc="No web processes running" method=GET path="/" host=localhost:5000 request_id=rid fwd="127.0.0.1" dyno= connect= service= status=503 bytes= protocol=http',
  );
  t.equal(
    routerLine({ ...base, code: 'H27', dyno: 'web.1', connect: 0, service: 5, status: 499, bytes: 0, protocol: 'https' }),
    'at=warning code=H27 desc="Client Request Interrupted" method=GET path="/" host=localhost:5000 request_id=rid fwd="127.0.0.1" dyno=web.1 connect=0ms service=5ms status=499 bytes=0 protocol=https sock=client',
  );
  t.equal(
    routerLine({ ...base, code: 'H18', dyno: 'web.1', connect: 0, service: 5, status: 503, bytes: 100 }),
    'at=error code=H18 desc="Server Request Interrupted" method=GET path="/" host=localhost:5000 request_id=rid fwd="127.0.0.1" dyno=web.1 connect=0ms service=5ms status=503 bytes=100 protocol=http sock=backend',
  );
  t.equal(
    routerLine({ ...base, code: 'H26', cause: 'bad "x"', path: '/a"b', dyno: '', connect: -1, service: -1, status: 400, bytes: -1 }),
    'at=error code=H26 desc="Request Error" cause="bad %22x%22" method=GET path="/a%22b" host=localhost:5000 request_id=rid fwd="127.0.0.1" dyno= connect= service= status=400 bytes= protocol=http',
  );
  // a refused target's control characters never reach the log raw
  t.match(
    routerLine({ ...base, code: 'H26', cause: 'bad request target', path: '/a\u001b[31mRED\u0000\t\r\u007f', dyno: '', connect: -1, service: -1, status: 400, bytes: -1 }),
    / path="\/a%1B\[31mRED%00%09%0D%7F" /,
  );
});

t.test('the error page names the code; HEAD gets the head alone', async (t) => {
  const page = errorResponse(503, 'H12', true, false, false).toString();
  const [h, body] = page.split('\r\n\r\n') as [string, string];
  t.match(h, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  t.match(h, /\r\nContent-Type: text\/html; charset=utf-8/);
  t.match(h, new RegExp(`\\r\\nContent-Length: ${Buffer.byteLength(body)}`));
  t.notMatch(h, /Connection:/, 'HTTP/1.1 keep-alive says nothing');
  t.match(body, /<code>H12<\/code> Request timeout \(503\)/);
  t.match(body, /Application Error/);
  t.match(errorResponse(503, 'H12', false, false, false).toString(), /\r\nConnection: close\r\n/);
  t.match(errorResponse(503, 'H12', true, true, false).toString(), /\r\nConnection: keep-alive\r\n/);
  const headOnly = errorResponse(503, 'H14', true, false, true).toString();
  t.ok(headOnly.endsWith('\r\n\r\n'));
  t.match(errorResponse(431, 'H26', false, false, false).toString(), /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
});
