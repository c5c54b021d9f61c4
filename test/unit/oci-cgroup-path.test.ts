// Where a container's cgroup goes (src/cgroup/container-host.ts, container.ts): the host's hierarchies,
// cgroupsPath resolved as runc's cgroupfs driver does, and what is refused before any directory is made.
import t from 'tap';
import { parseCgroupMounts, parseProcCgroup } from '../../src/cgroup/hierarchy';
import { cgroupHostFrom, checkCgroupsPath, containerDirs, hierarchyOf, CONTAINER_V1_CONTROLLERS, type CgroupHost } from '../../src/cgroup/container-host';
import { createContainerCgroup, openContainerCgroup } from '../../src/cgroup/container';
import { emptyResources } from '../../src/oci/resources';

const KNOWN = new Set(['cpuset', 'cpu', 'cpuacct', 'blkio', 'memory', 'devices', 'freezer', 'net_cls', 'perf_event', 'net_prio', 'hugetlb', 'pids', 'rdma']);

// An Ubuntu 20.04 host (hybrid), this shell in a session scope.
const HYBRID_CGROUP = `12:pids:/user.slice/user-1000.slice/session-3.scope
11:cpu,cpuacct:/user.slice
10:memory:/user.slice/user-1000.slice/session-3.scope
9:devices:/user.slice
8:freezer:/
7:net_cls,net_prio:/
5:cpuset:/
1:name=systemd:/user.slice/user-1000.slice/session-3.scope
0::/user.slice/user-1000.slice/session-3.scope
`;
const HYBRID_MOUNTINFO = `34 24 0:29 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
35 34 0:30 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
36 34 0:31 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
39 34 0:34 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,cpu,cpuacct
40 34 0:35 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,memory
41 34 0:36 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,pids
42 34 0:37 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,cpuset
43 34 0:38 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:20 - cgroup cgroup rw,devices
44 34 0:39 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:21 - cgroup cgroup rw,freezer
45 34 0:40 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:22 - cgroup cgroup rw,net_cls,net_prio
`;
const hybrid = () => cgroupHostFrom(parseProcCgroup(HYBRID_CGROUP), parseCgroupMounts(HYBRID_MOUNTINFO), KNOWN);

// Debian 12: v2 only; inside a container whose cgroup namespace root is the mount's root.
const V2_CGROUP = '0::/system.slice/containerd.service\n';
const V2_MOUNTINFO = '30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n';
const v2 = () => cgroupHostFrom(parseProcCgroup(V2_CGROUP), parseCgroupMounts(V2_MOUNTINFO), KNOWN);

t.test('a hybrid host is v1: the hierarchies a container spans, each with this process\'s own cgroup in it', async (t) => {
  const h = hybrid();
  t.equal(h.version, 1);
  t.same(h.hierarchies.map((x) => [x.mountPoint, x.controllers.join(','), x.options, x.ownDir]), [
    ['/sys/fs/cgroup/cpu,cpuacct', 'cpu,cpuacct', 'cpu,cpuacct', '/sys/fs/cgroup/cpu,cpuacct/user.slice'],
    ['/sys/fs/cgroup/memory', 'memory', 'memory', '/sys/fs/cgroup/memory/user.slice/user-1000.slice/session-3.scope'],
    ['/sys/fs/cgroup/pids', 'pids', 'pids', '/sys/fs/cgroup/pids/user.slice/user-1000.slice/session-3.scope'],
    ['/sys/fs/cgroup/cpuset', 'cpuset', 'cpuset', '/sys/fs/cgroup/cpuset'],
    ['/sys/fs/cgroup/devices', 'devices', 'devices', '/sys/fs/cgroup/devices/user.slice'],
    ['/sys/fs/cgroup/freezer', 'freezer', 'freezer', '/sys/fs/cgroup/freezer'],
  ], 'name=systemd, net_cls and the empty cgroup2 are not the container\'s');
});

t.test('a v2 host: one hierarchy', async (t) => {
  const h = v2();
  t.equal(h.version, 2);
  t.same(h.hierarchies, [{ mountPoint: '/sys/fs/cgroup', controllers: [], options: '', ownDir: '/sys/fs/cgroup/system.slice/containerd.service' }]);
});

t.test('cgroupsPath: absolute below each root, relative below this process\'s cgroup, null → dynod-oci/<id>', async (t) => {
  const h = hybrid();
  const dirs = (p: string | null, controllers: readonly string[] = CONTAINER_V1_CONTROLLERS) => containerDirs(h, checkCgroupsPath(p, 'c1'), controllers).map((d) => d.dir);
  t.same(dirs('/libpod_parent/libpod-c1', ['memory', 'cpu']), ['/sys/fs/cgroup/cpu,cpuacct/libpod_parent/libpod-c1', '/sys/fs/cgroup/memory/libpod_parent/libpod-c1']);
  t.same(dirs('box/c1', ['memory', 'cpu']), ['/sys/fs/cgroup/cpu,cpuacct/user.slice/box/c1', '/sys/fs/cgroup/memory/user.slice/user-1000.slice/session-3.scope/box/c1']);
  t.same(dirs(null, ['pids']), ['/sys/fs/cgroup/pids/user.slice/user-1000.slice/session-3.scope/dynod-oci/c1']);
  t.same(dirs('/k8s.io//./abc/', ['memory']), ['/sys/fs/cgroup/memory/k8s.io/abc'], 'normalized');
  t.same(dirs('/x', ['memory', 'cpuset']).length, 2, 'cpuset only when asked for');
  t.equal(containerDirs(v2(), checkCgroupsPath('/machine/c1', 'c1'), []).map((d) => d.dir)[0], '/sys/fs/cgroup/machine/c1');
  t.equal(containerDirs(v2(), checkCgroupsPath(null, 'c1'), []).map((d) => d.dir)[0], '/sys/fs/cgroup/system.slice/containerd.service/dynod-oci/c1');
});

t.test('refused paths and ids, each with what is accepted', async (t) => {
  t.throws(() => checkCgroupsPath('machine.slice:libpod:c1', 'c1'), /^linux\.cgroupsPath "machine\.slice:libpod:c1": the systemd cgroup driver .* is not supported by dynod-oci; use the cgroupfs driver/);
  t.throws(() => checkCgroupsPath('/a/../../etc', 'c1'), /"\.\." is not accepted/);
  t.throws(() => checkCgroupsPath('/', 'c1'), /names no cgroup below the root/);
  t.throws(() => checkCgroupsPath(null, '../x'), /container id/);
  t.throws(() => checkCgroupsPath(null, 'a/b'), /container id/);
  t.equal(checkCgroupsPath('a/b', 'c1'), 'a/b');
});

t.test('reopening by directories finds each one\'s hierarchy; by path string only when absolute', async (t) => {
  const h = hybrid();
  t.equal(hierarchyOf(h, '/sys/fs/cgroup/cpu,cpuacct/x/y')?.mountPoint, '/sys/fs/cgroup/cpu,cpuacct');
  t.equal(hierarchyOf(h, '/tmp/x'), undefined);
  const cg = openContainerCgroup(['/sys/fs/cgroup/cpu,cpuacct/user.slice/box/c1', '/sys/fs/cgroup/memory/user.slice/user-1000.slice/session-3.scope/box/c1'], h);
  t.equal(cg.version, 1);
  t.equal(cg.path, '/user.slice/user-1000.slice/session-3.scope/box/c1', 'the memory hierarchy\'s path');
  t.same(cg.view, { version: 1, hierarchies: [{ dir: 'cpu,cpuacct', options: 'cpu,cpuacct' }, { dir: 'memory', options: 'memory' }] });
  t.same(cg.procsFiles, cg.dirs.map((d) => `${d}/cgroup.procs`));
  t.equal(cg.intoDir, '');
  t.throws(() => openContainerCgroup(['/tmp/x'], h), /lies in no cgroup hierarchy/);
  t.throws(() => openContainerCgroup('box/c1', h), /by its absolute path or by its directories/);
  const c2 = openContainerCgroup('/machine/c1', v2());
  t.same([c2.version, c2.path, c2.intoDir, c2.dirs, c2.view], [2, '/machine/c1', '/sys/fs/cgroup/machine/c1', ['/sys/fs/cgroup/machine/c1'], { version: 2 }]);
});

t.test('a set resource whose v1 hierarchy is not mounted fails before anything is made, naming both', async (t) => {
  const h: CgroupHost = { ...hybrid(), hierarchies: hybrid().hierarchies.filter((x) => !x.controllers.includes('pids')) };
  const r = emptyResources();
  r.pids.limit = 10;
  t.throws(() => createContainerCgroup('/never/made', 'c1', r, { host: h }), /^linux\.resources\.pids: the cgroup v1 pids controller is not mounted on this host/);
  const noDevices: CgroupHost = { ...hybrid(), hierarchies: hybrid().hierarchies.filter((x) => !x.controllers.includes('devices')) };
  t.throws(() => createContainerCgroup('/never/made', 'c1', emptyResources(), { host: noDevices }), /^linux\.resources\.devices: the cgroup v1 devices controller is not mounted/);
});
