// compileOps / initArgv / cloneFlags / compileSpawn: the plan as the primitive steps the native child runs.
import t, { type Test } from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { NativeOp } from '../../src/addon';
import { NEW, OLD, ROOT_CAPS, SCRATCH, UPPER, cloneFlags, compileOps, compileSpawn, initArgv } from '../../src/dyno/compile';
import { CLONE, MOUNT_ATTR, MS, RLIMIT } from '../../src/dyno/constants';
import { planDyno, type DynoPlan } from '../../src/dyno/plan';
import type { DynoOptions } from '../../src/dyno/options';
import { APP, ROOTFS, V1_VIEW, fakeFacts } from './fixtures/facts';
import type { HostFacts } from '../../src/dyno/host';

/** the hostname of the start being compiled (a plan leaves {{HOSTNAME}} for it) */
const HOST = '6f0c2a8e-1111-4222-8333-944445555666';

type Op<K extends NativeOp['op']> = Extract<NativeOp, { op: K }>;

const mk = (opts: Partial<DynoOptions> = {}, facts: HostFacts = fakeFacts(), rootfs?: string): DynoPlan =>
  planDyno({ command: ['bash', '-c', 'echo hi'], ...opts }, facts, APP, rootfs);

/** The plans every invariant is checked against. */
const VARIANTS: Array<[string, () => DynoPlan, number]> = [
  ['host stack, v2, private', () => mk(), -1],
  ['host stack, v2, private, idmapped app', () => mk(), 9],
  ['host stack, v1, host net', () => mk({ net: 'host' }, fakeFacts({ cgroupView: V1_VIEW })), -1],
  ['host stack, root user, v1', () => mk({ user: 'root' }, fakeFacts({ cgroupView: V1_VIEW })), 0],
  ['rootfs, v2', () => mk({}, fakeFacts(), ROOTFS), -1],
  ['rootfs, v1, idmapped app, host net', () => mk({ net: 'host' }, fakeFacts({ cgroupView: V1_VIEW }), ROOTFS), 5],
];

const touches = (op: NativeOp): string | null =>
  op.op === 'mount' || op.op === 'remount' || op.op === 'move-mount' || op.op === 'setattr' ? op.target : op.op === 'mkdir' || op.op === 'write' || op.op === 'symlink' ? op.path : null;
const under = (p: string, root: string) => p === root || p.startsWith(`${root}/`);
const isMount = (op: NativeOp): op is Op<'mount'> => op.op === 'mount';

// The ABI numbers in constants.ts against the C headers the addon is built with: a
// wrong number here would mount or clone something else than the plan says.
t.test('the Linux ABI numbers are the kernel headers\' own', async (t) => {
  const cc = ['cc', 'gcc', 'g++'].find((c) => spawnSync(c, ['--version']).status === 0);
  if (!cc) return t.skip('no C compiler to read the headers with');
  const names: Record<string, number> = {
    MS_RDONLY: MS.rdonly, MS_NOSUID: MS.nosuid, MS_NODEV: MS.nodev, MS_NOEXEC: MS.noexec, MS_BIND: MS.bind, MS_REC: MS.rec, MS_PRIVATE: MS.private,
    CLONE_NEWNS: CLONE.newns, CLONE_NEWCGROUP: CLONE.newcgroup, CLONE_NEWUTS: CLONE.newuts, CLONE_NEWIPC: CLONE.newipc,
    CLONE_NEWUSER: CLONE.newuser, CLONE_NEWPID: CLONE.newpid, CLONE_NEWNET: CLONE.newnet,
    RLIMIT_NPROC: RLIMIT.nproc, RLIMIT_NOFILE: RLIMIT.nofile,
    MOUNT_ATTR_RDONLY: MOUNT_ATTR.rdonly, MOUNT_ATTR_NOSUID: MOUNT_ATTR.nosuid, MOUNT_ATTR_NODEV: MOUNT_ATTR.nodev, MOUNT_ATTR_NOEXEC: MOUNT_ATTR.noexec,
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-abi-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const src = `#define _GNU_SOURCE\n#include <sched.h>\n#include <stdio.h>\n#include <sys/mount.h>\n#include <sys/resource.h>\n#include <linux/mount.h>\nint main(void) {\n${Object.keys(names).map((n) => `  printf("${n} %lu\\n", (unsigned long)(${n}));`).join('\n')}\n  return 0;\n}\n`;
  fs.writeFileSync(path.join(dir, 'abi.c'), src);
  const build = spawnSync(cc, ['-x', 'c', '-o', path.join(dir, 'abi'), path.join(dir, 'abi.c')], { encoding: 'utf8' });
  t.equal(build.status, 0, build.stderr);
  const out = spawnSync(path.join(dir, 'abi'), { encoding: 'utf8' }).stdout;
  const kernel = Object.fromEntries(out.trim().split('\n').map((l) => { const [k, v] = l.split(' '); return [k!, Number(v)]; }));
  t.same(kernel, names);
  t.equal(SCRATCH, '/tmp', 'the scratch root is the host /tmp of the child\'s own mount namespace (a tmpfs over it)');
});

for (const [name, make, fd] of VARIANTS) {
  t.test(`ordering invariants: ${name}`, async (t) => {
    const plan = make();
    const ops = compileOps(plan, { hostname: HOST, appMountFd: fd });

    // 1. mounts made private first, recursively, before anything else
    t.same(ops[0], { op: 'mount', step: 'make mounts private', source: null, target: '/', fstype: null, flags: MS.rec | MS.private, data: null });

    // 2. the scratch tmpfs, its directories, then the pivot into it, before any /newroot op
    t.same(ops[1], { op: 'mount', step: 'scratch tmpfs', source: 'tmpfs', target: '/tmp', fstype: 'tmpfs', flags: MS.nosuid | MS.nodev, data: 'mode=0755' });
    const pivots = ops.map((o, i) => [o, i] as const).filter(([o]) => o.op === 'pivot');
    t.equal(pivots.length, 2, 'exactly two pivots');
    const [scratchPivot, scratchIdx] = pivots[0]!;
    t.same(scratchPivot, { op: 'pivot', step: 'enter scratch root', target: '/tmp', source: '/tmp/.oldroot' });
    const scratchDirs = ops.slice(2, scratchIdx);
    t.ok(scratchDirs.every((o) => o.op === 'mkdir' && o.path.startsWith('/tmp/')), 'only scratch mkdirs before the pivot');
    t.same(scratchDirs.map((o) => (o as Op<'mkdir'>).path), ['/tmp/.oldroot', '/tmp/newroot', '/tmp/upper', '/tmp/upper/app', '/tmp/upper/app-work', '/tmp/upper/root', '/tmp/upper/root-work', '/tmp/upper/app-lower', '/tmp/upper/root-lower']);
    const firstNew = ops.findIndex((o) => { const p = touches(o); return p !== null && under(p, NEW); });
    t.ok(scratchIdx < firstNew, `scratch pivot (${scratchIdx}) before the first /newroot op (${firstNew})`);

    // 3. the first /newroot op mounts the dyno's root
    const rootOp = ops[firstNew]!;
    t.equal(rootOp.op, 'mount');
    t.equal((rootOp as Op<'mount'>).target, NEW);
    t.equal((rootOp as Op<'mount'>).fstype, plan.root.kind === 'rootfs' ? 'overlay' : 'tmpfs');

    // 4. after the scratch pivot every op works in /newroot or the scratch /upper
    for (const o of ops.slice(scratchIdx + 1, -1)) {
      const p = touches(o);
      if (p !== null) t.ok(under(p, NEW) || under(p, UPPER), `${o.op} ${p} in /newroot or /upper`);
    }

    // 5. every bind (and idmap) source is a host path seen through /.oldroot, or
    //    (read-only paths) the target itself rebound inside the new root
    const binds = ops.filter((o): o is Op<'mount'> => isMount(o) && (o.flags & MS.bind) !== 0);
    t.ok(binds.length > 0);
    for (const b of binds) t.ok(b.source!.startsWith(`${OLD}/`) || (b.source === b.target && under(b.target, `${NEW}/proc`)), `bind source ${b.source}`);
    for (const o of ops.filter(isMount).filter((o) => o.fstype === 'overlay')) {
      const lower = /lowerdir=([^,]+)/.exec(o.data!)![1]!;
      t.ok(lower.startsWith(`${OLD}/`) || lower === `${UPPER}/app-lower`, `overlay lower ${lower}`);
      t.match(o.data!, new RegExp(`upperdir=${UPPER}/(app|root),workdir=${UPPER}/(app|root)-work$`));
    }

    // 6. deferred read-only remounts: after every mount, before the final pivot; the root last
    const lastMount = ops.map((o) => o.op).lastIndexOf('mount');
    const deferred = ops.map((o, i) => [o, i] as const).filter(([o]) => o.op === 'remount' && o.step.startsWith('read-only '));
    t.ok(deferred.length >= 1);
    for (const [o, i] of deferred) {
      t.ok(i > lastMount, `${o.step} after the last mount`);
      t.ok(i < ops.length - 1, `${o.step} before the final pivot`);
      t.equal((o as Op<'remount'>).flags, MS.rdonly);
    }
    const [lastDeferred] = deferred[deferred.length - 1]!;
    t.same(lastDeferred, { op: 'remount', step: 'read-only /', target: NEW, flags: MS.rdonly }, 'the root is made read-only last');
    t.ok(ops.slice(deferred[0]![1], ops.length - 1).every((o) => o.op === 'remount'), 'nothing but remounts between them and the pivot');

    // 7. the final op pivots into /newroot, dropping the old root
    t.same(ops[ops.length - 1], { op: 'pivot', step: 'pivot_root into the dyno', target: NEW, source: null });

    // 8. the parent's idmapped mount is attached exactly when given, and then /app's lower layer is it
    const idmaps = ops.filter((o): o is Op<'move-mount'> => o.op === 'move-mount');
    const appMount = ops.find((o): o is Op<'mount'> => isMount(o) && o.target === `${NEW}/app`)!;
    t.ok(appMount, 'the /app overlay');
    t.equal(appMount.fstype, 'overlay');
    t.equal(appMount.flags, MS.nosuid | MS.nodev);
    if (fd >= 0) {
      t.same(idmaps, [{ op: 'move-mount', step: 'idmap /app', target: `${UPPER}/app-lower`, fd }]);
      t.equal(appMount.data, `lowerdir=${UPPER}/app-lower,upperdir=${UPPER}/app,workdir=${UPPER}/app-work`);
      t.ok(ops.indexOf(idmaps[0]!) < ops.indexOf(appMount), 'idmap before the overlay');
    } else {
      t.same(idmaps, []);
      t.equal(appMount.data, `lowerdir=${OLD}${APP},upperdir=${UPPER}/app,workdir=${UPPER}/app-work`);
    }

    // 9. loopback exactly for a network namespace of its own (private, none); hostname always; rlimits are the parent's (prlimit), never an op
    t.equal(ops.filter((o) => o.op === 'loopback').length, plan.network.mode !== 'host' ? 1 : 0, 'loopback');
    t.same(ops.filter((o) => o.op === 'hostname'), [{ op: 'hostname', step: 'set hostname', name: HOST }]);
    t.notOk(ops.some((o) => (o.op as string) === 'rlimit'), 'no rlimit op');

    // 10. every path is made inside something that exists by then
    const made = new Set<string>([NEW]);
    for (const o of ops.slice(firstNew + 1)) {
      const p = touches(o);
      if (p === null || !under(p, NEW) || o.op === 'remount') continue;
      const parent = path.posix.dirname(p);
      const provided = made.has(parent) || under(parent, `${NEW}/sys`) || (plan.root.kind === 'rootfs' && parent === NEW);
      t.ok(provided, `${o.op} ${p}: parent ${parent} exists`);
      if (o.op === 'mkdir' || o.op === 'mount' || o.op === 'write' || o.op === 'symlink') made.add(p);
    }

    // 11. the child waits for its cgroup exactly once, before the cgroup view is mounted and before the final pivot
    const awaits = ops.map((o, i) => [o, i] as const).filter(([o]) => o.op === 'join-cgroup');
    t.equal(awaits.length, 1, 'one join-cgroup');
    t.same(awaits[0]![0], { op: 'join-cgroup', step: 'join cgroup' });
    const firstView = ops.findIndex((o) => { const p = touches(o); return p !== null && under(p, `${NEW}/sys/fs/cgroup`); });
    t.ok(firstView > 0, 'the cgroup view is mounted');
    t.ok(awaits[0]![1] < firstView, 'join-cgroup before the cgroup view');
    t.ok(awaits[0]![1] > scratchIdx, 'join-cgroup after the scratch pivot');

    // 12. every op has a step name for error messages
    for (const o of ops) t.ok(o.step.length > 0, `${o.op} has a step`);
  });
}

t.test('binds: a mount point of the right kind, the bind, then a remount with its flags', async (t) => {
  const ops = compileOps(mk(), { hostname: HOST, appMountFd: -1 });
  const at = (target: string) => ops.findIndex((o) => isMount(o) && o.target === target);
  let i = at('/newroot/usr');
  t.same(ops.slice(i - 1, i + 2), [
    { op: 'mkdir', step: 'bind /usr', path: '/newroot/usr', mode: 0o755 },
    { op: 'mount', step: 'bind /usr', source: '/.oldroot/usr', target: '/newroot/usr', fstype: null, flags: MS.bind, data: null },
    { op: 'remount', step: 'bind /usr', target: '/newroot/usr', flags: MS.rdonly | MS.nodev },
  ]);
  i = at('/newroot/dev/null');
  t.same(ops.slice(i - 1, i + 2), [
    { op: 'write', step: 'bind /dev/null', path: '/newroot/dev/null', content: '', mode: 0o644 },
    { op: 'mount', step: 'bind /dev/null', source: '/.oldroot/dev/null', target: '/newroot/dev/null', fstype: null, flags: MS.bind, data: null },
    { op: 'remount', step: 'bind /dev/null', target: '/newroot/dev/null', flags: MS.nosuid | MS.noexec },
  ]);
  i = at('/newroot/etc/ld.so.cache');
  t.same(ops[i + 1], { op: 'remount', step: 'bind /etc/ld.so.cache', target: '/newroot/etc/ld.so.cache', flags: MS.rdonly | MS.nosuid | MS.nodev });
  t.equal(ops[i - 1]!.op, 'write', 'a file bind gets a file mount point');
});

t.test('a recursive read-only bind (/sys with the host network): bind, then mount_setattr on every mount below it', async (t) => {
  const ops = compileOps(mk({ net: 'host' }), { hostname: HOST, appMountFd: -1 });
  const i = ops.findIndex((o) => isMount(o) && o.target === '/newroot/sys');
  t.same(ops[i], { op: 'mount', step: 'bind /sys', source: '/.oldroot/sys', target: '/newroot/sys', fstype: null, flags: MS.bind | MS.rec, data: null });
  t.same(ops[i + 1], { op: 'setattr', step: 'bind /sys', target: '/newroot/sys', attrSet: 0xf, recursive: true }, 'MOUNT_ATTR_RDONLY|NOSUID|NODEV|NOEXEC, recursively');
});

t.test('host-stack root: tmpfs, read-only only at the end', async (t) => {
  const ops = compileOps(mk(), { hostname: HOST, appMountFd: -1 });
  const root = ops.find((o) => isMount(o) && o.target === NEW)!;
  t.same(root, { op: 'mount', step: 'root-tmpfs /', source: 'tmpfs', target: NEW, fstype: 'tmpfs', flags: MS.nosuid | MS.nodev, data: 'mode=755' });
  t.same(ops.filter((o) => o.op === 'remount' && o.step.startsWith('read-only')).map((o) => (o as Op<'remount'>).target), [NEW]);
});

t.test('rootfs root: an overlay of the rootfs with its upper layer in scratch', async (t) => {
  const ops = compileOps(mk({}, fakeFacts(), ROOTFS), { hostname: HOST, appMountFd: -1 });
  const root = ops.find((o) => isMount(o) && o.target === NEW)!;
  t.same(root, { op: 'mount', step: 'root-overlay /', source: 'overlay', target: NEW, fstype: 'overlay', flags: MS.nodev, data: `lowerdir=${OLD}${ROOTFS},upperdir=${UPPER}/root,workdir=${UPPER}/root-work` });
});

t.test('generated files are written with their content and mode; symlinks made', async (t) => {
  const plan = mk();
  const ops = compileOps(plan, { hostname: HOST, appMountFd: -1 });
  const passwd = ops.find((o): o is Op<'write'> => o.op === 'write' && o.path === '/newroot/etc/passwd')!;
  t.match(passwd.content, /^dyno:x:30000:30000:/m);
  t.equal(passwd.mode, 0o644);
  t.same(ops.find((o) => o.op === 'write' && o.path === '/newroot/etc/hostname'), { op: 'write', step: 'file /etc/hostname', path: '/newroot/etc/hostname', content: `${HOST}\n`, mode: 0o644 });
  t.same(ops.find((o) => o.op === 'symlink' && o.path === '/newroot/bin'), { op: 'symlink', step: 'symlink /bin', source: 'usr/bin', path: '/newroot/bin' });
  t.same(ops.find((o) => o.op === 'symlink' && o.path === '/newroot/dev/ptmx'), { op: 'symlink', step: 'symlink /dev/ptmx', source: 'pts/ptmx', path: '/newroot/dev/ptmx' });
});

t.test('kernel filesystems: flags from options, data from the rest', async (t) => {
  const ops = compileOps(mk(), { hostname: HOST, appMountFd: -1 });
  const m = (target: string) => ops.find((o): o is Op<'mount'> => isMount(o) && o.target === target)!;
  t.same(m('/newroot/proc'), { op: 'mount', step: 'proc /proc', source: 'proc', target: '/newroot/proc', fstype: 'proc', flags: MS.nosuid | MS.nodev | MS.noexec, data: null });
  t.same(m('/newroot/sys'), { op: 'mount', step: 'sysfs /sys', source: 'sysfs', target: '/newroot/sys', fstype: 'sysfs', flags: MS.rdonly | MS.nosuid | MS.nodev | MS.noexec, data: null });
  t.same(m('/newroot/sys/fs/cgroup'), { op: 'mount', step: 'cgroup2 /sys/fs/cgroup', source: 'cgroup2', target: '/newroot/sys/fs/cgroup', fstype: 'cgroup2', flags: MS.rdonly | MS.nosuid | MS.nodev | MS.noexec, data: null });
  t.same(m('/newroot/tmp'), { op: 'mount', step: 'tmpfs /tmp', source: 'tmpfs', target: '/newroot/tmp', fstype: 'tmpfs', flags: MS.nosuid | MS.nodev, data: 'mode=1777' });
  t.same(m('/newroot/dev'), { op: 'mount', step: 'tmpfs /dev', source: 'tmpfs', target: '/newroot/dev', fstype: 'tmpfs', flags: MS.nosuid | MS.nodev | MS.noexec, data: 'mode=755,size=65536k' });
  t.same(m('/newroot/dev/pts'), { op: 'mount', step: 'devpts /dev/pts', source: 'devpts', target: '/newroot/dev/pts', fstype: 'devpts', flags: MS.nosuid | MS.noexec, data: 'newinstance,ptmxmode=0666,mode=0620,gid=5' });
  t.same(m('/newroot/dev/shm'), { op: 'mount', step: 'tmpfs /dev/shm', source: 'tmpfs', target: '/newroot/dev/shm', fstype: 'tmpfs', flags: MS.nosuid | MS.nodev | MS.noexec, data: 'mode=1777,size=65536k' });
});

t.test('cgroup v1 view: the tmpfs is filled writable, made read-only at the end, before the root', async (t) => {
  const ops = compileOps(mk({}, fakeFacts({ cgroupView: V1_VIEW })), { hostname: HOST, appMountFd: -1 });
  const tmpfs = ops.find((o): o is Op<'mount'> => isMount(o) && o.target === '/newroot/sys/fs/cgroup')!;
  t.equal(tmpfs.fstype, 'tmpfs');
  t.equal(tmpfs.flags & MS.rdonly, 0, 'writable while the hierarchies are mounted in it');
  t.equal(tmpfs.data, 'mode=755,size=64k');
  for (const [dir, data] of [['memory', 'memory'], ['cpu', 'cpu,cpuacct'], ['pids', 'pids']]) {
    const i = ops.findIndex((o) => isMount(o) && o.target === `/newroot/sys/fs/cgroup/${dir}`);
    t.same(ops[i - 1], { op: 'mkdir', step: `cgroup /sys/fs/cgroup/${dir}`, path: `/newroot/sys/fs/cgroup/${dir}`, mode: 0o755 });
    t.same(ops[i], { op: 'mount', step: `cgroup /sys/fs/cgroup/${dir}`, source: 'cgroup', target: `/newroot/sys/fs/cgroup/${dir}`, fstype: 'cgroup', flags: MS.rdonly | MS.nosuid | MS.nodev | MS.noexec, data });
  }
  t.same(ops.filter((o) => o.op === 'remount' && o.step.startsWith('read-only')), [
    { op: 'remount', step: 'read-only /sys/fs/cgroup', target: '/newroot/sys/fs/cgroup', flags: MS.rdonly },
    { op: 'remount', step: 'read-only /', target: NEW, flags: MS.rdonly },
  ]);
});

/** The options every initArgv gives dynod-init (native/init.cc requires each of them, once). */
const INIT_OPTIONS = ['chan-fd', 'uid', 'gid', 'umask', 'cwd', 'tty', 'rows', 'cols', 'trace', 'caps', 'seccomp-fd'];
const INIT = path.join(__dirname, '..', '..', 'build', 'Release', 'dynod-init');

/** argv → { option: value }; checks the shape: dynod-init, --name=value options, --, the command untouched. */
function decode(t: Test, argv: string[], command: string[]): Record<string, string> {
  t.equal(argv[0], 'dynod-init');
  const dash = argv.indexOf('--');
  t.same(argv.slice(dash + 1), command, 'the command follows the first --, untouched');
  const options = argv.slice(1, dash).map((a) => /^--([a-z-]+)=(.*)$/s.exec(a));
  t.ok(options.every(Boolean), 'every argument before -- is --name=value');
  const out = Object.fromEntries(options.map((m) => [m![1]!, m![2]!]));
  t.same(Object.keys(out).sort(), [...INIT_OPTIONS].sort(), 'each option exactly once');
  return out;
}

t.test('initArgv: named options, then -- and the command', async (t) => {
  const a = decode(t, initArgv(mk(), false), ['bash', '-c', 'echo hi']);
  t.same(a, { 'chan-fd': '3', uid: '30000', gid: '30000', umask: '022', cwd: '/app', tty: '0', rows: '24', cols: '80', trace: '0', caps: '0', 'seccomp-fd': '-1' });
  t.equal(Number.parseInt(a.umask!, 8), 0o022, 'umask is octal');
  t.equal(decode(t, initArgv(mk(), false, true), ['bash', '-c', 'echo hi'])['seccomp-fd'], '4', 'the seccomp program is the first pass fd');
});

t.test('initArgv: terminal, size, trace, and a command whose arguments look like options', async (t) => {
  const command = ['sh', '--', '-c', '--uid=0'];
  const a = decode(t, initArgv(mk({ interactive: true, tty: true, rows: 40, cols: 120, command }), true), command);
  t.equal(a.tty, '1');
  t.equal(a.rows, '40');
  t.equal(a.cols, '120');
  t.equal(a.trace, '1');
});

t.test('initArgv: --user root keeps Docker\'s default capabilities, the dyno user none', async (t) => {
  const root = decode(t, initArgv(mk({ user: 'root' }), false), ['bash', '-c', 'echo hi']);
  t.equal(root.uid, '0');
  t.equal(root.gid, '0');
  t.equal(root.caps, 'a80405fb');
  t.equal(ROOT_CAPS, 0xa80405fbn);
  const bits = [...Array(64).keys()].filter((b) => (ROOT_CAPS >> BigInt(b)) & 1n);
  // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
  t.same(bits, [0, 1, 3, 4, 5, 6, 7, 8, 10, 18, 27, 29, 31]);
  t.notOk(bits.includes(13), 'never CAP_NET_RAW: no forged ARP or source address on the bridge');
  t.notOk(bits.includes(21), 'never CAP_SYS_ADMIN');
  t.notOk(bits.includes(2), 'never CAP_DAC_READ_SEARCH');
  t.equal(decode(t, initArgv(mk(), false), ['bash', '-c', 'echo hi']).caps, '0');
});

t.test('dynod-init refuses a malformed argv with a usage error (125) naming the option', { skip: !fs.existsSync(INIT) && 'dynod-init is not built' }, async (t) => {
  const good = initArgv(mk(), false).slice(1);
  const dash = good.indexOf('--');
  const withOption = (i: number, replacement: string | null) => {
    const a = [...good];
    if (replacement === null) a.splice(i, 1);
    else a[i] = replacement;
    return a;
  };
  const cases: Array<[string, string[], RegExp]> = [
    ['a non-numeric uid', withOption(1, '--uid=abc'), /bad option --uid=abc/],
    ['a negative gid', withOption(2, '--gid=-1'), /bad option --gid=-1/],
    ['a umask that is not octal', withOption(3, '--umask=0999'), /bad option --umask=0999/],
    ['a relative cwd', withOption(4, '--cwd=app'), /bad option --cwd=app/],
    ['a tty that is not 0 or 1', withOption(5, '--tty=yes'), /bad option --tty=yes/],
    ['an unknown option', [...good.slice(0, dash), '--color=1', ...good.slice(dash)], /unknown option --color=1/],
    ['an option twice', [...good.slice(0, dash), '--uid=1', ...good.slice(dash)], /given twice: --uid=1/],
    ['a missing option', withOption(9, null), /missing option --caps/],
    ['an option without a value', withOption(6, '--rows'), /unknown option --rows/],
    ['no command', good.slice(0, dash + 1), /no command/],
    ['no --', good.slice(0, dash), /no command/],
  ];
  for (const [what, args, message] of cases) {
    const r = spawnSync(INIT, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    t.equal(r.status, 125, `${what}: exit 125`);
    t.match(r.stderr, message, `${what}: the message names it`);
    t.match(r.stderr, /usage: dynod-init --chan-fd=N/, `${what}: and shows the usage`);
  }
  t.equal(good[9], '--caps=0', 'the "missing option" case removed --caps');
});

t.test('cloneFlags: new user, pid, mount, uts, ipc namespaces; net only when private; cgroup late', async (t) => {
  const base = CLONE.newuser | CLONE.newpid | CLONE.newns | CLONE.newuts | CLONE.newipc;
  t.same(cloneFlags(mk()), { cloneFlags: base | CLONE.newnet, lateUnshare: CLONE.newcgroup });
  t.same(cloneFlags(mk({ net: 'host' })), { cloneFlags: base, lateUnshare: CLONE.newcgroup });
  t.same(cloneFlags(mk({ userns: 'host' })), { cloneFlags: (base & ~CLONE.newuser) | CLONE.newnet, lateUnshare: CLONE.newcgroup });
  for (const p of [mk(), mk({ net: 'host' }), mk({ user: 'root' })]) {
    const { cloneFlags: f } = cloneFlags(p);
    t.equal(f & CLONE.newcgroup, 0, 'the cgroup namespace is not unshared at clone time');
    t.equal(f & CLONE.newuser, CLONE.newuser, 'a user namespace of its own');
  }
  t.equal(CLONE.newnet, 0x40000000);
  t.equal(CLONE.newcgroup, 0x02000000);
  t.same(cloneFlags({ ...mk(), namespaces: ['pid', 'mount'] }), { cloneFlags: CLONE.newpid | CLONE.newns, lateUnshare: 0 });
});

t.test('compileSpawn puts it all together', async (t) => {
  const plan = mk({ env: { FOO: 'a=b' }, name: 'web.1' });
  const ctx = { hostname: HOST, cgroup: { intoDir: '/sys/fs/cgroup/dynod/x', procsFiles: ['/a', '/b'] }, stdio: [0, 1, 2] as [number, number, number], initFd: 42, appMountFd: 7, idBase: 0x40010000, seccompFd: -1, trace: true };
  const spawn = compileSpawn(plan, ctx);
  t.equal(spawn.cloneFlags, cloneFlags(plan).cloneFlags);
  t.equal(spawn.lateUnshare, CLONE.newcgroup);
  t.equal(spawn.cgroupDir, '/sys/fs/cgroup/dynod/x');
  t.same(spawn.cgroupProcs, ['/a', '/b']);
  t.ok(spawn.ops.some((o) => o.op === 'move-mount' && o.fd === 7), 'the idmapped /app is attached');
  t.ok(spawn.ops.some((o) => o.op === 'hostname' && o.name === HOST), "the start's hostname");
  t.equal(spawn.ops.at(-1)!.op, 'pivot', 'ends in the dyno\'s root');
  t.same(spawn.stdio, [0, 1, 2]);
  t.equal(spawn.initFd, 42);
  t.ok(spawn.argv.includes('--trace=1') && spawn.argv.includes('--seccomp-fd=-1'), 'dynod-init traces, no seccomp program');
  t.same(spawn.argv.slice(spawn.argv.indexOf('--') + 1), plan.command);
  t.equal(spawn.trace, true);
  t.same(spawn.envp, ['PATH=/usr/local/bin:/usr/bin:/bin', 'HOME=/app', 'PORT=5000', 'DYNO=web.1', 'LANG=C.UTF-8', 'FOO=a=b']);
  t.same(spawn.passFds, [], 'no fds passed without a seccomp program');
  t.equal(spawn.uidMap, '0 1073807360 65536\n', 'ids 0-65535 inside → the reserved host range');
  t.equal(spawn.gidMap, spawn.uidMap);
  t.same(spawn.rlimits, [
    { resource: 6, soft: plan.rlimits.nproc, hard: plan.rlimits.nproc },
    { resource: 7, soft: 10000, hard: 10000 },
  ], 'rlimits are set by the parent (prlimit), not by an op');
  t.equal(compileSpawn(mk({ userns: 'host' }), ctx).uidMap, '', 'no maps without a user namespace');
});

t.test('compileOps is a pure function of the plan', async (t) => {
  const plan = mk();
  const before = JSON.stringify(plan);
  t.same(compileOps(plan, { hostname: HOST, appMountFd: -1 }), compileOps(plan, { hostname: HOST, appMountFd: -1 }));
  t.equal(JSON.stringify(plan), before, 'the plan is not changed');
});

// spawnRequest keeps each plan's ops as a JSON template and fills in what is the
// start's own (hostname, fds, veth): what crosses the seam must be exactly what
// compileSpawn says, for every kind of start, and differ between starts only there.
t.test('spawnRequest: the kept op template gives exactly compileSpawn\'s ops, start after start', async (t) => {
  const { spawnRequest } = await import('../../src/dyno/compile');
  const freeze = <T>(v: T): T => {
    if (v && typeof v === 'object' && !Object.isFrozen(v)) {
      Object.freeze(v);
      for (const x of Object.values(v)) freeze(x);
    }
    return v;
  };
  const net = (address: string) => ({ veth: { host: 'dv-1', peer: 'eth0', bridge: 'dynod0' }, config: { name: 'eth0', address, gateway: '10.9.0.1' }, listen: [] });
  const base = { cgroup: { intoDir: '', procsFiles: ['/x/cgroup.procs'] }, stdio: [0, 1, 2] as [number, number, number], initFd: 3, idBase: 200000, seccompFd: 4, trace: false };
  for (const [name, make, appFd] of VARIANTS) {
    const plan = freeze(make());
    const rootfsFd = plan.root.kind === 'rootfs' ? 11 : -1;
    const first = spawnRequest(plan, { ...base, hostname: HOST, appMountFd: appFd, rootfsMountFd: rootfsFd, network: plan.network.mode === 'private' ? net('10.9.0.6') : undefined });
    t.ok(Array.isArray(first.ops), `${name}: the first start is compiled as it is (no template for a one-shot run)`);
    for (const [hostname, fd, network] of [
      [HOST, appFd, plan.network.mode === 'private' ? net('10.9.0.7') : undefined],
      ['another-host', appFd >= 0 ? appFd + 20 : -1, plan.network.mode === 'private' ? net('10.9.0.8') : undefined],
    ] as const) {
      const ctx = { ...base, hostname, appMountFd: fd, rootfsMountFd: rootfsFd, network };
      const req = spawnRequest(plan, ctx);
      t.notOk(Array.isArray(req.ops), `${name}: the ops come from the template`);
      t.same(JSON.parse((req.ops as { opsJson: string }).opsJson), JSON.parse(JSON.stringify(compileOps(plan, ctx))), `${name}, ${hostname}: the same ops as compileOps`);
      const { ops: _a, ...rest } = req;
      const { ops: _b, ...want } = compileSpawn(plan, ctx);
      t.same(rest, want, `${name}: the rest of the request as compileSpawn`);
    }
  }
  // A plan that is not frozen could change under a kept template: none is kept for it.
  t.ok(Array.isArray(spawnRequest(mk(), { ...base, hostname: HOST, appMountFd: -1 }).ops), 'an unfrozen plan is compiled afresh');
  // A NUL in a plan's own text would look like the hostname's probe: compiled afresh.
  const nul = freeze(mk({ net: 'none' }, fakeFacts({ resolvConf: 'nameserver 10.0.0.53\n# \0\n' })));
  spawnRequest(nul, { ...base, hostname: HOST, appMountFd: -1 }); // its first start
  t.ok(Array.isArray(spawnRequest(nul, { ...base, hostname: HOST, appMountFd: -1 }).ops), 'a plan holding a NUL is compiled afresh, start after start');
});
