// The cgroup engine on the real kernel (root): names by what they hold, one leaf per
// start, stats() against the files, and ownership by lock (what the sweep removes).
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { tempApp } from '../helpers/app';
import { CGROUP_V2, cgroupProcs, dynodRoot, readTrim } from '../helpers/host';
import { waitFor } from '../helpers/dynod';
import { plan, start, Engine, type Dyno } from '../../src/index';
import { detectCgroups } from '../../src/cgroup';

const MiB = 1024 * 1024;
const ROOT = path.resolve(__dirname, '../..');
const LIMITS = { memoryBytes: 64 * MiB, memorySwapBytes: 128 * MiB, cpuWeight: 100, cpuQuota: null, pids: 32 };

async function stopAll(dynos: Dyno[]): Promise<void> {
  for (const d of dynos) d.kill('SIGKILL');
  await Promise.all(dynos.map((d) => d.wait()));
}

function untilLine(d: Dyno, re: RegExp): Promise<void> {
  return new Promise((resolve) => {
    let buf = '';
    d.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      if (re.test(buf)) resolve();
    });
  });
}

t.test('one plan started 3 times at once: 3 leaves dynod/run/<name>-<id8>, each with its own processes', async (t) => {
  const app = tempApp(t);
  const p = plan({ command: ['sh', '-c', 'echo ready; exec sleep 30'], app, name: 'web.1', memory: '96M' });
  const dynos = await Promise.all([0, 1, 2].map(() => start(p, { stdout: 'pipe', stderr: 'ignore' })));
  t.teardown(() => stopAll(dynos));
  await Promise.all(dynos.map((d) => untilLine(d, /ready\n/)));
  const leaves = dynos.map((d) => path.join(dynodRoot('memory'), 'run', `web.1-${d.id.slice(0, 8)}`));
  t.equal(new Set(leaves).size, 3, 'three distinct leaves');
  dynos.forEach((d, i) => {
    t.equal(d.cgroupDirs[0], leaves[i], `dyno ${i}: named web.1-<its id8> under dynod/run`);
    t.match(d.cgroupPath, new RegExp(`^dynod/run/web\\.1-${d.id.slice(0, 8)}$`));
    for (const dir of d.cgroupDirs) {
      const procs = cgroupProcs(dir);
      t.ok(procs.includes(d.pid), `${dir} holds dyno ${i}'s PID 1`);
      const others = dynos.filter((o) => o !== d).map((o) => o.pid);
      t.notOk(procs.some((x) => others.includes(x)), `${dir} holds no other dyno's PID 1`);
      t.equal(procs.length, 2, `${dir}: dynod-init and sleep`);
    }
    t.equal(readTrim(`${leaves[i]}/${CGROUP_V2 ? 'memory.max' : 'memory.limit_in_bytes'}`), String(96 * MiB));
  });
  await stopAll(dynos);
  for (const l of leaves) t.notOk(fs.existsSync(l), `${l} removed`);
});

t.test('stats() of a running dyno agrees with its cgroup files', async (t) => {
  const app = tempApp(t);
  // 40 MB of anonymous memory, then idle
  const d = await start(plan({ command: ['python3', '-c', 'import time\nb = bytearray(40 * 1024 * 1024)\nprint("ready", flush=True)\ntime.sleep(30)'], app, memory: '128M', pids: 50, cpus: 0.5 }), { stdout: 'pipe', stderr: 'ignore' });
  t.teardown(() => stopAll([d]));
  await untilLine(d, /ready\n/);
  const cg = { dirs: d.cgroupDirs };
  const s = d.stats();
  t.comment(JSON.stringify(s));
  const [mem, cpu, pids] = CGROUP_V2 ? [cg.dirs[0]!, cg.dirs[0]!, cg.dirs[0]!] : [cg.dirs[0]!, cg.dirs[1]!, cg.dirs[2]!];
  const used = Number(readTrim(`${mem}/${CGROUP_V2 ? 'memory.current' : 'memory.usage_in_bytes'}`));
  t.ok(Math.abs(s.memory.usedBytes! - used) < 8 * MiB, `memory used ${s.memory.usedBytes} ≈ ${used}`);
  t.ok(s.memory.rssBytes! >= 40 * MiB && s.memory.rssBytes! < 128 * MiB, `rss ${s.memory.rssBytes} holds the 40 MB bytearray`);
  t.ok(s.memory.cacheBytes !== null && s.memory.cacheBytes >= 0);
  t.equal(s.memory.quotaBytes, 128 * MiB, 'quota exact');
  const swapFile = CGROUP_V2 ? `${mem}/memory.swap.max` : `${mem}/memory.memsw.limit_in_bytes`;
  t.equal(s.memory.limitBytes, fs.existsSync(swapFile) ? 256 * MiB : null, 'RAM+swap kill threshold (standard ratio 2x), where the kernel accounts swap');
  t.equal(s.pids.current, Number(readTrim(`${pids}/pids.current`)), 'pids.current exact once idle');
  t.equal(s.pids.current, 2, 'dynod-init and python');
  t.equal(s.pids.limit, 50);
  t.ok(s.cpu.usageUsec !== null && s.cpu.usageUsec > 0, `cpu used ${s.cpu.usageUsec} µs`);
  t.equal(s.oomKills, 0);
  if (!CGROUP_V2) t.equal(readTrim(`${cpu}/cpu.cfs_quota_us`), '50000');
});

t.test('sweepStale removes a leaf whose owner is gone, never a live one; remove() takes the empty group along', async (t) => {
  const backend = detectCgroups();
  const live = backend.create({ group: 'cgtest', name: 'live', id: 'a1a1a1a1-0000' }, LIMITS);
  t.teardown(() => live.remove());
  // the stale one: made by a child node process that is then SIGKILLed, with a process left inside
  const script = `
    const { detectCgroups } = require(${JSON.stringify(path.join(ROOT, 'dist/cgroup'))});
    const cg = detectCgroups().create({ group: 'cgtest', name: 'stale', id: 'b2b2b2b2-0000' }, ${JSON.stringify(LIMITS)});
    const { spawn } = require('child_process');
    const s = spawn('sleep', ['60'], { stdio: 'ignore', detached: true });
    for (const f of cg.procsFiles) require('fs').writeFileSync(f, String(s.pid));
    process.stdout.write(JSON.stringify({ dirs: cg.dirs, sleep: s.pid }));
    setTimeout(() => {}, 60000);
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const info = await new Promise<{ dirs: string[]; sleep: number }>((resolve) => child.stdout.once('data', (b: Buffer) => resolve(JSON.parse(b.toString()))));
  t.same(cgroupProcs(info.dirs[0]!), [info.sleep], 'a process in the stale leaf');
  await backend.sweepStale(); // (other test files' stale leaves may go meanwhile)
  for (const d of info.dirs) t.ok(fs.existsSync(d), `${d}: its owner is alive, it stays`);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('close', r));
  t.ok(fs.existsSync(info.dirs[0]!), 'a SIGKILLed owner removes nothing');
  const n = await backend.sweepStale();
  t.ok(n >= 1, `swept ${n}`);
  for (const d of info.dirs) t.notOk(fs.existsSync(d), `${d} swept`);
  await waitFor(() => { try { process.kill(info.sleep, 0); return false; } catch { return true; } }, 5000, 'the process left inside to be killed');
  t.pass('the process left inside was killed');
  for (const d of live.dirs) t.ok(fs.existsSync(d), `${d}: the live leaf stays`);
  const group = path.dirname(live.dirs[0]!);
  t.ok(fs.existsSync(group));
  await live.remove();
  for (const d of live.dirs) {
    t.notOk(fs.existsSync(d), `${d} removed`);
    t.ok(fs.existsSync(path.dirname(d)), `${path.dirname(d)}: the group stays a moment, for the next dyno`);
  }
  backend.flushIdleParents(); // what the idle timer does after PARENTS_IDLE_MS, and close() at once
  for (const d of live.dirs) t.notOk(fs.existsSync(path.dirname(d)), `${path.dirname(d)}: the empty group removed`);
  await live.remove();
  t.pass('remove() twice is fine');
});

/** A leaf whose owner (a child node process) is SIGKILLed once it made it: what a dead dynod leaves. */
async function staleLeaf(group: string, id: string): Promise<string[]> {
  const script = `
    const { detectCgroups } = require(${JSON.stringify(path.join(ROOT, 'dist/cgroup'))});
    const cg = detectCgroups().create({ group: ${JSON.stringify(group)}, name: 'stale', id: ${JSON.stringify(id)} }, ${JSON.stringify(LIMITS)});
    process.stdout.write(JSON.stringify(cg.dirs));
    setTimeout(() => {}, 60000);
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const dirs = await new Promise<string[]>((resolve) => child.stdout.once('data', (b: Buffer) => resolve(JSON.parse(b.toString()))));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('close', r));
  return dirs;
}

t.test('an engine sweeps again every sweepIntervalMs, not once per process, until close()', async (t) => {
  const engine = new Engine({ sweepIntervalMs: 100 });
  t.teardown(() => engine.close());
  await engine.prepare(); // the first sweep, and the timer
  // Other test files' dynods sweep the same cgroups, so the engine's own sweeps are counted:
  // its backend (private: detected by the first sweep) with sweepStale wrapped.
  const backend = (engine as unknown as { backend: { sweepStale(): Promise<number> } }).backend;
  const sweepStale = backend.sweepStale.bind(backend);
  let sweeps = 0;
  backend.sweepStale = () => {
    sweeps++;
    return sweepStale();
  };
  const dirs = await staleLeaf('cgsweep', 'd4d4d4d4-0000');
  // no start, no prepare: only the engine's timer sweeps now
  await waitFor(() => sweeps >= 3, 5000, 'three sweeps of the timer');
  await waitFor(() => dirs.every((d) => !fs.existsSync(d)), 5000, 'the leaf left by a SIGKILLed owner to be swept');
  t.pass('the timer sweeps, and the stale leaf is gone');
  await engine.close();
  const after = sweeps;
  await new Promise((r) => setTimeout(r, 500));
  t.equal(sweeps, after, 'a closed engine sweeps no more');
});

t.test('create refuses an existing leaf (EEXIST) and leaves it alone', async (t) => {
  const backend = detectCgroups();
  const a = backend.create({ group: 'cgtest2', name: 'x', id: 'c3c3c3c3' }, LIMITS);
  t.teardown(() => a.remove());
  t.throws(() => backend.create({ group: 'cgtest2', name: 'x', id: 'c3c3c3c3-ffff' }, LIMITS), { name: 'DynodError', code: 'EEXIST', step: 'create cgroup', syscall: 'mkdir' });
  for (const d of a.dirs) t.ok(fs.existsSync(d));
  await backend.sweepStale();
  for (const d of a.dirs) t.ok(fs.existsSync(d), `${d}: still owned, not swept`);
});
