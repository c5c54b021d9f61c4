// Networking: --net none (loopback only), --net host, and --publish (egress of --net private: egress.test.ts).
import t from 'tap';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { sh, run, spawnDynod, lines, waitFor } from '../helpers/dynod';
import { tempApp } from '../helpers/app';
import { netDevNames } from '../helpers/host';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function get(port: number, urlPath: string, host = '127.0.0.1'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: urlPath, agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Polls until the published port answers (the app needs a moment to listen). */
function getWhenUp(port: number, urlPath: string, timeoutMs = 15_000) {
  return waitFor(() => get(port, urlPath).catch(() => undefined), timeoutMs, `http://127.0.0.1:${port}${urlPath}`, 100);
}

t.test('--net none has only lo, up, and no route out', async (t) => {
  const app = tempApp(t);
  const r = await run(['python3', '-c', `
import socket, errno
print(open('/proc/net/dev').read(), end='')
print('flags', open('/sys/class/net/lo/flags').read().strip())
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()
c = socket.create_connection(srv.getsockname()); print('loopback ok')
try:
    socket.create_connection(('198.51.100.9', 80), timeout=3)
    print('reached an address off this machine')
except OSError as e:
    print('out', errno.errorcode.get(e.errno, e))
`], ['--app', app, '--net', 'none']);
  t.equal(r.code, 0, r.stderr);
  const out = lines(r.stdout);
  t.same(netDevNames(out.slice(0, 3).join('\n')), ['lo'], '/proc/net/dev lists lo only');
  t.same(out.slice(3), ['flags 0x9', 'loopback ok', 'out ENETUNREACH']);
});

t.test('--net host sees the host\'s interfaces and namespace', async (t) => {
  const app = tempApp(t);
  const r = await sh('readlink /proc/self/ns/net; cat /proc/net/dev', ['--app', app, '--net', 'host']);
  t.equal(r.code, 0, r.stderr);
  const [ns, ...dev] = lines(r.stdout);
  t.equal(ns, fs.readlinkSync('/proc/self/ns/net'));
  // Links that come and go with other dynos and tests (dynod's bridge and veths, egress.test's
  // outside link) are no part of the comparison: the host's list is read at another moment.
  const steady = (names: string[]) => names.filter((n) => !/^(dynod0|dyv[0-9a-f]{8}|dto[0-9a-f]{6})$/.test(n));
  const hostNames = steady(netDevNames(fs.readFileSync('/proc/net/dev', 'utf8')));
  // a host with nothing but lo (the test VM) has no other interface to show
  t.ok(hostNames.length > 1, `host interfaces: ${hostNames.join(' ')}`,
    hostNames.length > 1 ? {} : { skip: `the host itself has only ${hostNames.join(' ')} (e.g. the test VM)` });
  t.same(steady(netDevNames(dev.join('\n'))), hostNames);
});

t.test('--publish reaches a real HTTP server in the dyno (python3 -m http.server $PORT)', async (t) => {
  const app = tempApp(t, { 'hello.txt': 'hello from the app\n' });
  const [hostPort, dynoPort] = [await freePort(), await freePort()];
  const d = spawnDynod(['run', '--app', app, '--port', String(dynoPort), '--publish', `127.0.0.1:${hostPort}`, '--',
    'sh', '-c', 'exec python3 -m http.server "$PORT" --bind 127.0.0.1']);
  const res = await getWhenUp(hostPort, '/hello.txt');
  t.equal(res.status, 200);
  t.equal(res.body, 'hello from the app\n');
  const many = await Promise.all(Array.from({ length: 10 }, () => get(hostPort, '/hello.txt')));
  t.same(many.map((m) => m.body), Array(10).fill('hello from the app\n'), '10 concurrent requests');
  const missing = await get(hostPort, '/nope');
  t.equal(missing.status, 404);
  d.child.kill('SIGTERM');
  const r = await d.result;
  t.equal(r.code, 143, `status (stderr: ${r.stderr})`);
  await t.rejects(get(hostPort, '/hello.txt'), { code: 'ECONNREFUSED' }, 'the published port is closed after the dyno');
});

t.test('--publish with a node server on all addresses, default publish address', async (t) => {
  const app = tempApp(t, { 'server.js': "require('http').createServer((q, s) => s.end(`${process.env.DYNO} ${q.url}`)).listen(process.env.PORT);\nconsole.log('listening');\n" });
  const hostPort = await freePort();
  const d = spawnDynod(['run', '--app', app, '--name', 'web.1', '--publish', String(hostPort), '--', 'node', 'server.js']);
  await d.waitForStdout(/listening\n/);
  const res = await getWhenUp(hostPort, '/x?y=1');
  t.equal(res.body, 'web.1 /x?y=1');
  // all addresses are IPv6's too, as Docker's -p (where this host has IPv6 on lo)
  if (fs.existsSync('/proc/net/if_inet6') && /^0{31}1 /m.test(fs.readFileSync('/proc/net/if_inet6', 'utf8'))) t.equal((await get(hostPort, '/v6', '::1')).body, 'web.1 /v6', 'reached on [::1]');
  else t.comment('no ::1 on this host: the IPv6 half is not checked');
  d.child.kill('SIGTERM');
  const r = await d.result;
  t.equal(r.code, 143, `status (stderr: ${r.stderr})`);
});

t.test('--publish passes a half-close on: a client that shuts down its writing gets the whole answer', async (t) => {
  // the app answers once its client's request has ended (its FIN), as a request/EOF protocol does
  const app = tempApp(t, {
    'server.js': "require('net').createServer({ allowHalfOpen: true }, (c) => { let n = 0; c.on('data', (d) => (n += d.length)); c.on('end', () => c.end(`got ${n} bytes, ` + 'x'.repeat(200000))); }).listen(process.env.PORT);\nconsole.log('listening');\n",
  });
  const hostPort = await freePort();
  const d = spawnDynod(['run', '--app', app, '--publish', `127.0.0.1:${hostPort}`, '--', 'node', 'server.js']);
  await d.waitForStdout(/listening\n/);
  const answer = await new Promise<string>((resolve, reject) => {
    const c = net.connect(hostPort, '127.0.0.1', () => c.end('hello dyno'));
    let text = '';
    c.setEncoding('latin1');
    c.on('data', (s: string) => (text += s));
    c.on('end', () => resolve(text));
    c.on('error', reject);
  });
  t.match(answer, /^got 10 bytes, x{200000}$/);
  d.child.kill('SIGTERM');
  await d.result;
});

t.test('--publish on a port in use fails before the dyno starts', async (t) => {
  const app = tempApp(t);
  const busy = net.createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => busy.close(() => r())));
  const port = (busy.address() as net.AddressInfo).port;
  const r = await sh('echo ran', ['--app', app, '--publish', `127.0.0.1:${port}`]);
  t.equal(r.code, 125, `status (stderr: ${r.stderr})`);
  t.equal(r.stdout, '');
  t.equal(r.stderr, `dynod: --publish 127.0.0.1:${port}: EADDRINUSE (the port is already in use)\n`);
});

t.test('--publish needs a network namespace of the dyno', async (t) => {
  const app = tempApp(t);
  const r = await sh('echo ran', ['--app', app, '--net', 'host', '--publish', '18080']);
  t.equal(r.code, 125, `status (stderr: ${r.stderr})`);
  t.equal(r.stdout, '');
  t.equal(r.stderr, 'dynod: --publish needs --net private or none (with --net host the app already listens on the host)\n');
});
