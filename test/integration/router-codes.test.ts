import t, { type Test } from 'tap';
import * as net from 'node:net';
import {
  LINE_RE,
  TestSource,
  connectTo,
  get,
  hangingBackend,
  httpUpstream,
  lineFields,
  rawExchange,
  rawUpstream,
  readUntil,
  eventually,
  sleep,
  startRouter,
  tcpBackend,
} from '../helpers/router';

// ============================================================================
// Heroku's router codes, each produced by a purpose-built misbehaving upstream
// (or formation state), checked in the status, the error page and the router
// line. Time-based codes run with short timeouts.

const SHORT = { connect: 150, firstByte: 200, idle: 200, boot: 200, quarantine: 5_000 };

/** a port with nothing listening on it */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function expectLine(t: Test, line: string, want: Record<string, string | RegExp>): void {
  t.match(line, LINE_RE, line);
  const f = lineFields(line);
  for (const [k, v] of Object.entries(want)) {
    if (typeof v === 'string') t.equal(f[k], v, `${k}=${v}`);
    else t.match(f[k], v, `${k} ${v}`);
  }
}

const NO_DYNO = { dyno: '', connect: '', service: '', bytes: '' };

t.test('H14: no web dynos; H10: all crashed; the page names the code', async (t) => {
  const src = new TestSource([]);
  const r = await startRouter(src);
  t.teardown(() => r.close());
  const res = await get(r.port, '/x');
  t.equal(res.status, 503);
  t.match(res.body, /<code>H14<\/code> No web processes running/);
  expectLine(t, (await r.waitLines(1))[0]!, { at: 'error', code: 'H14', desc: 'No web processes running', status: '503', path: '/x', ...NO_DYNO });
  src.set({ crashed: true });
  const crashed = await get(r.port, '/');
  t.equal(crashed.status, 503);
  t.match(crashed.body, /<code>H10<\/code> App crashed/);
  expectLine(t, (await r.waitLines(2))[1]!, { at: 'error', code: 'H10', desc: 'App crashed', status: '503', ...NO_DYNO });
  while (r.router.stats().connections > 0) await sleep(5);
  t.pass('the client closed its connections: nothing held');
});

t.test('H20: a request waits for a booting dyno, up to the boot timeout; one that comes up in time serves it', async (t) => {
  const up = await httpUpstream((_q, r) => r.end('booted'));
  const src = new TestSource([]);
  src.isBooting = true;
  const r = await startRouter(src, { timeouts: SHORT });
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const t0 = Date.now();
  const late = await get(r.port, '/');
  t.equal(late.status, 503);
  t.ok(Date.now() - t0 >= 190, 'waited the boot timeout');
  expectLine(t, (await r.waitLines(1))[0]!, { at: 'error', code: 'H20', desc: 'App boot timeout', status: '503', ...NO_DYNO });
  const waiting = get(r.port, '/');
  t.ok(await eventually(() => r.router.stats().waiting === 1), 'one request waits');
  src.set({ list: [tcpBackend('web.1', up.port)], booting: false });
  const served = await waiting;
  t.same([served.status, served.body], [200, 'booted']);
  expectLine(t, (await r.waitLines(2))[1]!, { at: 'info', status: '200', dyno: 'web.1' });
});

t.test('H11: 50 in flight per dyno (here 2), a backlog of 50 × dynos (here 1 × 1); the queued one is served later', async (t) => {
  const held: (() => void)[] = [];
  const up = await httpUpstream((q, r) => held.push(() => r.end(`done ${q.url}`)));
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]), { maxInFlightPerDyno: 2, backlogPerDyno: 1 });
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const a = get(r.port, '/a');
  const b = get(r.port, '/b');
  while (held.length < 2) await sleep(5);
  const c = get(r.port, '/c');
  while (r.router.stats().waiting < 1) await sleep(5);
  const d = await get(r.port, '/d');
  t.equal(d.status, 503);
  t.match(d.body, /H11/);
  expectLine(t, (await r.waitLines(1))[0]!, { at: 'error', code: 'H11', desc: 'Backlog too deep', path: '/d', status: '503', ...NO_DYNO });
  held.shift()!();
  while (held.length < 2) await sleep(5);
  for (const h of held.splice(0)) h();
  const got = await Promise.all([a, b, c]);
  t.same(got.map((x) => x.body).sort(), ['done /a', 'done /b', 'done /c']);
});

t.test('H12 counts the time in the backlog: a request queued behind a hung one gets its 503 at its own deadline', async (t) => {
  const urls: string[] = [];
  const up = await httpUpstream((q) => urls.push(q.url!)); // never answers
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]), { maxInFlightPerDyno: 1, backlogPerDyno: 5, timeouts: { firstByte: 2000 } });
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const t0 = performance.now();
  const a = get(r.port, '/a');
  while (urls.length < 1) await sleep(5);
  await sleep(500);
  // /b waits 1.5 s in the backlog, then goes to the dyno when /a's H12 frees its place
  const b = get(r.port, '/b');
  const [ra, rb] = await Promise.all([a, b]);
  const took = performance.now() - t0;
  t.same([ra.status, rb.status], [503, 503]);
  t.match(rb.body, /H12/);
  t.same(urls, ['/a', '/b']);
  // its 2 s end 2.5 s after /a came; without the backlog counted they began at the dyno, at 2 s
  t.ok(took < 3500, `/b answered by its own deadline (${Math.round(took)} ms after /a, not ~4000)`);
});

t.test('H12: no response within the first-byte timeout; the dyno\'s connection is closed, the client\'s kept', async (t) => {
  let closedByRouter = false;
  const up = await rawUpstream((s) => {
    s.on('data', () => {});
    s.on('close', () => (closedByRouter = true));
  });
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]), { timeouts: SHORT });
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const s = await connectTo(r.port);
  const out = readUntil(s, (x) => x.includes('</html>'));
  s.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
  const text = await out;
  t.match(text, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  t.notMatch(text, /Connection: close/, 'the client may go on');
  t.match(text, /<code>H12<\/code> Request timeout/);
  const f = lineFields((await r.waitLines(1))[0]!);
  expectLine(t, (await r.waitLines(1))[0]!, { at: 'error', code: 'H12', desc: 'Request timeout', dyno: 'web.1', status: '503', bytes: '0' });
  t.ok(Number(f.service!.replace('ms', '')) >= 200, `service=${f.service}`);
  t.ok(await eventually(() => closedByRouter), 'the dyno\'s connection was closed (the app keeps running)');
  t.notOk(s.destroyed, 'the client\'s connection stays');
  s.destroy();
});

t.test('H13: the dyno closes the connection without a response', async (t) => {
  const up = await rawUpstream((s) => s.once('data', () => s.destroy()));
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]));
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const res = await get(r.port, '/');
  t.equal(res.status, 503);
  t.match(res.body, /<code>H13<\/code> Connection closed without response/);
  expectLine(t, (await r.waitLines(1))[0]!, { at: 'error', code: 'H13', desc: 'Connection closed without response', dyno: 'web.1', status: '503', bytes: '0' });
  t.equal(up.connections, 1, 'a fresh connection: not retried');
});

t.test('H15: the dyno goes silent mid-response; the client\'s connection is cut', async (t) => {
  const up = await rawUpstream((s) =>
    s.once('data', () => s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part')),
  );
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]), { timeouts: SHORT });
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const text = await rawExchange(r.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  t.ok(text.endsWith('\r\n\r\nonly part'), 'what came, then the close');
  expectLine(t, (await r.waitLines(1))[0]!, { at: 'error', code: 'H15', desc: 'Idle connection', dyno: 'web.1', status: '503' });
});

t.test('H18: the dyno closes mid-response (sock=backend), or before it read the whole body', async (t) => {
  const up = await rawUpstream((s) =>
    s.once('data', (d: Buffer) => {
      if (d.toString().startsWith('GET')) s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
      else s.destroy();
    }),
  );
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]));
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const text = await rawExchange(r.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  t.ok(text.endsWith('\r\n\r\npartial'));
  expectLine(t, (await r.waitLines(1))[0]!, { at: 'error', code: 'H18', desc: 'Server Request Interrupted', dyno: 'web.1', status: '503', sock: 'backend' });
  // a body of 1 MB the dyno does not read: cut while the router sends it
  const s = await connectTo(r.port);
  const out = readUntil(s, (x) => x.includes('</html>'));
  s.write(`POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: ${1 << 20}\r\n\r\n`);
  s.write(Buffer.alloc(1000, 'x'));
  const page = await out;
  s.destroy();
  t.match(page, /^HTTP\/1\.1 503 /);
  t.match(page, /<code>H18<\/code>/);
  expectLine(t, (await r.waitLines(2))[1]!, { code: 'H18', path: '/up', sock: 'backend', status: '503' });
});

t.test('H19: connect timeout; the dyno is quarantined and the request goes to another', async (t) => {
  const up = await httpUpstream((_q, r) => r.end('from web.2'));
  const hang = hangingBackend('web.1');
  t.teardown(() => hang.release());
  const src = new TestSource([hang]);
  const r = await startRouter(src, { timeouts: SHORT });
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const res = await get(r.port, '/');
  t.equal(res.status, 503);
  t.match(res.body, /H19/);
  expectLine(t, (await r.waitLines(1))[0]!, { at: 'error', code: 'H19', desc: 'Backend connection timeout', dyno: 'web.1', connect: /^1[5-9]\dms$|^[2-9]\d\dms$/, service: '', status: '503' });
  t.same(r.router.stats().backends.map((b) => b.quarantined), [true]);
  // quarantined: the next request does not try it again
  t.equal(hang.pending, 1);
  const again = await get(r.port, '/');
  t.equal(again.status, 503);
  t.equal(hang.pending, 1, 'no second connect');
  expectLine(t, (await r.waitLines(2))[1]!, { code: 'H19', ...NO_DYNO });
  // with a good dyno beside it, the request is retried there
  const good = tcpBackend('web.2', up.port);
  src.set({ list: [hangingBackend('web.3'), good] });
  const results = await Promise.all([get(r.port, '/'), get(r.port, '/'), get(r.port, '/'), get(r.port, '/')]);
  t.same(results.map((x) => x.body), Array(4).fill('from web.2'));
  for (const l of (await r.waitLines(6)).slice(2)) expectLine(t, l, { at: 'info', dyno: 'web.2', status: '200' });
});

t.test('H21: connection refused; with another dyno the request goes there', async (t) => {
  const up = await httpUpstream((_q, r) => r.end('ok'));
  const dead = await deadPort();
  const src = new TestSource([tcpBackend('web.1', dead)]);
  // the first random choice is the first dyno: web.1 is tried first, then web.2
  const r = await startRouter(src, { random: () => 0 });
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const res = await get(r.port, '/');
  t.equal(res.status, 503);
  t.match(res.body, /<code>H21<\/code> Backend connection refused/);
  expectLine(t, (await r.waitLines(1))[0]!, { at: 'error', code: 'H21', desc: 'Backend connection refused', dyno: 'web.1', connect: /^\d+ms$/, service: '', status: '503', bytes: '' });
  src.set({ list: [tcpBackend('web.1', await deadPort()), tcpBackend('web.2', up.port)] });
  for (let i = 0; i < 5; i++) t.equal((await get(r.port, '/')).status, 200);
  const stats = r.router.stats().backends;
  t.same(stats.map((b) => [b.name, b.quarantined]), [['web.1', true], ['web.2', false]]);
});

t.test('H21 from either plane: the line names the dyno tried and its connect time, as Heroku\'s does; a request while it is quarantined names none', async (t) => {
  for (const plane of ['native', 'js'] as const) {
    const dead = await deadPort();
    const web1 = tcpBackend('web.1', dead);
    const r = await startRouter(new TestSource([web1]), { plane });
    const res = await get(r.port, '/');
    t.equal(res.status, 503, plane);
    expectLine(t, (await r.waitLines(1))[0]!, { at: 'error', code: 'H21', dyno: 'web.1', connect: /^\d+ms$/, service: '', status: '503', bytes: '' });
    // the native plane made the connect (JavaScript did not connect again) and handed the request over
    t.equal(web1.connects, plane === 'native' ? 0 : 1, `${plane}: connects from JavaScript`);
    const again = await get(r.port, '/');
    t.equal(again.status, 503);
    expectLine(t, (await r.waitLines(2))[1]!, { code: 'H21', ...NO_DYNO });
    await r.close();
  }
});

t.test('H27: the client leaves before the response (status 499, sock=client); the dyno\'s connection goes', async (t) => {
  let upClosed = false;
  const up = await rawUpstream((s) => {
    s.on('data', () => {});
    s.on('close', () => (upClosed = true));
  });
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]));
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const s = await connectTo(r.port);
  s.write('GET /gone HTTP/1.1\r\nHost: x\r\n\r\n');
  while (up.connections < 1) await sleep(5);
  s.destroy();
  const line = await r.nextLine();
  expectLine(t, line, { at: 'warning', code: 'H27', desc: 'Client Request Interrupted', path: '/gone', dyno: 'web.1', status: '499', sock: 'client' });
  t.ok(await eventually(() => upClosed), 'the dyno\'s connection was closed');
  t.equal(r.router.stats().backends[0]!.inFlight, 0, 'its slot is free');
});

t.test('H28: the client stops sending its body (status 499)', async (t) => {
  const up = await httpUpstream((q, r) => q.on('end', () => r.end('never')));
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]), { timeouts: SHORT });
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const text = await new Promise<string>((resolve) => {
    void connectTo(r.port).then((s) => {
      const out = readUntil(s);
      s.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
      void out.then(resolve);
    });
  });
  t.equal(text, '', 'the connection is closed, nothing written');
  expectLine(t, (await r.waitLines(1))[0]!, { at: 'warning', code: 'H28', desc: 'Client Connection Idle', status: '499', sock: 'client' });
});

t.test('H17: a response the router cannot read', async (t) => {
  const up = await rawUpstream((s) => s.once('data', () => s.write('HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok')));
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]));
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const res = await get(r.port, '/');
  t.equal(res.status, 503);
  t.match(res.body, /H17/);
  expectLine(t, (await r.waitLines(1))[0]!, { at: 'error', code: 'H17', desc: 'Poorly formatted HTTP response', cause: 'bad status line', dyno: 'web.1', status: '503' });
});

t.test('an error on one request leaves the next on the same connection served', async (t) => {
  let n = 0;
  const up = await rawUpstream((s) =>
    s.on('data', () => {
      n++;
      if (n === 1) s.destroy();
      else s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    }),
  );
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]));
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const s = await connectTo(r.port);
  const out = readUntil(s, (x) => x.endsWith('\r\n\r\nok'));
  s.write('GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n');
  const text = await out;
  s.destroy();
  t.match(text, /^HTTP\/1\.1 503 [\s\S]*HTTP\/1\.1 200 OK/);
  t.same((await r.waitLines(2)).map((l) => lineFields(l).code ?? 'ok'), ['H13', 'ok']);
});
