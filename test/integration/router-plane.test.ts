import t from 'tap';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { TestSource, routerOn, connectTo, openFds, get, httpUpstream, lineFields, samePlaneFields, rawExchange, rawUpstream, readUntil, sleep, startRouter, tcpBackend, h12ThenH13 } from '../helpers/router';
import type { Backend } from '../../src/router/types';

// The native data plane (native/router-plane.h) against the JavaScript router: the same
// answers, headers and lines for what it serves; everything else handed over intact.

/** an upstream that answers with what it received */
async function echoUpstream() {
  return httpUpstream((q, r) => {
    let n = 0;
    q.on('data', (d: Buffer) => (n += d.length));
    q.on('end', () => {
      r.writeHead(200, { 'Content-Type': 'application/json', 'X-App': 'echo' });
      r.end(JSON.stringify({ method: q.method, url: q.url, headers: q.headers, bytes: n, version: q.httpVersion }));
    });
  });
}

const PER_REQUEST = ['x-request-id', 'x-request-start', 'x-forwarded-port'];

t.test('a plain request: served by the native plane with the same answer, headers and line as the JavaScript plane', async (t) => {
  const up = await echoUpstream();
  const native = await startRouter(new TestSource([tcpBackend('web.1', up.port)]));
  const js = await startRouter(new TestSource([tcpBackend('web.1', up.port)]), { plane: 'js' });
  t.teardown(async () => {
    await native.close();
    await js.close();
    await up.close();
  });
  const headers = { 'X-Forwarded-For': '203.0.113.7', Via: '1.0 corp', Connection: 'keep-alive', 'Keep-Alive': 'timeout=9', 'X-Forwarded-Proto': 'https', 'X-Custom': 'a "b"' };
  const a = await get(native.port, '/p?q="1"', headers);
  const b = await get(js.port, '/p?q="1"', headers);
  t.equal(native.router.stats().nativeRequests, 1, 'the native plane served it');
  t.equal(js.router.stats().nativeRequests, 0);
  t.equal(a.status, b.status);
  const strip = (h: http.IncomingHttpHeaders) => Object.fromEntries(Object.entries(h).filter(([k]) => k !== 'date'));
  t.same(strip(a.headers), strip(b.headers), 'the same response headers');
  const sa = JSON.parse(a.body) as { headers: Record<string, string> };
  const sb = JSON.parse(b.body) as { headers: Record<string, string> };
  const keep = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).filter(([k]) => !PER_REQUEST.includes(k) && k !== 'host'));
  t.same(keep(sa.headers), keep(sb.headers), 'the dyno gets the same request headers');
  t.equal(sa.headers['x-forwarded-port'], String(native.port));
  t.match(sa.headers['x-request-id'], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const la = samePlaneFields((await native.waitLines(1))[0]!);
  const lb = samePlaneFields((await js.waitLines(1))[0]!);
  t.same(la, lb, 'the same router line');
  t.match((await native.waitLines(1))[0]!, / path="\/p\?q=%221%22" /, 'a quote in the path is percent-encoded');
});

t.test('what the plane does not take whole goes to the JavaScript router intact, before any byte reached a dyno', async (t) => {
  const up = await echoUpstream();
  const r = await routerOn(t, up);
  const cases: [string, string | Buffer, RegExp][] = [
    ['HTTP/1.0', 'GET /ten HTTP/1.0\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 200 [^]*"version":"1\.1"/],
    ['chunked body', 'POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n', /^HTTP\/1\.1 200 [^]*"bytes":3/],
    ['Expect', 'POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi', /"bytes":2/],
    ['a body over 64 KiB', Buffer.concat([Buffer.from('POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\nConnection: close\r\n\r\n'), Buffer.alloc(70000, 97)]), /^HTTP\/1\.1 200 [^]*"bytes":70000/],
    ['no Host', 'GET / HTTP/1.1\r\n\r\n', /^HTTP\/1\.1 400 [^]*<code>H26<\/code>/],
    ['a header naming others in Connection', 'GET /h HTTP/1.1\r\nHost: x\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\n\r\n', /^HTTP\/1\.1 200 /],
  ];
  for (const [what, raw, want] of cases) {
    const text = await rawExchange(r.port, raw);
    t.match(text, want, what);
  }
  t.equal(r.router.stats().nativeRequests, 0, 'none of them by the native plane');
  // a plain request, then one the plane hands over, pipelined: answered in order
  const s = await connectTo(r.port);
  s.write('GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.0\r\nHost: x\r\n\r\n');
  const both = await readUntil(s);
  t.match(both, /"url":"\/first"[^]*"url":"\/second"/, 'in order');
  t.equal(r.router.stats().nativeRequests, 1, 'the first natively');
  const lines = await r.waitLines(cases.length + 2);
  t.same(lines.slice(-2).map((l) => lineFields(l).path), ['/first', '/second'], 'lines in order too');
});

t.test('heads RFC 9110/9112 forbid are refused (400) before any byte reaches a dyno; a bare LF at once, plain and pipelined', async (t) => {
  let requests = 0;
  const up = await httpUpstream((q, r) => {
    requests++;
    r.end(JSON.stringify(q.headers));
  });
  // a head that never ends would be closed after clientIdle without an answer: 3 s, not 60
  const r = await routerOn(t, up, { timeouts: { clientIdle: 3000 } });
  const cases: [string, string][] = [
    ['bare LF', 'GET /lf HTTP/1.1\nHost: x\n\n'],
    ['bare LF', 'GET /lf HTTP/1.1\r\nHost: x\r\nX-A: b\n\n'],
    ['bad header name', 'GET /n HTTP/1.1\r\nHost: x\r\nX Y: z\r\n\r\n'],
    ['bad header value', 'GET /v HTTP/1.1\r\nHost: x\r\nX-A: v\u0000w\r\n\r\n'],
    ['bad Host header', 'GET /h HTTP/1.1\r\nHost: x status=999 dyno=web.9\r\n\r\n'],
    ['method too long', `${'M'.repeat(128)} / HTTP/1.1\r\nHost: x\r\n\r\n`],
  ];
  for (const [cause, raw] of cases) {
    const text = await rawExchange(r.port, raw);
    t.match(text, /^HTTP\/1\.1 400 [^]*<code>H26<\/code>/, `${cause}: ${JSON.stringify(raw.slice(0, 40))}`);
    const line = await r.nextLine();
    t.match(line, new RegExp(`code=H26 .*cause="${cause}".* status=400`), `logged: ${cause}`);
    t.notMatch(line, /status=999/, 'no field of the line comes from the Host');
    t.match(line, / request_id=[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12} /, 'with a request id of its own');
  }
  t.equal(requests, 0, 'none reached the dyno');
  // served by the plane, hop-by-hop as vegur: no Proxy-Authorization, no Trailer
  const ok = await rawExchange(r.port, 'GET /pa HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic eA==\r\nTrailer: X-T\r\nX-Keep: 1\r\nConnection: close\r\n\r\n');
  t.match(ok, /^HTTP\/1\.1 200 /);
  const seen = JSON.parse(ok.slice(ok.indexOf('\r\n\r\n') + 4)) as Record<string, string>;
  t.equal(seen['x-keep'], '1');
  t.notOk('proxy-authorization' in seen || 'trailer' in seen, 'Proxy-Authorization and Trailer dropped');
  t.equal(r.router.stats().nativeRequests, 1, 'that one by the native plane');
});

t.test('a chunk extension or trailer with a bare LF never reaches a dyno whole: no request smuggled behind it, in both planes', async (t) => {
  // what a dyno that ends chunk lines at LF would read as a second request, with forged headers
  const inner = 'GET /admin HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n';
  const hidden = `0\r\n\r\n${inner}`;
  const bodies = [`${hidden.length.toString(16)};\n${'Z'.repeat(hidden.length)}\r\n${hidden}\r\n0\r\n\r\n`, `5\r\nhello\r\n0\r\nX-T: a\n${inner}\r\n\r\n`];
  for (const plane of ['native', 'js'] as const) {
    let seen = '';
    const up = await rawUpstream((s) => s.on('data', (d: Buffer) => (seen += d.toString('latin1'))));
    const r = await routerOn(t, up, { plane });
    for (const body of bodies) {
      const text = await rawExchange(r.port, `POST /first HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
      t.notMatch(text, /^HTTP\/1\.1 200/, `${plane}: not answered as a request served`);
    }
    await sleep(200);
    t.notMatch(seen, /GET \/admin/, `${plane}: the hidden request never reached the dyno`);
  }
});

t.test('a request with both Content-Length and Transfer-Encoding: answered by its chunks, then the connection closes; nothing pipelined behind it is served', async (t) => {
  let seen = '';
  const up = await httpUpstream((q, r) => {
    seen += `${q.method} ${q.url};`;
    q.resume();
    q.on('end', () => r.end('ok'));
  });
  const r = await routerOn(t, up);
  const text = await rawExchange(r.port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smug HTTP/1.1\r\nHost: a\r\n\r\n');
  t.match(text, /^HTTP\/1\.1 200 [^]*Connection: close\r\n[^]*ok$/, 'one answer, Connection: close, then the end');
  t.equal(text.split('HTTP/1.1').length, 2, 'no second response');
  t.equal(seen, 'POST /;', 'GET /smug never reached the dyno');
});

t.test('a response header a client could split differently (NUL, a lone CR, a name with a blank) is H17, in both planes', async (t) => {
  for (const [bad, cause] of [['X-A: a\u0000b', 'bad header value'], ['X-A: a\rb', 'bad header value'], ['X A: b', 'bad header name']] as const) {
    const up = await rawUpstream((s) => s.once('data', () => s.write(`HTTP/1.1 200 OK\r\n${bad}\r\nContent-Length: 2\r\n\r\nok`)));
    for (const plane of ['native', 'js'] as const) {
      const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]), { plane });
      const res = await get(r.port, '/h');
      t.equal(res.status, 503, `${plane}: ${JSON.stringify(bad)}`);
      t.match((await r.waitLines(1))[0]!, new RegExp(`code=H17 .*cause="${cause}"`));
      await r.close();
    }
    await up.close();
  }
});

t.test('a chunked response broken in its first read: the client gets the H17 page, not an empty reply', async (t) => {
  const up = await rawUpstream((s) => s.once('data', () => s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n')));
  const r = await routerOn(t, up);
  const text = await rawExchange(r.port, 'GET /chunkbad HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  t.match(text, /^HTTP\/1\.1 503 [^]*<code>H17<\/code>/);
  const f = lineFields(await r.nextLine());
  t.same([f.code, f.status, f.cause], ['H17', '503', 'bad chunked response body']);
  t.equal(f.bytes, '0', 'bytes= as for every error page: the 200 head that never went out is not counted');
  t.equal(r.router.stats().nativeRequests, 1);
});

t.test('a response head in bare LF lines is H17 at once, not H18 or H12 later', async (t) => {
  // the dyno answers in LF lines and keeps the connection open
  const up = await rawUpstream((s) => s.once('data', () => s.write('HTTP/1.1 200 OK\nContent-Length: 2\n\nok')));
  const r = await routerOn(t, up, { timeouts: { firstByte: 10_000 } });
  const res = await get(r.port, '/lf');
  t.equal(res.status, 503);
  t.match(res.body, /H17/);
  t.match((await r.waitLines(1))[0]!, /code=H17 .*cause="bare LF"/);
  t.equal(r.router.stats().nativeRequests, 1, 'the native plane answered it');
});

t.test('a port another router listens on is refused (EADDRINUSE), not shared through SO_REUSEPORT', async (t) => {
  const up = await echoUpstream();
  const a = await routerOn(t, up);
  const b = startRouter(new TestSource([tcpBackend('web.1', up.port)]), { listen: [{ port: a.port, host: '127.0.0.1' }], planeThreads: 2 });
  await t.rejects(b, /listen on 127\.0\.0\.1:\d+ \(http\): bind: EADDRINUSE/);
  for (let i = 0; i < 4; i++) t.equal((await get(a.port, '/still')).status, 200, 'the first router keeps its port');
  t.equal(a.router.stats().nativeRequests, 4, 'and every request');
});

t.test('a backend without a target is reached through JavaScript only', async (t) => {
  const up = await echoUpstream();
  const tb = tcpBackend('web.1', up.port);
  const b: Backend = { name: tb.name, connect: () => tb.connect() };
  const r = await startRouter(new TestSource([b]));
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  t.equal((await get(r.port, '/')).status, 200);
  t.equal(r.router.stats().nativeRequests, 0);
  t.equal(tb.connects, 1);
});

t.test('draining: a drained dyno gets no new request from the plane', async (t) => {
  const up1 = await httpUpstream((_q, r) => r.end('web.1'));
  const up2 = await httpUpstream((_q, r) => r.end('web.2'));
  const r = await startRouter(new TestSource([tcpBackend('web.1', up1.port), tcpBackend('web.2', up2.port)]));
  t.teardown(async () => {
    await r.close();
    await up1.close();
    await up2.close();
  });
  r.router.drain('web.1');
  const bodies = await Promise.all(Array.from({ length: 20 }, () => get(r.port, '/')));
  t.same([...new Set(bodies.map((x) => x.body))], ['web.2']);
  t.equal(r.router.stats().nativeRequests, 20);
});

t.test('H12 and H13 from the plane: the error page, the line, the client connection kept', async (t) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const { r, lines } = await h12ThenH13(t, {}, (router, p) => get(router.port, p, {}, agent));
  t.same(lines.map((l) => [l.code, l.status, l.dyno]), [['H12', '503', 'web.1'], ['H13', '503', 'web.1']]);
  t.equal(r.router.stats().connections, 1, 'the client connection stayed open across both');
});

t.test('close(): the plane\'s threads end and every fd it held is closed', async (t) => {
  // fd number and what it is: the plane must leave none that was not there before
  const fds = openFds;
  const threads = () => fs.readdirSync('/proc/self/task').length;
  const up = await echoUpstream();
  t.teardown(() => up.close());
  const fd0 = fds();
  const th0 = threads();
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]), { planeThreads: 2 });
  t.equal(threads(), th0 + 2, 'two plane threads');
  const agent = new http.Agent({ keepAlive: true });
  for (let i = 0; i < 5; i++) await get(r.port, '/', {}, agent);
  const idle = await connectTo(r.port); // a client connection with no request
  await r.close();
  agent.destroy();
  idle.destroy();
  await sleep(50);
  t.equal(threads(), th0, 'threads joined');
  const left = [...fds()].filter((f) => !fd0.has(f) && !f.endsWith('(closed)'));
  t.same(left, [], 'no fd left: listeners, client and dyno connections, eventfds, epoll');
});

t.test('a long-lived plane: connections that come and go leave nothing behind', async (t) => {
  const up = await httpUpstream((_q, r) => r.end('ok'));
  const r = await routerOn(t, up, { planeThreads: 2 });
  const fdCount = () => fs.readdirSync('/proc/self/fd').length;
  const round = async () => {
    // 200 client connections, one request each, 8 at a time
    for (let i = 0; i < 25; i++) await Promise.all(Array.from({ length: 8 }, () => get(r.port, '/')));
  };
  const fds: number[] = [];
  for (let i = 0; i < 3; i++) {
    await round();
    await sleep(50);
    fds.push(fdCount());
  }
  const st = r.router.stats();
  t.equal(st.nativeRequests, 600, 'all natively');
  t.equal(st.connections, 0, 'no client connection held');
  // a leak per connection would be 200 a round; the pools fill up to the concurrency (8 per thread)
  t.ok(fds[2]! - fds[1]! < 20, `fds after each 200 connections: ${fds.join(', ')}`);
  t.ok(st.backends[0]!.idleConnections <= 16, `pooled connections ${st.backends[0]!.idleConnections}: at most the concurrency per thread`);
});

t.test('responses as the JavaScript router passes them: headers the dyno\'s Connection names dropped, a 100 Continue nobody asked for passed on (RFC 9110 §15.2)', async (t) => {
  const up = await rawUpstream((s) =>
    s.on('data', () => {
      s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nConnection: X-Secret\r\nX-Secret: 1\r\nX-Kept: 2\r\nContent-Length: 2\r\n\r\nok');
    }),
  );
  const r = await routerOn(t, up);
  const text = await rawExchange(r.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.match(text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/, 'the 100 Continue first, then the answer');
  const js = await routerOn(t, await rawUpstream((s) => s.on('data', () => s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'))), { plane: 'js' });
  t.match(await rawExchange(js.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/, 'the JavaScript plane alike');
  t.match(await rawExchange(js.port, 'GET / HTTP/1.0\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 200 OK\r\n/, 'but no 1xx to an HTTP/1.0 client');
  t.match(text, /\r\nX-Kept: 2\r\n/);
  t.notMatch(text, /X-Secret/i, 'the header Connection named is dropped');
  t.equal(r.router.stats().nativeRequests, 1);
});

t.test('a client that sends half a request and stops is closed after clientIdle', async (t) => {
  const up = await httpUpstream((_q, res) => res.end('ok'));
  const r = await routerOn(t, up, { timeouts: { clientIdle: 300 } });
  const s = await connectTo(r.port);
  const t0 = Date.now();
  s.write('GET / HTTP/1.1\r\nHost: x\r\n');
  const text = await readUntil(s);
  const waited = Date.now() - t0;
  t.equal(text, '', 'closed without an answer');
  t.ok(waited >= 250 && waited < 3000, `closed after ${waited} ms`);
});

t.test('requests waiting for room are served in order: the plane does not overtake JavaScript\'s queue', async (t) => {
  const held: (() => void)[] = [];
  const order: string[] = [];
  const up = await httpUpstream((q, res) => {
    order.push(q.url!);
    held.push(() => res.end(`done ${q.url}`));
  });
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]), { maxInFlightPerDyno: 1, backlogPerDyno: 5 });
  t.teardown(async () => {
    for (const h of held) h();
    await r.close();
    await up.close();
  });
  const a = get(r.port, '/a');
  while (held.length < 1) await sleep(5);
  const b = get(r.port, '/b');
  while (r.router.stats().waiting < 1) await sleep(5);
  const c = get(r.port, '/c');
  while (r.router.stats().waiting < 2) await sleep(5);
  for (let i = 0; i < 3; i++) {
    while (held.length === 0) await sleep(5);
    held.shift()!();
  }
  t.same((await Promise.all([a, b, c])).map((x) => x.body), ['done /a', 'done /b', 'done /c']);
  t.same(order, ['/a', '/b', '/c'], 'the dyno got them in the order they came');
  t.equal(r.router.stats().nativeRequests, 1, 'only the first by the plane: the others queued in JavaScript');
});
