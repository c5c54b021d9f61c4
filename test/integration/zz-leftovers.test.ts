// Runs last (tap orders files by name, and this waits for the other test files of the
// run to finish): nothing any dynod of this run made may outlive it.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RUN_DIR, waitFor } from '../helpers/dynod';
import { CGROUP_V2, alive, cgroupMount, dynoLeaves, dynodMountLines, findDynodCgroupDirs, hostProcesses, leafOwned, startTime } from '../helpers/host';

/** The other test files tap is running next to this one (children of the same runner). */
function siblings(): number[] {
  return hostProcesses().filter((p) => p.ppid === process.ppid && p.pid !== process.pid).map((p) => p.pid);
}

/** dynod processes the helpers started in this run: pid and start time. */
function recordedDynods(): Array<{ pid: number; start: string }> {
  try {
    return fs.readFileSync(path.join(RUN_DIR, 'pids'), 'utf8').split('\n').filter(Boolean).map((l) => {
      const [pid, start] = l.split(' ');
      return { pid: Number(pid), start: start ?? '' };
    });
  } catch {
    return [];
  }
}

/** The owner pid of an older dynod's dyno cgroup "<pid>-<id8>", from a /proc/PID/cgroup text or a path. */
function owners(text: string): number[] {
  return [...text.matchAll(/\/dynod\/(\d+)-[0-9a-f]{8}/g)].map((m) => Number(m[1]));
}

/** The lock-carrying dyno cgroup (dynod/<group>/<leaf>) of a /proc/PID/cgroup text: its memory (v1) or only (v2) line. */
function lockLeaf(text: string): string | null {
  const line = text.split('\n').find((l) => (CGROUP_V2 ? l.startsWith('0::') : l.split(':')[1]?.split(',').includes('memory')));
  const p = line?.split(':').slice(2).join(':') ?? '';
  return /\/dynod\/[^/]+\/[^/]+$/.test(p) && !/\/dynod\/\d+-[0-9a-f]{8}$/.test(p) ? path.join(cgroupMount('memory'), p) : null;
}

// The run's bookkeeping (the pids the helpers recorded) goes too, once checked.
t.teardown(() => fs.rmSync(RUN_DIR, { recursive: true, force: true }));

t.before(async () => {
  // wait (up to 4 minutes) for the rest of the suite: no sibling for 1.5 s in a row
  // (tap starts the next queued file a moment after one ends)
  let lastSeen = Date.now();
  await waitFor(() => {
    if (siblings().length > 0) lastSeen = Date.now();
    return Date.now() - lastSeen > 1500;
  }, 240_000, 'the other test files to finish', 100);
});

t.teardown(() => fs.rmSync(RUN_DIR, { recursive: true, force: true }));

t.test('no dynod mount is left in the host\'s mount namespace', async (t) => {
  t.same(dynodMountLines('/proc/self/mountinfo'), []);
  t.same(dynodMountLines('/proc/1/mountinfo'), []);
});

t.test('no cgroup directory named dynod is left under /sys/fs/cgroup', async (t) => {
  const ours = new Set(recordedDynods().map((d) => d.pid));
  let left: string[] = [];
  try {
    // other dynods on this host (not ours) may still come and go: give them a moment
    await waitFor(() => (left = findDynodCgroupDirs()).length === 0, 15_000, 'dynod cgroup dirs to disappear', 100);
    t.pass('none');
  } catch {
    // what is left must belong to live dynod processes outside this run
    const entries = left.flatMap((d) => {
      const leaves = dynoLeaves(d);
      return leaves.length ? leaves : [`${d} (empty)`];
    });
    const bad = entries.filter((e) => {
      if (e.endsWith(' (empty)')) return true;
      const o = owners(e);
      // this run's dyno cgroups are named by group and dyno; a live dynod holds each one's lock
      if (o.length === 0) return !leafOwned(e);
      return o.some((p) => ours.has(p) || !alive(p));
    });
    t.same(bad, [], 'no stale, empty or own dynod cgroup');
    t.comment(`left by live dynods of others: ${entries.join(' ')}`);
  }
});

t.test('no dynod of this run is still running, and no dyno process outlived its dynod', async (t) => {
  const recorded = recordedDynods();
  t.comment(`${recorded.length} dynod processes were started by this run's tests`);
  const running = recorded.filter((d) => d.start !== '' && startTime(d.pid) === d.start);
  t.same(running, [], 'every dynod exited');
  const pids = new Set(recorded.map((d) => d.pid));
  const procs = hostProcesses();
  t.same(procs.filter((p) => pids.has(p.ppid)).map((p) => `${p.pid} ${p.cmdline}`), [], 'no process whose parent was a test dynod');
  const orphans = procs.filter((p) => {
    const o = owners(p.cgroup);
    const isInit = p.exe.startsWith('/memfd:dynod-init') || p.cmdline.startsWith('dynod-init ');
    const leaf = lockLeaf(p.cgroup);
    if (leaf) return !leafOwned(leaf);
    if (o.length === 0) return isInit;
    return o.some((pid) => pids.has(pid) || !alive(pid));
  });
  t.same(orphans.map((p) => `${p.pid} ${p.cmdline} ${owners(p.cgroup).join(',')}`), [], 'no dyno process without a live dynod');
});
