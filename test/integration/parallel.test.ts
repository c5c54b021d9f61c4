// Many dynos at once, through the library and through the CLI.
import t from 'tap';
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { sh, lines } from '../helpers/dynod';
import { tempApp } from '../helpers/app';
import { DYNO_CONTROLLERS, unownedDynoLeaves, hostProcesses } from '../helpers/host';
import { runLib } from '../helpers/lib';
import { plan, start } from '../../src/index';

t.test('20 dynos in parallel through the library: all exit 0, each with its own hostname, /app and /tmp', async (t) => {
  const app = tempApp(t, { 'data/keep.txt': 'keep\n' });
  const N = 20;
  const plans = Array.from({ length: N }, (_, i) =>
    plan({
      command: ['sh', '-c', `hostname; echo $DYNO; echo ${i} > /app/data/mine; echo ${i} > /tmp/mine; sleep 0.3; cat /app/data/mine /tmp/mine; ls /app/data | tr "\\n" " "; echo`],
      app,
      name: `worker.${i + 1}`,
    }),
  );
  const t0 = Date.now();
  const results = await Promise.all(plans.map((p) => runLib(p)));
  t.comment(`${N} dynos in ${Date.now() - t0} ms`);
  const hostnames = new Set<string>();
  results.forEach((r, i) => {
    t.equal(r.exit.status, 0, `dyno ${i}: ${r.stderr}`);
    t.equal(r.exit.error, null);
    t.equal(r.stderr, '');
    t.same(lines(r.stdout), [r.dyno.id, `worker.${i + 1}`, String(i), String(i), 'keep.txt mine '], `dyno ${i} saw only its own writes`);
    hostnames.add(lines(r.stdout)[0]!);
  });
  t.equal(hostnames.size, N, 'distinct hostnames');
  t.equal(new Set(results.map((r) => r.dyno.pid)).size, N, 'distinct host pids');
  // each distinct directory once: memory, cpu and pids on v1, the one unified directory on v2
  const mine = new Set(results.map((r) => r.dyno.cgroupPath.split('/').pop()));
  for (const c of DYNO_CONTROLLERS) t.same(unownedDynoLeaves(c, (leaf) => mine.has(leaf)), [], `no ${c} cgroup is left without its dynod`);
});

t.test('10 CLI dynos in parallel with different outcomes', async (t) => {
  const app = tempApp(t);
  const N = 10;
  const results = await Promise.all(Array.from({ length: N }, (_, i) => sh(`echo $DYNO; exit ${i}`, ['--app', app, '--name', `run.${1000 + i}`])));
  results.forEach((r, i) => {
    t.equal(r.code, i);
    t.equal(r.stdout, `run.${1000 + i}\n`);
    t.equal(r.stderr, '');
  });
});

/** null after ms, without keeping the process alive */
const later = (ms: number) => new Promise<null>((r) => setTimeout(() => r(null), ms).unref());

// The child of clone() in a multithreaded process must not call glibc functions that
// synchronise with the other threads (setresuid & co. walk the thread list under a lock):
// had another thread held that lock at the moment of the clone (creating or exiting), the
// child would wait forever on a futex.
//
// What this can prove: with threads being created and exiting in other threads for the whole
// time (not on this event loop, so truly concurrent with each clone), a fixed number of starts
// all finish: a regression that takes such a lock in the child shows up as a hang with high
// probability. What it cannot prove: the absence of the bug; the race window is a few
// instructions wide and no test can force a lock to be held exactly at the clone.
t.test('120 dynod starts while two other threads create and join worker threads in a tight loop: every start finishes', async (t) => {
  const app = tempApp(t);
  // Two churners: each a worker that, in its own thread, creates and joins workers until told to stop.
  const shared = new Int32Array(new SharedArrayBuffer(8)); // [0]: stop flag, [1]: threads created
  const churnSrc = `
    const { Worker, workerData } = require('node:worker_threads');
    const s = workerData;
    (async () => {
      while (Atomics.load(s, 0) === 0) {
        const w = new Worker('', { eval: true });
        Atomics.add(s, 1, 1);
        await new Promise((r) => w.once('exit', r));
      }
    })();
  `;
  const churners = [0, 1].map(() => new Worker(churnSrc, { eval: true, workerData: shared }));
  const created = () => Atomics.load(shared, 1);
  const N = 120;
  const stuck: number[] = [];
  let ok = 0;
  let overlapped = 0;
  try {
    for (let i = 0; i < N; i += 3) {
      // the condition is forced: no start before the churners are demonstrably creating threads
      const c0 = created();
      const deadline = Date.now() + 10_000;
      while (created() === c0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
      await Promise.all([0, 1, 2].map(async (k) => {
        const before = created();
        const dyno = await Promise.race([
          start({ command: ['true'], app, user: k === 0 ? 'root' : 'dyno' }, { stdout: 'ignore', stderr: 'ignore' }),
          later(10_000),
        ]);
        if (created() !== before) overlapped++;
        if (!dyno) return void stuck.push(i + k);
        const exit = await Promise.race([dyno.wait(), later(10_000)]);
        if (!exit) {
          stuck.push(i + k);
          dyno.kill('SIGKILL');
        } else if (exit.status === 0) ok++;
      }));
    }
  } finally {
    Atomics.store(shared, 0, 1);
    await Promise.all(churners.map((w) => new Promise((r) => w.once('exit', r))));
  }
  if (stuck.length) {
    // the hung children are clones of this process that never exec'd dynod-init: kill them by pid
    for (const p of hostProcesses()) if (p.ppid === process.pid && p.exe === fs.realpathSync(process.execPath)) process.kill(p.pid, 'SIGKILL');
  }
  t.comment(`${created()} threads created and joined by the churners; ${overlapped} of ${N} starts saw a thread created while they ran`);
  t.ok(created() >= N / 3, `the churners ran throughout (${created()} threads, at least one before each round of 3 starts)`);
  t.ok(overlapped > 0, `threads were created during starts (${overlapped} of ${N})`);
  t.same(stuck, [], 'no dyno hung while starting');
  t.equal(ok, N, 'every start finished with status 0');
});

// The idmapped /app mounts are made on the threadpool, several at once, each through a
// helper process in a user namespace of its own. A helper cloned while another thread's
// helper pipe was open holds a copy of its write end: had the helpers waited for EOF,
// two of them holding each other's would wait forever (as 20 starts did once).
t.test('idmapped mounts made concurrently on the threadpool all finish, and close', async (t) => {
  const { native } = await import('../../src/native');
  const app = tempApp(t);
  const st = fs.statSync(app);
  const N = 200;
  const made = Promise.all(
    Array.from(
      { length: N },
      (_, i) =>
        new Promise<number>((resolve, reject) =>
          native().idmapMount(app, `${st.uid} ${200_000 + i} 1\n`, `${st.gid} ${200_000 + i} 1\n`, (err, fd) => (err ? reject(new Error(err.syscall)) : resolve(fd))),
        ),
    ),
  );
  const fds = await Promise.race([made, later(20_000)]);
  t.ok(fds, `${N} idmapped mounts made within 20 s`);
  for (const fd of fds ?? []) fs.closeSync(fd);
  t.equal(new Set(fds ?? []).size, N, 'each its own fd');
});
