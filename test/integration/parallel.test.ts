// Many dynos at once, through the library and through the CLI.
import t from 'tap';
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { sh, lines } from '../helpers/dynod';
import { tempApp } from '../helpers/app';
import { V1_CONTROLLERS, unownedDynoLeaves, hostProcesses } from '../helpers/host';
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
  for (const c of V1_CONTROLLERS) t.same(unownedDynoLeaves(c), [], `no ${c} cgroup is left without its dynod`);
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

t.test('dynods start while the host process keeps creating threads (no deadlock in the cloned child)', async (t) => {
  // The child of clone() in a multithreaded process must not call glibc functions
  // that synchronise with the other threads (setresuid & co.): with a thread being
  // created at the moment of the clone it would wait forever on a futex.
  const app = tempApp(t);
  let churning = true;
  const churn = (async () => {
    while (churning) {
      const w = new Worker('setTimeout(() => {}, 5)', { eval: true });
      await new Promise((r) => w.once('exit', r));
    }
  })();
  const N = 120;
  const stuck: number[] = [];
  let ok = 0;
  for (let i = 0; i < N; i += 3) {
    await Promise.all([0, 1, 2].map(async (k) => {
      const dyno = await Promise.race([
        start({ command: ['true'], app, user: k === 0 ? 'root' : 'dyno' }, { stdout: 'ignore', stderr: 'ignore' }),
        later(10_000),
      ]);
      if (!dyno) return void stuck.push(i + k);
      const exit = await Promise.race([dyno.wait(), later(10_000)]);
      if (!exit) {
        stuck.push(i + k);
        dyno.kill('SIGKILL');
      } else if (exit.status === 0) ok++;
    }));
  }
  churning = false;
  await churn;
  if (stuck.length) {
    // the hung children are clones of this process that never exec'd dynod-init: kill them by pid
    for (const p of hostProcesses()) if (p.ppid === process.pid && p.exe === fs.realpathSync(process.execPath)) process.kill(p.pid, 'SIGKILL');
  }
  t.same(stuck, [], 'no dyno hung while starting');
  t.equal(ok, N);
});
