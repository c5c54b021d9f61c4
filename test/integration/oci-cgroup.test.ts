// dynod-oci's container cgroups on the real kernel (root): made where cgroupsPath says
// (below this process's own cgroup), limits in the kernel's files, processes joined from
// outside as runtimes do, then stats, freeze, update, signals and remove seen from the
// host. v1 or v2, whichever this host has; on a hybrid host the v2 code also runs in
// the empty cgroup2 hierarchy, which has no controllers but does device programs,
// freezing, cgroup.kill and removal.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createContainerCgroup, openContainerCgroup, type ContainerCgroup } from '../../src/cgroup/container';
import { detectCgroupHost, type CgroupHost } from '../../src/cgroup/container-host';
import { emptyResources, type ContainerResources, type DeviceRule } from '../../src/oci/resources';

const MiB = 1024 * 1024;
const host = detectCgroupHost();
const V2 = host.version === 2;
/** every test's cgroups go below this directory, relative to this process's own cgroup */
const PARENT = `dynod-oci-test-${process.pid}`;

if (process.getuid!() !== 0) {
  t.plan(0, 'needs root');
  process.exit(0);
}

t.teardown(() => {
  for (const h of host.hierarchies) {
    try { fs.rmdirSync(path.join(h.ownDir, PARENT)); } catch { /* not made there, or a failed test left it: shown by the checks */ }
  }
});

const read = (file: string) => fs.readFileSync(file, 'utf8').trim();
const res = (edit: (r: ContainerResources) => void) => {
  const r = emptyResources();
  edit(r);
  return r;
};
const dirWith = (cg: ContainerCgroup, file: string) => cg.dirs.find((d) => fs.existsSync(`${d}/${file}`))!;

/** A cgroup made for one test and removed after it, whatever happens. */
function make(t: Tap.Test, name: string, r: ContainerResources, h: CgroupHost = host): ContainerCgroup {
  const cg = createContainerCgroup(`${PARENT}/${name}`, name, r, { host: h });
  t.teardown(() => cg.remove());
  return cg;
}

interface Joined {
  child: ChildProcess;
  /** resolves with the child's stdout once it exits */
  done: Promise<{ out: string; code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * A shell that waits on stdin until it is in the cgroup (its pid written to every
 * cgroup.procs, as a runtime joins a process it did not clone into it), then runs
 * `script`.
 */
function joined(t: Tap.Test, cg: ContainerCgroup, script: string): Joined {
  const child = spawn('sh', ['-c', `read go; ${script}`], { stdio: ['pipe', 'pipe', 'ignore'] });
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const done = new Promise<{ out: string; code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ out, code, signal })));
  for (const f of cg.procsFiles) fs.writeFileSync(f, String(child.pid));
  child.stdin!.write('go\n');
  return { child, done };
}

/** Resolves once `pred` holds (polled), or rejects after 5 s. */
async function until(what: string, pred: () => boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const HAS_KMSG = fs.existsSync('/dev/kmsg');
// `true`, not `:`: a failed redirection of a special builtin ends a POSIX shell
const DEVICE_PROBE = 'true </dev/null && echo null-ok; true </dev/zero && echo zero-ok; if true </dev/kmsg 2>/dev/null; then echo kmsg-ok; else echo kmsg-denied; fi';
const denyAll: DeviceRule = { allow: false, type: 'a', major: null, minor: null, access: 'rwm' };
const allowAll: DeviceRule = { ...denyAll, allow: true };
const kmsgRead: DeviceRule = { allow: true, type: 'c', major: 1, minor: 11, access: 'r' };

t.test('limits land in the kernel\'s files, v1 or v2 style', async (t) => {
  const cpuset = fs.existsSync(path.join(host.hierarchies.find((h) => V2 || h.controllers.includes('cpuset'))?.mountPoint ?? '/none', V2 ? 'cgroup.controllers' : 'cpuset.cpus'));
  const r = res((r) => {
    r.memory = { limit: 64 * MiB, swap: 128 * MiB, reservation: 32 * MiB, disableOOMKiller: null };
    r.cpu = { shares: 512, quota: 50000, period: 100000, cpus: cpuset ? '0' : null, mems: cpuset ? '0' : null };
    r.pids.limit = 20;
  });
  const cg = make(t, 'limits', r);
  t.equal(cg.version, host.version);
  if (V2) {
    const d = cg.dirs[0]!;
    t.equal(cg.intoDir, d);
    t.equal(read(`${d}/memory.max`), String(64 * MiB));
    if (fs.existsSync(`${d}/memory.swap.max`)) t.equal(read(`${d}/memory.swap.max`), String(64 * MiB), 'swap is memory+swap minus memory');
    t.equal(read(`${d}/memory.low`), String(32 * MiB));
    t.equal(read(`${d}/cpu.weight`), '59', 'shares 512 → weight 59');
    t.equal(read(`${d}/cpu.max`), '50000 100000');
    t.equal(read(`${d}/pids.max`), '20');
    if (cpuset) t.equal(read(`${d}/cpuset.cpus`), '0');
  } else {
    t.equal(cg.intoDir, '');
    t.equal(cg.dirs.length, cg.procsFiles.length);
    const mem = dirWith(cg, 'memory.limit_in_bytes');
    t.equal(read(`${mem}/memory.limit_in_bytes`), String(64 * MiB));
    if (fs.existsSync(`${mem}/memory.memsw.limit_in_bytes`)) t.equal(read(`${mem}/memory.memsw.limit_in_bytes`), String(128 * MiB));
    t.equal(read(`${mem}/memory.soft_limit_in_bytes`), String(32 * MiB));
    const cpu = dirWith(cg, 'cpu.shares');
    t.equal(read(`${cpu}/cpu.shares`), '512');
    t.equal(read(`${cpu}/cpu.cfs_quota_us`), '50000');
    t.equal(read(`${cpu}/cpu.cfs_period_us`), '100000');
    t.equal(read(`${dirWith(cg, 'pids.max')}/pids.max`), '20');
    if (cpuset) t.same([read(`${dirWith(cg, 'cpuset.cpus')}/cpuset.cpus`), read(`${dirWith(cg, 'cpuset.mems')}/cpuset.mems`)], ['0', '0']);
    t.match(read(`${dirWith(cg, 'devices.list')}/devices.list`), /^b \*:\* m\nc \*:\* m\nc 1:3 rwm\n/, 'deny all but the default devices');
    t.ok(cg.view.version === 1 && cg.view.hierarchies.some((h) => h.dir === 'memory'), 'the view names the hierarchies');
  }
  for (const d of cg.dirs) t.ok(d.includes(`/${PARENT}/limits`), `${d}: below this process's own cgroup`);
});

t.test('a process joined from outside: pids (recursively), stats, freeze, thaw, update, kill --all', async (t) => {
  const cg = make(t, 'life', res((r) => { r.memory.limit = 128 * MiB; r.pids.limit = 30; r.cpu.quota = 50000; r.cpu.period = 100000; }));
  const j = joined(t, cg, 'sleep 60 & sleep 60 & wait');
  await until('sh and two sleeps', () => cg.pids().length === 3);
  t.ok(cg.pids().includes(j.child.pid!), 'the shell is listed');
  // a cgroup made inside the container's (as systemd in a container would): still the container's
  const sub = `${V2 ? cg.dirs[0]! : dirWith(cg, 'memory.limit_in_bytes')}/inner`;
  fs.mkdirSync(sub);
  const sleeper = cg.pids().find((p) => p !== j.child.pid)!;
  fs.writeFileSync(`${sub}/cgroup.procs`, String(sleeper));
  t.equal(cg.pids().length, 3, 'a process in a sub-cgroup is still counted');

  const s = cg.stats();
  t.equal(s.pids.current, 3);
  t.equal(s.pids.limit, 30);
  t.equal(s.memory.quotaBytes, 128 * MiB);
  t.ok(s.cpu.usageUsec !== null && s.cpu.usageUsec >= 0, 'cpu usage read');
  t.equal(cg.oomKills(), 0);

  await cg.freeze();
  t.ok(cg.frozen(), 'frozen');
  t.equal(V2 ? read(`${cg.dirs[0]}/cgroup.freeze`) : read(`${dirWith(cg, 'freezer.state')}/freezer.state`), V2 ? '1' : 'FROZEN', 'as the kernel says');
  cg.thaw();
  t.notOk(cg.frozen(), 'thawed');

  cg.update(res((r) => { r.pids.limit = 50; r.cpu.quota = 30000; }));
  t.equal(cg.stats().pids.limit, 50, 'pids updated');
  t.equal(cg.stats().memory.quotaBytes, 128 * MiB, 'memory left as it was');
  if (V2) t.equal(read(`${cg.dirs[0]}/cpu.max`), '30000 100000', 'the period stays');
  else t.same([read(`${dirWith(cg, 'cpu.cfs_quota_us')}/cpu.cfs_quota_us`), read(`${dirWith(cg, 'cpu.cfs_period_us')}/cpu.cfs_period_us`)], ['30000', '100000']);

  cg.signalAll(15);
  const end = await j.done;
  t.equal(end.signal, 'SIGTERM', 'the shell got SIGTERM');
  await until('every process gone', () => cg.pids().length === 0);
  await cg.remove();
  t.notOk(cg.exists(), 'removed');
  for (const d of cg.dirs) t.notOk(fs.existsSync(d), `${d} gone`);
});

t.test('remove(): a frozen container with a forking tree and a sub-cgroup is killed and every directory goes; twice is fine', async (t) => {
  const cg = make(t, 'frozen', emptyResources());
  const j = joined(t, cg, 'sleep 60 & sleep 60 & sleep 60 & wait');
  await until('4 processes', () => cg.pids().length === 4);
  for (const d of cg.dirs) fs.mkdirSync(`${d}/nested`);
  await cg.freeze();
  // reopened by its directories, as `dynod-oci delete` in another process would
  const again = openContainerCgroup(cg.dirs);
  t.same(again.dirs, cg.dirs);
  t.ok(again.frozen(), 'the reopened cgroup sees the freeze');
  await again.remove();
  t.equal((await j.done).signal, 'SIGKILL');
  for (const d of cg.dirs) t.notOk(fs.existsSync(d), `${d} gone`);
  await again.remove();
  await openContainerCgroup(cg.dirs).remove();
  t.notOk(again.exists(), 'idempotent, also from a fresh handle');
});

t.test('an existing cgroup is EEXIST; with reuse an empty one is taken, a busy one is not', async (t) => {
  const cg = make(t, 'twice', emptyResources());
  t.throws(() => createContainerCgroup(`${PARENT}/twice`, 'twice', emptyResources()), { code: 'EEXIST', message: /exists already/ });
  const reused = createContainerCgroup(`${PARENT}/twice`, 'twice', emptyResources(), { reuse: true });
  t.same(reused.dirs, cg.dirs, 'the same directories');
  const j = joined(t, cg, 'exec sleep 60');
  await until('the sleeper', () => cg.pids().length === 1);
  t.throws(() => createContainerCgroup(`${PARENT}/twice`, 'twice', emptyResources(), { reuse: true }), { code: 'EEXIST', message: /holds processes/ });
  await cg.remove();
  t.equal((await j.done).signal, 'SIGKILL');
  t.notOk(cg.exists());
});

t.test('no cgroupsPath: <own cgroup>/dynod-oci/<id>, and the shared parent goes with the last container', async (t) => {
  const id = `t${process.pid}`;
  const cg = createContainerCgroup(null, id, emptyResources());
  t.teardown(() => cg.remove());
  for (const d of cg.dirs) t.equal(path.relative(host.hierarchies.find((h) => d.startsWith(`${h.ownDir}/`))!.ownDir, d), `dynod-oci/${id}`);
  await cg.remove();
  for (const d of cg.dirs) t.notOk(fs.existsSync(d), `${d} gone`);
  // another user of this cgroup may have a container there right now: then the parent stays
  for (const d of cg.dirs) {
    const parent = path.dirname(d);
    t.ok(!fs.existsSync(parent) || fs.readdirSync(parent, { withFileTypes: true }).some((e) => e.isDirectory()), `${parent} removed unless in use`);
  }
});

t.test('an absolute cgroupsPath lies below the root of each hierarchy; reopened by that path', async (t) => {
  // absolute, yet below this process's own cgroup: only the hierarchies where the own cgroup is the same path
  const own = (h: CgroupHost['hierarchies'][number]) => `/${path.relative(h.mountPoint, h.ownDir)}`.replace(/\/$/, '');
  const memory = host.hierarchies.find((h) => V2 || h.controllers.includes('memory'))!;
  const same: CgroupHost = { ...host, hierarchies: host.hierarchies.filter((h) => own(h) === own(memory)) };
  const abs = `${own(memory)}/${PARENT}/abs`;
  // the hierarchies left may lack the devices one: allow-all asks nothing of it
  const cg = createContainerCgroup(abs, 'abs', res((r) => (r.devices = [allowAll])), { host: same });
  t.teardown(() => cg.remove());
  t.equal(cg.path, abs);
  for (const d of cg.dirs) t.equal(d, path.join(same.hierarchies.find((h) => d.startsWith(`${h.mountPoint}/`))!.mountPoint, abs));
  const back = openContainerCgroup(abs, same);
  t.same(back.dirs, cg.dirs, 'the same directories from the path');
  await back.remove();
  t.notOk(cg.exists());
});

t.test('device rules hold for the processes inside, and update replaces them', { skip: !HAS_KMSG && 'no /dev/kmsg to be denied' }, async (t) => {
  const cg = make(t, 'devices', res((r) => (r.devices = [denyAll])));
  t.equal((await joined(t, cg, DEVICE_PROBE).done).out, 'null-ok\nzero-ok\nkmsg-denied\n', 'the default devices open, /dev/kmsg does not');
  cg.update(res((r) => (r.devices = [denyAll, kmsgRead])));
  t.equal((await joined(t, cg, DEVICE_PROBE).done).out, 'null-ok\nzero-ok\nkmsg-ok\n', '/dev/kmsg readable after update');
  cg.update(res((r) => (r.pids.limit = 10)));
  t.equal((await joined(t, cg, DEVICE_PROBE).done).out, 'null-ok\nzero-ok\nkmsg-ok\n', 'an update without device rules keeps them');
});

t.test('an OOM kill inside is counted', async (t) => {
  if (!fs.existsSync('/usr/bin/python3') && !process.env.PATH?.split(':').some((p) => fs.existsSync(`${p}/python3`))) return t.skip('no python3');
  const cg = make(t, 'oom', res((r) => { r.memory.limit = 32 * MiB; r.memory.swap = 32 * MiB; }));
  const end = await joined(t, cg, 'exec python3 -c "b = bytearray(256 * 1024 * 1024)"').done;
  t.equal(end.signal, 'SIGKILL', 'killed by the OOM killer');
  t.ok(cg.oomKills() >= 1, `oom kills: ${cg.oomKills()}`);
  t.equal(cg.stats().oomKills, cg.oomKills());
});

t.test('disableOOMKiller: memory.oom_control on v1, refused on v2', async (t) => {
  const r = res((r) => { r.memory.limit = 64 * MiB; r.memory.disableOOMKiller = true; });
  if (V2) {
    t.throws(() => createContainerCgroup(`${PARENT}/nooom`, 'nooom', r), /^linux\.resources\.memory\.disableOOMKiller: cgroup v2 has no way/);
    t.notOk(fs.existsSync(path.join(host.hierarchies[0]!.ownDir, PARENT, 'nooom')), 'nothing left behind');
  } else {
    const cg = make(t, 'nooom', r);
    t.match(read(`${dirWith(cg, 'memory.oom_control')}/memory.oom_control`), /^oom_kill_disable 1$/m);
  }
});

t.test('a limit the kernel refuses fails create with the field named, and leaves nothing behind', async (t) => {
  const r = res((r) => (r.cpu.cpus = '9999'));
  const hasCpuset = V2 || host.hierarchies.some((h) => h.controllers.includes('cpuset'));
  if (!hasCpuset) return t.skip('no cpuset controller');
  t.throws(() => createContainerCgroup(`${PARENT}/badcpus`, 'badcpus', r), /^linux\.resources\.cpu\.cpus: write .*cpuset\.cpus/);
  for (const h of host.hierarchies) t.notOk(fs.existsSync(path.join(h.ownDir, PARENT, 'badcpus')), `nothing in ${h.mountPoint}`);
});

// A hybrid host's empty cgroup2 hierarchy: the v2 code on a real cgroup2, minus controllers.
const unified = (() => {
  if (V2) return null;
  const line = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'));
  const mount = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[f.indexOf('-') + 1] === 'cgroup2');
  if (!line || !mount) return null;
  const mountPoint = mount[4]!;
  const h: CgroupHost = { version: 2, hierarchies: [{ mountPoint, controllers: [], options: '', ownDir: path.join(mountPoint, line.slice(3)) }] };
  return h;
})();

t.test('v2 code in the hybrid host\'s cgroup2: device program, freeze, cgroup.kill, remove; a limit without its controller is named', { skip: !unified && 'not a hybrid host (v2 hosts run the tests above on v2)' }, async (t) => {
  const h = unified!;
  t.teardown(() => { try { fs.rmdirSync(path.join(h.hierarchies[0]!.ownDir, PARENT)); } catch { /* shown below */ } });
  t.throws(() => createContainerCgroup(`${PARENT}/nomem`, 'nomem', res((r) => (r.memory.limit = 64 * MiB)), { host: h }),
    /^linux\.resources\.memory\.limit: the memory controller is not enabled for .*nomem \(no memory\.max\); enable it in .*cgroup\.subtree_control/);
  t.notOk(fs.existsSync(path.join(h.hierarchies[0]!.ownDir, PARENT, 'nomem')), 'rolled back');

  const cg = make(t, 'v2', res((r) => (r.devices = [denyAll])), h);
  t.equal(cg.version, 2);
  t.equal(cg.intoDir, cg.dirs[0]);
  if (HAS_KMSG) {
    t.equal((await joined(t, cg, DEVICE_PROBE).done).out, 'null-ok\nzero-ok\nkmsg-denied\n', 'the eBPF program denies /dev/kmsg');
    cg.update(res((r) => (r.devices = [denyAll, kmsgRead])));
    t.equal((await joined(t, cg, DEVICE_PROBE).done).out, 'null-ok\nzero-ok\nkmsg-ok\n', 'replaced, not added to (programs are ANDed)');
  }
  const j = joined(t, cg, 'sleep 60 & sleep 60 & wait');
  await until('3 processes', () => cg.pids().length === 3);
  await cg.freeze();
  t.ok(cg.frozen());
  cg.thaw();
  t.notOk(cg.frozen());
  await cg.freeze();
  await openContainerCgroup(cg.dirs, h).remove();
  t.equal((await j.done).signal, 'SIGKILL', 'a frozen v2 cgroup is killed');
  t.notOk(cg.exists());
});
