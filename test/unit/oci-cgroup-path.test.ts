// Where a container's cgroup goes (src/cgroup/container-host.ts, container.ts): the host's hierarchies,
// cgroupsPath resolved as runc's cgroupfs driver does, and what is refused before any directory is made.
import t from 'tap';
import { parseCgroupMounts, parseProcCgroup } from '../../src/cgroup/hierarchy';
import { cgroupHostFrom, checkCgroupsPath, containerDirs, hierarchyOf, CONTAINER_V1_CONTROLLERS, type CgroupHost } from '../../src/cgroup/container-host';
import { createContainerCgroup, openContainerCgroup } from '../../src/cgroup/container';
import { emptyResources } from '../../src/oci/resources';

const KNOWN = new Set(['cpuset', 'cpu', 'cpuacct', 'blkio', 'memory', 'devices', 'freezer', 'net_cls', 'perf_event', 'net_prio', 'hugetlb', 'pids', 'rdma']);

// A RHEL 8 host with systemd's cgroup2 mount added (hybrid), this process in sshd's service cgroup.
const HYBRID_CGROUP = `11:freezer:/
10:pids:/system.slice/sshd.service
9:memory:/system.slice/sshd.service
8:net_cls,net_prio:/
7:cpu,cpuacct:/system.slice
6:cpuset:/
5:devices:/system.slice
1:name=systemd:/system.slice/sshd.service
0::/system.slice/sshd.service
`;
const mnt = (id: number, dir: string, fstype: string, opts: string) =>
  `${id} 30 0:${id} / /sys/fs/cgroup/${dir} rw,nosuid,nodev,noexec,relatime shared:${id} - ${fstype} ${fstype} rw,${opts}`;
const HYBRID_MOUNTINFO = [
  '30 24 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755',
  mnt(31, 'unified', 'cgroup2', 'nsdelegate'), mnt(32, 'systemd', 'cgroup', 'xattr,name=systemd'), mnt(33, 'cpu,cpuacct', 'cgroup', 'cpu,cpuacct'),
  mnt(34, 'memory', 'cgroup', 'memory'), mnt(35, 'pids', 'cgroup', 'pids'), mnt(36, 'cpuset', 'cgroup', 'cpuset'), mnt(37, 'devices', 'cgroup', 'devices'),
  mnt(38, 'freezer', 'cgroup', 'freezer'), mnt(39, 'net_cls,net_prio', 'cgroup', 'net_cls,net_prio'),
].join('\n');
const hybrid = () => cgroupHostFrom(parseProcCgroup(HYBRID_CGROUP), parseCgroupMounts(HYBRID_MOUNTINFO), KNOWN);

// Debian 12: v2 only; inside a container whose cgroup namespace root is the mount's root.
const V2_CGROUP = '0::/system.slice/containerd.service\n';
const V2_MOUNTINFO = '30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n';
const v2 = () => cgroupHostFrom(parseProcCgroup(V2_CGROUP), parseCgroupMounts(V2_MOUNTINFO), KNOWN);

t.test('a hybrid host is v1: the hierarchies a container spans, each with this process\'s own cgroup in it', async (t) => {
  const h = hybrid();
  t.equal(h.version, 1);
  t.same(h.hierarchies.map((x) => [x.mountPoint, x.controllers.join(','), x.options, x.ownDir]), [
    ['/sys/fs/cgroup/cpu,cpuacct', 'cpu,cpuacct', 'cpu,cpuacct', '/sys/fs/cgroup/cpu,cpuacct/system.slice'],
    ['/sys/fs/cgroup/memory', 'memory', 'memory', '/sys/fs/cgroup/memory/system.slice/sshd.service'],
    ['/sys/fs/cgroup/pids', 'pids', 'pids', '/sys/fs/cgroup/pids/system.slice/sshd.service'],
    ['/sys/fs/cgroup/cpuset', 'cpuset', 'cpuset', '/sys/fs/cgroup/cpuset'],
    ['/sys/fs/cgroup/devices', 'devices', 'devices', '/sys/fs/cgroup/devices/system.slice'],
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
  t.same(dirs('box/c1', ['memory', 'cpu']), ['/sys/fs/cgroup/cpu,cpuacct/system.slice/box/c1', '/sys/fs/cgroup/memory/system.slice/sshd.service/box/c1']);
  t.same(dirs(null, ['pids']), ['/sys/fs/cgroup/pids/system.slice/sshd.service/dynod-oci/c1']);
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
  const cg = openContainerCgroup(['/sys/fs/cgroup/cpu,cpuacct/system.slice/box/c1', '/sys/fs/cgroup/memory/system.slice/sshd.service/box/c1'], h);
  t.equal(cg.version, 1);
  t.equal(cg.path, '/system.slice/sshd.service/box/c1', 'the memory hierarchy\'s path');
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
