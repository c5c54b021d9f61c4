'use strict';
// The dyno network: what egress costs per dyno start, and how fast it is, for the two
// mechanisms issue 9 weighed: a veth per dyno on dynod's bridge with nftables NAT (what
// dynod does), and pasta (passt) attached to the dyno's namespace.
//
//   sudo node scripts/bench/netstart.js [--n 20] [--seconds 3] [--json OUT.json]
//
// Start cost per dyno:
//   S1 dynod: `true` started through the library, one after another, --net none vs
//      --net private; the difference is everything egress adds to a start (address,
//      veth made from the host while the child waits, its address/route set by the
//      child, the DNS forwarder's sockets, and at the end the veth's deletion).
//   S2 pasta: a fresh namespace (`ip netns add`, not counted) and the time until
//      `pasta --config-net --netns NS` returns (it forks to the background once its
//      tap device, addresses and routes are in place); then it is stopped by pid.
// Throughput (TCP, one connection, SECONDS s, 256 KiB writes from Node): to a sink in an
// "outside" namespace this script makes (198.51.100.2 behind a veth of its own; the route
// to it is checked before any byte is sent, nothing leaves the machine):
//   T0 host → outside (no NAT, the reference), T1 dyno (veth + bridge + NAT) → outside,
//   T2 pasta namespace → outside (through pasta's host sockets).
// Needs root, nftables and passt (apt-get install nftables passt); a missing pasta skips S2/T2.
const { execFileSync, spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { hr, msSince, stats } = require('./common');

const ROOT = path.resolve(__dirname, '..', '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const N = Number(opt('n', '20'));
const SECONDS = Number(opt('seconds', '3'));
const JSON_OUT = opt('json', '');

const OUT_NS = `dynod-bench-out-${process.pid}`;
const OUT_IF = `dbo${process.pid % 100000}`;
const OUT_HOST = '198.51.100.1';
const OUT_ADDR = '198.51.100.2';
const SINK_PORT = 9000;

const ip = (...a) => execFileSync('ip', a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const childEnv = () => {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.NODE_OPTIONS;
  return env;
};

// Counts what one connection sends; when it closes, prints "bytes ms" from its first byte to
// its last (no half-close needed: pasta's 2023 version did not pass the sender's FIN on).
const SINK = `
const net = require('node:net');
net.createServer((c) => {
  let n = 0, first = 0n, last = 0n, done = false;
  c.on('data', (d) => { last = process.hrtime.bigint(); if (!n) first = last; n += d.length; });
  const report = () => { if (!done) { done = true; console.log(n + ' ' + Number(last - first) / 1e6); } c.destroy(); };
  c.on('end', report); c.on('close', report); c.on('error', report);
}).listen(${SINK_PORT}, ${JSON.stringify(OUT_ADDR)}, () => console.log('ready'));
`;
// Writes 256 KiB buffers for SECONDS s, closes, and waits a moment for the last bytes to leave.
const SENDER = `
const net = require('node:net');
const buf = Buffer.alloc(256 * 1024, 120);
const c = net.connect(${SINK_PORT}, ${JSON.stringify(OUT_ADDR)}, () => {
  const until = Date.now() + ${SECONDS * 1000};
  const pump = () => { while (Date.now() < until) { if (!c.write(buf)) return c.once('drain', pump); } c.end(() => setTimeout(() => process.exit(0), 300)); };
  pump();
});
c.on('error', (e) => { console.error(e.message); process.exit(1); });
`;

function gbps(line) {
  const [bytes, ms] = line.trim().split(' ').map(Number);
  return (bytes * 8) / (ms / 1000) / 1e9;
}

async function makeOutside() {
  ip('netns', 'add', OUT_NS);
  ip('link', 'add', OUT_IF, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', OUT_NS);
  ip('addr', 'add', `${OUT_HOST}/24`, 'dev', OUT_IF);
  ip('link', 'set', OUT_IF, 'up');
  ip('-n', OUT_NS, 'addr', 'add', `${OUT_ADDR}/24`, 'dev', 'eth0');
  ip('-n', OUT_NS, 'link', 'set', 'eth0', 'up');
  ip('-n', OUT_NS, 'link', 'set', 'lo', 'up');
  const route = ip('route', 'get', OUT_ADDR);
  if (!route.includes(` dev ${OUT_IF} `)) throw new Error(`the route to ${OUT_ADDR} is not this script's link: ${route}`);
  const sink = spawn('ip', ['netns', 'exec', OUT_NS, process.execPath, '-e', SINK], { stdio: ['ignore', 'pipe', 'inherit'], env: childEnv() });
  const lines = [];
  let wake = () => {};
  require('node:readline').createInterface({ input: sink.stdout }).on('line', (l) => { lines.push(l); wake(); });
  sink.next = async () => {
    const deadline = Date.now() + 10_000;
    while (!lines.length) {
      if (Date.now() > deadline) throw new Error('the sink reported nothing');
      await new Promise((r) => { wake = r; setTimeout(r, 100); });
    }
    return lines.shift();
  };
  if ((await sink.next()) !== 'ready') throw new Error('the sink did not start');
  return sink;
}

function removeOutside(sink) {
  if (sink && sink.exitCode === null) sink.kill('SIGTERM');
  try { ip('link', 'del', OUT_IF); } catch { /* gone with the namespace */ }
  try { ip('netns', 'del', OUT_NS); } catch { /* never made */ }
}

async function send(sink, argvPrefix) {
  const r = spawnSync(argvPrefix[0], [...argvPrefix.slice(1), process.execPath, '-e', SENDER], { encoding: 'utf8', env: childEnv(), timeout: (SECONDS + 20) * 1000 });
  if (r.status !== 0) throw new Error(`sender failed (${r.status ?? r.signal}): ${r.stderr}`);
  return gbps(await sink.next());
}

/** S1: `true` through the library, --net none vs private, interleaved. */
async function dynodStarts(app) {
  const { Engine } = require(ROOT);
  const engine = new Engine();
  const times = { none: [], private: [] };
  try {
    // warm-up: the first private start sets the host network up (bridge, nftables)
    const t0 = hr();
    await (await engine.start({ command: ['/bin/true'], app, net: 'private' }, { stdout: 'ignore', stderr: 'ignore' })).wait();
    const firstPrivateMs = msSince(t0);
    await (await engine.start({ command: ['/bin/true'], app, net: 'none' }, { stdout: 'ignore', stderr: 'ignore' })).wait();
    for (let i = 0; i < N; i++) {
      for (const net of i % 2 ? ['none', 'private'] : ['private', 'none']) {
        const t = hr();
        const d = await engine.start({ command: ['/bin/true'], app, net }, { stdout: 'ignore', stderr: 'ignore' });
        const exit = await d.wait();
        times[net].push(msSince(t));
        if (exit.status !== 0) throw new Error(`dyno exited ${exit.status}: ${exit.error?.message ?? ''}`);
      }
    }
    return { firstPrivateMs, none: stats(times.none), private: stats(times.private) };
  } finally {
    await engine.close();
  }
}

/** T1: the sender in a dyno. */
async function dynodThroughput(sink, app) {
  const { Engine } = require(ROOT);
  const engine = new Engine();
  try {
    const d = await engine.start({ command: ['node', '-e', SENDER], app, net: 'private', size: 'performance-l' }, { stdout: 'inherit', stderr: 'inherit' });
    const exit = await d.wait();
    if (exit.status !== 0) throw new Error(`dyno sender exited ${exit.status}`);
    return gbps(await sink.next());
  } finally {
    await engine.close();
  }
}

function pastaArgs(ns, pidFile) {
  // no port forwarding either way, no gateway mapped to the host: the closest pasta comes to a dyno's isolation
  // --runas 0:0: as root, pasta otherwise drops to nobody and can no longer join the namespace
  return ['--config-net', '-q', '-4', '-t', 'none', '-u', 'none', '-T', 'none', '-U', 'none', '--no-map-gw', '--runas', '0:0', '-P', pidFile, '--netns', ns];
}

function stopPasta(pidFile) {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    if (pid > 0) process.kill(pid, 'SIGTERM');
  } catch { /* already gone */ }
}

/** S2: pasta's setup time per namespace. */
function pastaStarts(dir) {
  const times = [];
  for (let i = 0; i < N; i++) {
    const ns = `dynod-bench-pasta-${process.pid}-${i}`;
    const pidFile = path.join(dir, `pasta-${i}.pid`);
    ip('netns', 'add', ns);
    try {
      const t = hr();
      const r = spawnSync('pasta', pastaArgs(ns, pidFile), { encoding: 'utf8' });
      times.push(msSince(t));
      if (r.status !== 0) throw new Error(`pasta: ${r.stderr}`);
    } finally {
      stopPasta(pidFile);
      ip('netns', 'del', ns);
    }
  }
  return stats(times);
}

/** T2: the sender in a namespace that pasta connects. */
async function pastaThroughput(sink, dir) {
  const ns = `dynod-bench-pasta-${process.pid}-t`;
  const pidFile = path.join(dir, 'pasta-t.pid');
  ip('netns', 'add', ns);
  try {
    const r = spawnSync('pasta', pastaArgs(ns, pidFile), { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`pasta: ${r.stderr}`);
    return await send(sink, ['ip', 'netns', 'exec', ns]);
  } finally {
    stopPasta(pidFile);
    ip('netns', 'del', ns);
  }
}

async function main() {
  if (process.getuid() !== 0) throw new Error('run as root');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-netbench-'));
  const app = path.join(dir, 'app');
  fs.mkdirSync(app);
  const res = { n: N, seconds: SECONDS };
  let sink = null;
  try {
    res.dynod = await dynodStarts(app);
    if (have('pasta')) res.pasta = pastaStarts(dir);
    sink = await makeOutside();
    res.throughputGbps = { host: await send(sink, ['env']), dynod: await dynodThroughput(sink, app) };
    if (have('pasta')) res.throughputGbps.pasta = await pastaThroughput(sink, dir);
  } finally {
    removeOutside(sink);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const f = (x) => x.toFixed(2);
  const lines = [
    `per-dyno start (ms, median of ${N}; min–max):`,
    `  dynod --net none      ${f(res.dynod.none.median)} (${f(res.dynod.none.min)}–${f(res.dynod.none.max)})`,
    `  dynod --net private   ${f(res.dynod.private.median)} (${f(res.dynod.private.min)}–${f(res.dynod.private.max)})`,
    `  → egress adds         ${f(res.dynod.private.median - res.dynod.none.median)} ms per dyno (veth, address, route, DNS sockets; first start ${f(res.dynod.firstPrivateMs)} ms incl. bridge + nftables)`,
    res.pasta ? `  pasta setup          ${f(res.pasta.median)} (${f(res.pasta.min)}–${f(res.pasta.max)}) per namespace` : '  pasta: not installed',
    `TCP throughput to an outside namespace, one connection, ${SECONDS} s (Gbit/s):`,
    `  host (no NAT)         ${f(res.throughputGbps.host)}`,
    `  dyno (veth + NAT)     ${f(res.throughputGbps.dynod)}`,
    res.throughputGbps.pasta !== undefined ? `  pasta                 ${f(res.throughputGbps.pasta)}` : '',
  ].filter(Boolean);
  process.stdout.write(`${lines.join('\n')}\n`);
  if (JSON_OUT) fs.writeFileSync(JSON_OUT, `${JSON.stringify(res, null, 2)}\n`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
