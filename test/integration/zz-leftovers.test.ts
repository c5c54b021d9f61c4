// Nothing a dynod makes may outlive it: its cgroups, its dyno's processes and mount
// namespace (where all of a dyno's mounts live), and nothing in the host's mounts.
//
// Self-contained: this file starts its own dynods (a normal exit, a failing command, a
// missing command, SIGTERM and SIGINT to dynod while the dyno runs, several at once) and
// checks exactly what those made. It does not depend on running last, nor on the other
// test files, nor on other dynod users on this machine (their dynos are never looked at).
// SIGKILL of dynod is cleanup.test.ts's subject (the next dynod removes the stale cgroup).
import t from 'tap';
import * as fs from 'node:fs';
import { spawnDynod, waitFor, type Running } from '../helpers/dynod';
import { tempApp } from '../helpers/app';
import { DYNO_CONTROLLERS, dynoLeaves, dynodRoot, hostProcesses, startTime } from '../helpers/host';

interface Ours {
  what: string;
  /** the dyno's name: its cgroup is dynod/run/<name>-<id8> */
  name: string;
  dynod: number;
  /** the dyno's processes seen while it ran: pid, start time, mount namespace */
  procs: Array<{ pid: number; start: string; mntns: string }>;
}

const ours: Ours[] = [];
let serial = 0;
/** A dyno name of this file's own, unique on the machine: its cgroups carry it. */
const nextName = () => `zz-${process.pid}.${++serial}`;
const cgroupOf = (name: string) => new RegExp(`/dynod/run/${name.replace(/\./g, '\\.')}-[0-9a-f]{8}(/|$)`, 'm');

/** The dyno processes of the dyno `name` (by their cgroup), with their mount namespaces. */
function dynoProcs(name: string): Ours['procs'] {
  const re = cgroupOf(name);
  return hostProcesses().filter((p) => re.test(p.cgroup)).flatMap((p) => {
    try {
      return [{ pid: p.pid, start: startTime(p.pid) ?? '', mntns: fs.readlinkSync(`/proc/${p.pid}/ns/mnt`) }];
    } catch {
      return [];
    }
  });
}

/** The host's mount table lines that look like dynod's (its scratch names or "dynod"). */
const dynodLike = (file: string) => fs.readFileSync(file, 'utf8').split('\n').filter((l) => /newroot|\.oldroot|dynod/.test(l));
const hostMountsBefore = new Set([...dynodLike('/proc/self/mountinfo'), ...dynodLike('/proc/1/mountinfo')]);
const hostMntNs = fs.readlinkSync('/proc/self/ns/mnt');
const nsfsMounts = (file: string) => fs.readFileSync(file, 'utf8').split('\n').filter((l) => / - nsfs /.test(l) && l.includes('mnt:['));
const pinsBefore = new Set([...nsfsMounts('/proc/self/mountinfo'), ...nsfsMounts('/proc/1/mountinfo')]);

/** Starts a dynod whose dyno says "up" and then waits; records what it made once it is up. */
async function upAndWaiting(what: string, app: string): Promise<Running> {
  const name = nextName();
  const d = spawnDynod(['run', '--app', app, '--name', name, '--', 'sh', '-c', 'echo up; trap "exit 0" TERM INT; sleep 60 & wait'], { timeoutMs: 60_000 });
  await d.waitForStdout(/^up$/m, 20_000);
  const procs = await waitFor(() => { const p = dynoProcs(name); return p.length > 0 && p; }, 10_000, `the processes of ${what}`);
  ours.push({ what, name, dynod: d.pid, procs });
  return d;
}

t.test("this file's dynods: every way of ending", async (t) => {
  const app = tempApp(t);
  for (const [what, cmd, status] of [['a normal exit', 'true', 0], ['a failing command', 'exit 3', 3]] as const) {
    const name = nextName();
    const d = spawnDynod(['run', '--app', app, '--name', name, '--', 'sh', '-c', cmd]);
    ours.push({ what, name, dynod: d.pid, procs: [] });
    t.equal((await d.result).code, status, what);
  }
  const nfName = nextName();
  const nf = spawnDynod(['run', '--app', app, '--name', nfName, '--', 'no-such-command-xyz']);
  ours.push({ what: 'a missing command', name: nfName, dynod: nf.pid, procs: [] });
  t.equal((await nf.result).code, 127, 'a missing command');

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    const d = await upAndWaiting(`${sig} to dynod`, app);
    t.ok(ours.at(-1)!.procs.every((p) => p.mntns !== hostMntNs), `${sig}: the dyno has its own mount namespace`);
    d.child.kill(sig);
    const r = await d.result;
    t.notOk(r.timedOut, `${sig}: dynod ended (${r.code ?? r.signal})`);
  }

  const many = await Promise.all([1, 2, 3, 4].map((i) => upAndWaiting(`parallel dyno ${i}`, app)));
  for (const o of ours.slice(-4)) t.ok(o.procs.every((p) => p.mntns !== hostMntNs), `${o.what}: the dyno has its own mount namespace`);
  for (const d of many) d.child.kill('SIGTERM');
  for (const d of many) t.notOk((await d.result).timedOut, 'a parallel dynod ended');
  t.equal(ours.length, 9, 'nine dynods of this file');
});

t.test('no cgroup directory of these dynos is left', async (t) => {
  const leaves = [...new Set(DYNO_CONTROLLERS.map((c) => dynodRoot(c)))].flatMap((root) => dynoLeaves(root));
  for (const o of ours) t.same(leaves.filter((l) => cgroupOf(o.name).test(l)), [], `${o.what} (${o.name})`);
});

t.test('no process of these dynods is left: not the dynods, not their dynos, nothing in their cgroups', async (t) => {
  const procs = hostProcesses();
  for (const o of ours) {
    t.notOk(procs.some((p) => p.pid === o.dynod && p.ppid === process.pid), `${o.what}: dynod ${o.dynod} exited`);
    t.same(procs.filter((p) => p.ppid === o.dynod).map((p) => `${p.pid} ${p.cmdline}`), [], `${o.what}: no child of dynod ${o.dynod}`);
    t.same(procs.filter((p) => cgroupOf(o.name).test(p.cgroup)).map((p) => `${p.pid} ${p.cmdline}`), [], `${o.what}: nothing in its cgroups`);
    const alive = o.procs.filter((p) => p.start !== '' && startTime(p.pid) === p.start);
    t.same(alive, [], `${o.what}: the ${o.procs.length} dyno processes seen while it ran are gone`);
  }
});

// A dyno's mounts live in its own mount namespace: they are gone with its processes
// (checked above, by pid and start time) unless something pins the namespace. Namespace
// inode numbers are reused once freed, so "no process in namespace N" after the fact could
// name someone else's dyno: the pins that count are the ones that appeared since this file began.
t.test("no mount of these dynos is left: nothing new pins a mount namespace, the host's mount table gained nothing", async (t) => {
  for (const file of ['/proc/self/mountinfo', '/proc/1/mountinfo']) {
    t.same(nsfsMounts(file).filter((l) => !pinsBefore.has(l)), [], `${file}: no new nsfs mount of a mount namespace (a pinned one)`);
    t.same(dynodLike(file).filter((l) => !hostMountsBefore.has(l)), [], `${file}: no dynod-like mount appeared`);
  }
});
