// config.json validation for dynod-oci: what is read, and every refusal as one line
// naming the JSON path. No root, no host paths (validateConfig does no I/O).
import t, { type Test } from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UsageError } from '../../src/errors';
import { loadBundle, validateConfig, validateProcess } from '../../src/oci/config';
import { validateResources } from '../../src/oci/linux-resources';

type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const BUNDLE = '/srv/bundle';
const PODMAN = path.join(__dirname, 'fixtures', 'podman-config.json');

function base(): Raw {
  return {
    ociVersion: '1.2.0',
    root: { path: 'rootfs' },
    process: { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 } },
    linux: { namespaces: [{ type: 'mount' }, { type: 'pid' }, { type: 'uts' }, { type: 'ipc' }, { type: 'network' }] },
  };
}

/** The config with one change must fail with one line that starts with `config.json: PATH: ` and says `re`. */
function refuses(t: Test, mutate: (c: Raw) => void, jsonPath: string, re: RegExp): void {
  const c = base();
  mutate(c);
  let err: unknown;
  try {
    validateConfig(c, BUNDLE);
  } catch (e) {
    err = e;
  }
  if (!(err instanceof UsageError)) {
    t.fail(`${jsonPath}: expected a UsageError, got ${err === undefined ? 'success' : String(err)}`);
    return;
  }
  t.ok(err.message.startsWith(`config.json: ${jsonPath}: `), `${jsonPath}: names the path: ${err.message}`);
  t.match(err.message, re, `${jsonPath}: says why`);
  t.notOk(err.message.includes('\n'), `${jsonPath}: one line`);
}

t.test('podman\'s config.json (fixtures/podman-config.json, as podman 4 wrote it) is read whole', async (t) => {
  const c = validateConfig(JSON.parse(fs.readFileSync(PODMAN, 'utf8')), BUNDLE);
  t.equal(c.ociVersion, '1.0.2-dev');
  t.equal(c.mounts.length, 11);
  t.same(c.mounts.map((m) => m.type), ['proc', 'tmpfs', 'sysfs', 'devpts', 'mqueue', 'bind', 'bind', 'bind', 'bind', 'bind', 'cgroup']);
  t.same(c.process.user, { uid: 0, gid: 0, umask: 0o022, additionalGids: [] });
  t.equal(c.process.capabilities!.bounding.length, 11);
  t.same(c.process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 1024 }, { type: 'RLIMIT_NPROC', soft: 1024, hard: 1024 }]);
  t.same(c.linux.namespaces.map((n) => [n.type, n.path !== null]), [['pid', false], ['network', true], ['ipc', false], ['uts', false], ['mount', false]]);
  t.same(c.linux.resources.memory, { limit: 64 * 1024 * 1024, swap: 128 * 1024 * 1024, reservation: null, disableOOMKiller: null });
  t.same(c.linux.resources.pids, { limit: 50 });
  t.same(c.linux.resources.devices, [{ allow: false, type: 'a', major: null, minor: null, access: 'rwm' }]);
  t.same(c.linux.sysctl, { 'net.ipv4.ping_group_range': '0 0' });
  t.equal(c.linux.maskedPaths.length, 11);
  t.equal(c.linux.readonlyPaths.length, 6);
  t.equal(c.hostname, '4c21b1ea26e2');
  t.ok(c.linux.seccomp, 'the seccomp filter is resolved');
  t.same(c.linux.seccompNotes, ['linux.seccomp.syscalls[10]: "setns" errno(1) dropped: syscalls[1] gives it allow first'], 'the rule libseccomp drops is noted');
  t.equal(c.annotations['io.container.manager'], 'libpod');
});

t.test('defaults, relative paths and what the spec lets be empty', async (t) => {
  const c = validateConfig({
    ...base(),
    someFutureField: { x: 1 },
    mounts: [
      { destination: '/data', source: 'vol', options: ['rbind', 'ro'] },
      { destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['size=1m', 'mode=1777', 'nosuid'] },
      { destination: '/mnt', type: 'none', source: '/srv/x', options: ['bind'] },
    ],
    linux: {
      ...base().linux,
      resources: { hugepageLimits: [], blockIO: {}, unified: {}, memory: { limit: 0, swap: -1 }, cpu: { shares: 0, quota: -1, cpus: '', idle: 0 } },
      personality: { domain: 'LINUX' },
      rootfsPropagation: 'slave',
      devices: [{ type: 'u', path: '/dev/fuse', major: 10, minor: 229 }, { type: 'p', path: '/dev/fifo' }],
      mountLabel: '',
    },
  }, BUNDLE);
  t.equal(c.root.path, '/srv/bundle/rootfs', 'root.path resolved against the bundle');
  t.equal(c.root.readonly, false);
  t.equal(c.mounts[0]!.source, '/srv/bundle/vol', 'a relative bind source resolved against the bundle');
  t.equal(c.mounts[1]!.source, 'tmpfs', 'other sources kept as given');
  t.equal(c.mounts[2]!.source, '/srv/x');
  t.same(c.process, {
    terminal: false, consoleSize: null, user: { uid: 0, gid: 0, umask: null, additionalGids: [] }, args: ['sh'], env: [], cwd: '/',
    capabilities: null, rlimits: [], noNewPrivileges: false, oomScoreAdj: null,
  });
  t.same(c.linux.resources.memory, { limit: null, swap: -1, reservation: null, disableOOMKiller: null }, '0 is not set, -1 unlimited');
  t.same(c.linux.resources.cpu, { shares: null, quota: -1, period: null, cpus: null, mems: null });
  t.equal(c.linux.rootfsPropagation, 'rslave', 'slave is made recursive');
  t.same(c.linux.devices, [
    { type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
    { type: 'p', path: '/dev/fifo', major: 0, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
  ]);
  t.same(c.hooks, { prestart: [], createRuntime: [], createContainer: [], startContainer: [], poststart: [], poststop: [] });
  t.equal(c.linux.seccomp, null);
});

t.test('process: user, capabilities, rlimits, terminal', async (t) => {
  const c = validateConfig({
    ...base(),
    process: {
      args: ['/bin/app', '--flag'], cwd: '/app', env: ['A=1', 'EMPTY=', 'B=x=y'], terminal: true, consoleSize: { height: 40, width: 120 },
      user: { uid: 1000, gid: 1000, umask: 0o077, additionalGids: [5, 27] },
      capabilities: { bounding: ['CAP_CHOWN', 'CAP_NET_RAW'], effective: ['CAP_CHOWN'], permitted: ['CAP_CHOWN'], ambient: ['CAP_CHOWN'] },
      rlimits: [{ type: 'RLIMIT_CORE', soft: 0, hard: 18446744073709551615 }, { type: 'RLIMIT_MEMLOCK', soft: 18446744073709551615, hard: 18446744073709551615 }],
      noNewPrivileges: true, oomScoreAdj: -500, apparmorProfile: '', selinuxLabel: '',
    },
  }, BUNDLE);
  t.same(c.process.env, ['A=1', 'EMPTY=', 'B=x=y']);
  t.same(c.process.user, { uid: 1000, gid: 1000, umask: 0o077, additionalGids: [5, 27] });
  t.same(c.process.capabilities, { bounding: ['CAP_CHOWN', 'CAP_NET_RAW'], effective: ['CAP_CHOWN'], inheritable: [], permitted: ['CAP_CHOWN'], ambient: ['CAP_CHOWN'] });
  t.same(c.process.rlimits, [{ type: 'RLIMIT_CORE', soft: 0, hard: -1 }, { type: 'RLIMIT_MEMLOCK', soft: -1, hard: -1 }], 'RLIM_INFINITY (2^64-1) is -1');
  t.same(c.process.consoleSize, { height: 40, width: 120 });
  t.equal(c.process.noNewPrivileges, true);
  t.equal(c.process.oomScoreAdj, -500);
});

t.test('each malformed or unsupported field is refused, naming its JSON path', async (t) => {
  const ns = (c: Raw, ...extra: Raw[]) => { c.linux.namespaces.push(...extra); };
  const cases: Array<[string, (c: Raw) => void, RegExp]> = [
    ['ociVersion', (c) => { c.ociVersion = '1.3.0'; }, /not supported by dynod-oci \("1\.3\.0"; supported: 1\.0\.x to 1\.2\.x\)/],
    ['ociVersion', (c) => { delete c.ociVersion; }, /missing/],
    ['windows', (c) => { c.windows = { layerFolders: [] }; }, /Linux containers only/],
    ['root', (c) => { delete c.root; }, /missing/],
    ['root.path', (c) => { c.root.path = ''; }, /empty/],
    ['root.readonly', (c) => { c.root.readonly = 'yes'; }, /not a boolean/],
    ['process', (c) => { delete c.process; }, /missing/],
    ['process.args', (c) => { c.process.args = []; }, /empty/],
    ['process.args[1]', (c) => { c.process.args = ['sh', 3]; }, /not a string/],
    ['process.args[0]', (c) => { c.process.args = ['s\0h']; }, /NUL/],
    ['process.cwd', (c) => { c.process.cwd = 'app'; }, /not an absolute path/],
    ['process.user', (c) => { delete c.process.user; }, /missing/],
    ['process.user.uid', (c) => { c.process.user.uid = -1; }, /from 0 to 4294967294/],
    ['process.user.umask', (c) => { c.process.user.umask = 0o1000; }, /out of range/],
    ['process.user.additionalGids[1]', (c) => { c.process.user.additionalGids = [1, 'x']; }, /out of range/],
    ['process.user.username', (c) => { c.process.user.username = 'bob'; }, /Windows only/],
    ['process.commandLine', (c) => { c.process.commandLine = 'sh'; }, /Windows only/],
    ['process.env[1]', (c) => { c.process.env = ['A=1', 'NOVALUE']; }, /not KEY=VALUE/],
    ['process.env[0]', (c) => { c.process.env = ['=x']; }, /not KEY=VALUE/],
    ['process.capabilities.bounding[1]', (c) => { c.process.capabilities = { bounding: ['CAP_CHOWN', 'CAP_FOO'] }; }, /unknown capability "CAP_FOO"; accepted: CAP_CHOWN, /],
    ['process.capabilities.ambient', (c) => { c.process.capabilities = { ambient: 'CAP_CHOWN' }; }, /not an array/],
    ['process.rlimits[0].type', (c) => { c.process.rlimits = [{ type: 'RLIMIT_FOO', soft: 1, hard: 1 }]; }, /unknown resource "RLIMIT_FOO"; accepted: RLIMIT_CPU, /],
    ['process.rlimits[1].type', (c) => { c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 }, { type: 'RLIMIT_NOFILE', soft: 2, hard: 2 }]; }, /given twice/],
    ['process.rlimits[0].soft', (c) => { c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 2048, hard: 1024 }]; }, /2048 is above hard 1024/],
    ['process.rlimits[0].soft', (c) => { c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 18446744073709551615, hard: 1024 }]; }, /unlimited is above hard 1024/],
    ['process.rlimits[0].hard', (c) => { c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1, hard: 2 ** 60 }]; }, /out of range/],
    ['process.apparmorProfile', (c) => { c.process.apparmorProfile = 'containers-default-0.50.1'; }, /no AppArmor profile/],
    ['process.selinuxLabel', (c) => { c.process.selinuxLabel = 'system_u:system_r:container_t:s0'; }, /no SELinux label/],
    ['process.scheduler', (c) => { c.process.scheduler = { policy: 'SCHED_FIFO', priority: 1 }; }, /supported process fields/],
    ['process.ioPriority', (c) => { c.process.ioPriority = { class: 'IOPRIO_CLASS_IDLE' }; }, /not supported/],
    ['process.execCPUAffinity', (c) => { c.process.execCPUAffinity = { initial: '0' }; }, /not supported/],
    ['process.oomScoreAdj', (c) => { c.process.oomScoreAdj = 1001; }, /from -1000 to 1000/],
    ['process.consoleSize.width', (c) => { c.process.consoleSize = { height: 24, width: 70000 }; }, /out of range/],
    ['mounts', (c) => { c.mounts = {}; }, /not an array/],
    ['mounts[0].destination', (c) => { c.mounts = [{ destination: 'data', type: 'tmpfs' }]; }, /not an absolute path/],
    ['mounts[0].destination', (c) => { c.mounts = [{ destination: '/.', type: 'tmpfs' }]; }, /the root filesystem itself/],
    ['mounts[0].type', (c) => { c.mounts = [{ destination: '/nfs', type: 'nfs', source: 'host:/x' }]; }, /"nfs"; supported: bind, tmpfs, proc, sysfs, devpts, mqueue, cgroup/],
    ['mounts[0].type', (c) => { c.mounts = [{ destination: '/x', source: 'tmpfs' }]; }, /missing; accepted: bind, tmpfs/],
    ['mounts[0].source', (c) => { c.mounts = [{ destination: '/x', type: 'bind', options: ['rbind'] }]; }, /missing/],
    ['mounts[0].options[0]', (c) => { c.mounts = [{ destination: '/x', source: '/y', options: ['idmap', 'bind'] }]; }, /idmapped mounts/],
    ['mounts[0].options[1]', (c) => { c.mounts = [{ destination: '/x', source: '/y', options: ['rbind', 'rrw'] }]; }, /set, not cleared/],
    ['mounts[0].options[1]', (c) => { c.mounts = [{ destination: '/x', source: '/y', options: ['rbind', 'rnoatime'] }]; }, /atime/],
    ['mounts[0].options[1]', (c) => { c.mounts = [{ destination: '/x', source: '/y', options: ['bind', 'size=1m'] }]; }, /not a bind mount option/],
    ['mounts[0].options[1]', (c) => { c.mounts = [{ destination: '/x', source: '/y', options: ['bind', 'sync'] }]; }, /a flag of the filesystem/],
    ['mounts[0].options[0]', (c) => { c.mounts = [{ destination: '/x', type: 'tmpfs', options: ['remount'] }]; }, /a new one/],
    ['mounts[0].options[0]', (c) => { c.mounts = [{ destination: '/x', type: 'tmpfs', options: ['size=1m,mode=755'] }]; }, /one option per entry/],
    ['mounts[0].uidMappings', (c) => { c.mounts = [{ destination: '/x', source: '/y', options: ['bind'], uidMappings: [{ containerID: 0, hostID: 1, size: 1 }] }]; }, /idmapped/],
    ['hostname', (c) => { c.hostname = 'web'; c.linux.namespaces = [{ type: 'mount' }]; }, /without a new uts namespace/],
    ['domainname', (c) => { c.domainname = 'example.com'; c.linux.namespaces = [{ type: 'mount' }, { type: 'uts', path: '/proc/1/ns/uts' }]; }, /without a new uts namespace/],
    ['hooks.prestart[0].path', (c) => { c.hooks = { prestart: [{ path: 'hook' }] }; }, /not an absolute path/],
    ['hooks.poststop[0].timeout', (c) => { c.hooks = { poststop: [{ path: '/bin/true', timeout: 0 }] }; }, /from 1 to/],
    ['hooks.createRuntime[0].env[0]', (c) => { c.hooks = { createRuntime: [{ path: '/bin/true', env: ['X'] }] }; }, /KEY=VALUE/],
    ['annotations["dynod.size"]', (c) => { c.annotations = { 'dynod.size': 2 }; }, /not a string/],
    ['linux.namespaces', (c) => { c.linux.namespaces = [{ type: 'pid' }]; }, /no mount namespace/],
    ['linux.namespaces[5].type', (c) => ns(c, { type: 'foo' }), /"foo" is not a namespace type; accepted: pid, network, mount, ipc, uts, user, cgroup, time/],
    ['linux.namespaces[5].type', (c) => ns(c, { type: 'pid' }), /given twice/],
    ['linux.namespaces[0].path', (c) => { c.linux.namespaces[0].path = '/proc/1/ns/mnt'; }, /joining one is not implemented/],
    ['linux.namespaces[5].path', (c) => ns(c, { type: 'user', path: '/proc/1/ns/user' }), /joining a user namespace/],
    ['linux.namespaces[4].path', (c) => { c.linux.namespaces[4].path = '/run/netns/x'; ns(c, { type: 'user' }); c.linux.uidMappings = c.linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]; }, /joining a network namespace from a new user namespace/],
    ['linux.namespaces[1].path', (c) => { c.linux.namespaces[1].path = 'proc/1/ns/pid'; }, /not an absolute path/],
    ['linux.uidMappings', (c) => ns(c, { type: 'user' }), /missing for the new user namespace/],
    ['linux.gidMappings', (c) => { c.linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]; }, /given without a new user namespace/],
    ['linux.uidMappings[0].size', (c) => { ns(c, { type: 'user' }); c.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 0 }]; }, /from 1 to/],
    ['linux.intelRdt', (c) => { c.linux.intelRdt = { closID: 'x' }; }, /Intel RDT/],
    ['linux.personality', (c) => { c.linux.personality = { domain: 'LINUX32' }; }, /only \{"domain": "LINUX"\}/],
    ['linux.personality', (c) => { c.linux.personality = { domain: 'LINUX', flags: ['ADDR_NO_RANDOMIZE'] }; }, /without flags/],
    ['linux.mountLabel', (c) => { c.linux.mountLabel = 'system_u:object_r:container_file_t:s0'; }, /SELinux/],
    ['linux.timeOffsets', (c) => { c.linux.timeOffsets = { monotonic: { secs: 10 } }; }, /time namespace offsets/],
    ['linux.netDevices', (c) => { c.linux.netDevices = { eth1: {} }; }, /network devices/],
    ['linux.sysctl["kernel.panic"]', (c) => { c.linux.sysctl = { 'kernel.panic': '1' }; }, /not a namespaced sysctl/],
    ['linux.sysctl["kernel.hostname"]', (c) => { c.linux.sysctl = { 'kernel.hostname': 'x' }; }, /hostname field/],
    ['linux.sysctl["net.ipv4.ip_forward"]', (c) => { c.linux.namespaces = [{ type: 'mount' }]; c.linux.sysctl = { 'net.ipv4.ip_forward': '1' }; }, /needs a network namespace of the container's/],
    ['linux.sysctl["kernel.shmmax"]', (c) => { c.linux.namespaces = [{ type: 'mount' }]; c.linux.sysctl = { 'kernel.shmmax': '1' }; }, /needs a ipc namespace/],
    ['linux.sysctl["net..x"]', (c) => { c.linux.sysctl = { 'net..x': '1' }; }, /not a sysctl name/],
    ['linux.sysctl["net.ipv4.ip_forward"]', (c) => { c.linux.sysctl = { 'net.ipv4.ip_forward': 1 }; }, /not a string/],
    ['linux.rootfsPropagation', (c) => { c.linux.rootfsPropagation = 'rshared'; }, /must not propagate to the host/],
    ['linux.rootfsPropagation', (c) => { c.linux.rootfsPropagation = 'sideways'; }, /not a propagation/],
    ['linux.devices[0].type', (c) => { c.linux.devices = [{ type: 'x', path: '/dev/x', major: 1, minor: 1 }]; }, /not a device type/],
    ['linux.devices[0].path', (c) => { c.linux.devices = [{ type: 'c', path: '/etc/x', major: 1, minor: 1 }]; }, /not below \/dev/],
    ['linux.devices[0].path', (c) => { c.linux.devices = [{ type: 'c', path: '/dev/../etc/x', major: 1, minor: 1 }]; }, /not below \/dev/],
    ['linux.devices[1].path', (c) => { c.linux.devices = [{ type: 'c', path: '/dev/x', major: 1, minor: 1 }, { type: 'b', path: '/dev/x', major: 8, minor: 0 }]; }, /given twice/],
    ['linux.devices[0].major', (c) => { c.linux.devices = [{ type: 'c', path: '/dev/x', minor: 1 }]; }, /missing/],
    ['linux.maskedPaths[0]', (c) => { c.linux.maskedPaths = ['proc/kcore']; }, /not an absolute path/],
    ['linux.resources.hugepageLimits', (c) => { c.linux.resources = { hugepageLimits: [{ pageSize: '2MB', limit: 1 }] }; }, /not supported by dynod-oci \(supported: memory, cpu, pids, devices\)$/],
    ['linux.resources.blockIO', (c) => { c.linux.resources = { blockIO: { weight: 100 } }; }, /supported: memory, cpu, pids, devices/],
    ['linux.resources.network', (c) => { c.linux.resources = { network: { classID: 1 } }; }, /supported: memory/],
    ['linux.resources.rdma', (c) => { c.linux.resources = { rdma: { mlx5_1: { hcaHandles: 3 } } }; }, /supported: memory/],
    ['linux.resources.unified', (c) => { c.linux.resources = { unified: { 'memory.high': '1G' } }; }, /supported: memory/],
    ['linux.resources.rdma', (c) => { c.linux.resources = { rdma: { mlx5_1: {} } }; }, /supported: memory/],
    ['linux.resources.memory.kernel', (c) => { c.linux.resources = { memory: { kernel: 1 } }; }, /deprecated/],
    ['linux.resources.memory.swappiness', (c) => { c.linux.resources = { memory: { swappiness: 10 } }; }, /supported memory fields/],
    ['linux.resources.memory.swap', (c) => { c.linux.resources = { memory: { limit: 2048, swap: 1024 } }; }, /below memory.limit/],
    ['linux.resources.memory.limit', (c) => { c.linux.resources = { memory: { limit: -2 } }; }, /out of range/],
    ['linux.resources.cpu.realtimeRuntime', (c) => { c.linux.resources = { cpu: { realtimeRuntime: 1000 } }; }, /CONFIG_RT_GROUP_SCHED/],
    ['linux.resources.cpu.idle', (c) => { c.linux.resources = { cpu: { idle: 1 } }; }, /supported cpu fields/],
    ['linux.resources.cpu.shares', (c) => { c.linux.resources = { cpu: { shares: 1 } }; }, /from 2 to 262144/],
    ['linux.resources.cpu.cpus', (c) => { c.linux.resources = { cpu: { cpus: '0-3;5' } }; }, /not a list of numbers and ranges/],
    ['linux.resources.pids.limit', (c) => { c.linux.resources = { pids: { limit: 'many' } }; }, /out of range/],
    ['linux.resources.devices[0].allow', (c) => { c.linux.resources = { devices: [{ access: 'rwm' }] }; }, /missing/],
    ['linux.resources.devices[0].access', (c) => { c.linux.resources = { devices: [{ allow: true, access: 'rwx' }] }; }, /subset of "rwm"/],
    ['linux.resources.devices[0].type', (c) => { c.linux.resources = { devices: [{ allow: true, type: 'p', access: 'r' }] }; }, /a \(all\), b \(block\) or c \(char\)/],
    ['linux.seccomp', (c) => { c.linux.seccomp = 'default'; }, /not an object/],
    ['linux.seccomp.flags[0]', (c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG'] }; }, /logging/],
    ['linux.seccomp.flags[0]', (c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_SPEC_ALLOW'] }; }, /speculative/],
    ['linux.seccomp.flags[0]', (c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_BOGUS'] }; }, /not a seccomp filter flag/],
    ['linux.seccomp.listenerPath', (c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock' }; }, /seccomp agent/],
    ['linux.seccomp.defaultAction', (c) => { c.linux.seccomp = { syscalls: [] }; }, /is missing/],
    ['linux.seccomp.syscalls[0].action', (c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_NOTIFY' }] }; }, /seccomp agent/],
    ['linux.seccomp.syscalls[1]', (c) => {
      c.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [
        { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }] },
        { names: ['socket'], action: 'SCMP_ACT_KILL', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }] },
      ] };
    }, /one action per syscall and argument condition/],
  ];
  for (const [p, mutate, re] of cases) refuses(t, mutate, p, re);
  t.throws(() => validateConfig([], BUNDLE), { message: 'config.json: (top level): [] is not an object; accepted: a JSON object' });
});

t.test('unknown fields are ignored (the spec says so), in any section', async (t) => {
  const c = base();
  c.futureTopLevel = true;
  c.process.futureField = 1;
  c.linux.futureLinux = { a: 1 };
  c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', futureField: 1, syscalls: [{ names: ['kexec_load'], action: 'SCMP_ACT_ERRNO', futureRuleField: 2, includes: { caps: ['CAP_SYS_BOOT'] } }] };
  const v = validateConfig(c, BUNDLE);
  t.same(v.linux.seccomp!.rules.map((r) => r.syscall), ['kexec_load'], 'includes (Docker\'s, not OCI\'s) is not read');
});

t.test('validateProcess: exec --process FILE, errors named after the file', async (t) => {
  const p = validateProcess({ args: ['ls'], cwd: '/', user: { uid: 1, gid: 2 }, env: ['PATH=/bin'], terminal: true }, 'process.json');
  t.same(p.args, ['ls']);
  t.equal(p.terminal, true);
  t.throws(() => validateProcess({ args: ['ls'], cwd: '/' }, '/run/x/process.json'), { message: '/run/x/process.json: user: missing; accepted: an object with uid and gid' });
  t.throws(() => validateProcess({ args: [], cwd: '/', user: { uid: 0, gid: 0 } }, 'process.json'), { message: /^process\.json: args: empty/ });
  t.throws(() => validateProcess([], 'process.json'), { message: /^process\.json: \(top level\): \[\] is not an object/ });
  t.throws(() => validateProcess({ args: ['ls'], cwd: '/', user: { uid: 0, gid: 0 }, capabilities: { effective: ['CAP_NOPE'] } }, 'process.json'), { message: /^process\.json: capabilities\.effective\[0\]: unknown capability "CAP_NOPE"/ });
});

t.test('validateResources: update --resources reads the same object under a name of its own', async (t) => {
  const r = validateResources({ memory: { limit: 1 << 30 }, cpu: { quota: 50000, period: 100000, shares: 512 }, pids: { limit: -1 } }, 'update', '');
  t.same(r, {
    memory: { limit: 1 << 30, swap: null, reservation: null, disableOOMKiller: null },
    cpu: { shares: 512, quota: 50000, period: 100000, cpus: null, mems: null },
    pids: { limit: -1 },
    devices: [],
  });
  t.throws(() => validateResources({ blockIO: { weight: 10 } }, 'update', ''), { message: 'update: blockIO: not supported by dynod-oci (supported: memory, cpu, pids, devices)' });
  t.throws(() => validateResources([], 'update', ''), { message: /^update: \(top level\): \[\] is not an object/ });
  t.same(validateResources(undefined), validateResources({}), 'absent is all null');
});

t.test('loadBundle reads BUNDLE/config.json', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-oci-bundle-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  t.throws(() => loadBundle(dir), { message: new RegExp(`^${dir}/config\\.json: cannot read it: ENOENT; the bundle directory must hold`) });
  fs.writeFileSync(path.join(dir, 'config.json'), '{"ociVersion": ');
  t.throws(() => loadBundle(dir), { message: new RegExp(`^${dir}/config\\.json: not valid JSON: `) });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(base()));
  t.equal(loadBundle(dir).root.path, path.join(dir, 'rootfs'), 'root.path relative to the bundle');
});
