import t from 'tap';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Router, selfSignedCertificate } from '../../src/router/index';
import { UsageError } from '../../src/errors';
import { TestSource, connectTo, httpUpstream, lineFields, readUntil, sleep, startRouter, tcpBackend } from '../helpers/router';

// ============================================================================
// HTTPS in front (a test certificate), WebSocket and other upgrades (bytes piped
// both ways).

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const acceptOf = (key: string) => crypto.createHash('sha1').update(key + GUID).digest('base64');

/** one WebSocket frame: FIN + opcode, masked when a client sends it */
function frame(payload: Buffer, opcode: number, mask: boolean): Buffer {
  const n = payload.length;
  const len = n < 126 ? Buffer.from([n | (mask ? 0x80 : 0)]) : n < 65536 ? Buffer.from([126 | (mask ? 0x80 : 0), n >> 8, n & 0xff]) : Buffer.concat([Buffer.from([127 | (mask ? 0x80 : 0), 0, 0, 0, 0]), u32(n)]);
  if (!mask) return Buffer.concat([Buffer.from([0x80 | opcode]), len, payload]);
  const key = crypto.randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ key[i % 4]!));
  return Buffer.concat([Buffer.from([0x80 | opcode]), len, key, masked]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** frames read from a buffer: [payloads, bytes used] */
function unframe(buf: Buffer): [Buffer[], number] {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    if (buf.length - at < 2) break;
    let n = buf[at + 1]! & 0x7f;
    const masked = (buf[at + 1]! & 0x80) !== 0;
    let h = 2;
    if (n === 126) {
      if (buf.length - at < 4) break;
      n = buf.readUInt16BE(at + 2);
      h = 4;
    } else if (n === 127) {
      if (buf.length - at < 10) break;
      n = buf.readUInt32BE(at + 6);
      h = 10;
    }
    const keyAt = at + h;
    if (masked) h += 4;
    if (buf.length - at < h + n) break;
    const p = Buffer.from(buf.subarray(at + h, at + h + n));
    if (masked) for (let i = 0; i < n; i++) p[i] ^= buf[keyAt + (i % 4)]!;
    out.push(p);
    at += h + n;
  }
  return [out, at];
}

/** a WebSocket echo app: every frame's payload comes back */
async function wsEchoUpstream() {
  const up = await httpUpstream((_q, r) => r.end('not a websocket'));
  up.server.on('upgrade', (q, sock: net.Socket) => {
    const key = q.headers['sec-websocket-key'] as string;
    sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptOf(key)}\r\n\r\n`);
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const [frames, used] = unframe(buf);
      buf = buf.subarray(used);
      for (const f of frames) sock.write(frame(f, 2, false));
    });
    sock.on('end', () => sock.end());
  });
  return up;
}

t.test('WebSocket echo through the router; the 101 is logged; the tunnel is counted, then gone', async (t) => {
  const up = await wsEchoUpstream();
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]));
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const s = await connectTo(r.port);
  const key = crypto.randomBytes(16).toString('base64');
  const head = readUntil(s, (x) => x.includes('\r\n\r\n'));
  s.write(`GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  const h = await head;
  t.match(h, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  t.match(h, new RegExp(`\\r\\nSec-WebSocket-Accept: ${acceptOf(key).replace(/[+/]/g, '\\$&')}\\r\\n`));
  t.match(h, /\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n/);
  const line = await r.nextLine();
  t.same([lineFields(line).at, lineFields(line).status, lineFields(line).path, lineFields(line).dyno], ['info', '101', '/chat', 'web.1']);
  t.equal(r.router.stats().tunnels, 1);
  t.equal(r.router.stats().backends[0]!.inFlight, 0, 'a tunnel takes no request slot');
  const messages = [Buffer.from('hello'), crypto.randomBytes(300), crypto.randomBytes(200_000)];
  let buf = Buffer.alloc(0);
  const got: Buffer[] = [];
  const all = new Promise<void>((resolve) => {
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const [frames, used] = unframe(buf);
      buf = buf.subarray(used);
      got.push(...frames);
      if (got.length === messages.length) resolve();
    });
  });
  for (const m of messages) s.write(frame(m, 2, true));
  await all;
  t.same(got.map((g) => g.toString('hex')), messages.map((m) => m.toString('hex')), 'every message echoed, in order, intact');
  s.end();
  await new Promise((res) => s.once('close', res));
  while (r.router.stats().tunnels > 0) await sleep(5);
  t.pass('the tunnel is gone once both sides ended');
});

t.test('any Upgrade: bytes sent right after the request go through; half-close crosses; idle tunnels close', async (t) => {
  const up = await httpUpstream((_q, r) => r.end());
  up.server.on('upgrade', (_q, sock: net.Socket, early: Buffer) => {
    sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: raw\r\nConnection: Upgrade\r\n\r\n');
    if (early.length) sock.write(early);
    sock.on('data', (d: Buffer) => sock.write(d));
    sock.on('end', () => sock.end('bye'));
  });
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]), { timeouts: { idle: 200 } });
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const s = await connectTo(r.port);
  s.allowHalfOpen = true;
  const out = readUntil(s);
  s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: raw\r\n\r\nearly bytes;');
  await sleep(30);
  s.write('later bytes;');
  await sleep(30);
  s.end();
  const text = await out;
  t.match(text, /^HTTP\/1\.1 101 Switching Protocols\r\n[\s\S]*\r\n\r\nearly bytes;later bytes;bye$/);
  // a tunnel that carries nothing for the idle timeout is closed
  const s2 = await connectTo(r.port);
  const out2 = readUntil(s2);
  s2.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: raw\r\n\r\n');
  const t0 = Date.now();
  t.match(await out2, /^HTTP\/1\.1 101 /);
  t.ok(Date.now() - t0 >= 190, 'closed after the idle timeout');
});

t.test('an upgrade the dyno declines is an ordinary response; the connection carries on', async (t) => {
  const up = await httpUpstream((q, r) => r.end(`plain ${q.headers.upgrade ?? ''}`));
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]));
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const s = await connectTo(r.port);
  const out = readUntil(s, (x) => x.endsWith('plain '));
  s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: nope\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n');
  const text = await out;
  s.destroy();
  t.match(text, /^HTTP\/1\.1 200 OK[\s\S]*plain nope[\s\S]*HTTP\/1\.1 200 OK[\s\S]*plain $/);
});

t.test('HTTPS: a test certificate, X-Forwarded-Proto https, the TLS port, protocol=https', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-router-tls-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cert = selfSignedCertificate(dir);
  const up = await httpUpstream((q, r) => r.end(JSON.stringify(q.headers)));
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]), { tls: { port: 0, host: '127.0.0.1', cert: cert.cert, key: cert.key } });
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const tlsPort = r.router.addresses().find((a) => a.protocol === 'https')!.port;
  t.same(r.router.addresses().map((a) => a.protocol), ['http', 'https']);
  const agent = new https.Agent({ keepAlive: true, ca: cert.cert, servername: 'localhost' });
  t.teardown(() => agent.destroy());
  const get = () =>
    new Promise<{ status: number; body: string; cipher: string }>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: tlsPort, path: '/secure', agent, headers: { 'X-Forwarded-Proto': 'http' } }, (res) => {
          let body = '';
          const cipher = (res.socket as import('node:tls').TLSSocket).getProtocol() ?? '';
          res.on('data', (d: Buffer) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cipher }));
        })
        .on('error', reject);
    });
  const one = await get();
  const two = await get();
  t.equal(one.status, 200);
  t.match(one.cipher, /^TLSv1\.[23]$/);
  const h = JSON.parse(one.body) as Record<string, string>;
  t.equal(h['x-forwarded-proto'], 'https');
  t.equal(h['x-forwarded-port'], String(tlsPort));
  t.equal(JSON.parse(two.body)['x-forwarded-proto'], 'https');
  t.same((await r.waitLines(2)).map((l) => lineFields(l).protocol), ['https', 'https']);
  t.equal(r.router.stats().connections, 1, 'keep-alive over TLS');
  // the certificate checks out for localhost with its own certificate as the trust anchor
  const verifyFails = await new Promise<string>((resolve) => {
    https.get({ host: '127.0.0.1', port: tlsPort, path: '/', agent: false }, () => resolve('accepted')).on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? ''));
  });
  t.equal(verifyFails, 'DEPTH_ZERO_SELF_SIGNED_CERT', 'without it as trust anchor, a client refuses it');
});

t.test('a TLS listener with a certificate that is not PEM is one clear line', async (t) => {
  const router = new Router({ source: new TestSource([]), log: () => {}, listen: [{ port: 0, host: '127.0.0.1' }], tls: { port: 0, host: '127.0.0.1', cert: 'nope', key: 'nope' } });
  await t.rejects(router.listen(), { name: 'UsageError', message: /^router TLS certificate or key: .*; accepted: a PEM certificate and its PEM private key$/ });
  t.same(router.addresses(), [], 'nothing left listening');
});

t.test('options are checked: one line naming what is wrong and what is accepted', async (t) => {
  const source = new TestSource([]);
  const bad: [Record<string, unknown>, string][] = [
    [{ source: {}, log: () => {}, listen: [] }, 'router source: accepted an object with backends(), booting(), crashed() and onChange(cb)'],
    [{ source, log: 1, listen: [] }, 'router log: accepted a function taking one line'],
    [{ source, log: () => {}, listen: [] }, 'router listen: no address; accepted at least one { port, host } or tls'],
    [{ source, log: () => {}, listen: [{ port: 70000, host: '127.0.0.1' }] }, 'router listen port 70000: accepted 0 to 65535'],
    [{ source, log: () => {}, listen: [{ port: 1, host: 'localhost' }] }, 'router listen host localhost: accepted an IP address (127.0.0.1, ::1, 0.0.0.0)'],
    [{ source, log: () => {}, listen: [{ port: 1, host: '::1' }], timeouts: { firstByte: 0 } }, 'router timeout firstByte 0: accepted milliseconds above 0'],
    [{ source, log: () => {}, listen: [{ port: 1, host: '::1' }], timeouts: { first: 1 } }, 'router timeout first: unknown; accepted connect, firstByte, idle, boot, quarantine, clientIdle, poolIdle'],
    [{ source, log: () => {}, listen: [{ port: 1, host: '::1' }], maxInFlightPerDyno: 0 }, 'router maxInFlightPerDyno 0: accepted a whole number from 1'],
  ];
  for (const [o, msg] of bad) t.throws(() => new Router(o as never), new UsageError(msg));
  // a port in use: the listen fails as a whole
  const busy = net.createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => busy.close(() => r())));
  const port = (busy.address() as net.AddressInfo).port;
  const router = new Router({ source, log: () => {}, listen: [{ port: 0, host: '127.0.0.1' }, { port, host: '127.0.0.1' }] });
  await t.rejects(router.listen(), { name: 'DynodError', message: new RegExp(`^router: listen on 127\\.0\\.0\\.1:${port} \\(http\\): (listen|bind:) EADDRINUSE`) });
  t.equal(source.listeners, 0, 'unsubscribed from the source');
  // the TLS port in use: the line names it as the https listener
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-router-tls-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cert = selfSignedCertificate(dir);
  const tlsRouter = new Router({ source, log: () => {}, listen: [{ port: 0, host: '127.0.0.1' }], tls: { port, host: '127.0.0.1', cert: cert.cert, key: cert.key } });
  await t.rejects(tlsRouter.listen(), { name: 'DynodError', message: new RegExp(`^router: listen on 127\\.0\\.0\\.1:${port} \\(https\\): (listen|bind:) EADDRINUSE`) });
});
