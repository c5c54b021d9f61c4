import t from 'tap';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import { TestSource, connectTo, eventually, get, hangingBackend, httpUpstream, lineFields, rawUpstream, readUntil, request, sleep, startRouter, tcpBackend } from '../helpers/router';

// ============================================================================
// Connections to dynos: pooled and kept alive, the stale-connection retry (the
// lesson of Router 2.0), draining, idle limits, and nothing left after close().

const OK = (body: string) => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

/**
 * An app that answers the first request on each connection and, on a later one,
 * closes the connection without a word: the dyno closing an idle keep-alive
 * connection just as the router reuses it.
 */
async function firstOnlyUpstream() {
  const seen: string[] = [];
  const up = await rawUpstream((s, n) => {
    let requests = 0;
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
      if (buf.length < end + 4 + len) return;
      const body = buf.slice(end + 4, end + 4 + len);
      const line = buf.slice(0, buf.indexOf('\r\n'));
      buf = buf.slice(end + 4 + len);
      requests++;
      seen.push(`conn ${n} #${requests} ${line} ${body}`);
      if (requests === 1) s.write(OK(`conn ${n}: ${line} ${body}`));
      else s.destroy();
    });
  });
  return { up, seen };
}

/**
 * An app that answers the first request on each connection and resets it soon after,
 * never acting on a request the router sends on it meanwhile: the keep-alive race as
 * the router sees it when the dyno closes a connection with its bytes unread.
 */
async function closesIdleUpstream() {
  const seen: string[] = [];
  const up = await rawUpstream((s, n) => {
    s.once('data', (d: Buffer) => {
      const text = d.toString('latin1');
      const line = text.slice(0, text.indexOf('\r\n'));
      seen.push(`conn ${n} ${line} ${text.slice(text.indexOf('\r\n\r\n') + 4)}`);
      s.write(OK(`conn ${n}: ${line}`));
      // what a dyno's kernel sends when it closes with bytes unread: a reset
      setTimeout(() => s.resetAndDestroy(), 150);
    });
  });
  return { up, seen };
}

for (const plane of ['native', 'js'] as const) {
  t.test(`${plane}: a reused connection the dyno closed unread: the request goes again, once, on a fresh one (GET and a small POST)`, async (t) => {
    const { up, seen } = await closesIdleUpstream();
    const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]), { plane });
    t.teardown(async () => {
      await r.close();
      await up.close();
    });
    const a = await get(r.port, '/a');
    // sent while the dyno still holds the connection open, unread
    const c = await request(r.port, { method: 'POST', path: '/c', headers: { 'Content-Length': 5 }, body: 'hello' });
    t.same([a.status, a.body], [200, 'conn 1: GET /a HTTP/1.1']);
    t.same([c.status, c.body], [200, 'conn 2: POST /c HTTP/1.1'], 'answered on a fresh connection');
    t.same(seen, ['conn 1 GET /a HTTP/1.1 ', 'conn 2 POST /c HTTP/1.1 hello'], 'each ran once, the body replayed intact');
    t.same((await r.waitLines(2)).map((l) => [lineFields(l).at, lineFields(l).status]), [['info', '200'], ['info', '200']], 'no H13/H18 for the client');
  });

  t.test(`${plane}: a request the dyno read on a reused connection and closed on goes again only if its method is idempotent (RFC 9112 §9.3.1)`, async (t) => {
    const { up, seen } = await firstOnlyUpstream();
    const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]), { plane });
    t.teardown(async () => {
      await r.close();
      await up.close();
    });
    t.equal((await get(r.port, '/a')).status, 200);
    const b = await get(r.port, '/b');
    t.same([b.status, b.body], [200, 'conn 2: GET /b HTTP/1.1 '], 'a GET goes again');
    const c = await request(r.port, { method: 'POST', path: '/c', headers: { 'Content-Length': 5 }, body: 'hello' });
    t.equal(c.status, 503, 'a POST the dyno may have acted on is not sent twice');
    t.same(seen, ['conn 1 #1 GET /a HTTP/1.1 ', 'conn 1 #2 GET /b HTTP/1.1 ', 'conn 2 #1 GET /b HTTP/1.1 ', 'conn 2 #2 POST /c HTTP/1.1 hello'], 'the POST ran once');
    t.same((await r.waitLines(3)).map((l) => lineFields(l).code ?? lineFields(l).status), ['200', '200', 'H13']);
  });
}

t.test('the retry is once: a fresh connection that also closes is H13', async (t) => {
  let answered = false;
  const up = await rawUpstream((s) =>
    s.on('data', () => {
      if (!answered) {
        answered = true;
        s.write(OK('first'));
      } else {
        s.destroy();
      }
    }),
  );
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]));
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  t.equal((await get(r.port, '/')).status, 200);
  const res = await get(r.port, '/');
  t.equal(res.status, 503);
  t.equal(lineFields((await r.waitLines(2))[1]!).code, 'H13');
  t.equal(up.connections, 2, 'the reused one, then one fresh one');
});

t.test('a body too long to replay (or chunked) never goes on a reused connection', async (t) => {
  const conns: number[] = [];
  const up = await httpUpstream((q, r) => {
    conns.push((q.socket as net.Socket).remotePort ?? 0);
    q.resume();
    q.on('end', () => r.end('ok'));
  });
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]));
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  await get(r.port, '/warm');
  t.equal(r.router.stats().backends[0]!.idleConnections, 1);
  await request(r.port, { method: 'POST', path: '/big', headers: { 'Content-Length': 100_000 }, body: Buffer.alloc(100_000) });
  await request(r.port, { method: 'POST', path: '/chunked', headers: { 'Transfer-Encoding': 'chunked' }, body: 'x' });
  await request(r.port, { method: 'POST', path: '/small', headers: { 'Content-Length': 1000 }, body: Buffer.alloc(1000) });
  t.equal(up.connections, 3, 'big and chunked opened their own; small reused one');
  t.equal(new Set(conns).size, 3);
  t.ok(conns.slice(0, 3).includes(conns[3]!), 'the small one went on a pooled connection');
});

t.test('idle pooled connections: closed by the router after poolIdle, forgotten when the dyno closes them', async (t) => {
  const up = await httpUpstream((_q, r) => r.end('ok'));
  up.server.keepAliveTimeout = 60_000;
  const closedAt: number[] = [];
  up.server.on('connection', (s: net.Socket) => s.on('close', () => closedAt.push(Date.now())));
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]), { timeouts: { poolIdle: 150 } });
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const t0 = Date.now();
  await get(r.port, '/');
  t.equal(r.router.stats().backends[0]!.idleConnections, 1);
  while (closedAt.length === 0) await sleep(10);
  t.ok(closedAt[0]! - t0 >= 140, `closed by the router after ${closedAt[0]! - t0} ms idle`);
  t.equal(r.router.stats().backends[0]!.idleConnections, 0);
  // the dyno's own keep-alive timeout: its close takes the connection out of the pool
  up.server.keepAliveTimeout = 50;
  await get(r.port, '/');
  while (closedAt.length === 1) await sleep(10);
  t.ok(await eventually(() => r.router.stats().backends[0]!.idleConnections === 0), 'noticed and dropped');
  t.equal((await get(r.port, '/')).status, 200, 'the next request gets a fresh one');
});

t.test('draining: a dyno sent SIGTERM gets no new request; its request in flight finishes', async (t) => {
  const release: (() => void)[] = [];
  const up1 = await httpUpstream((q, r) => {
    if (q.url === '/slow') release.push(() => r.end('slow done on web.1'));
    else r.end('web.1');
  });
  const up2 = await httpUpstream((_q, r) => r.end('web.2'));
  const w1 = tcpBackend('web.1', up1.port);
  const w2 = tcpBackend('web.2', up2.port);
  const src = new TestSource([w1, w2]);
  const r = await startRouter(src, { random: () => 0 });
  t.teardown(async () => {
    await r.close();
    await up1.close();
    await up2.close();
  });
  t.equal((await get(r.port, '/warm')).body, 'web.1', 'the first random choice is web.1');
  const slow = get(r.port, '/slow');
  while (release.length === 0) await sleep(5);
  // the formation sends SIGTERM: the source stops listing it
  src.set({ list: [w2] });
  const after = await Promise.all(Array.from({ length: 10 }, () => get(r.port, '/')));
  t.same(after.map((x) => x.body), Array(10).fill('web.2'));
  release.shift()!();
  const s = await slow;
  t.same([s.status, s.body], [200, 'slow done on web.1'], 'the request in flight finished');
  t.equal(lineFields((await r.waitLines(12)).find((l) => lineFields(l).path === '/slow')!).dyno, 'web.1');
  t.same(r.router.stats().backends.map((b) => b.name), ['web.2'], 'web.1 is out of the router\'s list');
  t.ok(await eventually(() => up1.open === 0), 'web.1\'s pooled connections closed once its request finished');
  // drain(name): the same through the router, for a dyno the source still lists
  src.set({ list: [w1, w2] });
  t.equal((await get(r.port, '/')).body, 'web.1');
  r.router.drain('web.1');
  const drained = await Promise.all(Array.from({ length: 10 }, () => get(r.port, '/')));
  t.same(drained.map((x) => x.body), Array(10).fill('web.2'));
  // a new dyno of the same name (the restart's replacement) gets requests again
  src.set({ list: [tcpBackend('web.1', up1.port), w2] });
  t.equal((await get(r.port, '/')).body, 'web.1');
});

t.test('rolling replacement under load: no request fails while dynos come and go one by one', async (t) => {
  const up = await httpUpstream((_q, r) => setTimeout(() => r.end('ok'), 2));
  const src = new TestSource([tcpBackend('web.1', up.port), tcpBackend('web.2', up.port)]);
  const r = await startRouter(src);
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  t.teardown(() => agent.destroy());
  let stop = false;
  const statuses: number[] = [];
  const load = Array.from({ length: 8 }, async () => {
    while (!stop) statuses.push((await get(r.port, '/', {}, agent)).status);
  });
  // a replacement after every 25 answers: six of them, each with requests in flight
  for (let i = 0; i < 6; i++) {
    const at = statuses.length;
    await eventually(() => statuses.length >= at + 25, 30_000);
    // preboot: the new web.N is up before the old one leaves the list
    const name = `web.${(i % 2) + 1}`;
    const others = src.list.filter((b) => b.name !== name);
    src.set({ list: [...others, tcpBackend(name, up.port)] });
  }
  const at = statuses.length;
  await eventually(() => statuses.length >= at + 25, 30_000);
  stop = true;
  await Promise.all(load);
  t.ok(statuses.length >= 175, `${statuses.length} requests`);
  t.same([...new Set(statuses)], [200], 'every one answered 200');
  t.same((await r.waitLines(statuses.length)).filter((l) => lineFields(l).status !== '200'), [], 'no error line');
});

t.test('close() leaves nothing: no fd, no timer, no socket, even with requests waiting and connects pending', async (t) => {
  const fds = () => fs.readdirSync('/proc/self/fd').length;
  const resources = () => process.getActiveResourcesInfo().filter((x) => x !== 'TTYWrap').sort().join(',');
  await sleep(10);
  const fd0 = fds();
  const res0 = resources();
  const up = await httpUpstream((q, r) => (q.url === '/hold' ? undefined : r.end('ok')));
  const tunnelUp = await rawUpstream((s) => s.once('data', () => s.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n')));
  const hang = hangingBackend('web.3');
  const src = new TestSource([tcpBackend('web.1', up.port)]);
  const r = await startRouter(src);
  await get(r.port, '/');
  const held = connectTo(r.port).then((s) => {
    s.on('error', () => {});
    s.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
    return s;
  });
  const h = await held;
  // a tunnel, a request waiting for a boot, one waiting for a connect that never comes
  src.set({ list: [tcpBackend('web.2', tunnelUp.port)] });
  const tun = await connectTo(r.port);
  const tunHead = readUntil(tun, (x) => x.includes('\r\n\r\n'));
  tun.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: raw\r\n\r\n');
  await tunHead;
  src.set({ list: [hang] });
  const pending = get(r.port, '/').catch(() => null);
  while (hang.pending === 0) await sleep(5);
  src.set({ list: [], booting: true });
  const booting = get(r.port, '/').catch(() => null);
  while (r.router.stats().waiting === 0) await sleep(5);
  t.ok(fds() > fd0, 'sockets open while it runs');
  await r.close();
  await Promise.all([pending, booting]);
  h.destroy();
  tun.destroy();
  hang.release();
  await up.close();
  await tunnelUp.close();
  await eventually(() => fds() === fd0 && resources() === res0);
  t.equal(src.listeners, 0, 'unsubscribed from the source');
  t.equal(fds(), fd0, `no fd left: ${fs.readdirSync('/proc/self/fd').map((f) => { try { return fs.readlinkSync(`/proc/self/fd/${f}`); } catch { return '?'; } }).join(' ')}`);
  t.equal(resources(), res0, `no handle or timer left: ${resources()} vs ${res0}`);
  const st = r.router.stats();
  t.same(st, { connections: 0, requests: st.requests, nativeRequests: st.nativeRequests, waiting: 0, tunnels: 0, backends: [] });
});
