import t from 'tap';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { selfSignedCertificate } from '../../src/router/index';
import { native } from '../../src/native';
import { TestSource, routerOn, eventually, openFds, httpUpstream, lineFields, samePlaneFields, sleep, startRouter, tcpBackend, h12ThenH13 } from '../helpers/router';

// HTTPS on the native data plane (native/router-plane.cc terminates TLS with Node's
// OpenSSL): what it serves itself matches the JavaScript TLS listener; what it does not
// take whole reaches the JavaScript router through the plane's relay, intact both ways.

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-plane-tls-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const cert = selfSignedCertificate(dir);
const tlsOpts = { tls: { port: 0, host: '127.0.0.1', cert: cert.cert, key: cert.key } };
const tlsPort = (r: { router: { addresses(): { protocol: string; port: number }[] } }) => r.router.addresses().find((a) => a.protocol === 'https')!.port;

/** the large answers' bytes: this chunk over and over */
const PATTERN = Buffer.alloc(64 * 1024, 'dynod-tls ');
const patternSha = (size: number) => {
  const h = crypto.createHash('sha256');
  for (let left = size; left > 0; left -= PATTERN.length) h.update(PATTERN.subarray(0, Math.min(left, PATTERN.length)));
  return h.digest('hex');
};

/** an upstream that answers with what it received (and a sha256 of the body) */
async function echoUpstream() {
  return httpUpstream((q, r) => {
    const h = crypto.createHash('sha256');
    let n = 0;
    q.on('data', (d: Buffer) => {
      n += d.length;
      h.update(d);
    });
    q.on('end', () => {
      if (q.url?.startsWith('/big/')) {
        // a large answer: N bytes of a pattern
        const size = Number(q.url.slice(5));
        const chunk = PATTERN;
        r.writeHead(200, { 'Content-Length': String(size) });
        let left = size;
        const more = () => {
          while (left > 0) {
            const part = chunk.subarray(0, Math.min(left, chunk.length));
            left -= part.length;
            if (!r.write(part)) return void r.once('drain', more);
          }
          r.end();
        };
        return more();
      }
      r.writeHead(200, { 'Content-Type': 'application/json', 'X-App': 'echo' });
      r.end(JSON.stringify({ method: q.method, url: q.url, headers: q.headers, bytes: n, sha: h.digest('hex'), version: q.httpVersion }));
    });
  });
}

/** the dyno accepts an upgrade and echoes every byte after its 101 */
function echoUpgrades(server: import('node:http').Server): void {
  server.on('upgrade', (_q, sock: net.Socket, early: Buffer) => {
    sock.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
    if (early.length) sock.write(early);
    sock.pipe(sock);
  });
}

function httpsGet(port: number, p: string, agent: https.Agent | false, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, unknown>; protocol: string }> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path: p, agent, headers, ca: cert.cert, servername: 'localhost' }, (res) => {
        const parts: Buffer[] = [];
        const protocol = (res.socket as tls.TLSSocket).getProtocol() ?? '';
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('latin1'), headers: res.headers, protocol }));
      })
      .on('error', reject);
  });
}

function tlsConnect(port: number, allowHalfOpen = false): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: cert.cert, servername: 'localhost', allowHalfOpen }, () => resolve(s));
    s.once('error', reject);
  });
}

/** everything a socket sends until it ends, or until done(text) */
function readAll(s: net.Socket, done: (b: Buffer) => boolean = () => false): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    const finish = () => resolve(Buffer.concat(parts));
    s.on('data', (d: Buffer) => {
      parts.push(d);
      if (done(Buffer.concat(parts))) finish();
    });
    s.on('end', finish);
    s.on('close', finish);
    s.on('error', finish);
  });
}

t.test('HTTPS served by the native plane: the same answer, headers and line as the JavaScript TLS listener', async (t) => {
  const up = await echoUpstream();
  const native = await startRouter(new TestSource([tcpBackend('web.1', up.port)]), tlsOpts);
  const js = await startRouter(new TestSource([tcpBackend('web.1', up.port)]), { ...tlsOpts, plane: 'js' });
  const agentN = new https.Agent({ keepAlive: true });
  const agentJ = new https.Agent({ keepAlive: true });
  t.teardown(async () => {
    agentN.destroy();
    agentJ.destroy();
    await native.close();
    await js.close();
    await up.close();
  });
  t.same(native.router.addresses().map((a) => a.protocol), ['http', 'https']);
  const headers = { 'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Proto': 'http', 'X-Forwarded-Port': '1' };
  const a = await httpsGet(tlsPort(native), '/secure?x=1', agentN, headers);
  const b = await httpsGet(tlsPort(js), '/secure?x=1', agentJ, headers);
  const a2 = await httpsGet(tlsPort(native), '/again', agentN);
  t.equal(native.router.stats().nativeRequests, 2, 'the native plane served both');
  t.equal(native.router.stats().connections, 1, 'keep-alive over TLS: one client connection');
  t.match(a.protocol, /^TLSv1\.[23]$/);
  t.equal(a.status, 200);
  t.equal(a2.status, 200);
  const strip = (h: Record<string, unknown>) => Object.fromEntries(Object.entries(h).filter(([k]) => k !== 'date'));
  t.same(strip(a.headers), strip(b.headers), 'the same response headers');
  const sa = JSON.parse(a.body) as { headers: Record<string, string> };
  const sb = JSON.parse(b.body) as { headers: Record<string, string> };
  t.equal(sa.headers['x-forwarded-proto'], 'https', 'X-Forwarded-Proto is the router\'s');
  t.equal(sa.headers['x-forwarded-port'], String(tlsPort(native)), 'X-Forwarded-Port: the TLS port');
  t.equal(sa.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
  const keep = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).filter(([k]) => !['x-request-id', 'x-request-start', 'x-forwarded-port', 'host'].includes(k)));
  t.same(keep(sa.headers), keep(sb.headers), 'the dyno gets the same request headers');
  const la = samePlaneFields((await native.waitLines(1))[0]!);
  const lb = samePlaneFields((await js.waitLines(1))[0]!);
  t.same(la, lb, 'the same router line');
  t.equal(la.protocol, 'https');
});

t.test('over TLS, what the plane does not take whole reaches JavaScript through its relay, intact both ways', async (t) => {
  const up = await echoUpstream();
  echoUpgrades(up.server);
  const r = await routerOn(t, up, tlsOpts);
  const port = tlsPort(r);

  // HTTP/1.0: JavaScript's (keep-alive and framing rules), through the relay
  let s = await tlsConnect(port);
  let got = readAll(s);
  s.write('GET /ten HTTP/1.0\r\nHost: x\r\n\r\n');
  let text = (await got).toString('latin1');
  t.match(text, /^HTTP\/1\.1 200 OK\r\n/, 'HTTP/1.0 answered');
  t.match(text, /"x-forwarded-proto":"https"/);
  t.match(text, /"version":"1\.1"/, 'the dyno speaks HTTP/1.1');
  s.destroy();

  // a chunked upload of 3 MiB: the body arrives whole (its checksum)
  const body = crypto.randomBytes(3 * 1024 * 1024);
  s = await tlsConnect(port);
  got = readAll(s, (b) => b.includes('"sha":"'));
  s.write('POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
  for (let off = 0; off < body.length; off += 100_000) {
    const part = body.subarray(off, off + 100_000);
    s.write(`${part.length.toString(16)}\r\n`);
    s.write(part);
    s.write('\r\n');
  }
  s.write('0\r\n\r\n');
  text = (await got).toString('latin1');
  t.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  t.ok(text.includes(`"sha":"${crypto.createHash('sha256').update(body).digest('hex')}"`), 'the upload arrived intact');
  s.destroy();

  // an upgrade: bytes both ways, then the client's end reaches the dyno's
  s = await tlsConnect(port);
  got = readAll(s, (b) => b.includes('pong-after'));
  s.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
  await eventually(() => true, 10);
  await sleep(50);
  s.write('ping-pong-after');
  text = (await got).toString('latin1');
  t.match(text, /^HTTP\/1\.1 101 Switching Protocols\r\n[\s\S]*\r\n\r\nping-pong-after$/, 'the 101 then the echo');
  s.end();
  await new Promise((res) => s.once('close', res));

  const lines = (await r.waitLines(3)).map(lineFields);
  t.same(lines.map((l) => [l.method, l.status, l.protocol, l.fwd]), [
    ['GET', '200', 'https', '127.0.0.1'],
    ['POST', '200', 'https', '127.0.0.1'],
    ['GET', '101', 'https', '127.0.0.1'],
  ]);
  t.equal(r.router.stats().nativeRequests, 0, 'none of them on the native plane');

  // a large answer to a request the plane takes: written through TLS as the client reads
  const big = 12 * 1024 * 1024;
  const res = await httpsGet(port, `/big/${big}`, false);
  t.equal(res.body.length, big, 'a 12 MiB answer whole');
  t.equal(crypto.createHash('sha256').update(res.body, 'latin1').digest('hex'), patternSha(big), 'its bytes in order');
  t.equal(r.router.stats().nativeRequests, 1);
});

t.test('TLS clients that come and go (served, relayed, cut mid-handshake, not speaking TLS) leave nothing behind; close() neither', async (t) => {
  const fds = openFds;
  const threads = () => fs.readdirSync('/proc/self/task').length;
  const up = await echoUpstream();
  t.teardown(() => up.close());
  const fd0 = fds();
  const th0 = threads();
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]), { ...tlsOpts, planeThreads: 2 });
  const port = tlsPort(r);
  t.equal(threads(), th0 + 2, 'two plane threads');
  const one = async (i: number) => {
    switch (i % 4) {
      case 0:
        return void (await httpsGet(port, '/', false));
      case 1: {
        const s = await tlsConnect(port);
        const got = readAll(s);
        s.write('GET / HTTP/1.0\r\nHost: x\r\n\r\n');
        await got;
        return void s.destroy();
      }
      case 2: {
        // a TCP connection that starts a handshake and goes
        const s = net.connect(port, '127.0.0.1');
        await new Promise((res) => s.once('connect', res));
        s.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]));
        return void s.destroy();
      }
      default: {
        // plain HTTP on the TLS port: the handshake fails, the connection closes
        const s = net.connect(port, '127.0.0.1');
        const got = readAll(s);
        s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
        await got;
        return void s.destroy();
      }
    }
  };
  const counts: number[] = [];
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 80; i += 8) await Promise.all(Array.from({ length: 8 }, (_, k) => one(i + k)));
    await eventually(() => r.router.stats().connections === 0, 3000);
    counts.push(fs.readdirSync('/proc/self/fd').length);
  }
  t.equal(r.router.stats().connections, 0, 'no client connection held, the plane\'s or JavaScript\'s');
  t.ok(counts[2]! - counts[1]! < 10, `fds after each 80 connections: ${counts.join(', ')}`);
  await r.close();
  await sleep(50);
  t.equal(threads(), th0, 'threads joined');
  const left = [...fds()].filter((f) => !fd0.has(f) && !f.endsWith('(closed)'));
  t.same(left, [], 'no fd left: listeners, TLS sessions, relays, dyno connections');
});

t.test('a slow TLS reader: the plane stops reading the dyno while the client lags, and delivers everything', async (t) => {
  const up = await echoUpstream();
  const r = await routerOn(t, up, tlsOpts);
  const s = await tlsConnect(tlsPort(r));
  const size = 6 * 1024 * 1024;
  s.pause();
  s.write(`GET /big/${size} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  await sleep(300); // the client reads nothing: buffers fill, the dyno waits
  const got = readAll(s);
  s.resume();
  const text = (await got).toString('latin1');
  const bodyAt = text.indexOf('\r\n\r\n') + 4;
  t.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  t.equal(text.length - bodyAt, size, 'every byte, after the pause');
  t.equal(crypto.createHash('sha256').update(text.slice(bodyAt), 'latin1').digest('hex'), patternSha(size), 'in order');
  t.equal(r.router.stats().nativeRequests, 1);
});

t.test('pipelined TLS requests beyond what the plane reads ahead: every one answered (bytes TLS already read are not forgotten)', async (t) => {
  // the first answer waits: the client's pipeline piles up in the plane meanwhile
  const up = await httpUpstream((q, r) => {
    const answer = () => r.end(`answer ${q.url}\n`);
    if (q.url === '/r0') setTimeout(answer, 300);
    else answer();
  });
  const r = await routerOn(t, up, tlsOpts);
  // The plane stops reading a client 72 KiB ahead. TLS reads the socket in 16 KiB gulps:
  // with small records, what the client sent last may all sit in TLS's buffer by then,
  // none in the kernel's, and epoll says nothing of it. About that much, in several sizes.
  for (const total of [74_000, 78_000, 82_000, 86_000, 100_000]) {
    const one = (i: number) => `GET /r${i} HTTP/1.1\r\nHost: x\r\nX-Pad: ${'p'.repeat(300)}\r\n\r\n`;
    const s = await tlsConnect(tlsPort(r));
    let sent = 0;
    let n = 0;
    const want = () => `answer /r${n - 1}\n`;
    let done = false;
    const got = readAll(s, (b) => done && b.includes(want()));
    while (sent < total) {
      // one record each
      s.write(one(n));
      sent += one(n++).length;
      await new Promise((res) => setImmediate(res));
    }
    done = true;
    const timer = setTimeout(() => s.destroy(), 5_000);
    const out = (await got).toString('latin1');
    clearTimeout(timer);
    s.destroy();
    t.equal(out.split('HTTP/1.1 200 OK').length - 1, n, `${n} requests in ${sent} bytes, one record each: ${n} answers`);
  }
});

t.test('a TLS record split across packets: the plane waits for its rest without spinning, then answers', async (t) => {
  const up = await httpUpstream((q, r) => r.end(`answer ${q.url}\n`));
  const r = await routerOn(t, up, tlsOpts);
  // a transport that sends each write's second half 200 ms after its first
  const raw = net.connect(tlsPort(r), '127.0.0.1');
  await new Promise((res) => raw.once('connect', res));
  let split = false;
  const { Duplex } = await import('node:stream');
  const slow = new Duplex({
    write(chunk: Buffer, _enc, cb) {
      if (!split || chunk.length < 2) return void raw.write(chunk, cb);
      const half = chunk.length >> 1;
      raw.write(chunk.subarray(0, half));
      setTimeout(() => raw.write(chunk.subarray(half), cb), 200);
    },
    read() {},
  });
  raw.on('data', (d: Buffer) => slow.push(d));
  raw.on('end', () => slow.push(null));
  const s = tls.connect({ socket: slow as unknown as net.Socket, ca: cert.cert, servername: 'localhost' });
  await new Promise((res) => s.once('secureConnect', res));
  let got = readAll(s, (b) => b.includes('answer /one'));
  s.write('GET /one HTTP/1.1\r\nHost: x\r\n\r\n');
  await got;
  split = true;
  got = readAll(s, (b) => b.includes('answer /two'));
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  s.write(`GET /two HTTP/1.1\r\nHost: x\r\nX-Pad: ${'p'.repeat(2000)}\r\n\r\n`);
  const timer = setTimeout(() => s.destroy(), 5_000);
  const out = (await got).toString('latin1');
  clearTimeout(timer);
  const cpu = process.cpuUsage(cpu0);
  const ms = Date.now() - t0;
  s.destroy();
  raw.destroy();
  t.match(out, /answer \/two/, 'the request whose record came in two answered');
  t.ok((cpu.user + cpu.system) / 1000 < ms * 0.5, `this process's CPU while it waited: ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms in ${ms} ms (a spinning plane thread would take them all)`);
});

t.test('a relayed TLS connection JavaScript closes: the client gets its end, and no plane thread spins', async (t) => {
  const up = await httpUpstream((q, r) => r.end(`answer ${q.url}\n`));
  const r = await routerOn(t, up, { ...tlsOpts, timeouts: { clientIdle: 300 } });
  // half-open: this client does not answer the end with its own (the plane must not wait on it busily)
  const s = await tlsConnect(tlsPort(r), true);
  const ended = new Promise<number>((res) => {
    s.on('end', () => res(Date.now()));
    s.on('close', () => res(Date.now()));
  });
  s.on('data', () => {});
  // HTTP/1.0 with keep-alive: JavaScript's (through the relay); it stays open until JavaScript's idle timeout
  s.write('GET /a HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
  await sleep(100);
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  const at = await Promise.race([ended, sleep(3_000).then(() => 0)]);
  await sleep(300); // after the end: a plane thread spinning on the relay would burn this
  const cpu = process.cpuUsage(cpu0);
  const ms = Date.now() - t0;
  s.destroy();
  t.ok(at > 0, `the client saw its connection end (${at ? at - t0 : '-'} ms after)`);
  t.ok((cpu.user + cpu.system) / 1000 < ms * 0.5, `this process's CPU meanwhile: ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms in ${ms} ms`);
});

t.test('an upgrade over TLS carries 16 MiB each way at once through the relay, in order, with backpressure both ways', async (t) => {
  const up = await httpUpstream((_q, r) => r.end('no'));
  echoUpgrades(up.server);
  const r = await routerOn(t, up, tlsOpts);
  const s = await tlsConnect(tlsPort(r));
  const size = 16 * 1024 * 1024;
  const data = crypto.randomBytes(size);
  let head = '';
  let received = 0;
  const hash = crypto.createHash('sha256');
  const done = new Promise<void>((resolve) => {
    s.on('data', (d: Buffer) => {
      if (!head.endsWith('\r\n\r\n')) {
        const text = head + d.toString('latin1');
        const at = text.indexOf('\r\n\r\n');
        if (at < 0) return void (head = text);
        head = text.slice(0, at + 4);
        d = Buffer.from(text.slice(at + 4), 'latin1');
      }
      received += d.length;
      hash.update(d);
      if (received >= size) resolve();
    });
  });
  s.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
  // the whole upload is written at once: the relay holds what neither side takes yet
  for (let off = 0; off < size; off += 256 * 1024) s.write(data.subarray(off, off + 256 * 1024));
  const timer = setTimeout(() => s.destroy(), 30_000);
  await Promise.race([done, new Promise((res) => s.once('close', res))]);
  clearTimeout(timer);
  s.destroy();
  t.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  t.equal(received, size, '16 MiB came back');
  t.equal(hash.digest('hex'), crypto.createHash('sha256').update(data).digest('hex'), 'the same bytes in the same order');
});

t.test('H12 and H13 over TLS from the plane: the error page, the line (protocol=https), the connection kept', async (t) => {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const { r, lines } = await h12ThenH13(t, tlsOpts, (router, p) => httpsGet(tlsPort(router), p, agent));
  t.same(lines.map((l) => [l.code, l.status, l.protocol]), [['H12', '503', 'https'], ['H13', '503', 'https']]);
  t.equal(r.router.stats().connections, 1, 'the TLS connection stayed open across both');
});

t.test('a certificate the plane\'s OpenSSL refuses leaves TLS to the JavaScript listener; plain HTTP stays native', async (t) => {
  const addon = native();
  const check = addon.planeTlsCheck;
  addon.planeTlsCheck = () => 'refused, for this test';
  t.teardown(() => {
    addon.planeTlsCheck = check;
  });
  const up = await echoUpstream();
  const r = await routerOn(t, up, tlsOpts);
  t.same(r.router.addresses().map((a) => a.protocol), ['http', 'https']);
  const a = await httpsGet(tlsPort(r), '/secure', false);
  t.equal(a.status, 200);
  t.equal((JSON.parse(a.body) as { headers: Record<string, string> }).headers['x-forwarded-proto'], 'https');
  t.equal(r.router.stats().nativeRequests, 0, 'HTTPS served by JavaScript');
  const b = await httpsGet(tlsPort(r), '/again', false);
  t.equal(b.status, 200);
  const plain = await new Promise<number>((resolve, reject) => {
    net.connect(r.port, '127.0.0.1').once('error', reject).on('connect', function (this: net.Socket) {
      const got = readAll(this, (x) => x.includes('"url":"/plain"'));
      this.write('GET /plain HTTP/1.1\r\nHost: x\r\n\r\n');
      void got.then(() => {
        this.destroy();
        resolve(r.router.stats().nativeRequests);
      });
    });
  });
  t.equal(plain, 1, 'plain HTTP on the native plane');
});
