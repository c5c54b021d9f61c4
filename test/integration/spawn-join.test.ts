// The addon's cgroup join: the child joins its cgroup itself at its join-cgroup op
// (v1: "0" into each hierarchy's tasks file, which moves only the writer and needs
// no threadgroup lock, hence no RCU grace period), unless it was born there (v2's
// CLONE_INTO_CGROUP) or has nothing to join. Checked from the host (the cgroup's
// cgroup.procs while the dyno runs) and through the failures the kernel reports.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native } from '../../src/native';
import type { NativeExit, NativeRecord, NativeSpawnPlan } from '../../src/addon';
import { spawnPlan as helperPlan } from '../helpers/spawn';
import { CGROUP_V2, cgroupMount, ownCgroupPath } from '../helpers/host';

const spawnPlan = (t: Tap.Test, command: string[], procsFiles: string[]) => helperPlan(t, command, { userns: 'host', net: 'host', procsFiles });

interface Started { pid: number; records: NativeRecord[]; exit: Promise<NativeExit> }

function start(sp: NativeSpawnPlan): Started {
  const n = native();
  const r = n.spawn(sp);
  const records: NativeRecord[] = [];
  n.watchChannel(r.channel, (rec) => { if (rec) records.push(rec); });
  const exit = new Promise<NativeExit>((res) => n.watchExit(r.pidfd, res));
  return { pid: r.pid, records, exit };
}

/** A fresh cgroup below this process's own in controller's hierarchy (v1), or in the unified one (v2); removed at teardown. */
function freshCgroup(t: Tap.Test, controller: string): string {
  const dir = path.join(cgroupMount(controller), ownCgroupPath(controller), `dynod-join-test-${process.pid}-${controller}`);
  fs.mkdirSync(dir);
  t.teardown(() => fs.rmdirSync(dir));
  return dir;
}

t.test('nothing to join: spawn() returns, and the dyno runs to its end', async (t) => {
  const s = start(spawnPlan(t, ['sh', '-c', 'exit 7'], []));
  const exit = await s.exit;
  t.same(s.records, [], 'no setup error');
  t.same({ code: exit.code, signal: exit.signal }, { code: 7, signal: null });
  t.type(exit.cpuUsec, 'number', 'with the CPU its reap counted');
});

t.test('the child joins its cgroup itself: seen from the host while it runs, and its cgroup namespace is rooted there', async (t) => {
  const dir = freshCgroup(t, 'memory');
  // The command proves the namespace from inside: its own memory cgroup reads "/".
  const s = start(spawnPlan(t, ['sh', '-c', 'grep -q ":memory:/$\\|^0::/$" /proc/self/cgroup || exit 9; exec sleep 5'], [`${dir}/cgroup.procs`]));
  const comm = (pid: number) => { try { return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return ''; } };
  let procs: number[] = [];
  // until the command has passed its check and become sleep, in a reading where every pid
  // still exists (the check's grep comes and goes: a slow VM lists it after it ended)
  const settled = () => procs.some((p) => comm(p) === 'sleep') && procs.every((p) => comm(p) !== '');
  for (let i = 0; i < 500 && !settled(); i++) {
    procs = fs.readFileSync(`${dir}/cgroup.procs`, 'utf8').trim().split('\n').filter(Boolean).map(Number);
    await new Promise((r) => setTimeout(r, 10));
  }
  t.ok(procs.includes(s.pid), `PID 1 (host pid ${s.pid}) is in ${dir}`);
  t.same(procs.map(comm).sort(), ['memfd:dynod-ini', 'sleep'], 'and so is the command it started (dynod-init runs from its sealed memfd), and nothing else');
  process.kill(s.pid, 'SIGKILL');
  const exit = await s.exit;
  t.same(s.records, [], 'no setup error');
  t.same({ code: exit.code, signal: exit.signal }, { code: null, signal: 9 }, 'the command was still running: the namespace check passed');
});

t.test('a cgroup file that cannot be opened: spawn() throws its step, and nothing is cloned', async (t) => {
  const sp = spawnPlan(t, ['true'], ['/nonexistent-dynod-cgroup/cgroup.procs']);
  t.throws(() => native().spawn(sp), { step: 'join cgroup', syscall: 'open', code: 'ENOENT', detail: '/nonexistent-dynod-cgroup/cgroup.procs' });
});

t.test('a join the kernel refuses reaches the channel as the child\'s error', { skip: CGROUP_V2 ? 'needs a cgroup v1 cpuset hierarchy (v2 host)' : !fs.existsSync('/sys/fs/cgroup/cpuset/cpuset.cpus') ? 'no cgroup v1 cpuset hierarchy here' : false }, async (t) => {
  // A new v1 cpuset has no CPUs until one is given: the kernel refuses tasks (ENOSPC).
  const dir = freshCgroup(t, 'cpuset');
  t.equal(fs.readFileSync(`${dir}/cpuset.cpus`, 'utf8').trim(), '', 'the fresh cpuset has no CPUs');
  const s = start(spawnPlan(t, ['true'], [`${dir}/cgroup.procs`]));
  const exit = await s.exit;
  t.same({ code: exit.code, signal: exit.signal }, { code: 125, signal: null }, 'the child gave up');
  t.match(s.records, [{ kind: 'error', step: 'join cgroup', syscall: 'write', code: 'ENOSPC' }]);
});
