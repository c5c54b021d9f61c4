// dynod exec's library part (root, real kernel): execIn() runs a new command inside a
// running dyno, from the dyno's target (plain data), and what it runs is in the dyno:
// its hostname, PID namespace, network, mounts, cgroup, user, capabilities, seccomp
// filter and limits, checked from inside and from the host.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { PassThrough, Writable } from 'node:stream';
import { Engine, execIn, checkExecTarget, CommandError, DynodError, type Dyno, type DynoExit, type DynoOptions, type ExecIO, type ExecResult, type ExecSession, type ExecTarget } from '../../src/index';
import { native } from '../../src/native';
import { CLONE } from '../../src/dyno/constants';
import { tempApp } from '../helpers/app';
import { children as ownChildren } from '../helpers/spawn';
import { ROOT, hostEnv, lines, waitFor } from '../helpers/dynod';
import { CGROUP_V2, cgroupProcs, startTime, statusFields } from '../helpers/host';

const engine = new Engine();
t.teardown(() => engine.close());

const NAMESPACES = ['pid', 'mnt', 'net', 'uts', 'ipc', 'user', 'cgroup'] as const;
const nsOf = (pid: number, ns: string) => fs.readlinkSync(`/proc/${pid}/ns/${ns}`);
const IN_MEMORY_LIMIT = CGROUP_V2 ? '/sys/fs/cgroup/memory.max' : '/sys/fs/cgroup/memory/memory.limit_in_bytes';

/** A Writable that keeps what it gets (synchronously: complete when execIn resolves). */
function collector(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({ write(chunk: Buffer, _enc, cb) { chunks.push(chunk); cb(); } });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

interface Ran extends ExecResult {
  stdout: string;
  stderr: string;
}

/** execIn with stdout and stderr collected. */
async function ex(target: ExecTarget, command: string[], io: ExecIO = {}): Promise<Ran> {
  const out = collector();
  const err = collector();
  const r = await execIn(target, command, { stdout: out.stream, stderr: err.stream, ...io });
  return { ...r, stdout: out.text(), stderr: err.text() };
}

/**
 * Our own children but the running dynos' PID 1s and the engine's spare (`dynod-spare`,
 * parked for the next start), from every thread: a helper left behind would show up here.
 */
function children(): number[] {
  const dynos = new Set(engine.dynos.map((d) => d.pid));
  const comm = (pid: number) => { try { return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return ''; } };
  return ownChildren().map(Number).filter((pid) => !dynos.has(pid) && comm(pid) !== 'dynod-spare');
}

/** Open fds once libuv has run the close callbacks of the last sessions' handles. */
async function fdCount(): Promise<number> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 20));
  return fs.readdirSync('/proc/self/fd').length;
}

/** Field 3 of /proc/PID/stat (R, S, Z, ...), or null when gone. */
function procState(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
  } catch {
    return null;
  }
}

/** The only child of the session's helper: the command, by its host pid. */
function commandPid(s: ExecSession): number {
  const kids = fs.readFileSync(`/proc/${s.pid}/task/${s.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  if (kids.length !== 1) throw new Error(`the helper ${s.pid} has ${kids.length} children`);
  return Number(kids[0]);
}

/** The dyno's own command (not PID 1), by its host pid. */
function dynoCommandPid(d: Dyno): number {
  const pids = d.processIds().filter((p) => p !== d.pid);
  if (pids.length !== 1) throw new Error(`expected one process besides PID 1, found ${pids.join(' ')}`);
  return pids[0]!;
}

const SERVER = `
require('fs').writeFileSync('/tmp/marker', 'from-dyno\\n');
require('fs').writeFileSync('/app/written', 'app-write\\n');
require('net').createServer((s) => s.end('pong')).listen(Number(process.env.PORT), '127.0.0.1');
`;

/** web.1: node listening on 127.0.0.1:$PORT, having written /tmp/marker and /app/written; with a config var. */
async function webDyno(t: { teardown(fn: () => unknown): void }, extra: Pick<DynoOptions, 'memory'> = {}): Promise<Dyno> {
  const app = tempApp(t, { 'server.js': SERVER, 'not-executable': { content: '#!/bin/sh\necho no\n', mode: 0o644 } });
  const d = await engine.start({ command: ['node', 'server.js'], app, name: 'web.1', port: 5123, env: { SECRET: 'config-var' }, ...extra });
  t.teardown(() => d.stop(0).then(() => undefined));
  await d.waitForPort(5123, 20_000);
  return d;
}

t.test('the target is plain data: JSON round-trips it, and it names PID 1 by pid and start time', async (t) => {
  const d = await webDyno(t);
  const target = d.execTarget();
  t.same(JSON.parse(JSON.stringify(target)), target, 'survives JSON');
  t.same(checkExecTarget(JSON.parse(JSON.stringify(target))), target, 'and the check');
  t.equal(target.pid, d.pid);
  t.equal(String(target.startTime), startTime(d.pid), '/proc/<pid>/stat field 22');
  t.equal(target.name, 'web.1');
  t.same(target.namespaces, ['user', 'pid', 'mount', 'uts', 'ipc', 'net', 'cgroup']);
  t.same(target.env, { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/app', LANG: 'C.UTF-8', PORT: '5123', DYNO: 'web.1' }, 'the base environment, no config var');
  t.same(target.user, { uid: 30000, gid: 30000 });
  t.same(target.capabilities, []);
  t.equal(target.seccomp, 'default');
  t.same(target.cgroup.procsFiles, d.cgroupDirs.map((dir) => `${dir}/cgroup.procs`));
});

t.test('inside: the dyno\'s hostname, user, capabilities, seccomp filter, cwd, cgroup view and base environment', async (t) => {
  const d = await webDyno(t);
  const target = d.execTarget();
  const r = await ex(target, ['sh', '-c', 'hostname; id -u; id -g; pwd; grep -E "^(Cap|NoNewPrivs|Seccomp)" /proc/self/status']);
  t.equal(r.status, 0, r.stderr);
  t.same([r.code, r.signal, r.error], [0, null, null]);
  const [host, uid, gid, cwd, ...status] = lines(r.stdout);
  t.equal(host, d.id, 'the dyno\'s hostname (its instance id)');
  t.same([uid, gid, cwd], ['30000', '30000', '/app']);
  const inside = statusFields(status.join('\n'));
  const dyno = statusFields(fs.readFileSync(`/proc/${dynoCommandPid(d)}/status`, 'utf8'));
  for (const f of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp', 'Seccomp_filters'])
    t.equal(inside[f], dyno[f], `${f} as the dyno's own command (${dyno[f]})`);
  t.equal(inside.CapEff, '0000000000000000');
  t.equal(inside.CapBnd, '0000000000000000');
  t.equal(inside.Seccomp, '2', 'a seccomp filter');
  t.equal(inside.NoNewPrivs, '1');

  const env = await ex(target, ['env'], { term: 'xterm' });
  t.same(lines(env.stdout).sort(), ['DYNO=web.1', 'HOME=/app', 'LANG=C.UTF-8', 'PATH=/usr/local/bin:/usr/bin:/bin', 'PORT=5123', 'TERM=xterm'], 'exactly the base environment and the session\'s TERM: no SECRET');

  const cg = await ex(target, ['sh', '-c', `cat /proc/self/cgroup; cat ${IN_MEMORY_LIMIT}`]);
  const cgLines = lines(cg.stdout);
  const limit = cgLines.pop();
  const ours = cgLines.filter((l) => (CGROUP_V2 ? l.startsWith('0::') : /:(memory|pids|cpu(,cpuacct)?|cpuacct,cpu):/.test(l)));
  t.equal(ours.length, CGROUP_V2 ? 1 : 3, cg.stdout);
  for (const l of ours) t.match(l, /:\/$/, `the root of the dyno's cgroup namespace: ${l}`);
  t.equal(limit, String(512 * 1024 * 1024), 'the dyno\'s memory limit (standard-1x) in its cgroup view');
});

t.test('from the host: the command is a child of the helper, in every namespace of the dyno and in its cgroup', async (t) => {
  const d = await webDyno(t);
  const dynoCommand = dynoCommandPid(d);
  let seen = false;
  const r = await execIn(d.execTarget(), ['sleep', '60'], {
    onStart: (s) => {
      const cmd = commandPid(s);
      for (const ns of NAMESPACES) t.equal(nsOf(cmd, ns), nsOf(d.pid, ns), `the command's ${ns} namespace is the dyno's`);
      for (const ns of NAMESPACES.filter((n) => n !== 'pid')) t.equal(nsOf(s.pid, ns), nsOf(d.pid, ns), `the helper's ${ns} namespace is the dyno's`);
      t.equal(nsOf(s.pid, 'pid'), nsOf(process.pid, 'pid'), 'the helper itself is outside the dyno\'s PID namespace');
      const nspid = statusFields(fs.readFileSync(`/proc/${cmd}/status`, 'utf8')).NSpid!.split(/\s+/);
      t.equal(nspid.length, 2, 'the command has a pid in the dyno');
      t.not(nspid[1], '1', `and it is not 1 (${nspid[1]})`);
      for (const dir of d.cgroupDirs) {
        const procs = cgroupProcs(dir);
        t.ok(procs.includes(cmd) && procs.includes(s.pid), `${path.basename(path.dirname(dir))}/${path.basename(dir)} holds the command and its helper`);
      }
      t.equal(statusFields(fs.readFileSync(`/proc/${cmd}/status`, 'utf8')).Uid, statusFields(fs.readFileSync(`/proc/${dynoCommand}/status`, 'utf8')).Uid, 'the same host uid as the dyno\'s command');
      seen = true;
      t.equal(s.kill('SIGTERM'), true);
    },
  });
  t.ok(seen, 'onStart ran');
  t.same([r.status, r.code, r.signal, r.error], [143, 143, null, null], 'SIGTERM reached the command: 128+15');
  t.same(children(), [], 'the helper was reaped');
});

t.test('the dyno\'s PID namespace, network and mounts', async (t) => {
  const d = await webDyno(t);
  const target = d.execTarget();
  const ps = await ex(target, ['sh', '-c', 'echo $$; ps -eo pid=,args=']);
  t.equal(ps.status, 0, ps.stderr);
  const [self, ...rows] = lines(ps.stdout).map((l) => l.trim());
  t.not(self, '1', `the command is not PID 1 (${self})`);
  t.match(rows[0], /^1 dynod-init /, 'PID 1 is the dyno\'s dynod-init');
  t.ok(rows.some((l) => /^\d+ node server\.js$/.test(l)), `the dyno's own command is visible:\n${rows.join('\n')}`);
  t.ok(rows.some((l) => l.startsWith(`${self} sh -c`)), 'and the session\'s shell');

  const tcp = await ex(target, ['bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/$PORT; cat <&3']);
  t.equal(tcp.status, 0, tcp.stderr);
  t.equal(tcp.stdout, 'pong', 'the dyno\'s 127.0.0.1:$PORT');

  const fsr = await ex(target, ['sh', '-c', 'cat /tmp/marker /app/written; ls /app']);
  t.equal(fsr.status, 0, fsr.stderr);
  t.same(lines(fsr.stdout), ['from-dyno', 'app-write', 'not-executable', 'server.js', 'written'], 'the dyno\'s /tmp and /app, with what it wrote');
});

t.test('exit statuses: the command\'s, 127 and 126 as run, 128+N for a signal', async (t) => {
  const d = await webDyno(t);
  const target = d.execTarget();
  t.equal((await ex(target, ['true'])).status, 0);
  const three = await ex(target, ['sh', '-c', 'exit 3']);
  t.same([three.status, three.code, three.error], [3, 3, null]);
  const missing = await ex(target, ['no-such-command']);
  t.equal(missing.status, 127);
  t.type(missing.error, CommandError);
  t.equal(missing.error?.message, 'no-such-command: command not found');
  const noexec = await ex(target, ['/app/not-executable']);
  t.equal(noexec.status, 126);
  t.equal(noexec.error?.message, '/app/not-executable: cannot execute: EACCES (Permission denied)');
  const usr1 = await ex(target, ['sh', '-c', 'kill -USR1 $$']);
  t.same([usr1.status, usr1.code, usr1.signal, usr1.error], [138, 138, null, null], 'SIGUSR1: 128+10');
});

t.test('SIGKILL to the session ends the helper, and the command with it (parent-death signal)', async (t) => {
  const d = await webDyno(t);
  let cmd = -1;
  let cmdStart: string | null = null;
  const r = await execIn(d.execTarget(), ['sleep', '60'], {
    onStart: (s) => {
      cmd = commandPid(s);
      cmdStart = startTime(cmd);
      s.kill('SIGKILL');
    },
  });
  t.same([r.status, r.code, r.signal, r.error], [137, null, 'SIGKILL', null]);
  await waitFor(() => startTime(cmd) !== cmdStart || procState(cmd) === 'Z', 10_000, 'the command to die');
  t.notOk(d.processIds().includes(cmd), 'nothing of the session runs in the dyno');
  // The helper's orphan is the host init's to reap: wait for it, or its zombie holds the
  // dyno's cgroup at the teardown (this host's init reaps every second or so).
  await waitFor(() => startTime(cmd) !== cmdStart, 20_000, 'the host init to reap the command');
  t.equal(d.state, 'up', 'the dyno runs on');
});

t.test('stdin is piped through; stdout and stderr are kept apart; fds are used as they are', async (t) => {
  const d = await webDyno(t);
  const target = d.execTarget();
  const input = new PassThrough();
  input.end('one\ntwo\n');
  const cat = await ex(target, ['sh', '-c', 'cat; echo err >&2'], { stdin: input });
  t.same([cat.status, cat.stdout, cat.stderr], [0, 'one\ntwo\n', 'err\n']);
  const none = await ex(target, ['cat']);
  t.same([none.status, none.stdout], [0, ''], 'without stdin, /dev/null');

  const dir = tempApp(t, { in: 'from a file\n' }, 'dynod-exec-io-');
  const inFd = fs.openSync(path.join(dir, 'in'), 'r');
  const outFd = fs.openSync(path.join(dir, 'out'), 'w');
  t.teardown(() => { fs.closeSync(inFd); fs.closeSync(outFd); });
  const r = await execIn(target, ['tr', 'a-z', 'A-Z'], { stdin: inFd, stdout: outFd });
  t.equal(r.status, 0);
  t.equal(fs.readFileSync(path.join(dir, 'out'), 'utf8'), 'FROM A FILE\n');
});

t.test('with tty: a terminal in the dyno\'s devpts, its size, TERM, and resize', async (t) => {
  const d = await webDyno(t);
  const input = new PassThrough();
  let session: ExecSession | null = null;
  let text = '';
  let resized = false;
  // Once the session has started and the command has shown its first size (it waits in
  // `read` then), in either order: resize, then let it go on.
  const go = () => {
    if (!session || resized || !text.includes('all-tty')) return;
    resized = true;
    session.resize(40, 120);
    input.write('go\r');
  };
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString('utf8');
      go();
      cb();
    },
  });
  const r = await execIn(d.execTarget(), ['sh', '-c', 'tty; stty size; echo "$TERM"; test -t 0 && test -t 1 && echo all-tty; read x; stty size; exit 5'], {
    tty: true,
    rows: 30,
    cols: 100,
    term: 'xterm-256color',
    stdin: input,
    stdout: out,
    onStart: (s) => {
      t.ok(s.terminal, 'the session has a terminal');
      session = s;
      go();
    },
  });
  t.equal(r.status, 5, r.error?.message ?? 'status');
  t.match(text, /^\/dev\/pts\/\d+\r\n30 100\r\nxterm-256color\r\nall-tty\r\ngo\r\n40 120\r\n$/, 'the terminal echoes the input; the second size is the new one');
});

t.test('a dyno that has ended: 125 "web.1 is not running", nothing left', async (t) => {
  const app = tempApp(t);
  const d = await engine.start({ command: ['sleep', '60'], app, name: 'web.1' });
  const target = d.execTarget();
  await execIn(target, ['true']); // warm: the sealed dynod-init and the addon are loaded once per process
  await d.stop(0);
  t.throws(() => d.execTarget(), { name: 'DynodError', message: 'web.1 is not running (down)', code: 'ESRCH' });
  const fds = await fdCount();
  const r = await ex(target, ['true']);
  t.equal(r.status, 125);
  t.same([r.code, r.signal], [null, null]);
  t.type(r.error, DynodError);
  t.equal(r.error?.message, 'web.1 is not running');
  t.equal(r.error?.code, 'ESRCH');
  t.equal(await fdCount(), fds, 'no fd left');
  t.same(children(), [], 'no process left');
});

t.test('a pid reused by another process is refused (its start time differs)', async (t) => {
  const d = await webDyno(t);
  const target = d.execTarget();
  const r = await ex({ ...target, startTime: target.startTime + 1 }, ['true']);
  t.equal(r.status, 125);
  t.equal(r.error?.message, 'web.1 is not running');
  t.equal(r.error?.step, 'find dyno');
  t.equal(r.error?.detail, `pid ${target.pid} is another process (started at tick ${target.startTime}, not ${target.startTime + 1})`);
  t.same(children(), []);
  // a live process of ours with its true start time is found, but it is no dyno: the join fails as data
  const other = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => { other.kill('SIGKILL'); });
  const st = Number(await waitFor(() => startTime(other.pid!) ?? undefined, 5_000, 'sleep'));
  const notDyno = await ex({ ...target, pid: other.pid!, startTime: st }, ['true']);
  t.equal(notDyno.status, 125);
  t.match(notDyno.error?.message, /^enter dyno namespaces: setns: EINVAL/, 'its user namespace is ours: setns refuses it');
});

t.test('the memory limit applies to what exec runs', async (t) => {
  const d = await webDyno(t, { memory: '128M' });
  const r = await ex(d.execTarget(), ['python3', '-c', 'b = bytearray(b"x") * (256 * 1024 * 1024)']);
  t.equal(r.status, 137, `OOM-killed: ${r.stderr}`);
  t.ok(d.stats().oomKills >= 1, 'counted in the dyno\'s cgroup');
});

t.test('stopping the dyno ends what exec runs: it is in the dyno\'s PID namespace', async (t) => {
  const app = tempApp(t);
  // stop(0): SIGKILL to PID 1 ends the PID namespace, and the command with it.
  // stop(grace): the command ignores the dyno's SIGTERM; PID 1 waits for its own
  // processes only, ends once they have, and the kernel kills what is left of the session.
  const cases = [
    { grace: 0, dyno: { status: 137, signal: 'SIGKILL' } },
    { grace: 5_000, dyno: { status: 143, signal: null } },
  ];
  for (const c of cases) {
    const d = await engine.start({ command: ['sleep', '60'], app, name: 'web.1' });
    let cmd = -1;
    let cmdStart: string | null = null;
    let stopped: Promise<DynoExit> | null = null;
    let session: ExecSession | null = null;
    let ready = false;
    // Once both the session has started and the command said "ready" (SIGTERM is ignored from then on), in either order.
    const go = () => {
      if (!session || !ready || stopped) return;
      cmd = commandPid(session);
      cmdStart = startTime(cmd);
      stopped = d.stop(c.grace);
    };
    const out = new Writable({
      write(_chunk: Buffer, _enc, cb) {
        ready = true;
        go();
        cb();
      },
    });
    const r = await execIn(d.execTarget(), ['sh', '-c', 'trap "" TERM; echo ready; exec sleep 1000'], {
      stdout: out,
      onStart: (s) => {
        session = s;
        go();
      },
    });
    const exit = await stopped!;
    t.same([r.status, r.error], [137, null], `stop(${c.grace}): the command was SIGKILLed with the dyno`);
    t.same([exit.status, exit.signal], [c.dyno.status, c.dyno.signal], `stop(${c.grace}): the dyno ended ${c.grace ? 'with its own command, not waiting for the session' : 'at once'}`);
    t.not(startTime(cmd), cmdStart, 'the command is gone');
    t.same(children(), []);
  }
});

t.test('--user root: root inside with Docker\'s capabilities, as the dyno', async (t) => {
  const app = tempApp(t);
  const d = await engine.start({ command: ['sleep', '60'], app, name: 'web.1', user: 'root' });
  t.teardown(() => d.stop(0).then(() => undefined));
  const target = d.execTarget();
  t.same(target.user, { uid: 0, gid: 0 });
  const r = await ex(target, ['sh', '-c', 'id -u; grep -E "^CapEff" /proc/self/status']);
  t.equal(r.status, 0, r.stderr);
  const dyno = statusFields(fs.readFileSync(`/proc/${dynoCommandPid(d)}/status`, 'utf8'));
  t.same(lines(r.stdout), ['0', `CapEff:\t${dyno.CapEff}`]);
  t.equal(dyno.CapEff, '00000000a80405fb');
});

t.test('a dyno without a user or network namespace of its own, unconfined: exec joins what it has', async (t) => {
  const app = tempApp(t);
  const d = await engine.start({ command: ['sleep', '60'], app, name: 'web.1', userns: 'host', net: 'host', seccomp: 'unconfined' });
  t.teardown(() => d.stop(0).then(() => undefined));
  const target = d.execTarget();
  t.same(target.namespaces, ['pid', 'mount', 'uts', 'ipc', 'cgroup']);
  const r = await ex(target, ['sh', '-c', 'hostname; id -u; grep -E "^Seccomp:" /proc/self/status']);
  t.equal(r.status, 0, r.error?.message ?? 'status');
  t.same(lines(r.stdout), [d.id, '30000', 'Seccomp:\t0']);
  const long = await execIn(target, ['sleep', '60'], {
    onStart: (s) => {
      const cmd = commandPid(s);
      for (const ns of NAMESPACES) t.equal(nsOf(cmd, ns), nsOf(d.pid, ns), `${ns} namespace`);
      s.kill('SIGTERM');
    },
  });
  t.equal(long.status, 143);
});

t.test('from another process: the target as JSON is all it takes', async (t) => {
  const d = await webDyno(t);
  const script = `
    const { execIn } = require(${JSON.stringify(ROOT)});
    execIn(JSON.parse(process.argv[1]), ['sh', '-c', 'hostname; echo $DYNO; cat /tmp/marker'], { stdout: 'inherit', stderr: 'inherit' })
      .then((r) => { if (r.error) console.error(r.error.message); process.exitCode = r.status; });
  `;
  const env = hostEnv();
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile('/usr/bin/env', ['-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, '-e', script, JSON.stringify(d.execTarget())], { timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
  });
  t.equal(r.code, 0, r.stderr);
  t.same(lines(r.stdout), [d.id, 'web.1', 'from-dyno']);
});

t.test('when the process that entered dies (SIGKILL), its session dies with it', async (t) => {
  const d = await webDyno(t);
  const script = `
    const { execIn } = require(${JSON.stringify(ROOT)});
    const fs = require('fs');
    execIn(JSON.parse(process.argv[1]), ['sleep', '1000'], {
      onStart: (s) => console.log(s.pid, fs.readFileSync('/proc/' + s.pid + '/task/' + s.pid + '/children', 'utf8').trim()),
    });
  `;
  const env = hostEnv();
  const child = spawn('/usr/bin/env', ['-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, '-e', script, JSON.stringify(d.execTarget())], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { child.kill('SIGKILL'); });
  let text = '';
  child.stdout.on('data', (b: Buffer) => (text += b.toString()));
  const [helper, cmd] = (await waitFor(() => /^\d+ \d+\n/.test(text) && text, 20_000, 'the session')).trim().split(' ').map(Number) as [number, number];
  const starts = [startTime(helper), startTime(cmd)];
  t.ok(d.processIds().includes(cmd), 'the command runs in the dyno');
  child.kill('SIGKILL');
  // both die by their parent-death signals; the host's init reaps them
  const dead = (pid: number, start: string | null) => startTime(pid) !== start || procState(pid) === 'Z';
  await waitFor(() => dead(helper, starts[0]!) && dead(cmd, starts[1]!), 10_000, 'the helper and the command to die');
  t.notOk(d.processIds().includes(cmd), 'nothing of the session runs in the dyno');
  await waitFor(() => startTime(helper) !== starts[0] && startTime(cmd) !== starts[1], 20_000, 'the host init to reap them');
  t.equal(d.state, 'up', 'the dyno runs on');
});

t.test('fds and processes of this process do not grow over 200 execs', async (t) => {
  const d = await webDyno(t);
  const target = d.execTarget();
  const once = async (i: number) => {
    const input = new PassThrough();
    input.end('x');
    const r = await (i % 10 === 0 ? execIn(target, ['true'], { tty: true }) : execIn(target, ['cat'], { stdin: input, stdout: collector().stream }));
    if (r.status !== 0) throw new Error(`exec ${i}: status ${r.status}: ${r.error?.message}`);
  };
  for (let i = 0; i < 5; i++) await once(i);
  const before = await fdCount();
  for (let i = 0; i < 200; i++) await once(i);
  const after = await fdCount();
  t.equal(after, before, `fds ${before} → ${after}`);
  t.same(children(), []);
  t.same(d.processIds().sort((a, b) => a - b), [d.pid, dynoCommandPid(d)].sort((a, b) => a - b), 'nothing left in the dyno either');
});

t.test('bad arguments are one clear line; the addon checks its request too', async (t) => {
  const d = await webDyno(t);
  const target = d.execTarget();
  await t.rejects(execIn(target, []), { name: 'UsageError', message: 'exec: no command given; expected COMMAND [ARGS...] as an array of strings' });
  await t.rejects(execIn(target, ['a\0b']), { name: 'UsageError', message: 'exec: the command contains a NUL byte' });
  await t.rejects(execIn(target, ['true'], { tty: true, stdin: 0 }), { name: 'UsageError', message: /^exec: stdin: with tty, expected 'inherit', 'ignore' or a stream/ });
  const broken = (edit: (o: Record<string, unknown>) => void) => {
    const o = JSON.parse(JSON.stringify(target)) as Record<string, unknown>;
    edit(o);
    return () => checkExecTarget(o);
  };
  t.throws(broken((o) => (o.pid = '12')), { name: 'UsageError', message: 'exec target: pid: expected an integer in 2..4194304' });
  t.throws(broken((o) => delete o.cgroup), { name: 'UsageError', message: 'exec target: cgroup: expected an object' });
  t.throws(broken((o) => (o.namespaces = ['net', 'pid'])), { name: 'UsageError', message: 'exec target: namespaces: expected a list that includes "pid" and "mount" (every dyno has them)' });
  t.throws(broken((o) => (o.capabilities = ['CAP_EVERYTHING'])), { name: 'UsageError', message: 'exec target: capabilities[0]: expected capability names such as CAP_CHOWN' });
  t.throws(broken((o) => (o.extra = 1)), { name: 'UsageError', message: 'exec target: unknown field "extra"; accepted: name, id, pid, startTime, namespaces, cgroup, user, capabilities, seccomp, rlimits, umask, cwd, env' });
  t.throws(broken((o) => ((o.cgroup as Record<string, unknown>).path = '/x')), { name: 'UsageError', message: 'exec target: cgroup: unknown field "path"; accepted: version, dir, procsFiles' });
  t.throws(broken((o) => ((o.env as Record<string, unknown>)['1X'] = 'y')), { name: 'UsageError', message: 'exec target: env.1X: expected a name of letters, digits and _ (not starting with a digit)' });

  const good = {
    pid: target.pid, startTime: target.startTime, namespaces: CLONE.newpid | CLONE.newns, rlimits: [], cgroupDir: '', cgroupProcs: target.cgroup.procsFiles,
    stdio: [0, 1, 2] as [number, number, number], initFd: 0, seccompFd: -1, argv: ['dynod-init', 'x'], envp: [],
  };
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['a namespace flag that is none', { namespaces: CLONE.newpid | CLONE.newns | 1 }, 'enter: request.namespaces must be CLONE_NEW* flags (user, mount, pid, net, uts, ipc, cgroup) that include CLONE_NEWPID and CLONE_NEWNS'],
    ['no PID namespace', { namespaces: CLONE.newns }, 'enter: request.namespaces must be CLONE_NEW* flags'],
    ['no cgroup at all', { cgroupProcs: [] }, 'enter: request.cgroupDir must be a directory when cgroupProcs is empty'],
    ['PID 1 of the host', { pid: 1 }, 'enter: request.pid must be an integer in 2..4194304'],
    ['an unknown field', { ops: [] }, 'enter: request has an unknown field "ops"'],
    ['a seccomp fd below -1', { seccompFd: -2 }, 'enter: request.seccompFd must be an integer in -1..2147483647'],
  ];
  for (const [what, edit, message] of cases) {
    t.throws(() => native().enter({ ...good, ...edit } as typeof good), { name: 'TypeError', message: new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`) }, what);
  }
  t.same(children(), []);
});
