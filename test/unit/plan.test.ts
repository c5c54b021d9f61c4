import t from 'tap';
import { DYNO_USER, HOSTNAME_TOKEN, ROOT_USER, planDyno, type MountSpec } from '../../src/dyno/plan';
import type { DynoOptions } from '../../src/dyno/options';
import { UsageError } from '../../src/errors';
import { APP, ROOTFS, fakeFacts, RESOLV, V1_VIEW, dir, file, link, missing } from './fixtures/facts';
import { HOST_ETC, HOST_STACK_DIRS, DEVICES, type HostFacts } from '../../src/dyno/host';
import { parsePublish, publishName } from '../../src/net/publish-spec';

// ============================================================================
// planDyno: options + host facts → DynoPlan. Errors, identity, namespaces, network.

const plan = (opts: Partial<DynoOptions> = {}, rootfs?: string) => planDyno({ command: ['bash', '-c', 'echo hi'], ...opts }, fakeFacts(), APP, rootfs);

t.test('a default plan: unprivileged dyno user in /app, private network, all namespaces', async (t) => {
  const p = plan();
  t.notOk('id' in p || 'hostname' in p, 'a plan is a template: the id and hostname belong to each start');
  t.same(p.command, ['bash', '-c', 'echo hi']);
  t.same(p.user, { name: 'dyno', uid: 30000, gid: 30000 });
  t.equal(p.umask, 0o022);
  t.equal(p.cwd, '/app');
  t.same(p.app, { source: APP, target: '/app' });
  t.same(p.root, { kind: 'host-stack' });
  t.same(p.namespaces, ['user', 'pid', 'mount', 'uts', 'ipc', 'net', 'cgroup']);
  t.same(p.network, { mode: 'private', publish: [], allowHostPorts: [], dns: { upstreams: ['10.0.0.53'] } });
  t.equal(p.stdin, false);
  t.equal(p.tty, false);
  t.same(p.terminalSize, { rows: 24, cols: 80 });
});

t.test('the same options make the same plan but for the random run.N name', async (t) => {
  t.same(plan({ name: 'web.1' }), plan({ name: 'web.1' }));
});

t.test('the plan copies the command and is plain JSON data', async (t) => {
  const command = ['node', 'server.js'];
  const p = planDyno({ command }, fakeFacts(), APP);
  command.push('--mutated');
  t.same(p.command, ['node', 'server.js']);
  t.same(JSON.parse(JSON.stringify(p)), p);
});

t.test('--user root keeps uid 0; anything but dyno/root is refused', async (t) => {
  t.same(plan({ user: 'root' }).user, { name: 'root', uid: 0, gid: 0 });
  t.same(plan({ user: 'dyno' }).user, { name: 'dyno', uid: 30000, gid: 30000 });
  for (const u of ['nobody', 'Root', '0', '30000', ''])
    t.throws(() => plan({ user: u }), { name: 'UsageError', message: `--user ${JSON.stringify(u)}: must be "dyno" or "root"` }, JSON.stringify(u));
});

t.test("the plan's user is the one the dyno's /etc/passwd and /etc/group name (so `id -un` and `ls -l` show it)", async (t) => {
  // Parse the generated files as getpwuid(3) would: the plan's uid/gid must map back to its name.
  const etc = (p: ReturnType<typeof plan>, name: string) => {
    const m = p.mounts.find((x) => x.target === `/etc/${name}`);
    if (!m || m.content === undefined) throw new Error(`no generated /etc/${name}`);
    return m.content.split('\n').filter(Boolean).map((l) => l.split(':'));
  };
  for (const who of ['dyno', 'root'] as const) {
    const p = plan({ user: who });
    const pw = etc(p, 'passwd').filter((f) => Number(f[2]) === p.user.uid);
    t.same(pw.map((f) => [f[0], Number(f[3])]), [[p.user.name, p.user.gid]], `${who}: exactly one passwd entry for uid ${p.user.uid}, with its gid`);
    t.same(etc(p, 'group').filter((f) => Number(f[2]) === p.user.gid).map((f) => f[0]), [p.user.name], `${who}: the group of gid ${p.user.gid}`);
    t.equal(pw[0]?.[5], who === 'dyno' ? '/app' : '/root', `${who}: home directory`);
  }
  // each plan owns its user object: changing one plan's does not leak into the next
  const a = plan();
  (a.user as { uid: number }).uid = 0;
  t.equal(plan().user.uid, 30000, 'a later plan is unaffected');
  t.same(DYNO_USER, { name: 'dyno', uid: 30000, gid: 30000 }, 'the exported constant is unaffected');
  t.same(ROOT_USER, { name: 'root', uid: 0, gid: 0 });
});

t.test('--net host drops the net namespace; none keeps it without egress; other modes are refused', async (t) => {
  const p = plan({ net: 'host' });
  t.same(p.network, { mode: 'host', publish: [], allowHostPorts: [], dns: null });
  t.same(p.namespaces, ['user', 'pid', 'mount', 'uts', 'ipc', 'cgroup']);
  t.same(plan({ net: 'private' }).namespaces, ['user', 'pid', 'mount', 'uts', 'ipc', 'net', 'cgroup']);
  const none = plan({ net: 'none' });
  t.same(none.namespaces, ['user', 'pid', 'mount', 'uts', 'ipc', 'net', 'cgroup']);
  t.same(none.network, { mode: 'none', publish: [], allowHostPorts: [], dns: null }, 'no DNS forwarder: nothing to forward to');
  for (const n of ['bridge', 'Host', ''])
    t.throws(() => plan({ net: n }), { name: 'UsageError', message: `--net ${JSON.stringify(n)}: must be "private", "none" or "host"` }, JSON.stringify(n));
});

t.test('--allow-host-port: ports 1-65535, once each, never $PORT, not with --net host', async (t) => {
  t.same(plan({ allowHostPorts: [5432, 6379, 5432] }).network.allowHostPorts, [5432, 6379]);
  t.same(plan({ net: 'none', allowHostPorts: [5432] }).network.allowHostPorts, [5432]);
  for (const bad of [0, 65536, 1.5])
    t.throws(() => plan({ allowHostPorts: [bad] }), { name: 'UsageError', message: /^--allow-host-port/ }, String(bad));
  t.throws(() => plan({ allowHostPorts: [5000] }), { name: 'UsageError', message: "--allow-host-port 5000: that is the dyno's $PORT (the app listens there); choose another port or --port" });
  t.throws(() => plan({ net: 'host', allowHostPorts: [5432] }), {
    name: 'UsageError',
    message: "--allow-host-port needs --net private or none (with --net host the dyno already reaches the host's ports)",
  });
});

t.test('--publish is parsed into the plan', async (t) => {
  const p = plan({ publish: ['8080', '127.0.0.1:9000', '[::1]:9001', 7000] });
  t.same(p.network.publish, [
    { address: '', hostPort: 8080 },
    { address: '127.0.0.1', hostPort: 9000 },
    { address: '::1', hostPort: 9001 },
    { address: '', hostPort: 7000 },
  ]);
  t.throws(() => plan({ publish: ['0'] }), { name: 'UsageError', message: /^--publish "0"/ });
});

t.test('--publish with --net host is refused', async (t) => {
  t.throws(() => plan({ net: 'host', publish: ['8080'] }), {
    name: 'UsageError',
    message: '--publish needs --net private or none (with --net host the app already listens on the host)',
  });
  t.doesNotThrow(() => plan({ net: 'host', publish: [] }));
});

t.test('--port: a whole number from 1 to 65535', async (t) => {
  t.equal(plan({ port: '1' }).env.PORT, '1');
  t.equal(plan({ port: '65535' }).env.PORT, '65535');
  for (const bad of ['0', '65536', 'http', '80.0', '-1', ''])
    t.throws(() => plan({ port: bad }), { name: 'UsageError', message: `--port ${JSON.stringify(bad)}: must be a whole number from 1 to 65535` }, JSON.stringify(bad));
  t.throws(() => plan({ port: 70000 }), UsageError);
});

t.test('--name: letters, digits, ".", "_" and "-", at most 63, not starting with . or -', async (t) => {
  for (const ok of ['web.1', 'worker_2', 'release', 'run.9157', 'A', '_x', '9', 'a-b.c_d', 'x'.repeat(63)]) {
    const p = plan({ name: ok });
    t.equal(p.name, ok);
    t.equal(p.env.DYNO, ok);
  }
  for (const bad of ['', '.hidden', '-x', 'web 1', 'web/1', 'x'.repeat(64), 'web:1', 'wéb.1', 'a\nb', '../etc'])
    t.throws(() => plan({ name: bad }), { name: 'UsageError', message: `--name ${JSON.stringify(bad)}: use letters, digits, ".", "_" and "-" (e.g. web.1), at most 63 characters` }, JSON.stringify(bad));
});

t.test('an empty or missing command is refused', async (t) => {
  const message = 'no command given; usage: dynod run [options] -- COMMAND [ARGS...]';
  t.throws(() => planDyno({ command: [] }, fakeFacts(), APP), { name: 'UsageError', message });
  t.throws(() => planDyno({} as DynoOptions, fakeFacts(), APP), { name: 'UsageError', message });
  t.throws(() => planDyno({ command: undefined as unknown as string[] }, fakeFacts(), APP), UsageError);
});

t.test('an unknown size is refused', async (t) => {
  t.throws(() => plan({ size: 'hobby' }), { name: 'UsageError', message: /^unknown size "hobby"; valid sizes: eco, basic/ });
});

t.test('errors are UsageErrors with step "usage" and exit code 125', async (t) => {
  try {
    plan({ user: 'nobody' });
    t.fail('should throw');
  } catch (e) {
    t.type(e, UsageError);
    t.equal((e as UsageError).step, 'usage');
    t.equal((e as UsageError).exitCode, 125);
  }
});

t.test('-i keeps stdin; a terminal only with -i, sized as asked', async (t) => {
  let p = plan({ interactive: true });
  t.equal(p.stdin, true);
  t.equal(p.tty, false);
  p = plan({ interactive: true, tty: true, rows: 50, cols: 132 });
  t.equal(p.tty, true);
  t.same(p.terminalSize, { rows: 50, cols: 132 });
  p = plan({ tty: true });
  t.equal(p.tty, false, '--tty without -i');
  t.equal(p.stdin, false);
});

t.test('--rootfs: the plan names it as the root', async (t) => {
  const p = plan({}, ROOTFS);
  t.same(p.root, { kind: 'rootfs', path: ROOTFS });
  t.same(p.mounts[0], { target: '/', type: 'root-overlay', source: ROOTFS, options: [] });
});

// ============================================================================
// The filesystem of a dyno as planned: host-stack and --rootfs, from fake host facts.

const hostStack = (facts: HostFacts = fakeFacts(), opts: { user?: string } = {}) => planDyno({ command: ['true'], ...opts }, facts, APP);
const byTarget = (mounts: MountSpec[], target: string) => mounts.filter((m) => m.target === target);
const one = (mounts: MountSpec[], target: string): MountSpec => {
  const found = byTarget(mounts, target);
  if (found.length !== 1) throw new Error(`${found.length} mounts at ${target}`);
  return found[0]!;
};

t.test('host stack: the root is a fresh tmpfs, first', async (t) => {
  const p = hostStack();
  t.same(p.mounts[0], { target: '/', type: 'root-tmpfs', options: ['mode=755'] });
  t.equal(byTarget(p.mounts, '/').length, 1);
});

t.test('host stack: /usr is bound read-only, symlinked dirs stay symlinks, missing ones are skipped', async (t) => {
  const m = hostStack().mounts;
  t.same(one(m, '/usr'), { target: '/usr', type: 'bind', source: '/usr', options: ['ro', 'nodev'] });
  t.same(one(m, '/bin'), { target: '/bin', type: 'symlink', source: 'usr/bin', options: [] });
  t.same(one(m, '/sbin'), { target: '/sbin', type: 'symlink', source: 'usr/sbin', options: [] });
  t.same(one(m, '/lib'), { target: '/lib', type: 'symlink', source: 'usr/lib', options: [] });
  t.same(one(m, '/lib64'), { target: '/lib64', type: 'symlink', source: 'usr/lib64', options: [] });
  t.same(byTarget(m, '/lib32'), [], 'missing /lib32 skipped');
  t.same(byTarget(m, '/libx32'), [], 'missing /libx32 skipped');
});

t.test('host stack: a split-/usr host gets real binds of /bin, /lib...; a plain file is skipped', async (t) => {
  const facts = fakeFacts({ extraPaths: { '/bin': dir, '/sbin': dir, '/lib': dir, '/lib32': dir, '/lib64': file } });
  const m = hostStack(facts).mounts;
  for (const d of ['/bin', '/sbin', '/lib', '/lib32']) t.same(one(m, d), { target: d, type: 'bind', source: d, options: ['ro', 'nodev'] }, d);
  t.same(byTarget(m, '/lib64'), [], 'a file where a dir should be is skipped');
});

t.test('host stack: host dirs not in the facts at all are skipped', async (t) => {
  const facts = fakeFacts();
  delete facts.paths['/lib64'];
  t.same(byTarget(hostStack(facts).mounts, '/lib64'), []);
});

t.test('host stack: only HOST_STACK_DIRS come from the host root', async (t) => {
  const m = hostStack(fakeFacts({ extraPaths: { '/root': dir, '/home': dir, '/var': dir, '/opt': dir } })).mounts;
  const topLevelHost = m.filter((x) => (x.type === 'bind' || x.type === 'symlink') && /^\/[^/]+$/.test(x.target)).map((x) => x.target);
  for (const tgt of topLevelHost) t.ok(HOST_STACK_DIRS.includes(tgt), `${tgt} is a host-stack dir`);
  for (const d of ['/root', '/home', '/var', '/opt']) t.same(byTarget(m, d), [], `${d} not there`);
});

t.test('host stack: /etc gets generated passwd, group, hosts, hostname, nsswitch.conf, resolv.conf', async (t) => {
  const p = hostStack();
  const m = p.mounts;
  t.same(one(m, '/etc'), { target: '/etc', type: 'dir', options: [], mode: 0o755 });
  for (const f of ['passwd', 'group', 'hosts', 'hostname', 'nsswitch.conf', 'resolv.conf']) {
    const x = one(m, `/etc/${f}`);
    t.equal(x.type, 'file', f);
    t.equal(x.mode, 0o644, f);
    t.notMatch(x.content!.replaceAll(HOSTNAME_TOKEN, ""), /\{\{/, `${f}: no template left but the hostname, filled per start`);
  }
  const passwd = one(m, '/etc/passwd').content!;
  t.match(passwd, /^dyno:x:30000:30000:dyno:\/app:\/bin\/bash$/m);
  t.match(passwd, /^root:x:0:0:/m);
  t.notMatch(passwd, /^[^:]+:[^x]/m, 'no password hashes');
  t.match(one(m, '/etc/group').content!, /^dyno:x:30000:$/m);
  t.equal(one(m, '/etc/hostname').content!.trim(), HOSTNAME_TOKEN, 'filled per start');
  t.match(one(m, '/etc/hosts').content!, new RegExp(`^127\\.0\\.1\\.1\\s+\\{\\{HOSTNAME\\}\\}$`, 'm'));
  t.match(one(m, '/etc/hosts').content!, /^127\.0\.0\.1\s+localhost$/m);
  t.match(one(m, '/etc/nsswitch.conf').content!, /^passwd:\s+files$/m);
  t.equal(one(m, '/etc/resolv.conf').content, 'nameserver 127.0.0.11\nsearch example.internal\n', "the forwarder, with the host's search line");
  t.equal(one(plan({ net: 'none' }).mounts, '/etc/resolv.conf').content, RESOLV, "--net none: the host's resolv.conf as it is");
  const etcIndex = m.findIndex((x) => x.target === '/etc');
  t.ok(m.every((x, i) => !x.target.startsWith('/etc/') || i > etcIndex), '/etc comes before anything in it');
});

t.test('host stack: /etc/hosts and /etc/hostname use the dyno id even with --user root', async (t) => {
  const p = hostStack(fakeFacts(), { user: 'root' });
  t.equal(one(p.mounts, '/etc/hostname').content, `${HOSTNAME_TOKEN}\n`);
  t.match(one(p.mounts, '/etc/passwd').content!, /^dyno:x:30000:30000:/m);
});

t.test('host stack: host /etc files are bound read-only, symlinks copied, missing skipped', async (t) => {
  const m = hostStack().mounts;
  t.same(one(m, '/etc/ssl'), { target: '/etc/ssl', type: 'dir', options: [], mode: 0o755 }, 'parent of nested entries made once');
  t.same(one(m, '/etc/ssl/certs'), { target: '/etc/ssl/certs', type: 'bind', source: '/etc/ssl/certs', sourceIsFile: false, options: ['ro', 'nosuid', 'nodev'] });
  t.same(one(m, '/etc/ssl/openssl.cnf'), { target: '/etc/ssl/openssl.cnf', type: 'bind', source: '/etc/ssl/openssl.cnf', sourceIsFile: true, options: ['ro', 'nosuid', 'nodev'] });
  t.same(one(m, '/etc/ld.so.cache'), { target: '/etc/ld.so.cache', type: 'bind', source: '/etc/ld.so.cache', sourceIsFile: true, options: ['ro', 'nosuid', 'nodev'] });
  t.same(one(m, '/etc/localtime'), { target: '/etc/localtime', type: 'symlink', source: '/usr/share/zoneinfo/Etc/UTC', options: [] });
  t.same(one(m, '/etc/os-release'), { target: '/etc/os-release', type: 'symlink', source: '../usr/lib/os-release', options: [] });
  t.same(byTarget(m, '/etc/mime.types'), [], 'missing skipped');
  const ssl = m.findIndex((x) => x.target === '/etc/ssl');
  t.ok(ssl < m.findIndex((x) => x.target === '/etc/ssl/certs') && ssl < m.findIndex((x) => x.target === '/etc/ssl/openssl.cnf'));
  for (const x of m.filter((x) => x.type === 'bind' && x.target.startsWith('/etc/'))) {
    t.ok(HOST_ETC.includes(x.target), `${x.target} is in HOST_ETC`);
    t.equal(x.source, x.target);
    t.ok(x.options.includes('ro'), `${x.target} read-only`);
  }
});

t.test('host /etc/shadow and other secrets are never in the plan', async (t) => {
  for (const p of [hostStack(), hostStack(fakeFacts(), { user: 'root' }), planDyno({ command: ['true'] }, fakeFacts(), APP, ROOTFS)]) {
    for (const x of p.mounts) {
      for (const secret of ['/etc/shadow', '/etc/gshadow', '/etc/sudoers', '/etc/ssl/private', '/etc/ssh', '/root']) {
        t.not(x.target, secret);
        t.notOk(x.source?.startsWith(secret), `${x.target} does not come from ${secret}`);
      }
    }
  }
  for (const secret of ['/etc/shadow', '/etc/gshadow', '/etc/sudoers', '/etc/ssl/private', '/etc/ssh']) t.notOk(HOST_ETC.some((e) => e === secret || e.startsWith(`${secret}/`)), `${secret} not in HOST_ETC`);
});

t.test('/app is the copy-on-write overlay of the app directory', async (t) => {
  t.same(one(hostStack().mounts, '/app'), { target: '/app', type: 'overlay', source: APP, options: [] });
});

t.test('/proc, /sys read-only, /tmp tmpfs 1777', async (t) => {
  const m = hostStack().mounts;
  t.same(one(m, '/proc'), { target: '/proc', type: 'proc', options: ['nosuid', 'nodev', 'noexec'] });
  t.same(one(m, '/sys'), { target: '/sys', type: 'sysfs', options: ['ro', 'nosuid', 'nodev', 'noexec'] });
  t.same(one(m, '/tmp'), { target: '/tmp', type: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] });
});

t.test('/dev: a small tmpfs with device binds, devpts, ptmx, shm and the fd links', async (t) => {
  const m = hostStack().mounts;
  t.same(one(m, '/dev'), { target: '/dev', type: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'mode=755', 'size=65536k'] });
  t.same(DEVICES, ['null', 'zero', 'full', 'random', 'urandom', 'tty']);
  for (const d of ['null', 'zero', 'full', 'random', 'urandom', 'tty'])
    t.same(one(m, `/dev/${d}`), { target: `/dev/${d}`, type: 'bind', source: `/dev/${d}`, sourceIsFile: true, options: ['nosuid', 'noexec'] }, d);
  t.same(one(m, '/dev/pts'), { target: '/dev/pts', type: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] });
  t.same(one(m, '/dev/ptmx'), { target: '/dev/ptmx', type: 'symlink', source: 'pts/ptmx', options: [] });
  t.same(one(m, '/dev/shm'), { target: '/dev/shm', type: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'mode=1777', 'size=65536k'] });
  t.same(one(m, '/dev/fd'), { target: '/dev/fd', type: 'symlink', source: '/proc/self/fd', options: [] });
  t.same(one(m, '/dev/stdin'), { target: '/dev/stdin', type: 'symlink', source: '/proc/self/fd/0', options: [] });
  t.same(one(m, '/dev/stdout'), { target: '/dev/stdout', type: 'symlink', source: '/proc/self/fd/1', options: [] });
  t.same(one(m, '/dev/stderr'), { target: '/dev/stderr', type: 'symlink', source: '/proc/self/fd/2', options: [] });
  const devIndex = m.findIndex((x) => x.target === '/dev');
  t.ok(m.every((x, i) => !x.target.startsWith('/dev/') || i > devIndex), '/dev comes before anything in it');
  t.ok(m.findIndex((x) => x.target === '/dev/pts') < m.findIndex((x) => x.target === '/dev/ptmx'), 'pts before the ptmx link');
  t.notOk(m.some((x) => x.target.startsWith('/dev/') && x.type === 'bind' && !DEVICES.includes(x.target.slice(5))), 'no other host devices');
});

t.test('/dev: a device the host lacks is skipped', async (t) => {
  const m = hostStack(fakeFacts({ extraPaths: { '/dev/tty': missing } })).mounts;
  t.same(byTarget(m, '/dev/tty'), []);
  t.equal(byTarget(m, '/dev/null').length, 1);
});

t.test('cgroup view v2: one read-only cgroup2 at /sys/fs/cgroup, after /sys', async (t) => {
  const m = hostStack().mounts;
  t.same(one(m, '/sys/fs/cgroup'), { target: '/sys/fs/cgroup', type: 'cgroup2', options: ['ro', 'nosuid', 'nodev', 'noexec'] });
  t.notOk(m.some((x) => x.type === 'cgroup'));
  t.ok(m.findIndex((x) => x.target === '/sys') < m.findIndex((x) => x.target === '/sys/fs/cgroup'));
});

t.test('cgroup view v1: a read-only tmpfs with one read-only cgroup per hierarchy', async (t) => {
  const m = hostStack(fakeFacts({ cgroupView: V1_VIEW })).mounts;
  t.same(one(m, '/sys/fs/cgroup'), { target: '/sys/fs/cgroup', type: 'tmpfs', options: ['ro', 'nosuid', 'nodev', 'noexec', 'mode=755', 'size=64k'] });
  t.same(one(m, '/sys/fs/cgroup/memory'), { target: '/sys/fs/cgroup/memory', type: 'cgroup', source: 'memory', options: ['ro', 'nosuid', 'nodev', 'noexec'] });
  t.same(one(m, '/sys/fs/cgroup/cpu'), { target: '/sys/fs/cgroup/cpu', type: 'cgroup', source: 'cpu,cpuacct', options: ['ro', 'nosuid', 'nodev', 'noexec'] });
  t.same(one(m, '/sys/fs/cgroup/pids'), { target: '/sys/fs/cgroup/pids', type: 'cgroup', source: 'pids', options: ['ro', 'nosuid', 'nodev', 'noexec'] });
  t.notOk(m.some((x) => x.type === 'cgroup2'));
  const order = ['/sys', '/sys/fs/cgroup', '/sys/fs/cgroup/memory'].map((tg) => m.findIndex((x) => x.target === tg));
  t.ok(order[0]! < order[1]! && order[1]! < order[2]!, '/sys, then the tmpfs, then the hierarchies');
});

t.test('host stack: no target appears twice, every target is absolute and clean', async (t) => {
  for (const facts of [fakeFacts(), fakeFacts({ cgroupView: V1_VIEW })]) {
    const targets = hostStack(facts).mounts.map((x) => x.target);
    t.same(targets.filter((x, i) => targets.indexOf(x) !== i), [], 'no duplicates');
    for (const x of targets) t.match(x, /^\/([^/.][^/]*(\/[^/.][^/]*)*)?$/, x);
  }
});

t.test('--rootfs: an overlay root with mount points made, /etc identity files written, no host stack', async (t) => {
  const p = planDyno({ command: ['true'] }, fakeFacts(), APP, ROOTFS);
  const m = p.mounts;
  t.same(m[0], { target: '/', type: 'root-overlay', source: ROOTFS, options: [] });
  for (const d of ['/proc', '/sys', '/dev', '/tmp', '/app', '/etc']) {
    const dirs = m.filter((x) => x.target === d && x.type === 'dir');
    t.same(dirs, [{ target: d, type: 'dir', options: [], mode: 0o755 }], `${d} made`);
  }
  t.same(one(m, '/etc/hostname'), { target: '/etc/hostname', type: 'file', options: [], content: `${HOSTNAME_TOKEN}\n`, mode: 0o644 });
  t.match(one(m, '/etc/hosts').content!, new RegExp(`^127\\.0\\.1\\.1\\s+\\{\\{HOSTNAME\\}\\}$`, 'm'));
  t.notMatch(one(m, '/etc/hosts').content!.replaceAll(HOSTNAME_TOKEN, ''), /\{\{/);
  t.equal(one(m, '/etc/resolv.conf').content, 'nameserver 127.0.0.11\nsearch example.internal\n');
  for (const d of HOST_STACK_DIRS) t.same(byTarget(m, d).filter((x) => x.type !== 'dir'), [], `no host ${d}`);
  t.notOk(m.some((x) => x.type === 'bind' && x.target.startsWith('/etc')), 'no host /etc binds');
  t.same(byTarget(m, '/etc/passwd'), [], "the rootfs's own passwd is kept");
  t.same(m.filter((x) => x.target === '/app' && x.type !== 'dir'), [{ target: '/app', type: 'overlay', source: APP, options: [] }]);
  t.ok(m.findIndex((x) => x.target === '/app' && x.type === 'dir') < m.findIndex((x) => x.target === '/app' && x.type === 'overlay'));
  t.equal(m.filter((x) => x.target === '/dev' && x.type !== 'dir').length, 1);
  t.equal(m.find((x) => x.target === '/dev' && x.type !== 'dir')!.type, 'tmpfs');
  t.equal(one(m, '/dev/null').source, '/dev/null', 'host devices still bound');
  t.same(m.filter((x) => x.target === '/tmp' && x.type !== 'dir').map((x) => x.type), ['tmpfs']);
  t.same(m.filter((x) => x.target === '/sys' && x.type !== 'dir').map((x) => x.type), ['sysfs']);
  t.same(m.filter((x) => x.target === '/proc' && x.type !== 'dir').map((x) => x.type), ['proc']);
  t.equal(one(m, '/sys/fs/cgroup').type, 'cgroup2');
});

t.test('--rootfs: the cgroup v1 view is the same as on the host stack', async (t) => {
  const m = planDyno({ command: ['true'] }, fakeFacts({ cgroupView: V1_VIEW }), APP, ROOTFS).mounts;
  t.same(m.filter((x) => x.target.startsWith('/sys/fs/cgroup')).map((x) => [x.target, x.type]), [
    ['/sys/fs/cgroup', 'tmpfs'],
    ['/sys/fs/cgroup/memory', 'cgroup'],
    ['/sys/fs/cgroup/cpu', 'cgroup'],
    ['/sys/fs/cgroup/pids', 'cgroup'],
  ]);
});

t.test('a --rootfs whose /etc is a symlink (e.g. to /.oldroot/etc) is refused: dynod would write /etc/hostname, hosts and resolv.conf through it as root', async (t) => {
  // planDyno checks the rootfs:/etc facts that gatherHostFacts records (security: a write outside the rootfs).
  for (const target of ['/.oldroot/etc', '../../.oldroot/etc']) {
    const facts = fakeFacts({ extraPaths: { 'rootfs:/etc': link(target), 'rootfs:/app': dir, 'rootfs:/proc': dir, 'rootfs:/sys': dir, 'rootfs:/dev': dir, 'rootfs:/tmp': dir } });
    t.throws(() => planDyno({ command: ['true'] }, facts, APP, ROOTFS), { name: 'UsageError' }, `rootfs /etc -> ${target}`);
  }
});

// ============================================================================
// --publish parsing (src/net/publish-spec.ts)

const msg = (spec: string) =>
  `--publish ${JSON.stringify(spec)}: expected [ADDR:]HOSTPORT with a port from 1 to 65535 (e.g. 8080 or 127.0.0.1:8080)`;

t.test('a bare port listens on every address, IPv6 and IPv4, as Docker does', async (t) => {
  t.same(parsePublish('8080'), { address: '', hostPort: 8080 });
  t.same(parsePublish('1'), { address: '', hostPort: 1 });
  t.same(parsePublish('65535'), { address: '', hostPort: 65535 });
  t.same(parsePublish(' 3000 '), { address: '', hostPort: 3000 });
  t.same(parsePublish('08080'), { address: '', hostPort: 8080 });
  t.equal(publishName(parsePublish('8080')), '8080');
  t.equal(publishName(parsePublish('[::1]:8080')), '[::1]:8080');
  t.equal(publishName(parsePublish('0.0.0.0:80')), '0.0.0.0:80');
});

t.test('ADDR:PORT with an IPv4 address or localhost', async (t) => {
  t.same(parsePublish('127.0.0.1:8080'), { address: '127.0.0.1', hostPort: 8080 });
  t.same(parsePublish('0.0.0.0:80'), { address: '0.0.0.0', hostPort: 80 });
  t.same(parsePublish('192.168.1.20:5000'), { address: '192.168.1.20', hostPort: 5000 });
  t.same(parsePublish('localhost:3000'), { address: 'localhost', hostPort: 3000 });
});

t.test('[IPv6]:PORT', async (t) => {
  t.same(parsePublish('[::1]:8080'), { address: '::1', hostPort: 8080 });
  t.same(parsePublish('[::]:80'), { address: '::', hostPort: 80 });
  t.same(parsePublish('[fe80::1:2]:443'), { address: 'fe80::1:2', hostPort: 443 });
  t.same(parsePublish('[::ffff:127.0.0.1]:9000'), { address: '::ffff:127.0.0.1', hostPort: 9000 });
});

t.test('errors', async (t) => {
  const bad = [
    '', ' ', '0', '65536', '99999', '123456', '-1', '80.5', 'http', ':8080', '127.0.0.1:', '127.0.0.1:0',
    '::1:8080', '[::1]', '[::1]:', '[::1]:70000', '[zz::1]:80', '256.0.0.1:80', 'example.com:80', 'host:80',
    '127.0.0.1:8080:80', '8080/tcp', '8080:5000', '[::1:80', '::1]:80',
  ];
  for (const spec of bad) t.throws(() => parsePublish(spec), { name: 'UsageError', message: msg(spec) }, JSON.stringify(spec));
});
