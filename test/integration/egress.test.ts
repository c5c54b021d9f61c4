// The dyno network of --net private: egress through dynod's bridge (NAT), DNS through
// the forwarder at 127.0.0.11, dyno→dyno and dyno→host refused, --allow-host-port, and
// nothing left afterwards, also after SIGKILL of dynod. "The outside" is a namespace
// this file makes (helpers/outside.ts); no packet goes anywhere else.
import t, { type Test } from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as net from 'node:net';
import { DYNOD, dynod, hostEnv, run, sh, spawnDynod, lines, waitFor } from '../helpers/dynod';
import { Engine } from '../../src/index';
import { tempApp } from '../helpers/app';
import { netDevNames } from '../helpers/host';
import { loopbackDns, makeOutside, netnsList, type Outside } from '../helpers/outside';

const NET_DIR = '/run/dynod/net';

/** What dynod has on the host's network, read under its setup lock (no dynod sets up or tears down meanwhile). */
function hostNetwork(): { idle: boolean; bridge: boolean; table: boolean; state: boolean; veths: string[] } {
  fs.mkdirSync(NET_DIR, { recursive: true, mode: 0o700 });
  const script = [
    `if flock -n -x ${NET_DIR}/users.lock true; then echo idle; fi`,
    '[ -e /sys/class/net/dynod0 ] && echo bridge',
    'nft list table inet dynod >/dev/null 2>&1 && echo table',
    `[ -e ${NET_DIR}/state.json ] && echo state`,
    'for l in /sys/class/net/dyv*; do [ -e "$l" ] && echo "veth ${l##*/}"; done',
    'true',
  ].join('\n');
  const out = execFileSync('flock', [`${NET_DIR}/setup.lock`, 'sh', '-c', script], { encoding: 'utf8' }).split('\n');
  return {
    idle: out.includes('idle'),
    bridge: out.includes('bridge'),
    table: out.includes('table'),
    state: out.includes('state'),
    veths: out.filter((l) => l.startsWith('veth ')).map((l) => l.slice(5)),
  };
}

/**
 * Asserts that nothing of dynod's is on the host network, once no other dynod uses it: the
 * test files running beside this one start dynos too, so it waits (up to 60 s) for a
 * moment when none does, and skips only if that never comes.
 */
async function checkNothingLeft(t: Test, what: string): Promise<void> {
  let h = hostNetwork();
  for (const until = Date.now() + 60_000; !h.idle && Date.now() < until; h = hostNetwork()) await new Promise((r) => setTimeout(r, 100));
  if (!h.idle) {
    t.pass(`${what}: another dynod uses the host network now; the bridge and table are its`, { skip: 'host network in use by another dynod' });
    return;
  }
  t.same({ bridge: h.bridge, table: h.table, state: h.state, veths: h.veths }, { bridge: false, table: false, state: false, veths: [] }, `${what}: no bridge, no nft table, no state, no veth`);
}

const PY_CONNECT = (host: string, port: number) => `
import socket, errno
try:
    s = socket.create_connection((${JSON.stringify(host)}, ${port}), timeout=5)
    print('connected', s.recv(100).decode().strip())
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e)))
`;

let outside: Outside;
t.before(async () => {
  outside = await makeOutside();
});
t.teardown(async () => {
  await outside?.close();
});

t.test('a private dyno has lo and eth0: a /32 from the range, the default route via the bridge, the forwarder as its DNS', async (t) => {
  const app = tempApp(t);
  const r = await run(['python3', '-c', `
import socket
print(' '.join(sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').read().split('\\n')[2:] if l.strip())))
for l in open('/proc/net/route').read().split('\\n')[1:]:
    f = l.split()
    if f: print('route', f[0], socket.inet_ntoa(bytes.fromhex(f[1])[::-1]), socket.inet_ntoa(bytes.fromhex(f[2])[::-1]), socket.inet_ntoa(bytes.fromhex(f[7])[::-1]))
print(open('/etc/resolv.conf').read().strip())
import fcntl, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print('addr', socket.inet_ntoa(fcntl.ioctl(s.fileno(), 0x8915, struct.pack('256s', b'eth0'))[20:24]))
`], ['--app', app], { env: { DYNOD_RESOLV_CONF: outside.resolvConf } });
  t.equal(r.code, 0, r.stderr);
  const out = lines(r.stdout);
  t.equal(out[0], 'eth0 lo');
  t.same(out.slice(1, 2), ['route eth0 0.0.0.0 10.213.0.1 0.0.0.0'], 'one route: the default via the gateway (onlink, no subnet route)');
  t.same(out.slice(2, 4), ['nameserver 127.0.0.11', 'search outside.test'], "the forwarder, with the host resolv.conf's search line");
  t.match(out[4], /^addr 10\.213\.\d+\.\d+$/, 'an address of the default range');
  t.not(out[4], 'addr 10.213.0.1', 'not the gateway');
});

t.test('dyno → outside: HTTP by name through DNS, seen from the host\'s address (NAT)', async (t) => {
  const app = tempApp(t);
  const before = outside.queries.length;
  const r = await run(['python3', '-c', `
import socket, urllib.request
print(socket.gethostbyname('outside.test'))
print(urllib.request.urlopen('http://outside.test:${outside.httpPort}/', timeout=5).read().decode().strip())
print(urllib.request.urlopen('http://api:${outside.httpPort}/', timeout=5).read().decode().strip())
try:
    socket.gethostbyname('nowhere.invalid')
except socket.gaierror as e:
    print('nowhere', e.errno == socket.EAI_NONAME)
`], ['--app', app], { env: { DYNOD_RESOLV_CONF: outside.resolvConf } });
  t.equal(r.code, 0, r.stderr);
  t.same(lines(r.stdout), [
    outside.address,
    `hello from outside, you are ${outside.hostAddress}`,
    `hello from outside, you are ${outside.hostAddress}`,
    'nowhere True',
  ]);
  const asked = outside.queries.slice(before);
  t.ok(asked.includes('outside.test') && asked.includes('api.outside.test'), `the outside's DNS server was asked (${asked.join(' ')})`);
});

t.test('DNS over TCP through the forwarder', async (t) => {
  const app = tempApp(t);
  const r = await run(['python3', '-c', `
import socket, struct
q = b'\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x07outside\\x04test\\x00\\x00\\x01\\x00\\x01'
s = socket.create_connection(('127.0.0.11', 53), timeout=5)
s.sendall(struct.pack('>H', len(q)) + q)
n = struct.unpack('>H', s.recv(2))[0]
a = s.recv(n)
print(a[:2].hex(), socket.inet_ntoa(a[-4:]))
`], ['--app', app], { env: { DYNOD_RESOLV_CONF: outside.resolvConf } });
  t.equal(r.code, 0, r.stderr);
  t.same(lines(r.stdout), [`1234 ${outside.address}`]);
});

t.test('a loopback resolver of the host (as systemd-resolved\'s 127.0.0.53) serves the dyno', async (t) => {
  const dns = await loopbackDns('127.0.0.153', { 'db.internal': '127.0.0.1' });
  t.teardown(() => dns.close());
  const app = tempApp(t, { 'resolv.conf': 'nameserver 127.0.0.153\n' });
  const r = await sh('getent hosts db.internal', ['--app', app], { env: { DYNOD_RESOLV_CONF: `${app}/resolv.conf` } });
  t.equal(r.code, 0, r.stderr);
  t.same(lines(r.stdout).map((l) => l.split(/\s+/).join(' ')), ['127.0.0.1 db.internal']);
  t.ok(dns.queries.includes('db.internal'), 'the loopback server answered');
});

t.test('dyno → dyno is refused', async (t) => {
  const app = tempApp(t);
  const a = spawnDynod(['run', '--app', app, '--name', 'web.1', '--', 'python3', '-c', `
import socket, fcntl, struct
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 5000)); s.listen()
d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print('at', socket.inet_ntoa(fcntl.ioctl(d.fileno(), 0x8915, struct.pack('256s', b'eth0'))[20:24]), flush=True)
while True:
    c, _ = s.accept(); c.sendall(b'hello from web.1\\n'); c.close()
`]);
  t.teardown(() => void a.child.kill('SIGKILL'));
  const at = (await a.waitForStdout(/^at .*\n/m, 20_000)).match(/^at (\S+)$/m)![1]!;
  const b = await run(['python3', '-c', `${PY_CONNECT(at, 5000)}\n${PY_CONNECT('127.0.0.1', 5000)}`], ['--app', app]);
  t.equal(b.code, 0, b.stderr);
  t.same(lines(b.stdout), ['EHOSTUNREACH', 'ECONNREFUSED'], `web.1's ${at}:5000 refused (admin-prohibited); 127.0.0.1 is the dyno's own`);
  // control: web.1 does serve, from inside itself
  a.child.kill('SIGTERM');
  await a.result;
});

t.test('dyno → host ports are refused: the bridge address, the host\'s other addresses; its own 127.0.0.1 is its own', async (t) => {
  const server = net.createServer((c) => c.end('host\n'));
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', () => r()));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as net.AddressInfo).port;
  const app = tempApp(t);
  const r = await run(['python3', '-c', [PY_CONNECT('10.213.0.1', port), PY_CONNECT(outside.hostAddress, port), PY_CONNECT('127.0.0.1', port)].join('\n')], ['--app', app]);
  t.equal(r.code, 0, r.stderr);
  t.same(lines(r.stdout), ['ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED']);
  // control: the host listener answers the host on the same addresses
  const c = net.connect(port, outside.hostAddress);
  const got = await new Promise<string>((res, rej) => { let s = ''; c.on('data', (d) => (s += d)); c.on('end', () => res(s)); c.on('error', rej); });
  t.equal(got, 'host\n');
});

for (const mode of ['private', 'none'] as const) {
  t.test(`--allow-host-port reaches the host's 127.0.0.1:PORT, and only that port (--net ${mode})`, async (t) => {
    const allowed = net.createServer((c) => c.end(`allowed ${c.remoteAddress}\n`));
    const other = net.createServer((c) => c.end('other\n'));
    await Promise.all([allowed, other].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))));
    t.teardown(() => Promise.all([allowed, other].map((s) => new Promise<void>((r) => s.close(() => r())))));
    const [pa, po] = [allowed, other].map((s) => (s.address() as net.AddressInfo).port);
    const app = tempApp(t);
    const r = await run(['python3', '-c', [PY_CONNECT('127.0.0.1', pa!), PY_CONNECT('127.0.0.1', pa!), PY_CONNECT('127.0.0.1', po!)].join('\n')], ['--app', app, '--net', mode, '--allow-host-port', String(pa)]);
    t.equal(r.code, 0, r.stderr);
    t.same(lines(r.stdout), ['connected allowed 127.0.0.1', 'connected allowed 127.0.0.1', 'ECONNREFUSED']);
  });
}

t.test('--allow-host-port passes a half-close on: the host service answers after the dyno shut down its writing', async (t) => {
  const server = net.createServer({ allowHalfOpen: true }, (c) => {
    let n = 0;
    c.on('data', (d) => (n += d.length));
    c.on('end', () => c.end(`got ${n} bytes\n`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as net.AddressInfo).port;
  const app = tempApp(t);
  const r = await run(['python3', '-c', `
import socket
s = socket.create_connection(('127.0.0.1', ${port}), timeout=5)
s.sendall(b'x' * 1000)
s.shutdown(socket.SHUT_WR)
data = b''
while True:
    b = s.recv(65536)
    if not b: break
    data += b
print(data.decode().strip())
`], ['--app', app, '--allow-host-port', String(port)]);
  t.equal(r.code, 0, r.stderr);
  t.same(lines(r.stdout), ['got 1000 bytes']);
});

t.test('a dyno that ends while its DNS query waits on a dead server: dynod exits with its status, nothing thrown', async (t) => {
  // the first server never answers (nothing on 127.0.0.155:53): the query waits for its 2 s retry
  const dns = await loopbackDns('127.0.0.154', { 'late.internal': '127.0.0.1' });
  t.teardown(() => dns.close());
  const app = tempApp(t, { 'resolv.conf': 'nameserver 127.0.0.155\nnameserver 127.0.0.154\n' });
  const r = await run(['python3', '-c', `
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b'\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x04late\\x08internal\\x00\\x00\\x01\\x00\\x01', ('127.0.0.11', 53))
time.sleep(0.5)
print('sent')
`], ['--app', app], { env: { DYNOD_RESOLV_CONF: `${app}/resolv.conf` } });
  t.equal(r.code, 0, r.stderr);
  t.same(lines(r.stdout), ['sent']);
  t.equal(r.stderr, '', 'nothing thrown after the dyno ended (the retry timer went with it)');
});

t.test('a host network that cannot be made (no nft) leaves nothing: no bridge, no state, forwarding as it was', async (t) => {
  // in a network and mount namespace of the test's own: its ip_forward, its links, its /run/dynod
  const bin = t.testdir({ cg: {} });
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  const script = [
    'mkdir -p /run/dynod && mount -t tmpfs tmpfs /run/dynod',
    // a sysfs of this namespace (its links), the host's cgroups bound back in below it
    `mount --rbind /sys/fs/cgroup ${bin}/cg && mount -t sysfs sysfs /sys && mount --rbind ${bin}/cg /sys/fs/cgroup`,
    '/usr/sbin/ip link set lo up',
    'echo 0 > /proc/sys/net/ipv4/ip_forward',
    `PATH=${bin}:/usr/bin ${DYNOD} run -- true; echo "rc=$?"`,
    'echo "forward=$(cat /proc/sys/net/ipv4/ip_forward)"',
    'echo "links=$(ls /sys/class/net | tr "\\n" " ")"',
    'echo "state=$(ls /run/dynod/net 2>/dev/null | grep -c state.json)"',
  ].join('\n');
  const r = spawnSync('unshare', ['-n', '-m', '--propagation', 'private', 'sh', '-c', script], { encoding: 'utf8', env: hostEnv() });
  t.match(r.stderr, /^dynod: network: nft not found/m, 'the documented line');
  t.same(lines(r.stdout), ['rc=125', 'forward=0', 'links=lo ', 'state=0']);
});

t.test('--net none has only lo and no route out, not even to the outside that exists', async (t) => {
  const app = tempApp(t);
  const r = await run(['python3', '-c', `
print(open('/proc/net/dev').read(), end='')
${PY_CONNECT(outside.address, outside.httpPort)}
`], ['--app', app, '--net', 'none'], { env: { DYNOD_RESOLV_CONF: outside.resolvConf } });
  t.equal(r.code, 0, r.stderr);
  const out = lines(r.stdout);
  t.same(netDevNames(out.slice(0, 3).join('\n')), ['lo']);
  t.same(out.slice(3), ['ENETUNREACH']);
});

t.test('a range that overlaps a host route is refused, clearly', async (t) => {
  const app = tempApp(t);
  const r = await run(['true'], ['--app', app], { env: { DYNOD_NET_RANGE: `${outside.hostAddress.replace(/\.1$/, '.0')}/24` } });
  t.equal(r.code, 125);
  t.match(r.stderr, /^dynod: DYNOD_NET_RANGE 198\.51\.100\.0\/24: overlaps the host's route 198\.51\.100\.0\/24 dev dto[0-9a-f]{6}; choose a range no route of the host covers/);
  const bad = await run(['true'], ['--app', app], { env: { DYNOD_NET_RANGE: '10.1.2.3/16' } });
  t.equal(bad.code, 125);
  t.equal(bad.stderr, 'dynod: DYNOD_NET_RANGE 10.1.2.3/16: the address has host bits set; the network is 10.1.0.0/16\n');
  // dynod start says so before it starts any dyno (every dyno failed its start, and the manager ran on)
  const formationApp = tempApp(t, { Procfile: 'web: sleep 60\n' });
  const dirs = t.testdir({ state: {}, run: {} });
  const st = await dynod(['start', '--app', formationApp, '--name', 'rangecheck', '-p', '27999'], {
    env: { DYNOD_NET_RANGE: '127.213.0.0/16', DYNOD_STATE_DIR: `${dirs}/state`, DYNOD_RUN_DIR: `${dirs}/run` },
    timeoutMs: 20_000,
  });
  t.equal(st.code, 125, st.stderr);
  t.equal(st.stderr, 'dynod: DYNOD_NET_RANGE 127.213.0.0/16: overlaps 127.0.0.0/8 (loopback); use a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16), e.g. 10.213.0.0/16\n');
  t.notMatch(st.stdout, /Starting process/, 'no dyno started');
});

t.test('nothing is left after a dyno: its veth, and (when no other dynod uses them) the bridge and the nft table', async (t) => {
  const app = tempApp(t);
  const d = spawnDynod(['run', '--app', app, '--', 'sh', '-c', 'hostname; echo up; exec sleep 30']);
  const host = (await d.waitForStdout(/^up$/m, 20_000)).split('\n')[0]!;
  const veth = `dyv${host.replace(/-/g, '').slice(0, 8)}`;
  t.ok(fs.existsSync(`/sys/class/net/${veth}`), `${veth} exists while the dyno runs`);
  t.equal(fs.readFileSync(`/sys/class/net/${veth}/master/uevent`, 'utf8').match(/INTERFACE=(\S+)/)?.[1], 'dynod0', 'on the bridge');
  t.equal(fs.readFileSync(`/sys/class/net/${veth}/brport/isolated`, 'utf8').trim(), '1', 'an isolated port');
  d.child.kill('SIGTERM');
  await d.result;
  t.notOk(fs.existsSync(`/sys/class/net/${veth}`), `${veth} is gone when dynod has exited`);
  await checkNothingLeft(t, 'after the dyno');
});

t.test('engine.prepare({ network: true }): the host network is there before any start, and close() lets it go', async (t) => {
  const engine = new Engine();
  await engine.prepare({ network: true });
  const h = hostNetwork();
  t.same({ bridge: h.bridge, table: h.table, state: h.state, idle: h.idle }, { bridge: true, table: true, state: true, idle: false }, 'bridge, nft table and state before any dyno; the engine is a user');
  const r = await engine.run({ command: ['true'], net: 'private', app: tempApp(t) });
  t.equal(r.exit.status, 0, 'a start after it uses that network');
  await engine.close();
  await checkNothingLeft(t, 'after close()');
});

t.test('after SIGKILL of dynod the veth goes with the dyno, and the next start removes the bridge and the table', async (t) => {
  const app = tempApp(t);
  const d = spawnDynod(['run', '--app', app, '--', 'sh', '-c', 'hostname; echo up; exec sleep 60']);
  const host = (await d.waitForStdout(/^up$/m, 20_000)).split('\n')[0]!;
  const veth = `dyv${host.replace(/-/g, '').slice(0, 8)}`;
  t.ok(fs.existsSync(`/sys/class/net/${veth}`), `${veth} exists while the dyno runs`);
  d.child.kill('SIGKILL');
  await d.result;
  await waitFor(() => !fs.existsSync(`/sys/class/net/${veth}`), 10_000, `${veth} to go with the dyno's namespace`);
  t.pass(`${veth} is gone`);
  const h = hostNetwork();
  t.comment(`left by the killed dynod: bridge ${h.bridge}, table ${h.table}, state ${h.state} (idle: ${h.idle})`);
  const next = await run(['true'], ['--app', app, '--net', 'none']);
  t.equal(next.code, 0, next.stderr);
  await checkNothingLeft(t, 'after the next start');
});

t.test("the test's own namespace is the only one it made, and it goes", async (t) => {
  t.ok(netnsList().includes(outside.ns));
  await outside.close();
  t.notOk(netnsList().includes(outside.ns));
  t.notOk(fs.existsSync(`/sys/class/net/dto${outside.ns.slice(-6)}`));
});
