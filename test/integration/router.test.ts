import t from 'tap';
import * as http from 'node:http';
import { LINE_RE, TestSource, connectTo, get, httpUpstream, lineFields, prng, rawExchange, readUntil, request, sleep, splitResponses, startRouter, tcpBackend } from '../helpers/router';

// ============================================================================
// The router in front of plain HTTP servers on loopback (no dynos): headers as
// Heroku adds them, router lines, HTTP/1.0, vegur's limits, pipelining, spread.

/** an upstream that answers with what it received: method, url, headers, body length */
async function echoUpstream() {
  return httpUpstream((q, r) => {
    let n = 0;
    q.on('data', (d: Buffer) => (n += d.length));
    q.on('end', () => {
      const body = JSON.stringify({ method: q.method, url: q.url, headers: q.headers, rawHeaders: q.rawHeaders, bytes: n, version: q.httpVersion });
      r.writeHead(200, { 'Content-Type': 'application/json', 'X-App': 'echo' });
      r.end(body);
    });
  });
}

t.test('a request goes through: headers Heroku adds, hop-by-hop dropped, the router line', async (t) => {
  const up = await echoUpstream();
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]));
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const before = Date.now();
  const res = await get(r.port, '/p?q=1', {
    'X-Forwarded-For': '203.0.113.7',
    'X-Forwarded-Proto': 'https',
    'X-Forwarded-Port': '443',
    'X-Request-Start': '1',
    Via: '1.0 corp-proxy',
    'Keep-Alive': 'timeout=99',
    TE: 'trailers',
    Connection: 'keep-alive, X-Hop',
    'X-Hop': 'secret',
    'X-End': 'kept',
  });
  const after = Date.now();
  t.equal(res.status, 200);
  const seen = JSON.parse(res.body) as { method: string; url: string; headers: Record<string, string>; version: string };
  t.equal(seen.url, '/p?q=1');
  t.equal(seen.version, '1.1');
  const h = seen.headers;
  t.match(h['x-request-id'], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  t.equal(h['x-forwarded-for'], '203.0.113.7, 127.0.0.1', 'appended');
  t.equal(h['x-forwarded-proto'], 'http', 'the router\'s, not the client\'s');
  t.equal(h['x-forwarded-port'], String(r.port), 'the router\'s, not the client\'s');
  const start = Number(h['x-request-start']);
  t.ok(start >= before && start <= after, `X-Request-Start ${start} in [${before}, ${after}]`);
  t.equal(h.via, '1.0 corp-proxy, 1.1 dynod');
  t.equal(h.host, `127.0.0.1:${r.port}`);
  t.equal(h['x-end'], 'kept');
  for (const gone of ['keep-alive', 'te', 'x-hop', 'connection']) t.notOk(gone in h, `${gone} dropped`);
  // the response: the dyno's headers, Via, and none of its hop-by-hop ones
  t.equal(res.headers['x-app'], 'echo');
  t.equal(res.headers.via, '1.1 dynod');
  t.notOk('keep-alive' in res.headers, 'the dyno\'s Keep-Alive is not the client\'s');
  const line = (await r.waitLines(1))[0]!;
  t.match(line, LINE_RE);
  const f = lineFields(line);
  t.same(
    { at: f.at, method: f.method, path: f.path, host: f.host, request_id: f.request_id, fwd: f.fwd, dyno: f.dyno, status: f.status, bytes: f.bytes, protocol: f.protocol },
    { at: 'info', method: 'GET', path: '/p?q=1', host: `127.0.0.1:${r.port}`, request_id: h['x-request-id'], fwd: '203.0.113.7, 127.0.0.1', dyno: 'web.1', status: '200', bytes: f.bytes, protocol: 'http' },
  );
  t.match(f.connect, /^\d+ms$/);
  t.match(f.service, /^\d+ms$/);
  t.ok(Number(f.bytes) > res.body.length, 'bytes count the head too');
});

t.test('X-Request-Id: the client\'s when valid, else a new one; the dyno and the line agree', async (t) => {
  const up = await echoUpstream();
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]));
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const valid = 'abcDEF0123456789+/=-xyz';
  const one = JSON.parse((await get(r.port, '/', { 'X-Request-Id': valid })).body);
  t.equal(one.headers['x-request-id'], valid);
  t.equal(lineFields((await r.waitLines(1))[0]!).request_id, valid);
  const two = JSON.parse((await get(r.port, '/', { 'X-Request-Id': 'short' })).body);
  t.not(two.headers['x-request-id'], 'short');
  t.equal(lineFields((await r.waitLines(2))[1]!).request_id, two.headers['x-request-id']);
  t.equal(one.rawHeaders.filter((x: string) => x.toLowerCase() === 'x-request-id').length, 1, 'one X-Request-Id header');
});

t.test('HTTP/1.0 clients: close by default, keep-alive when asked, chunked turned into a close-delimited body', async (t) => {
  const up = await httpUpstream((q, r) => {
    if (q.url === '/chunked') {
      r.write('part one, ');
      setTimeout(() => r.end('part two'), 10);
    } else {
      r.end('plain');
    }
  });
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]));
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const closed = await rawExchange(r.port, 'GET / HTTP/1.0\r\nHost: x\r\n\r\n');
  t.match(closed, /^HTTP\/1\.1 200 OK\r\n/);
  t.match(closed, /\r\nConnection: close\r\n/);
  t.ok(closed.endsWith('\r\n\r\nplain'));
  // keep-alive: two requests on one connection
  const s = await connectTo(r.port);
  const out = readUntil(s, (x) => splitResponses(x).length === 2);
  s.write('GET /a HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
  await sleep(50);
  s.write('GET /b HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
  const two = splitResponses(await out);
  s.destroy();
  t.same(two.map((x) => [x.status, x.headers.connection, x.body]), [[200, 'keep-alive', 'plain'], [200, 'keep-alive', 'plain']]);
  const dechunked = await rawExchange(r.port, 'GET /chunked HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
  const [head, body] = dechunked.split('\r\n\r\n') as [string, string];
  t.notMatch(head, /Transfer-Encoding/i);
  t.match(head, /\r\nConnection: close$/);
  t.equal(body, 'part one, part two');
});

t.test('chunked responses pass through to HTTP/1.1 clients as they come', async (t) => {
  const up = await httpUpstream((_q, r) => {
    r.write('one;');
    setTimeout(() => r.write('two;'), 20);
    setTimeout(() => r.end('three'), 40);
  });
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]));
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const s = await connectTo(r.port);
  s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  const text = await readUntil(s, (x) => x.endsWith('0\r\n\r\n'));
  s.destroy();
  t.match(text, /\r\nTransfer-Encoding: chunked\r\n/);
  t.ok(text.endsWith('4\r\none;\r\n4\r\ntwo;\r\n5\r\nthree\r\n0\r\n\r\n'), 'chunks as the dyno wrote them');
});

t.test('vegur\'s limits, through the router: 414, 431, 400 and 417 with H26 lines', async (t) => {
  const up = await echoUpstream();
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]));
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const cases: [string, number, string][] = [
    [`GET /${'a'.repeat(8200)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414, 'request line too long'],
    [`GET / HTTP/1.1\r\nHost: x\r\n${'n'.repeat(1001)}: v\r\n\r\n`, 431, 'header name too long'],
    [`GET / HTTP/1.1\r\nHost: x\r\nX: ${'v'.repeat(8193)}\r\n\r\n`, 431, 'header value too long'],
    [`GET / HTTP/1.1\r\nHost: x\r\n${'X-A: 1\r\n'.repeat(1000)}\r\n`, 431, 'too many headers'],
    ['GET / HTTP/1.1\r\n\r\n', 400, 'no Host header'],
    ['POST / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx', 417, 'Expect other than 100-continue'],
    ['CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', 405, 'CONNECT not supported'],
  ];
  for (const [raw, status, cause] of cases) {
    const text = await rawExchange(r.port, raw);
    t.match(text, new RegExp(`^HTTP/1\\.1 ${status} `), `${status} ${cause}`);
    t.match(text, /\r\nConnection: close\r\n/);
    t.match(text, /<code>H26<\/code> Request Error/);
    const line = await r.nextLine();
    t.match(line, LINE_RE);
    t.match(line, new RegExp(`^at=error code=H26 desc="Request Error" cause="${cause}" .* dyno= connect= service= status=${status} bytes= protocol=http$`));
  }
  t.equal(up.connections, 0, 'none of them reached the dyno');
  // at the limits exactly, they do (two requests: Node's own server takes 16 KB of head at most)
  const line = await rawExchange(r.port, `GET /${'a'.repeat(8192 - 15)} HTTP/1.1\r\nHost: x\r\n${'n'.repeat(1000)}: v\r\nConnection: close\r\n\r\n`);
  t.match(line, /^HTTP\/1\.1 200 OK\r\n/);
  const value = await rawExchange(r.port, `GET / HTTP/1.1\r\nHost: x\r\nX: ${'v'.repeat(8192)}\r\nConnection: close\r\n\r\n`);
  t.match(value, /^HTTP\/1\.1 200 OK\r\n/);
});

t.test('pipelined requests are answered in order, whatever order the dyno finishes them', async (t) => {
  // /slow waits, /fast does not: a router that passed them on at once would answer out of order
  const up = await httpUpstream((q, r) => {
    let body = '';
    q.on('data', (d: Buffer) => (body += d));
    q.on('end', () => setTimeout(() => r.end(`${q.method} ${q.url} ${body}`), q.url === '/slow' ? 80 : 0));
  });
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port), tcpBackend('web.2', up.port)]));
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const s = await connectTo(r.port);
  const out = readUntil(s, (x) => splitResponses(x).length === 4);
  s.write(
    'GET /slow HTTP/1.1\r\nHost: x\r\n\r\n' +
      'POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' +
      'GET /fast HTTP/1.1\r\nHost: x\r\n\r\n' +
      'POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
  );
  const got = splitResponses(await out).map((x) => x.body);
  s.destroy();
  t.same(got, ['GET /slow ', 'POST /post hello', 'GET /fast ', 'POST /chunked abc']);
  t.same((await r.waitLines(4)).map((l) => lineFields(l).path), ['/slow', '/post', '/fast', '/chunked']);
});

t.test('keep-alive: a client connection carries many requests; so does the pooled connection to the dyno', async (t) => {
  const up = await echoUpstream();
  const b = tcpBackend('web.1', up.port);
  const r = await startRouter(new TestSource([b]));
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  for (let i = 0; i < 10; i++) t.equal((await get(r.port, `/${i}`, {}, agent)).status, 200);
  t.equal(up.connections, 1, 'one connection to the dyno for ten requests');
  // the native plane connects on its own threads, the JavaScript router through connect()
  const nativeRequests = r.router.stats().nativeRequests;
  t.ok(nativeRequests === 0 || nativeRequests === 10, 'one plane served them all');
  t.equal(b.connects, nativeRequests > 0 ? 0 : 1);
  t.same((await r.waitLines(10)).slice(1).map((l) => lineFields(l).connect), Array(9).fill('0ms'), 'pooled: connect=0ms');
  t.equal(r.router.stats().connections, 1, 'one client connection');
  t.equal(r.router.stats().backends[0]!.idleConnections, 1);
});

t.test('spread over 3 dynos is near-uniform over 3,000 requests (seeded pick)', async (t) => {
  const up = await httpUpstream((_q, r) => r.end('ok'));
  const bs = ['web.1', 'web.2', 'web.3'].map((n) => tcpBackend(n, up.port));
  const r = await startRouter(new TestSource(bs), { random: prng(20261129) });
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  t.teardown(() => agent.destroy());
  const all: Promise<unknown>[] = [];
  for (let i = 0; i < 3000; i++) all.push(get(r.port, '/', {}, agent));
  await Promise.all(all);
  const counts: Record<string, number> = { 'web.1': 0, 'web.2': 0, 'web.3': 0 };
  for (const l of (await r.waitLines(3000))) counts[lineFields(l).dyno]!++;
  t.equal((await r.waitLines(3000)).length, 3000);
  const chi2 = Object.values(counts).reduce((s, c) => s + (c - 1000) ** 2 / 1000, 0);
  // chi-square with 2 degrees of freedom: above 13.8 once in a thousand for a fair pick
  t.ok(chi2 < 13.8, `counts ${JSON.stringify(counts)}, chi-square ${chi2.toFixed(2)}`);
});

t.test('HEAD and 204/304 responses carry no body; the connection goes on', async (t) => {
  const up = await httpUpstream((q, r) => {
    if (q.url === '/204') r.writeHead(204).end();
    else if (q.url === '/304') r.writeHead(304, { ETag: '"x"' }).end();
    else r.writeHead(200, { 'Content-Length': 11 }).end(q.method === 'HEAD' ? undefined : 'hello world');
  });
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]));
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const s = await connectTo(r.port);
  const out = readUntil(s, (x) => x.endsWith('hello world'));
  s.write('HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /204 HTTP/1.1\r\nHost: x\r\n\r\nGET /304 HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n');
  const text = await out;
  s.destroy();
  const heads = text.split('\r\n\r\n');
  t.match(heads[0], /^HTTP\/1\.1 200 OK\r\n.*Content-Length: 11/s, 'HEAD: the length, no body');
  t.match(heads[1], /^HTTP\/1\.1 204 No Content/);
  t.match(heads[2], /^HTTP\/1\.1 304 Not Modified/);
  t.match(heads[3], /^HTTP\/1\.1 200 OK/);
  t.equal(heads[4], 'hello world');
});

t.test('a request body and its framing reach the dyno intact (length, chunked, chunked beats length)', async (t) => {
  const up = await httpUpstream((q, r) => {
    const parts: Buffer[] = [];
    q.on('data', (d: Buffer) => parts.push(d));
    q.on('end', () => r.end(JSON.stringify({ te: q.headers['transfer-encoding'] ?? null, cl: q.headers['content-length'] ?? null, body: Buffer.concat(parts).toString() })));
  });
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]));
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const a = await request(r.port, { method: 'POST', path: '/', headers: { 'Content-Length': 5 }, body: 'hello' });
  t.same(JSON.parse(a.body), { te: null, cl: '5', body: 'hello' });
  const both = await rawExchange(r.port, 'POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
  t.same(JSON.parse(splitResponses(both)[0]!.body), { te: 'chunked', cl: null, body: 'hello world' });
  const zero = await request(r.port, { method: 'POST', path: '/', headers: { 'Content-Length': 0 } });
  t.same(JSON.parse(zero.body), { te: null, cl: '0', body: '' });
});
