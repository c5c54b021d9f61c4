// SIGKILL of the dynod CLI at 100 moments spread over a start (before the cgroup,
// between the cgroup and the clone, while the child builds the root, at the exec,
// while the command runs): once the next dynod has swept, nothing is left, neither
// cgroups nor processes nor mounts.
import t from 'tap';
import * as fs from 'node:fs';
import { run, spawnDynod, waitFor } from '../helpers/dynod';
import { tempApp } from '../helpers/app';
import { DYNO_CONTROLLERS, dynoLeaves, dynodRoot, hostProcesses } from '../helpers/host';

const N = Number(process.env.DYNOD_TEST_KILLS ?? 100);

/** A small seeded PRNG (mulberry32): the moments are spread at random, and a failure can be replayed with its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const dynodLike = (file: string) => fs.readFileSync(file, 'utf8').split('\n').filter((l) => /newroot|\.oldroot|dynod/.test(l));

t.test(`SIGKILL of dynod at ${N} random moments of a start leaves nothing once the next run has swept`, async (t) => {
  const app = tempApp(t);
  const prefix = `kill-${process.pid}`;
  const ours = new RegExp(`/dynod/run/${prefix}\\.\\d+-[0-9a-f]{8}(/|$)`, 'm');
  const mountsBefore = new Set([...dynodLike('/proc/self/mountinfo'), ...dynodLike('/proc/1/mountinfo')]);

  // how long a whole start takes here, so the moments cover it from exec of node to the command
  const t0 = Date.now();
  const probe = await run(['sh', '-c', 'echo up'], ['--app', app]);
  t.equal(probe.code, 0, probe.stderr);
  const span = Math.max(100, Math.round((Date.now() - t0) * 1.3));
  const seed = Number(process.env.DYNOD_TEST_SEED ?? Date.now() % 1_000_000);
  const rand = prng(seed);
  t.comment(`seed ${seed} (DYNOD_TEST_SEED replays it); moments spread over 0-${span} ms`);

  const outcomes = { beforeUp: 0, afterUp: 0 };
  for (let i = 0; i < N; i++) {
    const d = spawnDynod(['run', '--app', app, '--name', `${prefix}.${i}`, '--', 'sh', '-c', 'echo up; exec sleep 30'], { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, Math.floor(rand() * span)));
    if (/up/.test(d.stdoutSoFar())) outcomes.afterUp++;
    else outcomes.beforeUp++;
    d.child.kill('SIGKILL');
    const r = await d.result;
    if (r.signal !== 'SIGKILL' && r.code !== 0) t.fail(`dynod ${i} ended ${r.code} before the kill: ${r.stderr}`);
  }
  t.comment(`killed ${outcomes.beforeUp} before the command ran, ${outcomes.afterUp} after`);

  // The kernel ends each dyno (parent-death signal to PID 1, then its PID namespace).
  const procsLeft = () => hostProcesses().filter((p) => ours.test(p.cgroup));
  await waitFor(() => procsLeft().length === 0, 10_000, 'the dynos of the killed dynods to die').catch(() => {});
  t.same(procsLeft().map((p) => `${p.pid} ${p.cmdline}`), [], 'no process of the killed dynods is left');

  const next = await run(['true'], ['--app', app]);
  t.equal(next.code, 0, `the next run (it sweeps first): ${next.stderr}`);
  const leaves = [...new Set(DYNO_CONTROLLERS.map((c) => dynodRoot(c)))].flatMap((root) => dynoLeaves(root));
  t.same(leaves.filter((l) => ours.test(l)), [], 'no cgroup of the killed dynods is left');
  for (const file of ['/proc/self/mountinfo', '/proc/1/mountinfo'])
    t.same(dynodLike(file).filter((l) => !mountsBefore.has(l)), [], `${file}: no mount left`);
});
