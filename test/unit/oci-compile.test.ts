// compileContainer / containerOps / processInitArgv: a ContainerPlan as the native
// spawn plan. The shape of podman's op list, ordering and confinement invariants
// over several plans, dynod-init's argv and pass fds, and the ABI numbers the ops
// carry against the C headers.
import t, { type Test } from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { NativeOp } from '../../src/addon';
import { CLONE, MOUNT_ATTR, MS, RLIMIT } from '../../src/dyno/constants';
import { NEW, OLD } from '../../src/dyno/compile';
import { validateConfig } from '../../src/oci/config';
import { planContainer, type ContainerPlan } from '../../src/oci/plan';
import { S_IF, compileContainer, containerOps, processInitArgv, type ContainerCompileContext } from '../../src/oci/compile';
import { V1_VIEW, V2_VIEW, minimalConfig, podmanConfig, tempBundle, type Raw } from './fixtures/oci-bundle';
import type { CgroupView } from '../../src/cgroup';

type Op<K extends NativeOp['op']> = Extract<NativeOp, { op: K }>;

const V1_PROCS = ['/sys/fs/cgroup/memory/oci/c1/cgroup.procs', '/sys/fs/cgroup/cpu,cpuacct/oci/c1/cgroup.procs', '/sys/fs/cgroup/pids/oci/c1/cgroup.procs'];

function ctx(over: Partial<ContainerCompileContext> = {}): ContainerCompileContext {
  return { cgroup: { intoDir: '', procsFiles: V1_PROCS }, stdio: [0, 1, 2], initFd: 20, seccompFd: -1, startFd: 21, nsFds: {}, trace: false, ...over };
}

function planOf(t: Test, raw: (b: ReturnType<typeof tempBundle>) => Raw, view: CgroupView = V1_VIEW): ContainerPlan {
  const b = tempBundle(t);
  return planContainer(validateConfig(raw(b), b.dir), { bundle: b.dir, id: 'c1', cgroupView: view, hostCpus: 2 });
}

/** An op as one line: kind and what it acts on, container paths short. */
function shape(o: NativeOp, rootfs: string): string {
  const short = (p: string) => (p.startsWith(NEW) ? `NEW:${p.slice(NEW.length)}` : p)
    .replace(OLD + rootfs, 'OLD:rootfs').replace(/^\/\.oldroot\//, 'OLD:/').replace(/\/tmp\/dynod-oci-bundle-[^/]+\/userdata/, 'USERDATA');
  switch (o.op) {
    case 'mount': return `mount ${o.fstype ?? (o.flags & MS.bind ? 'bind' : 'propagation')} ${o.source ? `${short(o.source)} ` : ''}${short(o.target)}`;
    case 'remount': return `remount ${short(o.target)}`;
    case 'mkdir': return `mkdir ${short(o.path)}`;
    case 'write': return `write ${short(o.path)}`;
    case 'mknod': return `mknod ${short(o.path)}`;
    case 'symlink': return `symlink ${short(o.path)}`;
    case 'setns': return `setns ${o.nstype}`;
    case 'sysctl': return `sysctl ${short(o.path)}`;
    case 'setattr': return `setattr ${short(o.target)}`;
    case 'pivot': return `pivot ${o.target}`;
    case 'hostname': return `hostname ${o.name}`;
    default: return o.op;
  }
}

t.test('podman\'s container: the op list, in order', async (t) => {
  const p = planOf(t, (b) => podmanConfig(b, null));
  const sp = compileContainer(p, ctx({ seccompFd: 30 }));
  const ops = sp.ops.filter((o) => !('optional' in o && o.optional)).map((o) => shape(o, p.rootfs));
  t.same(ops, [
    'mount propagation /', 'mount tmpfs tmpfs /tmp', 'mkdir /tmp/.oldroot', 'mkdir /tmp/newroot', 'pivot /tmp',
    'mount bind OLD:rootfs NEW:',
    'mount proc proc NEW:/proc',
    'mount tmpfs tmpfs NEW:/dev',
    'mount sysfs sysfs NEW:/sys',
    'mkdir NEW:/dev/pts', 'mount devpts devpts NEW:/dev/pts',
    'mkdir NEW:/dev/mqueue', 'mount mqueue mqueue NEW:/dev/mqueue',
    'write NEW:/etc/resolv.conf', 'mount bind OLD:USERDATA/resolv.conf NEW:/etc/resolv.conf', 'mount propagation NEW:/etc/resolv.conf',
    'mount bind OLD:USERDATA/hosts NEW:/etc/hosts', 'mount propagation NEW:/etc/hosts',
    'mkdir NEW:/dev/shm', 'mount bind OLD:USERDATA/shm NEW:/dev/shm', 'remount NEW:/dev/shm', 'mount propagation NEW:/dev/shm',
    'write NEW:/run/.containerenv', 'mount bind OLD:USERDATA/.containerenv NEW:/run/.containerenv', 'mount propagation NEW:/run/.containerenv',
    'write NEW:/etc/hostname', 'mount bind OLD:USERDATA/hostname NEW:/etc/hostname', 'mount propagation NEW:/etc/hostname',
    'join-cgroup',
    'mount tmpfs tmpfs NEW:/sys/fs/cgroup',
    'mkdir NEW:/sys/fs/cgroup/memory', 'mount bind OLD:/sys/fs/cgroup/memory/oci/c1 NEW:/sys/fs/cgroup/memory', 'remount NEW:/sys/fs/cgroup/memory',
    'mkdir NEW:/sys/fs/cgroup/cpu', 'mount bind OLD:/sys/fs/cgroup/cpu,cpuacct/oci/c1 NEW:/sys/fs/cgroup/cpu', 'remount NEW:/sys/fs/cgroup/cpu',
    'mkdir NEW:/sys/fs/cgroup/pids', 'mount bind OLD:/sys/fs/cgroup/pids/oci/c1 NEW:/sys/fs/cgroup/pids', 'remount NEW:/sys/fs/cgroup/pids',
    'mount propagation NEW:/sys/fs/cgroup',
    'mknod NEW:/dev/null', 'mknod NEW:/dev/random', 'mknod NEW:/dev/full', 'mknod NEW:/dev/tty', 'mknod NEW:/dev/zero', 'mknod NEW:/dev/urandom',
    'symlink NEW:/dev/ptmx', 'symlink NEW:/dev/fd', 'symlink NEW:/dev/stdin', 'symlink NEW:/dev/stdout', 'symlink NEW:/dev/stderr',
    'sysctl OLD:/proc/sys/net/ipv4/ping_group_range',
    'hostname 4c21b1ea26e2', 'loopback',
    'remount NEW:/sys/fs/cgroup',
    `pivot ${NEW}`,
  ]);
  const optional = sp.ops.filter((o) => 'optional' in o && o.optional);
  t.equal(optional.length, p.readonlyPaths.length * 2 + p.maskedPaths.length, 'a bind and a remount per read-only path, a mount per masked one');
  const mknod = sp.ops.find((o): o is Op<'mknod'> => o.op === 'mknod')!;
  t.same(mknod, { op: 'mknod', step: 'device /dev/null', path: `${NEW}/dev/null`, mode: S_IF.c | 0o666, major: 1, minor: 3, uid: 0, gid: 0 });
  const dev = sp.ops.find((o): o is Op<'mount'> => o.op === 'mount' && o.target === `${NEW}/dev`)!;
  t.same([dev.flags, dev.data], [MS.nosuid | MS.noexec | MS.strictatime, 'mode=755,size=65536k']);
  const cg = sp.ops.filter((o): o is Op<'remount'> => o.op === 'remount' && o.target.startsWith(`${NEW}/sys/fs/cgroup/`));
  t.ok(cg.every((o) => o.flags === (MS.rdonly | MS.nosuid | MS.noexec | MS.nodev | MS.relatime)), 'the cgroup binds take the mount\'s options');
  const cgTmpfs = sp.ops.find((o): o is Op<'mount'> => o.op === 'mount' && o.target === `${NEW}/sys/fs/cgroup` && o.fstype === 'tmpfs')!;
  t.equal(cgTmpfs.flags & MS.rdonly, 0, 'its tmpfs is made read-only only at the end');

  t.equal(sp.cloneFlags, CLONE.newpid | CLONE.newnet | CLONE.newipc | CLONE.newuts | CLONE.newns);
  t.equal(sp.lateUnshare, 0);
  t.same([sp.uidMap, sp.gidMap], ['', '']);
  t.same(sp.rlimits, [{ resource: RLIMIT.nofile, soft: 1024, hard: 1024 }, { resource: RLIMIT.nproc, soft: 1024, hard: 1024 }]);
  t.same(sp.passFds, [30, 21], 'the seccomp program, then the start fd');
  t.same([sp.detached, sp.veth, sp.netnsListen, sp.cgroupDir, sp.cgroupProcs], [true, null, [], '', V1_PROCS]);
  t.same(sp.envp, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm', 'container=podman', 'HOSTNAME=4c21b1ea26e2']);
  const caps = 'CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_KILL CAP_NET_BIND_SERVICE CAP_SETFCAP CAP_SETGID CAP_SETPCAP CAP_SETUID CAP_SYS_CHROOT';
  const mask = caps.split(' ').map((c) => ({ CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_FOWNER: 3, CAP_FSETID: 4, CAP_KILL: 5, CAP_SETGID: 6, CAP_SETUID: 7, CAP_SETPCAP: 8, CAP_NET_BIND_SERVICE: 10, CAP_SYS_CHROOT: 18, CAP_SETFCAP: 31 } as Record<string, number>)[c]!).reduce((m, b) => m | (1n << BigInt(b)), 0n).toString(16);
  t.same(sp.argv, [
    'dynod-init', '--chan-fd=3', '--uid=0', '--gid=0', '--umask=022', '--cwd=/', '--tty=0', '--rows=0', '--cols=0', '--trace=0',
    `--caps=${mask}`, '--seccomp-fd=4', '--groups=', `--caps-eff=${mask}`, `--caps-prm=${mask}`, '--caps-inh=0', '--caps-amb=0', '--nnp=0', '--start-fd=5',
    '--', 'sh', '-c', 'echo hi',
  ]);
});

t.test('joined namespaces: setns first, with the caller\'s fds', async (t) => {
  const p = planOf(t, (b) => { const c = podmanConfig(b, '/proc/self/ns/net'); delete c.linux.sysctl; return c; });
  const ops = containerOps(p, ctx({ nsFds: { '/proc/self/ns/net': 40 } }));
  t.same(ops[0], { op: 'setns', step: 'join network namespace /proc/self/ns/net', fd: 40, nstype: CLONE.newnet });
  t.notOk(ops.some((o) => o.op === 'loopback'), 'a joined network namespace is left as it is');
  t.throws(() => containerOps(p, ctx()), { message: 'compileContainer: no fd in ctx.nsFds for /proc/self/ns/net' });
  t.throws(() => compileContainer(p, ctx({ seccompFd: -1, nsFds: { '/proc/self/ns/net': 40 } })), { message: /the plan has seccomp filter but ctx\.seccompFd is -1/ });
});

/** The plans every invariant is checked against. */
const VARIANTS: Array<[string, (b: ReturnType<typeof tempBundle>) => Raw, CgroupView, Partial<ContainerCompileContext>]> = [
  ['podman, v1', (b) => podmanConfig(b, null), V1_VIEW, { seccompFd: 30 }],
  ['podman, v2 with a cgroup namespace', (b) => { const c = podmanConfig(b, null); c.linux.namespaces.push({ type: 'cgroup' }); return c; }, V2_VIEW, { seccompFd: 30, cgroup: { intoDir: '/sys/fs/cgroup/oci/c1', procsFiles: [] } }],
  ['user namespace, read-only root, slave propagation', (b) => minimalConfig(b, {
    root: { path: 'rootfs', readonly: true },
    mounts: [
      { destination: '/proc', type: 'proc' }, { destination: '/dev', type: 'tmpfs', options: ['ro'] }, { destination: '/sys', type: 'sysfs', options: ['ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', options: ['ro'] }, { destination: '/data', source: '.', options: ['rbind', 'rro', 'rslave'] },
    ],
    process: { args: ['id'], cwd: '/', user: { uid: 1000, gid: 1000, additionalGids: [5, 6] }, terminal: true, consoleSize: { height: 50, width: 132 } },
    linux: {
      namespaces: [{ type: 'mount' }, { type: 'pid' }, { type: 'user' }, { type: 'time' }, { type: 'cgroup' }], rootfsPropagation: 'rslave',
      uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 200000, size: 1000 }, { containerID: 1000, hostID: 1000, size: 1 }],
      maskedPaths: ['/proc/kcore', '/sys/firmware'], readonlyPaths: ['/proc/sys'],
    },
  }), V2_VIEW, { cgroup: { intoDir: '/sys/fs/cgroup/oci/c1', procsFiles: [] } }],
];

for (const [name, raw, view, over] of VARIANTS) {
  t.test(`invariants: ${name}`, async (t) => {
    const p = planOf(t, raw, view);
    const sp = compileContainer(p, ctx(over));
    const ops = sp.ops;
    const first = ops.findIndex((o) => o.op !== 'setns');
    t.ok(ops.slice(0, first).every((o) => o.op === 'setns'), 'setns before anything else');
    const prop = ops[first] as Op<'mount'>;
    t.same([prop.target, prop.flags], ['/', p.rootfsPropagation === 'rslave' ? MS.rec | MS.slave : MS.rec | MS.private], 'the mount tree made private (or slave) first, recursively');
    const pivots = ops.flatMap((o, i) => (o.op === 'pivot' ? [i] : []));
    t.equal(pivots.length, 2, 'two pivots');
    t.equal(pivots[1], ops.length - 1, 'the pivot into the container is the last step');
    t.same(ops[pivots[0]! + 1], { op: 'mount', step: 'bind rootfs', source: OLD + p.rootfs, target: NEW, fstype: null, flags: MS.bind | MS.rec, data: null });
    // after the scratch pivot, everything the child makes or mounts is in the container's tree
    for (const o of ops.slice(pivots[0]! + 1, -1)) {
      const target = 'target' in o ? o.target : 'path' in o ? o.path : null;
      if (o.op === 'sysctl') t.ok(o.path.startsWith(`${OLD}/proc/sys/`), `sysctl through the host's /proc: ${o.path}`);
      else if (target !== null) t.ok(target === NEW || target.startsWith(`${NEW}/`), `${o.op} ${o.step}: ${target} is under ${NEW}`);
      if (o.op === 'mount' && o.flags & MS.bind && o.source)
        t.ok(o.source.startsWith(`${OLD}/`) || o.source.startsWith(`${NEW}/`), `bind source ${o.source} is a host path under OLD or the container's own`);
      if (target) t.notOk(target.split('/').includes('..'), `${target}: no ..`);
    }
    const wait = ops.findIndex((o) => o.op === 'join-cgroup');
    const cgroupOp = ops.findIndex((o) => 'target' in o && o.target.startsWith(`${NEW}/sys/fs/cgroup`));
    t.ok(wait >= 0 && (cgroupOp < 0 || wait < cgroupOp), 'the cgroup join is awaited before the cgroup view is mounted');
    t.equal(ops.filter((o) => o.op === 'join-cgroup').length, 1);
    const lastMount = ops.reduce((acc, o, i) => (o.op === 'mount' || o.op === 'mknod' || o.op === 'symlink' ? i : acc), -1);
    const ro = ops.flatMap((o, i) => (o.op === 'remount' && o.step.startsWith('read-only ') && !('optional' in o) ? [i] : []));
    t.ok(ro.every((i) => i > lastMount), 'read-only remounts of new filesystems come after every mount');
    if (p.readonly) t.same(ops[ops.length - 2], { op: 'remount', step: 'read-only /', target: NEW, flags: MS.rdonly }, 'the root last');
    t.ok(ops.every((o) => o.op !== 'mkdir' || o.mode === 0o755));
    t.doesNotThrow(() => JSON.stringify(sp), 'the spawn plan is plain data');
  });
}

t.test('user namespace, terminal, groups, capabilities, time namespace', async (t) => {
  const [, raw, view, over] = VARIANTS[2]!;
  const p = planOf(t, raw, view);
  const sp = compileContainer(p, ctx(over));
  t.equal(sp.cloneFlags, CLONE.newns | CLONE.newpid | CLONE.newuser | CLONE.newtime);
  t.equal(sp.lateUnshare, CLONE.newcgroup);
  t.same([sp.uidMap, sp.gidMap], ['0 100000 65536\n', '0 200000 1000\n1000 1000 1\n']);
  t.same(sp.passFds, [21], 'no seccomp: the start fd alone');
  t.ok(sp.argv.includes('--start-fd=4') && sp.argv.includes('--seccomp-fd=-1'));
  t.ok(sp.argv.includes('--console=1') && sp.argv.includes('--tty=1'), 'a terminal, bound on /dev/console');
  t.ok(sp.argv.includes('--rows=50') && sp.argv.includes('--cols=132'));
  t.ok(sp.argv.includes('--groups=5,6') && sp.argv.includes('--uid=1000') && sp.argv.includes('--caps=0'));
  const bindNull = sp.ops.filter((o) => o.step === 'device /dev/null');
  t.same(bindNull.map((o) => o.op), ['write', 'mount'], 'devices bound from the host in a user namespace');
  t.equal((bindNull[1] as Op<'mount'>).source, `${OLD}/dev/null`);
  const sys = sp.ops.filter((o) => o.step === 'bind /sys');
  t.same(sys.map((o) => o.op), ['mount', 'setattr'], 'the host\'s /sys bound, read-only all the way down');
  t.same(sys[1], { op: 'setattr', step: 'bind /sys', target: `${NEW}/sys`, attrSet: MOUNT_ATTR.rdonly, recursive: true });
  const data = sp.ops.filter((o) => o.step === 'bind /data');
  t.same(data.map((o) => o.op), ['mkdir', 'mount', 'mount', 'setattr'], 'rbind, rslave, rro');
  t.same((data[2] as Op<'mount'>).flags, MS.slave | MS.rec);
  const cg = sp.ops.filter((o) => o.step === 'cgroup /sys/fs/cgroup');
  t.same(cg.map((o) => [o.op, (o as Op<'mount'>).fstype]), [['mount', 'tmpfs'], ['mount', 'cgroup2']], 'cgroup2 over a tmpfs on the bound /sys');
  t.same(sp.ops.filter((o) => o.op === 'remount' && !('optional' in o)).map((o) => (o as Op<'remount'>).target), [`${NEW}/sys/fs/cgroup`, `${NEW}/dev`, NEW], 'deferred read-only remounts, innermost first, the root last');
  t.ok(sp.ops.some((o) => o.op === 'write' && o.path === `${NEW}/dev/console`), '/dev/console made for the pty');
});

t.test('cgroup v1 without a cgroup namespace needs one procs file per hierarchy', async (t) => {
  const p = planOf(t, (b) => podmanConfig(b, null));
  t.throws(() => containerOps(p, ctx({ cgroup: { intoDir: '', procsFiles: V1_PROCS.slice(0, 2) } })), { message: /3 cgroup v1 hierarchies in the view, 2 procs files/ });
  const v1ns = planOf(t, (b) => { const c = podmanConfig(b, null); c.linux.namespaces.push({ type: 'cgroup' }); return c; });
  const sp = compileContainer(v1ns, ctx({ seccompFd: 3 }));
  t.equal(sp.lateUnshare, CLONE.newcgroup, 'the cgroup namespace is unshared once the child is in its cgroup');
  t.equal(sp.cloneFlags & CLONE.newcgroup, 0);
  t.same(sp.ops.filter((o): o is Op<'mount'> => o.op === 'mount' && o.fstype === 'cgroup').map((o) => [o.target, o.data]), [
    [`${NEW}/sys/fs/cgroup/memory`, 'memory'], [`${NEW}/sys/fs/cgroup/cpu`, 'cpu,cpuacct'], [`${NEW}/sys/fs/cgroup/pids`, 'pids'],
  ], 'with a cgroup namespace, each hierarchy mounted afresh');
});

t.test('processInitArgv: exec --process, no start fd, no console', async (t) => {
  const p = planOf(t, (b) => podmanConfig(b, null));
  const argv = processInitArgv({ ...p.process, terminal: true, args: ['ls', '-l'] }, true);
  t.ok(argv.includes('--seccomp-fd=4') && argv.includes('--tty=1'));
  t.notOk(argv.some((a) => a.startsWith('--start-fd') || a.startsWith('--console')));
  t.same(argv.slice(argv.indexOf('--')), ['--', 'ls', '-l']);
  t.ok(processInitArgv(p.process, false, true).includes('--trace=1'));
  t.ok(processInitArgv(p.process, false).includes('--seccomp-fd=-1'));
});

// The numbers the ops carry, against the C headers the addon is built with.
t.test('the ABI numbers are the kernel headers\' own', async (t) => {
  const cc = ['cc', 'gcc', 'g++'].find((c) => spawnSync(c, ['--version']).status === 0);
  if (!cc) return t.skip('no C compiler to read the headers with');
  const names: Record<string, number> = {
    MS_SYNCHRONOUS: MS.synchronous, MS_MANDLOCK: MS.mandlock, MS_DIRSYNC: MS.dirsync, MS_NOATIME: MS.noatime, MS_NODIRATIME: MS.nodiratime,
    MS_SILENT: MS.silent, MS_UNBINDABLE: MS.unbindable, MS_SLAVE: MS.slave, MS_SHARED: MS.shared, MS_RELATIME: MS.relatime,
    MS_I_VERSION: MS.iversion, MS_STRICTATIME: MS.strictatime, MS_LAZYTIME: MS.lazytime, MS_NOSYMFOLLOW: MS.nosymfollow,
    MOUNT_ATTR_NODIRATIME: MOUNT_ATTR.nodiratime, MOUNT_ATTR_NOSYMFOLLOW: MOUNT_ATTR.nosymfollow,
    CLONE_NEWTIME: CLONE.newtime, S_IFCHR: S_IF.c, S_IFBLK: S_IF.b, S_IFIFO: S_IF.p,
    ...Object.fromEntries(Object.entries(RLIMIT).map(([k, v]) => [`RLIMIT_${k.toUpperCase()}`, v])),
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-oci-abi-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  // MS_NOSYMFOLLOW is in linux/mount.h, which clashes with glibc's sys/mount.h before glibc 2.36: taken from the UAPI header alone
  const src = `#define _GNU_SOURCE\n#include <sched.h>\n#include <stdio.h>\n#include <sys/stat.h>\n#include <sys/resource.h>\n#include <linux/mount.h>\nint main(void) {\n${Object.keys(names).map((n) => `  printf("${n} %lu\\n", (unsigned long)(${n}));`).join('\n')}\n  return 0;\n}\n`;
  fs.writeFileSync(path.join(dir, 'abi.c'), src);
  const build = spawnSync(cc, ['-x', 'c', '-o', path.join(dir, 'abi'), path.join(dir, 'abi.c')], { encoding: 'utf8' });
  t.equal(build.status, 0, build.stderr.slice(0, 2000));
  if (build.status !== 0) return;
  const out = spawnSync(path.join(dir, 'abi'), { encoding: 'utf8' }).stdout;
  t.same(Object.fromEntries(out.trim().split('\n').map((l) => { const [k, v] = l.split(' '); return [k!, Number(v)]; })), names);
});
