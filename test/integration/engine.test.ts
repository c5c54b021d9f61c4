// The engine as a long-lived manager drives it (root, real kernel): instances of
// one plan, states by intent, readiness, stop grace, abort, failures as DynodError,
// two engines side by side, and the embedder's own stdio left alone.
import t from 'tap';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { execFile } from 'node:child_process';
import { Engine, DynodError, CommandError, type Dyno, type DynoState } from '../../src/index';
import { tempApp } from '../helpers/app';
import { ROOT, hostEnv, lines } from '../helpers/dynod';

const engine = new Engine();
t.teardown(() => engine.close());

function collect(d: Dyno): Promise<string> {
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    d.stdout?.on('data', (b: Buffer) => chunks.push(b));
    d.stdout?.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function states(d: Dyno): DynoState[] {
  const seen: DynoState[] = [d.state];
  d.on('state', (_from, to) => seen.push(to));
  return seen;
}

/** The host id range of a dyno's user namespace: "0 <base> 65536". */
function uidMap(pid: number): string {
  return fs.readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().split(/\s+/).join(' ');
}

t.test('one plan started 3 times concurrently: 3 isolated instances', async (t) => {
  const app = tempApp(t);
  const plan = engine.plan({ command: ['sh', '-c', 'sleep 30 & hostname; ps -e -o pid= | wc -l; sleep 1; kill $!; wait'], app, name: 'web.1' });
  t.ok(Object.isFrozen(plan) && Object.isFrozen(plan.mounts), 'a plan is frozen: what start() gets is what plan() returned');
  const dynos = await Promise.all([0, 1, 2].map(() => engine.start(plan)));
  const maps = dynos.map((d) => uidMap(d.pid));
  const outs = await Promise.all(dynos.map(collect));
  const exits = await Promise.all(dynos.map((d) => d.wait()));
  t.same(exits.map((e) => e.status), [0, 0, 0]);
  t.equal(new Set(dynos.map((d) => d.id)).size, 3, 'distinct ids');
  t.equal(new Set(dynos.map((d) => d.cgroupPath)).size, 3, 'distinct cgroups');
  for (const d of dynos) t.match(d.cgroupPath, new RegExp(`dynod/run/web\\.1-${d.id.slice(0, 8)}$`), 'cgroup named by what it holds');
  t.equal(new Set(maps).size, 3, `distinct id ranges: ${maps.join(' | ')}`);
  for (const m of maps) t.match(m, /^0 \d+ 65536$/);
  outs.forEach((out, i) => {
    const [host, count] = lines(out);
    t.equal(host, dynos[i]!.id, 'each hostname is its own instance id');
    t.equal(count, '5', 'each sees only its own processes (dynod-init, sh, sleep, ps, wc)');
  });
});

t.test('states follow intent: a stop asked for is down, an exit nobody asked for is crashed (even 0)', async (t) => {
  const app = tempApp(t);
  const a = await engine.start({ command: ['sh', '-c', 'exit 0'], app });
  const sa = states(a);
  t.equal((await a.wait()).status, 0);
  t.same(sa, ['up', 'crashed']);

  const b = await engine.start({ command: ['sleep', '30'], app });
  const sb = states(b);
  const e = await b.stop(5_000);
  t.same(sb, ['up', 'stopping', 'down']);
  t.equal(e.signal, null, 'dynod-init ended with the command');
  t.equal(e.status, 143, 'sleep died of the forwarded SIGTERM');

  const c = await engine.start({ command: ['sleep', '30'], app });
  const sc = states(c);
  c.kill('SIGKILL');
  await c.wait();
  t.same(sc, ['up', 'crashed'], 'a signal is not a stop');
});

t.test('stop() escalates to SIGKILL after the grace, and the dyno ends down', async (t) => {
  const app = tempApp(t);
  const d = await engine.start({ command: ['sh', '-c', 'trap "" TERM; echo ready; while :; do sleep 0.05; done'], app });
  const out = collect(d);
  await new Promise<void>((r) => d.stdout!.once('data', () => r())); // the trap is set
  const t0 = Date.now();
  const e = await d.stop(400);
  const ms = Date.now() - t0;
  t.equal(e.signal, 'SIGKILL');
  t.equal(e.status, 137);
  t.ok(ms >= 350, `the grace was given (${ms} ms)`);
  t.equal(d.state, 'down');
  t.match(await out, /ready/);
});

t.test('waitForPort resolves when the dyno listens on $PORT, times out cleanly otherwise', async (t) => {
  const app = tempApp(t, {
    'server.js': "setTimeout(() => require('net').createServer().listen(Number(process.env.PORT), '0.0.0.0'), 300);",
  });
  const d = await engine.start({ command: ['node', 'server.js'], app, port: 5123 });
  t.equal(d.state, 'up', 'up: the command runs (not yet listening)');
  // The polls share one sock_diag socket in the dyno's namespace, closed when they end:
  // it would otherwise keep the namespace (and an fd) after the dyno.
  const sockets = () => new Set(fs.readdirSync('/proc/self/fd').map((fd) => { try { return fs.readlinkSync(`/proc/self/fd/${fd}`); } catch { return ''; } }).filter((l) => l.startsWith('socket:')));
  const before = sockets();
  const added = () => [...sockets()].filter((s) => !before.has(s));
  const t0 = Date.now();
  const waits = [d.waitForPort(5123, 10_000), d.waitForPort(5123, 10_000)];
  await new Promise((r) => setTimeout(r, 50));
  t.equal(added().length, 1, 'one socket for both waits while they poll');
  await Promise.all(waits);
  t.ok(Date.now() - t0 >= 200, 'not before the listen');
  t.same(added(), [], 'closed once no wait polls');
  await t.rejects(d.waitForPort(5124, 150), { name: 'DynodError', code: 'ETIMEDOUT', step: 'wait for port' });
  // its arguments checked, each named
  for (const [port, ms, what] of [[0, 100, /port 0:/], [70000, 100, /port 70000:/], ['abc', 100, /port abc:/], [5123, -1, /timeout -1:/], [5123, 'x', /timeout x:/]] as const)
    await t.rejects(d.waitForPort(port as number, ms as number), { name: 'UsageError', message: what });
  t.same(added(), [], 'closed after a timeout too');
  await d.stop(2_000);
  await t.rejects(d.waitForPort(5123, 1_000), { name: 'DynodError', step: 'wait for port' }, 'rejects once the dyno has ended');
});

t.test('stats() reads the dyno from its cgroup', async (t) => {
  const app = tempApp(t);
  const d = await engine.start({ command: ['sh', '-c', 'sleep 1 & sleep 1 & wait'], app, size: 'standard-2x' });
  await new Promise((r) => setTimeout(r, 150));
  const s = d.stats();
  t.equal(s.memory.quotaBytes, 1024 * 1024 * 1024);
  t.equal(s.pids.current, 4, 'init, sh and two sleeps');
  t.equal(s.pids.limit, 512);
  t.ok(s.memory.usedBytes > 0);
  t.equal(s.oomKills, 0);
  await d.stop(1_000);
  t.ok(d.stats().memory.quotaBytes, 'the last reading stays available after the end');
});

t.test("stats() after the end keeps the dyno's CPU time (also where it comes from /proc: v1 without cpu,cpuacct)", async (t) => {
  const app = tempApp(t);
  // a child that burns CPU and exits, reaped by PID 1: what is left to read is PID 1's reaped children
  const d = await engine.start({ command: ['sh', '-c', 'sh -c "i=0; while [ \\$i -lt 200000 ]; do i=\\$((i+1)); done"'], app }, { stdout: 'ignore', stderr: 'ignore' });
  const e = await d.wait();
  t.equal(e.status, 0);
  const cpu = d.stats().cpu.usageUsec ?? 0;
  t.ok(cpu > 50_000, `the last reading counts the CPU the dyno used (${cpu} µs)`);
});

t.test('options are checked at run time: a mistyped or unknown field is a UsageError naming it', async (t) => {
  const app = tempApp(t);
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ command: 'echo hi' }, /^dyno options: command "echo hi": expected an array of strings$/],
    [{ command: ['true'], name: 5 }, /^dyno options: name 5: expected a string$/],
    [{ command: ['true'], env: { A: 5 } }, /^dyno options: env \{"A":5\}: expected an object of string values$/],
    [{ command: ['true'], rows: -1 }, /^dyno options: rows -1: expected a whole number from 1 to 65535$/],
    [{ command: ['true'], cols: 1.5 }, /^dyno options: cols 1\.5: expected a whole number from 1 to 65535$/],
    [{ command: ['true'], cpus: '0.5' }, /^dyno options: cpus "0\.5": expected a number of CPUs$/],
    [{ command: ['true'], allowHostPorts: 25020 }, /^dyno options: allowHostPorts 25020: expected an array of port numbers$/],
    [{ command: ['true'], envFile: 5 }, /^dyno options: envFile 5: expected a file, or an array of files$/],
    [{ command: ['true'], net: 'bridge' }, /^dyno options: net "bridge": expected "private", "none", "host"$/],
    [{ command: ['true'], memroy: '128M' }, /^dyno options: unknown option "memroy"; known: command, size, memory, /],
  ];
  for (const [opts, message] of bad) t.throws(() => engine.plan(opts as never), { name: 'UsageError', message }, JSON.stringify(opts));
  await t.rejects(engine.start({ command: ['true'], app, Size: 'standard-2x' } as never), { message: /unknown option "Size"/ }, 'start() too, before anything is made');
  t.ok(engine.plan({ command: ['true'], app, name: undefined, memory: 128 * 1024 * 1024, publish: [8080, '127.0.0.1:8081'] }), 'undefined fields and both publish forms pass');
  // start()'s own options too; a bad signal threw inside the start, and its rejection went unhandled
  let unhandled = 0;
  const onUnhandled = () => unhandled++;
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => void process.off('unhandledRejection', onUnhandled));
  for (const [opts, message] of [
    [{ signal: 'x' }, /^start options: signal "x": expected an AbortSignal$/],
    [{ stdout: 'file' }, /^start options: stdout "file": expected "inherit", "pipe", "ignore" or an fd \('stdout' is for stderr only\)$/],
    [{ stdout: 1.5 }, /^start options: stdout 1\.5: expected/],
    [{ onCreated: 'x' }, /^start options: onCreated "x": expected a function$/],
    [{ group: 5 }, /^start options: group 5: expected a group name/],
    [{ bogusOpt: 1 }, /^start options: unknown option "bogusOpt"; known: stdin, stdout, stderr, trace, signal, group, onCreated$/],
  ] as const)
    await t.rejects(engine.start({ command: ['true'], app }, opts as never), { name: 'UsageError', message }, JSON.stringify(opts));
  await new Promise((r) => setImmediate(r));
  t.equal(unhandled, 0, 'no unhandled rejection');
  t.equal(engine.dynos.length, 0, 'nothing was started');
});

t.test('an AbortSignal ends a start that has not reached up', async (t) => {
  const app = tempApp(t);
  const ac = new AbortController();
  ac.abort(new Error('changed my mind'));
  await t.rejects(engine.start({ command: ['true'], app }, { signal: ac.signal }), { name: 'DynodError', code: 'ABORT_ERR' }, 'aborted before');
  const ac2 = new AbortController();
  const p = engine.start({ command: ['true'], app }, { signal: ac2.signal });
  queueMicrotask(() => ac2.abort());
  const err = await p.then(() => null, (e: unknown) => e);
  // Depending on timing the abort lands before up (rejected) or after (ignored): never a raw error, never a leak.
  if (err) t.ok(err instanceof DynodError, 'a DynodError');
  t.equal(engine.dynos.filter((d) => d.state === 'starting').length, 0);
});

t.test('every failure to start rejects with a DynodError that keeps its cause', async (t) => {
  const app = tempApp(t);
  await t.rejects(engine.start({ command: ['no-such-command-xyz'], app }), CommandError);
  await t.rejects(engine.start({ command: [], app }), { name: 'UsageError' });
  await t.rejects(engine.start({ command: ['true'], app: '/nonexistent/app' }), { name: 'UsageError' });
  await t.rejects(engine.start({ command: ['true'], app, size: 'huge' as never }), { name: 'UsageError', message: /unknown size/ });
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
  const takenPort = (taken.address() as net.AddressInfo).port;
  await t.rejects(engine.start({ command: ['true'], app, publish: [`127.0.0.1:${takenPort}`] }), { name: 'DynodError', message: /already in use/ }, 'a port that cannot be bound');
  taken.close();
  const plan = engine.plan({ command: ['true'], app });
  const edited = { ...JSON.parse(JSON.stringify(plan)), user: { name: 'root', uid: 0, gid: 0 } };
  await t.rejects(engine.start(edited), { name: 'UsageError', message: /plan\.user/ }, 'an edited plan is refused, naming the field');
  const roundTrip = JSON.parse(JSON.stringify(plan));
  const ok = await engine.start(roundTrip);
  t.equal((await ok.wait()).status, 0, 'a plan read back from JSON is accepted as it is');
  const closed = new Engine();
  await closed.close();
  await t.rejects(closed.start({ command: ['true'], app }), { name: 'DynodError', message: /closed/ });
  const r = await engine.run({ command: ['no-such-command-xyz'], app });
  t.equal(r.exit.status, 127);
  t.ok(r.exit.error instanceof DynodError);
});

t.test('two engines in one process never share an id range', async (t) => {
  const app = tempApp(t);
  const other = new Engine();
  t.teardown(() => other.close());
  const ds = await Promise.all([engine, other, engine, other].map((e) => e.start({ command: ['sleep', '2'], app })));
  const maps = ds.map((d) => uidMap(d.pid));
  t.equal(new Set(maps).size, 4, maps.join(' | '));
  await Promise.all(ds.map((d) => d.stop(0)));
});

t.test('close() stops every live dyno and releases the engine', async (t) => {
  const app = tempApp(t);
  const e = new Engine();
  const ds = await Promise.all([1, 2, 3].map(() => e.start({ command: ['sleep', '30'], app })));
  t.equal(e.dynos.length, 3);
  await e.close();
  t.same(ds.map((d) => d.state), ['down', 'down', 'down']);
  t.equal(e.dynos.length, 0);
});

t.test('a --publish connection racing the dyno\'s end never throws', async (t) => {
  const app = tempApp(t, { 'server.js': "require('net').createServer((s) => s.end('hi')).listen(Number(process.env.PORT), '127.0.0.1'); setTimeout(() => process.exit(0), 300);" });
  let uncaught: unknown = null;
  const onUncaught = (e: unknown) => (uncaught = e);
  process.on('uncaughtException', onUncaught);
  t.teardown(() => process.off('uncaughtException', onUncaught));
  const free = net.createServer();
  await new Promise<void>((r) => free.listen(0, '127.0.0.1', () => r()));
  const port = (free.address() as net.AddressInfo).port;
  await new Promise<void>((r) => free.close(() => r()));
  const d = await engine.start({ command: ['node', 'server.js'], app, publish: [`127.0.0.1:${port}`] });
  let done = false;
  void d.wait().then(() => (done = true));
  let connections = 0;
  while (!done) {
    await new Promise<void>((r) => {
      const c = net.connect(port, '127.0.0.1');
      c.on('error', () => r()).on('close', () => r());
      c.resume();
    });
    connections++;
  }
  t.equal(uncaught, null, `no uncaught exception over ${connections} connections`);
});

t.test("the embedder's stdio flags stay as they were after run(), with sockets as stdio", async (t) => {
  const app = tempApp(t);
  const script = `
    const fs = require('fs');
    const { run } = require(${JSON.stringify(ROOT)});
    const flags = () => [0, 1, 2].map((fd) => /^flags:\\s+(\\d+)/m.exec(fs.readFileSync('/proc/self/fdinfo/' + fd, 'utf8'))[1]);
    const kinds = [0, 1, 2].map((fd) => fs.readlinkSync('/proc/self/fd/' + fd).replace(/:.*/, ''));
    process.stdout.write(''); process.stderr.write(''); // libuv sets up its stdio
    const before = flags();
    run({ command: ['sh', '-c', 'echo from-the-dyno; grep ^flags /proc/self/fdinfo/1'], app: ${JSON.stringify(app)} }).then(({ exit }) => {
      console.error(JSON.stringify({ before, after: flags(), kinds, status: exit.status }));
    });`;
  const r = await new Promise<{ stdout: string; stderr: string }>((resolve) => {
    const env = hostEnv();
    execFile('/usr/bin/env', ['-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, '-e', script], { timeout: 30_000 }, (_e, stdout, stderr) => resolve({ stdout, stderr }));
  });
  const report = JSON.parse(lines(r.stderr).pop() ?? '{}');
  t.same(report.kinds, ['socket', 'socket', 'socket'], 'a child of a Node parent has socket stdio');
  t.equal(report.status, 0);
  t.same(report.after, report.before, `flags unchanged: ${JSON.stringify(report)}`);
  t.ok(report.before.slice(1).every((f: string) => (parseInt(f, 8) & 0o4000) !== 0), 'they were non-blocking (libuv) to begin with');
  const [first, dynoFlags] = lines(r.stdout);
  t.equal(first, 'from-the-dyno', "the dyno's output reached the embedder's stdout");
  t.equal(parseInt(dynoFlags!.replace(/^flags:\s+/, ''), 8) & 0o4000, 0, `the dyno's own stdout is blocking (${dynoFlags})`);
});

t.test('a start from a worker thread is refused (the dyno would die with the thread)', async (t) => {
  const { Worker } = await import('node:worker_threads');
  const app = tempApp(t);
  const w = new Worker(
    `const { parentPort } = require('worker_threads');
     require(${JSON.stringify(ROOT)}).start({ command: ['true'], app: ${JSON.stringify(app)} })
       .then(() => parentPort.postMessage('resolved'), (e) => parentPort.postMessage(e.name + ': ' + e.message));`,
    { eval: true },
  );
  const msg = await new Promise((resolve) => w.once('message', resolve));
  await w.terminate();
  t.match(msg, /^DynodError: .*main thread/);
});

t.test('close() while starts are in flight: every start settles and nothing is left running', async (t) => {
  const app = tempApp(t);
  const e = new Engine();
  const starts = Promise.allSettled([1, 2, 3, 4, 5].map(() => e.start({ command: ['sleep', '30'], app })));
  await new Promise((r) => setImmediate(r));
  await e.close();
  const settled = await starts;
  for (const s of settled) {
    if (s.status === 'rejected') t.ok(s.reason instanceof DynodError, `rejected with a DynodError: ${(s.reason as Error).message}`);
    else t.equal(s.value.state, 'down', 'up, then stopped by close()');
  }
  t.equal(e.dynos.length, 0);
});

t.test("stats().cpu counts the CPU of processes that have already exited (reaped inside the dyno)", async (t) => {
  const app = tempApp(t);
  const d = await engine.start({
    command: ['sh', '-c', 's=$(date +%s%N); (i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done); e=$(date +%s%N); echo $(( (e - s) / 1000 )); sleep 30'],
    app,
  });
  const wallUs = Number(await new Promise<string>((r) => d.stdout!.once('data', (b: Buffer) => r(b.toString()))));
  const used = d.stats().cpu.usageUsec!;
  await d.stop(0);
  t.ok(wallUs > 50_000, `the subshell burnt ${wallUs} µs`);
  t.ok(used >= wallUs * 0.3 && used <= wallUs * 1.5 + 200_000, `the dyno used ${used} µs of CPU, the subshell's included (burn took ${wallUs} µs)`);
});

t.test('onCreated sees the dyno before it runs: every event, starting → up included, in order', async (t) => {
  const app = tempApp(t);
  const seen: string[] = [];
  const d = await engine.start({ command: ['true'], app }, {
    trace: true,
    onCreated: (dyno) => {
      seen.push(`created:${dyno.state}`);
      dyno.on('state', (from, to) => seen.push(`${from}>${to}`));
      dyno.on('up', () => seen.push('up'));
      dyno.on('exit', (e) => seen.push(`exit:${e.status}`));
    },
  });
  await d.wait();
  t.same(seen, ['created:starting', 'starting>up', 'up', 'up>crashed', 'exit:0']);
  t.ok(d.traces.some((p) => p.phase === 'command running'), 'trace points recorded');
});

t.test('stop() during a start: no up, the start rejects with a DynodError, the exit is a clean SIGKILL, state down', async (t) => {
  const app = tempApp(t);
  const seen: string[] = [];
  let exitSeen: import('../../src/index').DynoExit | null = null;
  const err = await engine
    .start({ command: ['sleep', '30'], app }, {
      trace: true,
      onCreated: (d) => {
        d.on('state', (from, to) => seen.push(`${from}>${to}`));
        d.on('up', () => seen.push('up'));
        d.on('exit', (e) => (exitSeen = e));
        d.on('trace', (p) => { if (p.phase === 'spawned') void d.stop(0); });
      },
    })
    .then(() => null, (e: unknown) => e);
  t.ok(err instanceof DynodError, `rejected: ${(err as Error)?.message}`);
  t.notMatch((err as DynodError).code, /ESRCH/, 'not a cgroup join error of our own kill');
  t.same(seen, ['starting>stopping', 'stopping>down']);
  t.match(exitSeen, { signal: 'SIGKILL', error: null });
});

t.test("a start that fails before a process exists still emits 'exit' and resolves wait()", async (t) => {
  const app = tempApp(t);
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => taken.close());
  let dyno: Dyno | null = null;
  const exits: unknown[] = [];
  await t.rejects(engine.start({ command: ['true'], app, publish: [`127.0.0.1:${(taken.address() as net.AddressInfo).port}`] }, {
    onCreated: (d) => { dyno = d; d.on('exit', (e) => exits.push(e)); },
  }), { name: 'DynodError' });
  t.equal(exits.length, 1, "'exit' emitted once");
  t.match(await dyno!.wait(), { status: 125, error: { name: 'DynodError' } });
  t.equal(dyno!.state, 'crashed');
});

t.test('a terminal nobody reads is released when its dyno ends', async (t) => {
  const app = tempApp(t);
  const ptmx = () => fs.readdirSync('/proc/self/fd').filter((fd) => { try { return fs.readlinkSync(`/proc/self/fd/${fd}`) === '/dev/ptmx' || fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith('/dev/pts/ptmx'); } catch { return false; } }).length;
  const before = ptmx();
  for (let i = 0; i < 10; i++) {
    const d = await engine.start({ command: ['sh', '-c', 'echo hi'], app, interactive: true, tty: true });
    t.ok(d.terminal, 'a terminal');
    await d.wait();
  }
  await new Promise((r) => setTimeout(r, 50));
  t.equal(ptmx(), before, 'no pty master left open');
});

t.test("the dynos of one app share their plan's mount list (frozen), and a plan that differs gets its own", async (t) => {
  const app = tempApp(t);
  const a = engine.plan({ command: ['true'], app, name: 'web.1' });
  const b = engine.plan({ command: ['true'], app, name: 'web.2', env: { X: '1' } });
  t.equal(a.mounts, b.mounts, 'one list for both');
  t.ok(Object.isFrozen(a.mounts) && Object.isFrozen(a.mounts[0]), 'frozen');
  t.not(a.env, b.env);
  const other = engine.plan({ command: ['true'], app: tempApp(t), name: 'web.1' });
  t.not(other.mounts, a.mounts, 'another app: another list');
  t.notSame(other.mounts, a.mounts);
  const d = await engine.start(b, { stdout: 'ignore', stderr: 'ignore' });
  t.equal((await d.wait()).status, 0, 'a plan with a shared list runs');
});

// After its last check before the clone a start still awaits (/app's idmapped mount)
// and emits its 'spawn' trace: an abort that lands there still ends it.
t.test('an abort just before the clone ends the start', async (t) => {
  const app = tempApp(t);
  const ac = new AbortController();
  let created: Dyno | null = null;
  const p = engine.start(
    { command: ['sleep', '30'], app },
    {
      signal: ac.signal,
      trace: true,
      stdout: 'ignore',
      onCreated: (d) => {
        created = d;
        d.on('trace', (x) => x.phase === 'spawn' && ac.abort(new Error('changed my mind')));
      },
    },
  );
  await t.rejects(p, { name: 'DynodError', code: 'ABORT_ERR' });
  t.ok(created, 'the dyno existed');
  const exit = await created!.wait();
  t.equal(exit.error?.code, 'ABORT_ERR', 'it ended aborted, not running for 30 s');
  t.same(created!.cgroupDirs.filter((d) => fs.existsSync(d)), [], 'its cgroup is gone');
});
