// dynod-oci driven directly, as containerd's go-runc and podman's conmon drive it:
// the runtime spec's lifecycle (create → created, start → running, kill, delete),
// its state JSON, pid file, hooks in order, exec, errors as one line (and JSON in
// --log), the dynod.size annotation, and nothing left on the host after each.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { ROOT, hostEnv } from '../helpers/dynod';

const BIN = path.join(ROOT, 'bin', 'dynod-oci');
const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => fs.existsSync(p));
const why = process.getuid?.() !== 0 ? 'needs root' : !BUSYBOX ? 'needs busybox (apt-get install busybox-static)' : undefined;
if (why) {
  t.skip(`dynod-oci lifecycle: ${why}`);
} else {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-oci-cli-'));
  const root = path.join(work, 'state');
  // below this process's own cgroup (v1: the memory hierarchy's, where the workplace puts us)
  const lines = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n');
  const v1memory = lines.find((l) => l.split(':')[1]?.split(',').includes('memory'));
  const v2 = v1memory === undefined;
  const own = (v2 ? lines.find((l) => l.startsWith('0::')) : v1memory)?.split(':')[2] ?? '/';
  const cgroupParent = path.posix.join(own, `dynod-oci-cli-${process.pid}`);
  t.teardown(() => {
    for (const id of fs.existsSync(root) ? fs.readdirSync(root) : []) oci(['delete', '--force', id]);
    for (const h of v2 ? [''] : fs.readdirSync('/sys/fs/cgroup')) {
      const d = path.join('/sys/fs/cgroup', h, cgroupParent);
      if (fs.existsSync(d)) try { fs.rmdirSync(d); } catch { /* a test below says so */ }
    }
    fs.rmSync(work, { recursive: true, force: true });
  });

  const rootfs = path.join(work, 'rootfs');
  for (const d of ['bin', 'proc', 'sys', 'dev', 'etc', 'tmp']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  fs.copyFileSync(BUSYBOX!, path.join(rootfs, 'bin', 'busybox'));
  fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
  for (const a of ['sh', 'cat', 'echo', 'sleep', 'id', 'hostname', 'ls', 'grep', 'true']) fs.symlinkSync('busybox', path.join(rootfs, 'bin', a));
  fs.writeFileSync(path.join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
  fs.writeFileSync(path.join(rootfs, 'not-executable'), '#!/bin/sh\n', { mode: 0o644 });

  function oci(args: string[], input?: string): SpawnSyncReturns<string> {
    return spawnSync(BIN, ['--root', root, ...args], { encoding: 'utf8', env: hostEnv(), input, timeout: 30_000 });
  }

  /** A bundle directory whose config.json is a runc-spec-like config with these changes. */
  function bundle(name: string, edit: (c: Record<string, any>) => void = () => {}): string {
    const dir = path.join(work, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.symlinkSync(rootfs, path.join(dir, 'rootfs'));
    const c: Record<string, any> = {
      ociVersion: '1.0.2',
      process: {
        terminal: false, user: { uid: 0, gid: 0 }, args: ['sh', '-c', 'echo hello; sleep 30'], env: ['PATH=/bin', 'TERM=xterm'], cwd: '/',
        capabilities: { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'], inheritable: [], ambient: [] },
        rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }], noNewPrivileges: true,
      },
      root: { path: 'rootfs', readonly: true },
      hostname: 'oci-cli',
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
        { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
        { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
        { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev'] },
      ],
      linux: {
        namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
        cgroupsPath: path.posix.join(cgroupParent, name),
        resources: { devices: [{ allow: false, access: 'rwm' }], memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 32 } },
        maskedPaths: ['/proc/kcore', '/proc/keys'],
        readonlyPaths: ['/proc/sys'],
      },
    };
    edit(c);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(c));
    return dir;
  }

  /** A verb whose container outlives it (run --detach): its stdio must not be a pipe we wait on. */
  function ociDetached(args: string[]): { status: number | null; stderr: string } {
    const err = path.join(work, 'detached.err');
    const fd = fs.openSync(err, 'w');
    const r = spawnSync(BIN, ['--root', root, ...args], { stdio: ['ignore', 'ignore', fd], env: hostEnv(), timeout: 30_000 });
    fs.closeSync(fd);
    return { status: r.status, stderr: fs.readFileSync(err, 'utf8') };
  }

  const state = (id: string) => {
    const r = oci(['state', id]);
    return r.status === 0 ? (JSON.parse(r.stdout) as { status: string; pid: number; id: string; bundle: string; annotations: Record<string, string> }) : null;
  };
  const memoryDir = (name: string) => path.join('/sys/fs/cgroup', v2 ? '' : 'memory', cgroupParent, name);
  const memoryLimit = (name: string) => fs.readFileSync(path.join(memoryDir(name), v2 ? 'memory.max' : 'memory.limit_in_bytes'), 'utf8').trim();
  const pidsMax = (name: string) => fs.readFileSync(path.join('/sys/fs/cgroup', v2 ? '' : 'pids', cgroupParent, name, 'pids.max'), 'utf8').trim();

  t.test('create → created, start → running, kill → stopped, delete → gone; hooks in the spec\'s order', async (t) => {
    const hookLog = path.join(work, 'hooks.log');
    const hook = (stage: string) => ({ path: '/bin/sh', args: ['sh', '-c', `read s; echo "${stage} $s" >> ${hookLog}`] });
    const b = bundle('life', (c) => {
      c.process.args = ['sh', '-c', 'trap "echo got-term; exit 7" TERM; echo $(cat /tmp/hooked) up $(hostname) $(id -u); while true; do sleep 0.1; done'];
      // startContainer runs inside the container (its /tmp), before the command, with the state on stdin
      const inside = { path: '/bin/sh', args: ['sh', '-c', 'read s; case "$s" in *\'"id":"life"\'*) echo "$HOOKVAR";; esac > /tmp/hooked'], env: ['HOOKVAR=started'] };
      // createContainer runs in the container's namespaces, chrooted to the host's root: it can append to the host's log
      const inNs = { path: '/bin/sh', args: ['sh', '-c', `read s; echo "createContainer $(hostname) $s" >> ${hookLog}`] };
      c.hooks = { prestart: [hook('prestart')], createRuntime: [hook('createRuntime')], createContainer: [inNs], startContainer: [inside], poststart: [hook('poststart')], poststop: [hook('poststop')] };
    });
    const out = path.join(work, 'life.out');
    const fd = fs.openSync(out, 'w');
    const pidFile = path.join(work, 'life.pid');
    const created = spawnSync(BIN, ['--root', root, 'create', '--bundle', b, '--pid-file', pidFile, 'life'], { stdio: ['ignore', fd, fd], env: hostEnv(), timeout: 30_000 });
    fs.closeSync(fd);
    t.equal(created.status, 0, `create: ${fs.readFileSync(out, 'utf8')}`);
    const s1 = state('life');
    t.equal(s1?.status, 'created');
    t.equal(Number(fs.readFileSync(pidFile, 'utf8')), s1?.pid, 'the pid file names the state\'s pid');
    t.equal(s1?.bundle, b);
    t.ok(fs.readFileSync(`${memoryDir('life')}/cgroup.procs`, 'utf8').split('\n').includes(String(s1?.pid)), 'PID 1 sits in its memory cgroup');
    t.equal(memoryLimit('life'), String(64 * 1024 * 1024));
    t.equal(fs.readFileSync(out, 'utf8'), '', 'nothing ran before start');
    const started = oci(['start', 'life']);
    t.equal(started.status, 0, `start: ${started.stderr}`);
    t.not(oci(['start', 'life']).status, 0, 'a second start is refused');
    for (let i = 0; i < 200 && !fs.readFileSync(out, 'utf8').includes('up'); i++) await new Promise((r) => setTimeout(r, 10));
    t.equal(fs.readFileSync(out, 'utf8').trim(), 'started up oci-cli 0', 'the startContainer hook ran inside, before the command; the command ran as root of its namespaces, with its hostname');
    t.equal(state('life')?.status, 'running');
    const del = oci(['delete', 'life']);
    t.not(del.status, 0, 'delete refuses a running container');
    t.match(del.stderr, /running/);
    t.equal(oci(['kill', 'life', 'TERM']).status, 0);
    for (let i = 0; i < 300 && state('life')?.status !== 'stopped'; i++) await new Promise((r) => setTimeout(r, 10));
    t.equal(state('life')?.status, 'stopped');
    t.equal(state('life')?.pid, 0);
    t.match(fs.readFileSync(out, 'utf8'), /got-term/);
    t.equal(oci(['delete', 'life']).status, 0);
    t.equal(state('life'), null, 'state is gone');
    t.notOk(fs.existsSync(memoryDir('life')), 'cgroup is gone');
    const stages = fs.readFileSync(hookLog, 'utf8').trim().split('\n').map((l) => l.split(' ')[0]);
    t.same(stages, ['prestart', 'createRuntime', 'createContainer', 'poststart', 'poststop'], 'the spec\'s order (startContainer ran inside, before the command)');
    t.match(fs.readFileSync(hookLog, 'utf8'), /^createContainer oci-cli \{.*"status":"creating"/m, 'createContainer: in the container\'s UTS namespace, with the state');
    const poststop = JSON.parse(fs.readFileSync(hookLog, 'utf8').trim().split('\n')[3]!.slice('poststop '.length));
    t.equal(poststop.id, 'life', 'hooks get the state on stdin');
  });

  t.test('run: the exit status; exec: status, output, --detach with a pid file; ps; list', async (t) => {
    const b = bundle('runner', (c) => {
      // tmpcopyup: a writable /etc under the read-only root, holding what the image has there
      c.mounts.push({ destination: '/etc', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'tmpcopyup', 'size=1m'] });
      c.process.args = ['sh', '-c', 'grep -q "^app:" /etc/passwd && echo x > /etc/new && [ ! -w /bin ] 2>/dev/null; cat /etc/new; exit 3'];
    });
    const r = oci(['run', '--bundle', b, 'runner']);
    t.equal(r.status, 3, 'run exits with the command\'s status');
    t.equal(r.stdout, 'x\n', 'tmpcopyup: /etc has the image\'s files and takes writes');
    t.notOk(fs.existsSync(path.join(rootfs, 'etc', 'new')), 'the image is untouched');
    t.equal(state('runner'), null, 'run deletes the container');
    // --preserve-fds: dynod-oci's fds 3 and 4 are the command's 3 and 4, and nothing more
    const inFile = path.join(work, 'fd3');
    fs.writeFileSync(inFile, 'through-fd3\n');
    const fd3 = fs.openSync(inFile, 'r');
    const fd4 = fs.openSync(path.join(work, 'fd4'), 'w');
    const pf = spawnSync(BIN, ['--root', root, 'run', '--preserve-fds', '2', '--bundle', bundle('pfds', (c) => (c.process.args = ['sh', '-c', 'read x <&3; echo "$x" >&4; ls /proc/self/fd'])), 'pfds'], {
      encoding: 'utf8', env: hostEnv(), stdio: ['ignore', 'pipe', 'pipe', fd3, fd4], timeout: 30_000,
    });
    fs.closeSync(fd3);
    fs.closeSync(fd4);
    t.equal(pf.status, 0, pf.stderr);
    t.equal(fs.readFileSync(path.join(work, 'fd4'), 'utf8'), 'through-fd3\n', '--preserve-fds 2: fds 3 and 4 reach the command');
    t.same(pf.stdout.trim().split('\n').map(Number).filter((n) => n > 4 && n !== 5), [], 'no other fd beyond the ones ls opens itself');
    t.match(oci(['run', '--preserve-fds', '7', '--bundle', bundle('pf7'), 'pf7']).stderr, /--preserve-fds 7: accepted: 0 to 6/);
    const b2 = bundle('svc', (c) => (c.process.args = ['sleep', '600'])); // long enough under emulation (the v2 VM)
    t.equal(ociDetached(['run', '--detach', '--bundle', b2, 'svc']).status, 0);
    const pid = state('svc')!.pid;
    const e = oci(['exec', 'svc', 'sh', '-c', 'echo in-$(hostname); exit 9']);
    t.equal(e.status, 9);
    t.equal(e.stdout.trim(), 'in-oci-cli');
    const proc = path.join(work, 'proc.json');
    fs.writeFileSync(proc, JSON.stringify({ args: ['sh', '-c', 'echo $HOME $FOO; id -u'], env: ['PATH=/bin', 'FOO=bar'], cwd: '/tmp', user: { uid: 1000, gid: 1000 } }));
    const e2 = oci(['exec', '--process', proc, 'svc']);
    t.equal(e2.stdout, '/home/app bar\n1000\n', 'HOME from the container\'s /etc/passwd, as runc');
    const ps = oci(['ps', '--format', 'json', 'svc']);
    t.ok((JSON.parse(ps.stdout) as number[]).includes(pid), 'ps lists PID 1');
    const pidFile = path.join(work, 'exec.pid');
    t.equal(ociDetached(['exec', '--detach', '--pid-file', pidFile, 'svc', 'sleep', '20']).status, 0);
    const execPid = Number(fs.readFileSync(pidFile, 'utf8'));
    t.ok(fs.existsSync(`/proc/${execPid}`), 'the detached process runs after exec returned');
    t.match(JSON.parse(oci(['list', '--format', 'json']).stdout), [{ id: 'svc', status: 'running' }]);
    t.equal(oci(['pause', 'svc']).status, 0);
    t.equal(state('svc')?.status, 'paused');
    t.equal(oci(['resume', 'svc']).status, 0);
    t.equal(state('svc')?.status, 'running');
    const upd = oci(['update', '--pids-limit', '40', 'svc']);
    t.equal(upd.status, 0, `update: ${upd.stderr}`);
    t.equal(pidsMax('svc'), '40');
    const evr = oci(['events', '--stats', 'svc']);
    t.equal(evr.status, 0, `events: ${evr.stderr}`);
    const ev = JSON.parse(evr.stdout || '{}');
    t.equal(ev.type, 'stats');
    t.ok(ev.data.pids.current >= 2);
    t.equal(oci(['delete', '--force', 'svc']).status, 0);
    // gone, or a zombie of the host's init (its parent, run --detach, exited long ago)
    const st = fs.existsSync(`/proc/${pid}/stat`) ? fs.readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
    t.ok(st === '' || st.slice(st.lastIndexOf(')') + 2).startsWith('Z'), 'PID 1 is gone');
    t.notOk(fs.existsSync(memoryDir('svc')));
  });

  t.test('errors: one line naming what is wrong, JSON in --log, nothing left', async (t) => {
    const log = path.join(work, 'log.json');
    const b = bundle('bad', (c) => (c.linux.intelRdt = { closID: 'x' }));
    const r = spawnSync(BIN, ['--root', root, '--log', log, '--log-format', 'json', 'create', '--bundle', b, 'bad'], { encoding: 'utf8', env: hostEnv() });
    t.equal(r.status, 125);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    t.match(r.stderr, /linux\.intelRdt/);
    const line = JSON.parse(fs.readFileSync(log, 'utf8').trim().split('\n').pop()!);
    t.equal(line.level, 'error');
    t.match(line.msg, /linux\.intelRdt/);
    t.equal(state('bad'), null);
    t.notOk(fs.existsSync(memoryDir('bad')));

    const nf = oci(['create', '--bundle', bundle('nf', (c) => (c.process.args = ['no-such-command'])), 'nf']);
    t.equal(nf.status, 127);
    t.match(nf.stderr, /exec: "no-such-command": executable file not found in \$PATH/, 'runc\'s words, which podman and containerd map to 127');
    t.equal(state('nf'), null, 'a failed create leaves no state');
    t.notOk(fs.existsSync(memoryDir('nf')), 'nor a cgroup');
    const nx = oci(['create', '--bundle', bundle('nx', (c) => (c.process.args = ['/not-executable'])), 'nx']);
    t.equal(nx.status, 126);
    t.match(nx.stderr, /permission denied/);

    // SIGTERM to a created container ends it (as runc's), without waiting for a SIGKILL
    t.equal(ociDetached(['create', '--bundle', bundle('termc', (c) => (c.process.args = ['sleep', '600'])), 'termc']).status, 0);
    t.equal(oci(['kill', 'termc', 'TERM']).status, 0);
    for (let i = 0; i < 300 && state('termc')?.status !== 'stopped'; i++) await new Promise((r) => setTimeout(r, 10));
    t.equal(state('termc')?.status, 'stopped', 'a created container ends on SIGTERM');
    t.equal(oci(['delete', 'termc']).status, 0);
    // a failing startContainer hook: start fails, the container is stopped, delete removes it
    const hb = bundle('hookfail', (c) => {
      c.process.args = ['sleep', '600'];
      c.hooks = { startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'exit 3'] }] };
    });
    t.equal(ociDetached(['create', '--bundle', hb, 'hookfail']).status, 0);
    const hs = oci(['start', 'hookfail']);
    t.equal(hs.status, 125);
    t.match(hs.stderr, /startContainer hook \/bin\/sh: exit status 3/);
    for (let i = 0; i < 300 && state('hookfail')?.status !== 'stopped'; i++) await new Promise((r) => setTimeout(r, 10));
    t.equal(state('hookfail')?.status, 'stopped', 'the container is stopped');
    t.equal(oci(['delete', 'hookfail']).status, 0);
    // failing create hooks: create fails naming the hook, and leaves nothing
    for (const [stage, id] of [['createRuntime', 'crfail'], ['createContainer', 'ccfail']] as const) {
      const r = oci(['create', '--bundle', bundle(id, (c) => (c.hooks = { [stage]: [{ path: '/bin/sh', args: ['sh', '-c', 'exit 5'] }] })), id]);
      t.equal(r.status, 125, `${stage}: ${r.stderr}`);
      t.match(r.stderr, stage === 'createRuntime' ? /hook \/bin\/sh: exit status 5/ : /createContainer hook \/bin\/sh: exit status 5/);
      t.equal(state(id), null, `${stage}: no state left`);
      t.notOk(fs.existsSync(memoryDir(id)), `${stage}: no cgroup left`);
    }
    const slow = oci(['create', '--bundle', bundle('ccslow', (c) => (c.hooks = { createContainer: [{ path: '/bin/sleep', args: ['sleep', '10'], timeout: 1 }] })), 'ccslow']);
    t.match(slow.stderr, /createContainer hook \/bin\/sleep/, 'a createContainer hook past its timeout fails create');
    t.equal(state('ccslow'), null);
    t.match(oci(['--systemd-cgroup', 'state', 'x']).stderr, /systemd cgroup driver is not supported/);
    t.match(oci(['state', 'nope']).stderr, /container nope does not exist/);
    t.match(oci(['create', '--bundle', b, 'a/b']).stderr, /container id "a\/b"/);
    t.equal(oci(['delete', '--force', 'nope']).status, 0, 'delete --force of an unknown id succeeds, as runc');
    const f = JSON.parse(oci(['features']).stdout);
    t.equal(f.ociVersionMax, '1.0.2');
    t.ok(f.linux.namespaces.includes('pid'));
  });

  t.test('the dynod.size annotation sizes a container whose config sets no limits', async (t) => {
    const b = bundle('sized', (c) => {
      c.annotations = { 'dynod.size': 'standard-2x' };
      delete c.linux.resources.memory;
      delete c.linux.resources.pids;
      c.process.args = ['true'];
    });
    const made = ociDetached(['create', '--bundle', b, 'sized']);
    t.equal(made.status, 0, made.stderr);
    t.equal(memoryLimit('sized'), String(1024 * 1024 * 1024), 'standard-2x: 1 GiB');
    t.equal(oci(['delete', 'sized']).status, 0, 'a created container may be deleted');
    const bad = oci(['create', '--bundle', bundle('badsize', (c) => (c.annotations = { 'dynod.size': 'huge' })), 'badsize']);
    t.match(bad.stderr, /dynod\.size/);
    t.equal(state('badsize'), null);
  });
}
