// Parsing /proc/self/cgroup and /proc/self/mountinfo (src/cgroup/hierarchy.ts), and what the backends make of it.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseCgroupMounts, parseProcCgroup } from '../../src/cgroup/hierarchy';
import { CgroupV1, V1_CONTROLLERS } from '../../src/cgroup/v1';
import { CgroupV2, V2_CONTROLLERS } from '../../src/cgroup/v2';

// An Ubuntu 20.04 host (hybrid: v1 controllers, systemd's empty cgroup2 at /sys/fs/cgroup/unified).
const HYBRID_CGROUP = `12:pids:/user.slice/user-1000.slice/session-3.scope
11:cpu,cpuacct:/user.slice
10:memory:/user.slice/user-1000.slice/session-3.scope
9:devices:/user.slice
8:freezer:/
7:net_cls,net_prio:/
6:blkio:/user.slice
5:cpuset:/
4:perf_event:/
3:hugetlb:/
2:rdma:/
1:name=systemd:/user.slice/user-1000.slice/session-3.scope
0::/user.slice/user-1000.slice/session-3.scope
`;

const HYBRID_MOUNTINFO = `24 29 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
25 29 0:23 / /proc rw,nosuid,nodev,noexec,relatime shared:13 - proc proc rw
29 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
34 24 0:29 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
35 34 0:30 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
36 34 0:31 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
39 34 0:34 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,cpu,cpuacct
40 34 0:35 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,memory
41 34 0:36 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,pids
42 34 0:37 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,cpuset
`;

// A Debian 12 / Fedora host: unified cgroup v2 only.
const V2_CGROUP = '0::/user.slice/user-1000.slice/user@1000.service/app.slice/vte-spawn-1e2f.scope\n';
const V2_MOUNTINFO = `22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro
23 22 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
26 23 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
27 23 0:25 / /sys/fs/pstore rw,nosuid,nodev,noexec,relatime shared:5 - pstore pstore rw
`;

// /proc/cgroups controller names, as detectCgroups reads them
const KNOWN = new Set(['cpuset', 'cpu', 'cpuacct', 'blkio', 'memory', 'devices', 'freezer', 'net_cls', 'perf_event', 'net_prio', 'hugetlb', 'pids', 'rdma']);

t.test('/proc/self/cgroup on a hybrid host', async (t) => {
  const m = parseProcCgroup(HYBRID_CGROUP);
  t.equal(m.length, 13);
  t.same(m[0], { id: 12, controllers: ['pids'], path: '/user.slice/user-1000.slice/session-3.scope' });
  t.same(m[1], { id: 11, controllers: ['cpu', 'cpuacct'], path: '/user.slice' });
  t.same(m[4], { id: 8, controllers: ['freezer'], path: '/' });
  t.same(m[5], { id: 7, controllers: ['net_cls', 'net_prio'], path: '/' });
  t.same(m[11], { id: 1, controllers: ['name=systemd'], path: '/user.slice/user-1000.slice/session-3.scope' });
  t.same(m[12], { id: 0, controllers: [], path: '/user.slice/user-1000.slice/session-3.scope' });
});

t.test('/proc/self/cgroup on a v2 host; paths with ":" and "@" survive', async (t) => {
  t.same(parseProcCgroup(V2_CGROUP), [{ id: 0, controllers: [], path: '/user.slice/user-1000.slice/user@1000.service/app.slice/vte-spawn-1e2f.scope' }]);
  t.same(parseProcCgroup('0::/system.slice/docker-ab:cd.scope\n'), [{ id: 0, controllers: [], path: '/system.slice/docker-ab:cd.scope' }]);
  t.same(parseProcCgroup('0::/\n'), [{ id: 0, controllers: [], path: '/' }], 'inside a cgroup namespace');
  t.same(parseProcCgroup(''), []);
  t.same(parseProcCgroup('0::/a\n\n'), [{ id: 0, controllers: [], path: '/a' }], 'blank lines ignored');
});

t.test('mountinfo: only cgroup and cgroup2 mounts, with their super options', async (t) => {
  t.match(parseCgroupMounts(HYBRID_MOUNTINFO), [
    { mountPoint: '/sys/fs/cgroup/unified', fstype: 'cgroup2', options: ['rw', 'nsdelegate'] },
    { mountPoint: '/sys/fs/cgroup/systemd', fstype: 'cgroup', options: ['rw', 'xattr', 'name=systemd'] },
    { mountPoint: '/sys/fs/cgroup/cpu,cpuacct', fstype: 'cgroup', options: ['rw', 'cpu', 'cpuacct'] },
    { mountPoint: '/sys/fs/cgroup/memory', fstype: 'cgroup', options: ['rw', 'memory'] },
    { mountPoint: '/sys/fs/cgroup/pids', fstype: 'cgroup', options: ['rw', 'pids'] },
    { mountPoint: '/sys/fs/cgroup/cpuset', fstype: 'cgroup', options: ['rw', 'cpuset'] },
  ]);
  t.match(parseCgroupMounts(V2_MOUNTINFO), [{ mountPoint: '/sys/fs/cgroup', fstype: 'cgroup2', options: ['rw', 'nsdelegate', 'memory_recursiveprot'] }]);
  t.match(parseCgroupMounts(''), []);
});

t.test('mountinfo: lines with several or no optional fields', async (t) => {
  const text = [
    '36 35 98:0 / /mnt/a rw,noatime master:1 shared:5 propagate_from:2 - cgroup2 cgroup2 rw',
    '37 35 98:0 / /mnt/b rw,noatime - cgroup cgroup rw,memory',
    '38 35 0:40 / /mnt/c rw - tmpfs tmpfs rw',
  ].join('\n');
  t.match(parseCgroupMounts(text), [
    { mountPoint: '/mnt/a', fstype: 'cgroup2', options: ['rw'] },
    { mountPoint: '/mnt/b', fstype: 'cgroup', options: ['rw', 'memory'] },
  ]);
});

t.test('mountinfo: octal escapes in mount points are decoded', async (t) => {
  const text = [
    String.raw`50 24 0:40 / /mnt/my\040cgroups rw,relatime - cgroup2 cgroup2 rw`,
    String.raw`51 24 0:41 / /mnt/tab\011and\134backslash rw,relatime - cgroup cgroup rw,pids`,
    String.raw`52 24 0:42 / /mnt/new\012line rw,relatime - cgroup cgroup rw,memory`,
    String.raw`53 24 0:43 / /mnt/a\040-\040b rw,relatime - cgroup2 cgroup2 rw`,
    String.raw`54 24 0:44 / /mnt/not\08escape rw,relatime - cgroup2 cgroup2 rw`,
  ].join('\n');
  t.match(parseCgroupMounts(text).map((m) => m.mountPoint), ['/mnt/my cgroups', '/mnt/tab\tand\\backslash', '/mnt/new\nline', '/mnt/a - b', '/mnt/not\\08escape']);
});

t.test('mountinfo: other filesystems named like cgroup are not cgroups', async (t) => {
  t.match(parseCgroupMounts('60 24 0:50 / /mnt/x rw - cgroupfs cgroup rw\n61 24 0:51 / /mnt/y rw - fuse.cgroup2 x rw\n'), []);
});

t.test('hybrid host → CgroupV1: one hierarchy per controller dynod limits, under its own cgroup', async (t) => {
  const v1 = new CgroupV1(parseProcCgroup(HYBRID_CGROUP), parseCgroupMounts(HYBRID_MOUNTINFO), KNOWN);
  t.same(V1_CONTROLLERS, ['memory', 'cpu', 'pids']);
  t.equal(v1.version, 1);
  t.same(v1.roots, [
    '/sys/fs/cgroup/memory/user.slice/user-1000.slice/session-3.scope/dynod',
    '/sys/fs/cgroup/cpu,cpuacct/user.slice/dynod',
    '/sys/fs/cgroup/pids/user.slice/user-1000.slice/session-3.scope/dynod',
  ]);
  t.same(v1.view, {
    version: 1,
    hierarchies: [
      { dir: 'memory', options: 'memory' },
      { dir: 'cpu', options: 'cpu,cpuacct' },
      { dir: 'pids', options: 'pids' },
    ],
  }, 'mount data names the hierarchy; rw, xattr and name= are dropped');
});

t.test('CgroupV1 refuses a host without one of its controllers', async (t) => {
  const mounts = parseCgroupMounts(HYBRID_MOUNTINFO).filter((m) => !m.options.includes('pids'));
  t.throws(() => new CgroupV1(parseProcCgroup(HYBRID_CGROUP), mounts, KNOWN), { message: /cgroup v1 controller "pids" is not mounted/ });
  const membership = parseProcCgroup(HYBRID_CGROUP).filter((m) => !m.controllers.includes('memory'));
  t.throws(() => new CgroupV1(membership, parseCgroupMounts(HYBRID_MOUNTINFO), KNOWN), { message: /"memory" is not mounted/ });
});

t.test('v2 host → CgroupV2 rooted in dynod\'s own cgroup', async (t) => {
  const own = parseProcCgroup(V2_CGROUP).find((m) => m.id === 0)!.path;
  const mount = parseCgroupMounts(V2_MOUNTINFO).find((m) => m.fstype === 'cgroup2')!.mountPoint;
  const v2 = new CgroupV2(mount, own);
  t.same(V2_CONTROLLERS, ['cpu', 'memory', 'pids']);
  t.equal(v2.version, 2);
  t.same(v2.view, { version: 2 });
  t.same(v2.roots, ['/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/vte-spawn-1e2f.scope/dynod']);
  t.same(new CgroupV2('/sys/fs/cgroup', '/').roots, ['/sys/fs/cgroup/dynod']);
});

// In a Docker container on a v1 host (no cgroup namespace) the hierarchies are bind
// mounts of the container's own cgroup: /proc/self/cgroup says /docker/<id>, and
// mountinfo's 4th field (the mount's root) says the same subtree is what is mounted.
const DOCKER_V1_CGROUP = `12:pids:/docker/4f1e2d3c
11:memory:/docker/4f1e2d3c
4:cpu,cpuacct:/docker/4f1e2d3c
1:name=systemd:/docker/4f1e2d3c
`;
const DOCKER_V1_MOUNTINFO = `700 699 0:60 /docker/4f1e2d3c /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime master:17 - cgroup cgroup rw,memory
701 699 0:61 /docker/4f1e2d3c /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime master:16 - cgroup cgroup rw,cpu,cpuacct
702 699 0:62 /docker/4f1e2d3c /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime master:18 - cgroup cgroup rw,pids
`;

t.test('BUG: the mount root (mountinfo field 4) is ignored, so a bind-mounted hierarchy (containers, LXC) gives a cgroup path that does not exist', async (t) => {
  const v1 = new CgroupV1(parseProcCgroup(DOCKER_V1_CGROUP), parseCgroupMounts(DOCKER_V1_MOUNTINFO), KNOWN);
  // actual: /sys/fs/cgroup/memory/docker/4f1e2d3c/dynod, which is not there inside the container
  t.same(v1.roots, ['/sys/fs/cgroup/memory/dynod', '/sys/fs/cgroup/cpu,cpuacct/dynod', '/sys/fs/cgroup/pids/dynod']);
});

// ============================================================================
// Limits as cgroup files, against a fake cgroupfs in a temporary directory (plain files, no kernel).

const MiB = 1024 * 1024;
const read = (file: string) => fs.readFileSync(file, 'utf8');

t.test('CgroupV2.create writes memory.max, swap as the headroom over RAM, cpu.weight, pids.max', async (t) => {
  const mount = t.testdir({ 'user.slice': { 'dynod.service': {} } });
  const v2 = new CgroupV2(mount, '/user.slice/dynod.service');
  const cg = v2.create({ group: 'run', name: 'web.1', id: '0123abcd-1111-2222-3333-444455556666' }, { memoryBytes: 512 * MiB, memorySwapBytes: 1024 * MiB, cpuWeight: 100, cpuQuota: null, pids: 256 });
  const dir = path.join(mount, 'user.slice/dynod.service/dynod/run/web.1-0123abcd');
  t.equal(cg.version, 2);
  t.equal(cg.path, 'dynod/run/web.1-0123abcd');
  t.equal(cg.intoDir, dir);
  t.same(cg.procsFiles, [`${dir}/cgroup.procs`]);
  t.same(cg.dirs, [dir]);
  t.same(cg.view, { version: 2 });
  t.equal(read(`${dir}/memory.max`), String(512 * MiB));
  t.equal(read(`${dir}/memory.swap.max`), String(512 * MiB), 'RAM+swap 1G over RAM 512M: 512M of swap');
  t.equal(read(`${dir}/memory.oom.group`), '1', 'R15 kills the whole dyno');
  t.equal(read(`${dir}/cpu.weight`), '100');
  t.notOk(fs.existsSync(`${dir}/cpu.max`), 'no quota for a shared size');
  t.equal(read(`${dir}/pids.max`), '256');
  t.equal(read(path.join(mount, 'user.slice/dynod.service/cgroup.subtree_control')), '+cpu +memory +pids');
  t.equal(read(path.join(mount, 'user.slice/dynod.service/dynod/cgroup.subtree_control')), '+cpu +memory +pids');
  t.equal(read(path.join(mount, 'user.slice/dynod.service/dynod/run/cgroup.subtree_control')), '+cpu +memory +pids', 'and in the group');

  const perf = v2.create({ group: 'web', name: 'web.2', id: 'def01234' }, { memoryBytes: 2560 * MiB, memorySwapBytes: 5120 * MiB, cpuWeight: null, cpuQuota: { quotaUs: 200000, periodUs: 100000 }, pids: 16384 });
  t.equal(perf.intoDir, path.join(mount, 'user.slice/dynod.service/dynod/web/web.2-def01234'));
  t.equal(read(`${perf.intoDir}/cpu.max`), '200000 100000');
  t.notOk(fs.existsSync(`${perf.intoDir}/cpu.weight`), 'no weight with a quota');

  fs.writeFileSync(`${dir}/memory.events`, 'low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 1\n');
  t.equal(cg.oomKills(), 1);
  t.throws(() => v2.create({ group: 'run', name: 'web.1', id: '0123abcd-ffff' }, { memoryBytes: MiB, memorySwapBytes: MiB, cpuWeight: 100, cpuQuota: null, pids: 1 }),
    { name: 'DynodError', code: 'EEXIST', errno: 17, syscall: 'mkdir', step: 'create cgroup', message: /web\.1-0123abcd: EEXIST/ }, 'never joins an existing leaf');
});

t.test('CgroupV1.create writes each controller in its hierarchy; cpu.shares = weight * 1024 / 100', async (t) => {
  const root = t.testdir({ memory: {}, 'cpu,cpuacct': {}, pids: {} });
  const mountinfo = ['memory', 'cpu,cpuacct', 'pids'].map((d, i) => `${40 + i} 34 0:${35 + i} / ${root}/${d} rw,relatime - cgroup cgroup rw,${d}`).join('\n');
  const v1 = new CgroupV1(parseProcCgroup('12:pids:/\n11:cpu,cpuacct:/\n10:memory:/\n'), parseCgroupMounts(mountinfo), KNOWN);
  const cg = v1.create({ group: 'run', name: 'x', id: '77777777' }, { memoryBytes: 1024 * MiB, memorySwapBytes: 2048 * MiB, cpuWeight: 200, cpuQuota: null, pids: 512 });
  t.equal(cg.version, 1);
  t.equal(cg.intoDir, '');
  t.equal(cg.path, 'dynod/run/x-77777777');
  t.same(cg.dirs, [`${root}/memory/dynod/run/x-77777777`, `${root}/cpu,cpuacct/dynod/run/x-77777777`, `${root}/pids/dynod/run/x-77777777`]);
  t.same(cg.procsFiles, cg.dirs.map((d) => `${d}/cgroup.procs`));
  t.equal(read(`${root}/memory/dynod/run/x-77777777/memory.limit_in_bytes`), String(1024 * MiB));
  t.equal(read(`${root}/memory/dynod/run/x-77777777/memory.memsw.limit_in_bytes`), String(2048 * MiB), 'memsw is RAM plus swap');
  t.equal(read(`${root}/cpu,cpuacct/dynod/run/x-77777777/cpu.shares`), '2048');
  t.notOk(fs.existsSync(`${root}/cpu,cpuacct/dynod/run/x-77777777/cpu.cfs_quota_us`));
  t.equal(read(`${root}/pids/dynod/run/x-77777777/pids.max`), '512');

  const q = v1.create({ group: 'run', name: 'y', id: '77777777' }, { memoryBytes: 64 * MiB, memorySwapBytes: 128 * MiB, cpuWeight: null, cpuQuota: { quotaUs: 50000, periodUs: 100000 }, pids: 10 });
  t.equal(read(`${q.dirs[1]}/cpu.cfs_period_us`), '100000');
  t.equal(read(`${q.dirs[1]}/cpu.cfs_quota_us`), '50000');
  t.notOk(fs.existsSync(`${q.dirs[1]}/cpu.shares`));

  fs.writeFileSync(`${root}/memory/dynod/run/x-77777777/memory.oom_control`, 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n');
  t.equal(cg.oomKills(), 3);
});

