// dynod as a library, required from a separate script the way a user would (package main: dist/index.js).
import t from 'tap';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { ROOT, hostEnv, lines } from '../helpers/dynod';
import { tempApp } from '../helpers/app';
import { DYNO_CONTROLLERS, unownedDynoLeaves } from '../helpers/host';

function node(script: string, uid?: number, timeout = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = hostEnv();
  return new Promise((resolve) => {
    // env -i: the test runner's NODE_OPTIONS must not reach the script
    execFile('/usr/bin/env', ['-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, script], { timeout, uid, gid: uid }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as NodeJS.ErrnoException & { code?: number }).code as unknown as number) ?? 1 : 0, stdout, stderr });
    });
  });
}

const SCRIPT = (root: string, app: string) => `
'use strict';
const dynod = require(${JSON.stringify(root)});
const APP = ${JSON.stringify(app)};
(async () => {
  const out = {};
  out.exports = ['run', 'start', 'plan', 'Engine', 'Dyno', 'SIZES', 'DynodError', 'UsageError', 'CommandError'].filter((k) => k in dynod);
  out.internals = ['compileSpawn', 'compileOps', 'gatherHostFacts', 'detectCgroups', 'parseBytes', 'planDyno'].filter((k) => k in dynod);

  // run(): to the end, stdout inherited
  process.stdout.write('--run--\\n');
  const r = await dynod.run({ command: ['sh', '-c', 'echo from-run; echo $DYNO; exit 4'], app: APP, name: 'lib.1' });
  out.run = { exit: r.exit, state: r.dyno.state };

  // start(): piped stdout, state events, stop()
  const d = await dynod.start({ command: ['sh', '-c', 'trap "echo bye; exit 0" TERM; echo ready; while :; do sleep 0.05; done'], app: APP }, { stdout: 'pipe' });
  const states = [];
  d.on('state', (from, to) => states.push(from + '>' + to));
  let text = '';
  d.stdout.on('data', (b) => (text += b));
  await new Promise((res) => { const i = setInterval(() => { if (text.includes('ready')) { clearInterval(i); res(); } }, 10); });
  out.startState = d.state;
  out.pid = d.pid > 1;
  const e = await d.stop(5000);
  await new Promise((res) => (d.stdout.readableEnded || d.stdout.destroyed ? res() : d.stdout.on('close', res)));
  out.start = { exit: e, stdout: text, states, state: d.state };

  // kill(): SIGKILL is 137
  const k = await dynod.start({ command: ['sleep', '30'], app: APP });
  k.kill('SIGKILL');
  out.kill = await k.wait();

  // a missing command comes back in exit.error, not as a rejection
  const m = await dynod.run({ command: ['no-such-command-xyz'], app: APP });
  out.missing = { status: m.exit.status, message: m.exit.error && m.exit.error.message, isDynodError: m.exit.error instanceof dynod.DynodError };

  // start() rejects for the same
  try {
    await dynod.start({ command: ['no-such-command-xyz'], app: APP });
    out.startMissing = 'resolved';
  } catch (err) {
    out.startMissing = { name: err.name, exitCode: err.exitCode, message: err.message };
  }

  // plan(): plain data
  const p = dynod.plan({ command: ['true'], app: APP, size: 'Standard-2X' });
  out.plan = { size: p.size, limits: p.limits, user: p.user };
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
`;

t.test('require(\'dynod\') from a separate script: run(), start(), stop(), kill(), plan()', async (t) => {
  const app = tempApp(t);
  const dir = tempApp(t, {}, 'dynod-lib-');
  const script = path.join(dir, 'use-dynod.js');
  fs.writeFileSync(script, SCRIPT(ROOT, app));
  const r = await node(script);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '');
  const out = lines(r.stdout);
  t.same(out.slice(0, 3), ['--run--', 'from-run', 'lib.1'], 'run() passes the dyno\'s stdout through');
  const res = JSON.parse(out[3]!);
  t.same(res.exports, ['run', 'start', 'plan', 'Engine', 'Dyno', 'SIZES', 'DynodError', 'UsageError', 'CommandError']);
  t.same(res.internals, [], 'internals are not part of the API');
  t.same(res.run, { exit: { status: 4, code: 4, signal: null, oomKilled: false, error: null }, state: 'crashed' });
  t.equal(res.startState, 'up');
  t.equal(res.pid, true);
  t.same(res.start, { exit: { status: 0, code: 0, signal: null, oomKilled: false, error: null }, stdout: 'ready\nbye\n', states: ['up>stopping', 'stopping>down'], state: 'down' });
  t.match(res.kill, { status: 137, oomKilled: false, error: null });
  t.same(res.missing, { status: 127, message: 'no-such-command-xyz: command not found', isDynodError: true });
  t.same(res.startMissing, { name: 'CommandError', exitCode: 127, message: 'no-such-command-xyz: command not found' });
  t.same(res.plan, {
    size: { name: 'standard-2x', label: 'Standard-2X' },
    limits: { memoryBytes: 1024 ** 3, memorySwapBytes: 2 * 1024 ** 3, cpuWeight: 200, cpuQuota: null, pids: 512 },
    user: { name: 'dyno', uid: 30000, gid: 30000 },
  });
});

t.test('the library refuses to start a dyno unprivileged, but plans one', async (t) => {
  const app = tempApp(t);
  const dir = tempApp(t, {}, 'dynod-lib-');
  const script = path.join(dir, 'unprivileged.js');
  fs.writeFileSync(script, `
const dynod = require(${JSON.stringify(ROOT)});
(async () => {
  const p = dynod.plan({ command: ['true'], app: ${JSON.stringify(app)} });
  const r = await dynod.run(p);
  console.log(JSON.stringify({ planned: p.command, status: r.exit.status, message: r.exit.error && r.exit.error.message }));
})();
`);
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(script, 0o644);
  const r = await node(script, 65534);
  t.equal(r.code, 0, r.stderr);
  t.same(JSON.parse(r.stdout), { planned: ['true'], status: 125, message: 'must run as root (try sudo)' });
});

t.test('a start that fails before the spawn releases the cgroup and the --publish port', async (t) => {
  const app = tempApp(t);
  const dir = tempApp(t, {}, 'dynod-lib-');
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const script = path.join(dir, 'no-addon.js');
  fs.writeFileSync(script, `
// the addon "fails to load" once the dyno's cgroup exists and --publish listens
// (only flock still works: it is how the cgroup is owned; and mainThread, checked before)
const nativeModule = require(${JSON.stringify(path.join(ROOT, 'dist', 'native.js'))});
const real = nativeModule.native();
nativeModule.native = () => new Proxy(real, { get: (o, k) => k === 'flock' || k === 'mainThread' ? o[k].bind(o) : () => { throw new Error('simulated: addon unavailable'); } });
const dynod = require(${JSON.stringify(ROOT)});
dynod.run({ command: ['true'], app: ${JSON.stringify(app)}, name: 'noaddon.1', publish: ['127.0.0.1:${port}'] }).then((r) => {
  console.log(JSON.stringify({ status: r.exit.status, message: r.exit.error && r.exit.error.message, pid: process.pid }));
});
`);
  const r = await node(script, undefined, 15_000);
  t.equal(r.code, 0, `the script ends on its own: ${r.stderr}`);
  const res = JSON.parse(r.stdout);
  t.match({ status: res.status, message: res.message }, { status: 125, message: /^(stdio|reserve ids): simulated: addon unavailable$/ }, 'a DynodError naming the step');
  for (const c of DYNO_CONTROLLERS) t.same(unownedDynoLeaves(c, (leaf) => leaf.startsWith('noaddon.1-')), [], `no ${c} cgroup left`);
  await t.rejects(new Promise((resolve, reject) => net.connect(port, '127.0.0.1', () => resolve(undefined)).on('error', reject)), { code: 'ECONNREFUSED' }, 'the port is closed');
});
