// What dynod leaves behind: nothing after a normal run, and nothing for long after it is SIGKILLed.
import t from 'tap';
import * as fs from 'node:fs';
import { run, sh, spawnDynod, waitFor } from '../helpers/dynod';
import { tempApp } from '../helpers/app';
import { CGROUP_V2, DYNO_CGROUP_DIRS, alive, allDynoCgroupDirs, cgroupProcs, dynoCgroupDirs, readTrim } from '../helpers/host';

t.test('a normal run removes its cgroups', async (t) => {
  const app = tempApp(t);
  const d = spawnDynod(['run', '--app', app, '--', 'sh', '-c', 'echo ready; sleep 0.3']);
  await d.waitForStdout(/ready\n/);
  const dirs = allDynoCgroupDirs(d.pid);
  t.equal(dirs.length, DYNO_CGROUP_DIRS, CGROUP_V2 ? 'one cgroup (v2) while it runs' : 'memory, cpu and pids cgroups while it runs');
  const r = await d.result;
  t.equal(r.code, 0, `status (stderr: ${r.stderr})`);
  for (const dir of dirs) t.notOk(fs.existsSync(dir), `${dir} removed`);
});

t.test('after SIGKILL of dynod the dyno\'s processes die, and the next dynod removes the stale cgroup', async (t) => {
  const app = tempApp(t);
  const d = spawnDynod(['run', '--app', app, '--', 'sh', '-c', 'sleep 60 & echo ready; exec sleep 61']);
  await d.waitForStdout(/ready\n/);
  const dirs = allDynoCgroupDirs(d.pid);
  t.equal(dirs.length, DYNO_CGROUP_DIRS);
  const pidsDir = CGROUP_V2 ? dirs[0]! : dirs.find((x) => x.includes('/pids/'))!;
  // "ready" comes before the exec of sleep 61 (and maybe of sleep 60): wait for both
  const argv0 = (p: number) => { try { return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0')[0]; } catch { return ''; } };
  const procs = await waitFor(() => {
    const ps = cgroupProcs(pidsDir);
    return ps.map(argv0).sort().join(' ') === 'dynod-init sleep sleep' && ps;
  }, 5000, 'dynod-init, sleep 60 and sleep 61 in the cgroup').catch(() => cgroupProcs(pidsDir));
  t.same(procs.map(argv0).sort(), ['dynod-init', 'sleep', 'sleep'], 'dynod-init, sleep 60 and sleep 61, by their host pids');

  d.child.kill('SIGKILL');
  const r = await d.result;
  t.equal(r.signal, 'SIGKILL');
  await waitFor(() => procs.every((p) => !alive(p)), 5000, 'the dyno\'s processes to die');
  t.pass('every process of the dyno is gone');

  // nobody removed the cgroups (dynod was killed), unless another dynod swept them meanwhile
  const stale = dirs.filter((x) => fs.existsSync(x));
  t.comment(`${stale.length} stale cgroup dirs left by the killed dynod`);
  for (const x of stale) {
    // the kernel may list a task for a moment after it was reaped
    const empty = await waitFor(() => { try { return cgroupProcs(x).length === 0; } catch { return true; } }, 2000, `${x} to empty`).catch(() => false);
    t.ok(empty, `${x} is empty`);
  }

  const next = await run(['true'], ['--app', app]);
  t.equal(next.code, 0, next.stderr);
  for (const x of dirs) t.notOk(fs.existsSync(x), `${x} removed by the next dynod`);
});

t.test('SIGKILL of dynod during a fork-heavy dyno leaves no process behind', async (t) => {
  const app = tempApp(t);
  const d = spawnDynod(['run', '--app', app, '--', 'sh', '-c', 'for i in $(seq 20); do sleep 60 & done; echo ready; wait']);
  await d.waitForStdout(/ready\n/);
  const [pidsDir] = dynoCgroupDirs('pids', d.pid);
  const procs = cgroupProcs(pidsDir!);
  t.equal(procs.length, 22, 'init, sh and 20 sleeps');
  t.equal(readTrim(`${pidsDir}/pids.current`), '22');
  d.child.kill('SIGKILL');
  await d.result;
  await waitFor(() => procs.every((p) => !alive(p)), 5000, 'the dyno\'s processes to die');
  t.pass('all 22 gone');
  const next = await sh('true', ['--app', app]);
  t.equal(next.code, 0, `status (stderr: ${next.stderr})`);
  t.notOk(fs.existsSync(pidsDir!), 'swept');
});
