// planContainer: config.json + this host → the ContainerPlan (plain JSON): podman's
// real config against a temporary rootfs, hostile images, user namespaces, /dev,
// the dynod.size annotation. Reads the host (rootfs, /proc, /sys); writes nothing.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { validateConfig } from '../../src/oci/config';
import { planContainer, type ContainerPlan, type ContainerPlanContext } from '../../src/oci/plan';
import { MOUNT_ATTR, MS } from '../../src/dyno/constants';
import { SIZES } from '../../src/dyno/sizes';
import { V1_VIEW, V2_VIEW, minimalConfig, otherNetns, podmanConfig, refused, tempBundle, type Bundle, type Raw } from './fixtures/oci-bundle';

function plan(b: Bundle, raw: Raw, over: Partial<ContainerPlanContext> = {}): ContainerPlan {
  return planContainer(validateConfig(raw, b.dir), { bundle: b.dir, id: 'c1', cgroupView: V1_VIEW, hostCpus: 4, ...over });
}

/** What the host's kernel has at a /proc or /sys path: the plan keeps only masks the container will have. */
function hostKind(p: string): 'file' | 'dir' | null {
  try {
    return fs.lstatSync(p).isDirectory() ? 'dir' : 'file';
  } catch {
    return null;
  }
}

t.test('podman\'s config.json plans against a rootfs on disk', async (t) => {
  const b = tempBundle(t);
  const netns = await otherNetns(t);
  if (!netns) return t.skip('unshare -n cannot make a network namespace here (not root?)');
  const p = plan(b, podmanConfig(b, netns));

  t.equal(p.rootfs, fs.realpathSync(b.rootfs));
  t.same(p.namespaces, { new: ['pid', 'ipc', 'uts', 'mount'], join: [{ type: 'network', path: netns }] });
  t.equal(p.hostname, '4c21b1ea26e2');
  t.same(p.process.user, { uid: 0, gid: 0, additionalGids: [], umask: 0o022 });
  t.same(p.process.rlimits, [{ type: 'RLIMIT_NOFILE', resource: 7, soft: 1024, hard: 1024 }, { type: 'RLIMIT_NPROC', resource: 6, soft: 1024, hard: 1024 }]);
  t.equal(p.process.noNewPrivileges, false);
  t.equal(p.cgroupsPath, '/libpod_parent/libpod-4c21b1ea26e2847f561b6e7fafe4abcde22cee7b0f22b83f9db68ab2832e6af2');
  t.same(p.resources.devices.slice(0, 3), [
    { allow: false, type: 'a', major: null, minor: null, access: 'rwm' },
    { allow: true, type: 'c', major: null, minor: null, access: 'm' },
    { allow: true, type: 'b', major: null, minor: null, access: 'm' },
  ], 'the config\'s deny-all first, then runc\'s default rules');
  t.equal(p.resources.devices.length, 11);
  t.equal(p.size, null);

  t.same(p.mounts.map((m) => [m.kind, m.target, m.create.map((c) => `${c.type} ${c.path}`)]), [
    ['proc', '/proc', []],
    ['tmpfs', '/dev', []],
    ['sysfs', '/sys', []],
    ['devpts', '/dev/pts', ['dir /dev/pts']],
    ['mqueue', '/dev/mqueue', ['dir /dev/mqueue']],
    ['bind', '/etc/resolv.conf', ['file /etc/resolv.conf']],
    ['bind', '/etc/hosts', []],
    ['bind', '/dev/shm', ['dir /dev/shm']],
    ['bind', '/run/.containerenv', ['file /run/.containerenv']],
    ['bind', '/etc/hostname', ['file /etc/hostname']],
    ['cgroup', '/sys/fs/cgroup', []],
  ], 'destinations resolved; what the image lacks is made (on /dev\'s new tmpfs too)');
  const shm = p.mounts[7]!;
  t.same([shm.source, shm.sourceIsFile, shm.recursive, shm.flags, shm.propagation], [path.join(fs.realpathSync(b.userdata), 'shm'), false, false, MS.nosuid | MS.noexec | MS.nodev, MS.private | MS.rec]);
  t.equal(p.mounts[5]!.sourceIsFile, true);
  const dev = p.mounts[1]!;
  t.same([dev.flags, dev.data], [MS.nosuid | MS.noexec | MS.strictatime, 'mode=755,size=65536k']);
  t.same(p.mounts[3]!.data, 'newinstance,ptmxmode=0666,mode=0620,gid=5');
  t.same(p.mounts[10]!.cgroup, { mode: 'v1-bind', hierarchies: V1_VIEW.hierarchies }, 'no cgroup namespace on v1: the container\'s own directories are bound');

  t.same(p.devices.map((d) => `${d.how} ${d.target} ${d.major}:${d.minor}`), [
    'mknod /dev/null 1:3', 'mknod /dev/random 1:8', 'mknod /dev/full 1:7', 'mknod /dev/tty 5:0', 'mknod /dev/zero 1:5', 'mknod /dev/urandom 1:9',
  ]);
  t.same(p.devLinks.map((l) => `${l.target} -> ${l.linkTo}`), ['/dev/ptmx -> pts/ptmx', '/dev/fd -> /proc/self/fd', '/dev/stdin -> /proc/self/fd/0', '/dev/stdout -> /proc/self/fd/1', '/dev/stderr -> /proc/self/fd/2']);
  t.equal(p.console, null);

  const cfg = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'podman-config.json'), 'utf8')) as Raw;
  const masks = (cfg.linux.maskedPaths as string[]).flatMap((m) => (hostKind(m) ? [{ path: m, target: m, kind: hostKind(m) }] : []));
  t.same(p.maskedPaths, masks, 'masked paths the host\'s kernel has, files and directories told apart');
  t.same(p.readonlyPaths, (cfg.linux.readonlyPaths as string[]).filter(hostKind).map((r) => ({ path: r, target: r })));
  t.same(p.sysctl, { 'net.ipv4.ping_group_range': '0 0' });
  t.ok(p.seccomp && p.seccomp.rules.length > 300);

  // printable: plain JSON that comes back the same
  const text = JSON.stringify(p);
  t.same(JSON.parse(text), p, 'the plan round-trips through JSON');
  t.notOk(fs.existsSync(path.join(b.rootfs, 'run/.containerenv')), 'planning writes nothing into the rootfs');
});

t.test('a sysctl is never written into the host\'s namespace; joined paths must exist', async (t) => {
  const b = tempBundle(t);
  refused(t, () => plan(b, podmanConfig(b, '/proc/self/ns/net')),
    /^config\.json: linux\.sysctl\["net\.ipv4\.ping_group_range"\]: the network namespace it would change \(\/proc\/self\/ns\/net\) is the host's/, 'host netns');
  refused(t, () => plan(b, podmanConfig(b, '/run/netns/dynod-oci-no-such-ns')),
    /^config\.json: linux\.namespaces\[1\]\.path: \/run\/netns\/dynod-oci-no-such-ns: ENOENT/, 'missing netns');
  const noSysctl = podmanConfig(b, '/proc/self/ns/net');
  delete noSysctl.linux.sysctl;
  t.same(plan(b, noSysctl).namespaces.join, [{ type: 'network', path: '/proc/self/ns/net' }], 'joining the host\'s network namespace itself is the caller\'s choice');
});

t.test('hostile images: mounts land inside the rootfs, proc only where asked', async (t) => {
  const b = tempBundle(t, ['etc -> /../../../tmp/x/../../evil', 'proc -> /etc', 'sys/', 'run -> ../../../../var/run', 'dev/', 'data -> /data2/../data3', 'loop -> loop']);
  const raw = minimalConfig(b, {
    mounts: [
      { destination: '/etc/resolv.conf', type: 'bind', source: path.join(b.userdata, 'resolv.conf'), options: ['rbind'] },
      { destination: '/run/secrets', type: 'tmpfs', source: 'tmpfs' },
      { destination: '/data/x', type: 'bind', source: path.join(b.userdata, 'shm'), options: ['bind', 'ro'] },
    ],
  });
  const p = plan(b, raw);
  t.same(p.mounts.map((m) => [m.target, m.create.map((c) => c.path)]), [
    ['/evil/resolv.conf', ['/evil', '/evil/resolv.conf']],
    ['/var/run/secrets', ['/var', '/var/run', '/var/run/secrets']],
    ['/data3/x', ['/data3', '/data3/x']],
  ], 'symlinks in the image resolve inside it');
  for (const m of p.mounts) t.ok(!m.target.includes('..'), `${m.target}: clean`);
  refused(t, () => plan(b, minimalConfig(b, { mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }] })),
    /^config\.json: mounts\[0\]\.destination: not supported by dynod-oci \(\/proc resolves to \/evil in the rootfs \(a symlink in the image\); proc is mounted only where it is asked\)/, 'proc through a symlink');
  refused(t, () => plan(b, minimalConfig(b, { mounts: [{ destination: '/loop/x', type: 'tmpfs', source: 'tmpfs' }] })), /more than 255 symlinks/, 'a loop');
  refused(t, () => plan(b, minimalConfig(b, { mounts: [{ destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['tmpcopyup'] }] })),
    /mounts\[0\]\.options: not supported by dynod-oci \(tmpcopyup: only a tmpfs/, 'tmpcopyup on a sysfs');
  const up = plan(b, minimalConfig(b, { mounts: [{ destination: '/data3', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'ro'] }] })).mounts[0]!;
  t.same([up.copyUp, up.deferReadonly], [true, false], 'tmpcopyup: the copy-up op makes it read-only after the copy');
});

t.test('binds: real host sources, kinds checked; mounts inside /proc only over what lxcfs emulates', async (t) => {
  const b = tempBundle(t);
  fs.symlinkSync(path.join(b.userdata, 'shm'), path.join(b.dir, 'shm-link'));
  const p = plan(b, minimalConfig(b, {
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/shm', source: 'shm-link', options: ['rbind', 'rro', 'rprivate'] },
      { destination: '/proc/meminfo', source: path.join(b.userdata, 'hosts'), options: ['bind', 'ro'] },
    ],
  }));
  const shm = p.mounts[1]!;
  t.same([shm.kind, shm.source, shm.recursive, shm.recursiveAttrs, shm.flags], ['bind', fs.realpathSync(path.join(b.userdata, 'shm')), true, MOUNT_ATTR.rdonly, 0], 'relative to the bundle, then its real path');
  t.same([p.mounts[2]!.target, p.mounts[2]!.create, p.mounts[2]!.flags], ['/proc/meminfo', [], MS.rdonly], 'lxcfs\'s files are fine');
  refused(t, () => plan(b, minimalConfig(b, { mounts: [{ destination: '/proc', type: 'proc' }, { destination: '/proc/sys/kernel/core_pattern', source: '/etc/hostname', options: ['bind'] }] })),
    /^config\.json: mounts\[1\]\.destination: not supported by dynod-oci \(\/proc\/sys\/kernel\/core_pattern is inside \/proc/, 'other /proc files');
  refused(t, () => plan(b, minimalConfig(b, { mounts: [{ destination: '/x', source: '/no/such/dir', options: ['bind'] }] })),
    /^config\.json: mounts\[0\]\.source: \/no\/such\/dir: ENOENT on the host/, 'missing source');
  refused(t, () => plan(b, minimalConfig(b, { mounts: [{ destination: '/etc/hosts', source: path.join(b.userdata, 'shm'), options: ['bind'] }] })),
    /^config\.json: mounts\[0\]\.destination: \/etc\/hosts is a file in the rootfs, where a directory is mounted/, 'dir onto file');
  refused(t, () => plan(b, minimalConfig(b, { root: { path: 'nope' } })), /^config\.json: root\.path: .*nope: ENOENT/, 'missing rootfs');
});

t.test('a new user namespace: devices and sysfs come from the host, mknod only for FIFOs', async (t) => {
  const b = tempBundle(t);
  const raw = minimalConfig(b, {
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro'] },
    ],
    linux: {
      namespaces: [{ type: 'mount' }, { type: 'pid' }, { type: 'user' }, { type: 'cgroup' }],
      uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      devices: [{ type: 'p', path: '/dev/pipe', fileMode: 0o600, uid: 1, gid: 2 }],
    },
  });
  const p = plan(b, raw, { cgroupView: V2_VIEW });
  const sys = p.mounts[2]!;
  t.same([sys.kind, sys.source, sys.recursive, sys.flags, sys.recursiveAttrs], ['bind', '/sys', true, 0, MOUNT_ATTR.rdonly | MOUNT_ATTR.nosuid | MOUNT_ATTR.nodev | MOUNT_ATTR.noexec], 'the host\'s /sys, read-only all the way down');
  t.match(sys.note, /network namespace of its own/);
  t.same(p.mounts[3]!.cgroup, { mode: 'cgroup2', overTmpfs: true }, 'cgroup2 goes over a tmpfs on a bound /sys');
  t.same(p.devices.map((d) => `${d.how} ${d.target}`), ['bind /dev/null', 'bind /dev/random', 'bind /dev/full', 'bind /dev/tty', 'bind /dev/zero', 'bind /dev/urandom', 'mknod /dev/pipe']);
  t.same(p.devices[0]!.create, [{ path: '/dev/null', type: 'file' }], 'a file to bind onto');
  t.same(p.devices[6], { type: 'p', path: '/dev/pipe', major: 0, minor: 0, fileMode: 0o600, uid: 1, gid: 2, target: '/dev/pipe', create: [], how: 'mknod' });
  t.same(p.namespaces.new, ['mount', 'pid', 'user', 'cgroup']);
  t.same(p.uidMappings, [{ containerID: 0, hostID: 100000, size: 65536 }]);

  const noCgroupNs = structuredClone(raw);
  noCgroupNs.linux.namespaces = [{ type: 'mount' }, { type: 'pid' }, { type: 'user' }];
  t.same(plan(b, noCgroupNs, { cgroupView: V2_VIEW }).mounts[3]!.cgroup, { mode: 'cgroup2-bind' }, 'no cgroup2 mount without a cgroup namespace: the container\'s cgroup is bound');

  const mqueue = structuredClone(raw);
  mqueue.mounts.push({ destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid'] });
  if (fs.existsSync('/dev/mqueue')) {
    const mq = plan(b, mqueue, { cgroupView: V2_VIEW }).mounts[4]!;
    t.same([mq.kind, mq.source, mq.flags], ['bind', '/dev/mqueue', MS.nosuid], 'mqueue without an ipc namespace: the host\'s, bound');
  } else {
    refused(t, () => plan(b, mqueue, { cgroupView: V2_VIEW }), /^config\.json: mounts\[4\]\.type: not supported by dynod-oci \(mqueue in a new user namespace needs an ipc namespace/, 'mqueue without an ipc namespace, and no /dev/mqueue on this host');
  }
  mqueue.linux.namespaces.push({ type: 'ipc' });
  t.equal(plan(b, mqueue, { cgroupView: V2_VIEW }).mounts[4]!.kind, 'mqueue', 'with an ipc namespace of its own: mounted');
});

t.test('cgroup views: v1 and v2, with and without a cgroup namespace', async (t) => {
  const b = tempBundle(t);
  const raw = (ns: string[]) => minimalConfig(b, {
    mounts: [{ destination: '/sys', type: 'sysfs', source: 'sysfs' }, { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid'] }],
    linux: { namespaces: ns.map((type) => ({ type })) },
  });
  t.same(plan(b, raw(['mount', 'network', 'cgroup'])).mounts[1]!.cgroup, { mode: 'v1', hierarchies: V1_VIEW.hierarchies });
  t.same(plan(b, raw(['mount', 'network'])).mounts[1]!.cgroup, { mode: 'v1-bind', hierarchies: V1_VIEW.hierarchies });
  t.same(plan(b, raw(['mount', 'network', 'cgroup']), { cgroupView: V2_VIEW }).mounts[1]!.cgroup, { mode: 'cgroup2', overTmpfs: false });
  t.same(plan(b, raw(['mount', 'network']), { cgroupView: V2_VIEW }).mounts[1]!.cgroup, { mode: 'cgroup2', overTmpfs: false }, 'as runc: the whole tree without a cgroup namespace');
});

t.test('/dev: the config\'s own devices win, a bound /dev gets nothing, the image\'s /dev is respected', async (t) => {
  const b = tempBundle(t, ['dev/ptmx -> pts/ptmx', 'dev/fd -> /proc/self/fd', 'dev/pts/', 'proc/']);
  const p = plan(b, minimalConfig(b, {
    mounts: [{ destination: '/proc', type: 'proc' }],
    process: { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 }, terminal: true },
    linux: { namespaces: [{ type: 'mount' }], devices: [{ type: 'c', path: '/dev/null', major: 1, minor: 3, fileMode: 0o600 }, { type: 'c', path: '/dev/net/tun', major: 10, minor: 200 }] },
  }));
  t.same(p.devices.map((d) => `${d.path} ${d.fileMode.toString(8)} ${d.create.map((c) => c.path).join(',')}`), [
    '/dev/random 666 ', '/dev/full 666 ', '/dev/tty 666 ', '/dev/zero 666 ', '/dev/urandom 666 ', '/dev/null 600 ', '/dev/net/tun 666 /dev/net',
  ], 'the defaults the config does not redefine, then its own (missing directories made)');
  t.notOk(p.resources.devices.some((r) => r.major === 1 && r.minor === 3), 'the default rule for a redefined device goes, as in runc');
  t.same(p.devLinks.map((l) => l.target), ['/dev/stdin', '/dev/stdout', '/dev/stderr'], 'links the image has are kept');
  t.same(p.console, { target: '/dev/console', create: [{ path: '/dev/console', type: 'file' }] });

  const ptmxFile = tempBundle(t, ['dev/ptmx', 'proc/']);
  refused(t, () => plan(ptmxFile, minimalConfig(ptmxFile, { mounts: [] })), /^config\.json: root\.path: \/dev\/ptmx in the rootfs is a file/, 'a file at /dev/ptmx');

  const bound = plan(b, minimalConfig(b, { mounts: [{ destination: '/dev', source: '/dev', options: ['rbind'] }] }));
  t.same([bound.devices, bound.devLinks], [[], []], 'a /dev bound from the host is used as it is');
});

t.test('dynod.size fills the limits linux.resources leaves unset', async (t) => {
  const b = tempBundle(t);
  const sized = (size: string, resources: Raw = {}, hostCpus = 4) => plan(b, minimalConfig(b, { annotations: { 'dynod.size': size }, linux: { ...minimalConfig(b).linux, resources } }), { hostCpus });
  const MiB = 1024 * 1024;
  const s2 = sized('standard-2x');
  t.same(s2.size, { name: 'standard-2x', label: 'Standard-2X' });
  t.same(s2.resources.memory, { limit: 1024 * MiB, swap: 2048 * MiB, reservation: null, disableOOMKiller: null }, 'RAM, and RAM plus swap where R15 fires');
  t.same(s2.resources.cpu, { shares: 2048, quota: null, period: null, cpus: null, mems: null }, 'the 2x share as cpu.shares');
  t.same(s2.resources.pids, { limit: 512 });
  const pm = sized('Performance-M', {}, 1);
  t.same([pm.resources.cpu.shares, pm.resources.cpu.quota, pm.resources.cpu.period], [null, 100000, 100000], 'dedicated vCPUs as a quota, capped at the host\'s CPUs');
  t.same(sized('performance-m').resources.cpu.quota, 200000);
  const own = sized('standard-2x', { memory: { limit: 64 * MiB }, pids: { limit: 50 }, cpu: { cpus: '0' } });
  t.same([own.resources.memory.limit, own.resources.memory.swap, own.resources.pids.limit, own.resources.cpu.shares, own.resources.cpu.cpus], [64 * MiB, null, 50, 2048, '0'], 'the config\'s own limits win; the rest comes from the size');
  t.equal(plan(b, minimalConfig(b)).size, null, 'no annotation, no size');
  refused(t, () => sized('huge'), new RegExp(`^config\\.json: annotations\\["dynod\\.size"\\]: unknown size "huge"; accepted: ${SIZES.map((s) => s.name).join(', ')}$`), 'unknown size');
});

t.test('masked and read-only paths: files, directories, missing ones left out', async (t) => {
  const b = tempBundle(t, [...['etc/secret/', 'etc/token', 'proc/'], 'link -> /etc/token']);
  const p = plan(b, minimalConfig(b, {
    mounts: [],
    linux: { namespaces: [{ type: 'mount' }], maskedPaths: ['/etc/secret', '/etc/token', '/etc/nothing', '/link'], readonlyPaths: ['/etc', '/nothing'] },
  }));
  t.same(p.maskedPaths, [
    { path: '/etc/secret', target: '/etc/secret', kind: 'dir' },
    { path: '/etc/token', target: '/etc/token', kind: 'file' },
    { path: '/link', target: '/etc/token', kind: 'file' },
  ]);
  t.same(p.readonlyPaths, [{ path: '/etc', target: '/etc' }]);
});
