// The escape battery (issue 4): attacks from inside real dynos started with
// ./bin/dynod, as root, each of which must fail. A probe compiled here with gcc
// (fixtures/escape-probe.c) runs each attack in its own child process and prints
// "NAME RESULT DETAIL": an errno name, OK, KILLED:SIG, READ:N, COUNT:N, EUID:N...
// One assertion per attack and per user (the dyno user, and --user root where
// the attack could work for root), each naming what the attack got. Then the
// host is checked for what must not have changed: its mounts, hostname, clock,
// files, sentinel processes, System V IPC, loopback.
//
// The summary line is `escape battery: N attacks, K succeeded` (N counts every
// attack run, dyno and root separately).
import t, { type Test } from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnDynod, type Result, type RunOpts, type Running } from '../helpers/dynod';
import { ia32Baseline, type Ia32Baseline } from '../helpers/abi';
import {
  COMMON, DYNO_ONLY, DYNO_UID, PROBE_SRC, ROOT_ONLY, X64, notFound, oneOf, parse, refused, stayedDyno,
  type Verdict, type Who,
} from './attacks';

const ROOT = path.resolve(__dirname, '..', '..');
const PIDS = 100;

function found(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function whyNot(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) return 'dynod is not built (npm run build)';
  if (!fs.existsSync(path.join(ROOT, 'build', 'Release', 'dynod.node'))) return 'the addon is not built (npx node-gyp rebuild)';
  if (!found('gcc')) return 'needs gcc';
  return undefined;
}

// ---- running dynod -----------------------------------------------------------

const SECRET = `dynod-host-secret-${crypto.randomBytes(8).toString('hex')}`;

/**
 * `dynod ARGS...` through the integration helper (its environment minus what tap injects),
 * plus a secret in dynod's environment that no dyno may ever read.
 */
function start(args: string[], opts: RunOpts = {}): Running {
  return spawnDynod(args, { ...opts, env: { ESCAPE_HOST_SECRET: SECRET, ...opts.env } });
}

function dynod(args: string[], opts: RunOpts = {}): Promise<Result> {
  return start(args, opts).result;
}

/** A wrapper for RunOpts.wrap: `sh -c PREFIX` sets up fds or stdio, then `exec "$@"` runs dynod (same pid). */
const throughShell = (prefix: string) => (argv: string[]) => ['/bin/sh', '-c', `${prefix}; exec "$@"`, 'sh', ...argv];

async function until(fn: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---- judging ------------------------------------------------------------------

interface Outcome {
  attack: string;
  who: Who | 'host';
  line: string;
  /** the attack failed (or the host check passed) */
  failed: boolean;
  /** no result to judge (the probe said nothing): neither failed nor succeeded */
  inconclusive?: boolean;
}
const outcomes: Outcome[] = [];
const hostChecks: Outcome[] = [];


/** One attack's assertion: the result it got is in the message. */
function judge(t: Test, attack: string, who: Who, line: string | undefined, verdict: Verdict, expect: string): void {
  const got = line ?? 'NO RESULT (the probe did not report)';
  const result = got.split(' ')[0]!;
  const failed = line !== undefined && verdict(result, got);
  outcomes.push({ attack, who, line: got, failed, inconclusive: line === undefined });
  t.ok(failed, `${attack} [${who}]: ${got} (attack must fail: ${expect})`);
}

function hostCheck(t: Test, what: string, ok: boolean, detail: string): void {
  hostChecks.push({ attack: what, who: 'host', line: detail, failed: ok });
  t.ok(ok, `host: ${what}: ${detail}`);
}

// ---- the battery ------------------------------------------------------------------

const skip = whyNot();
if (skip) {
  t.plan(0, skip);
} else {
  const t0 = Date.now();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-escape-'));
  fs.chmodSync(base, 0o755);
  const children: ChildProcess[] = [];
  const cleanups: (() => void)[] = [];
  t.teardown(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const f of cleanups.reverse()) {
      try {
        f();
      } catch { /* best effort */ }
    }
    fs.rmSync(base, { recursive: true, force: true });
  });

  // The app: the probe, a setuid-root copy and a copy with file capabilities.
  const app = path.join(base, 'app');
  fs.mkdirSync(app, { mode: 0o755 });
  fs.chmodSync(app, 0o755);
  const probe = path.join(app, 'probe');
  const cc = spawnSync('gcc', ['-O1', '-Wall', '-Wno-format-truncation', '-o', probe, PROBE_SRC], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`gcc failed:\n${cc.stderr}`);
  fs.copyFileSync(probe, path.join(app, 'suid-probe'));
  fs.chmodSync(path.join(app, 'suid-probe'), 0o4755);
  fs.copyFileSync(probe, path.join(app, 'fcap-probe'));
  fs.chmodSync(path.join(app, 'fcap-probe'), 0o755);
  const haveFcap = found('setcap') && spawnSync('setcap', ['cap_sys_admin,cap_dac_override,cap_setuid+ep', path.join(app, 'fcap-probe')]).status === 0;

  // A host-only file (never visible in a dyno) and a host secret file.
  const marker = path.join(base, 'host-only', 'MARKER');
  fs.mkdirSync(path.dirname(marker));
  fs.writeFileSync(marker, 'host\n', { mode: 0o644 });
  const secretFile = path.join(base, 'host-secret');
  fs.writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });

  // Sentinels: host processes the dynos try to kill (one root, one with the dyno's uid).
  const tag = `3599.${crypto.randomInt(100000, 999999)}`;
  const sentinel = spawn('sleep', [tag], { stdio: 'ignore' });
  const sentinel2 = spawn('sleep', [tag], { stdio: 'ignore', uid: DYNO_UID, gid: DYNO_UID });
  children.push(sentinel, sentinel2);
  const startTime = (pid: number) => {
    try {
      return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]!;
    } catch {
      return null;
    }
  };

  // Host listeners: TCP on every address, an abstract unix socket, System V shared memory.
  const servers: net.Server[] = [];
  const listen = (s: net.Server, arg: number | string, host?: string) =>
    new Promise<void>((res, rej) => {
      s.once('error', rej);
      if (host) s.listen(arg as number, host, () => res());
      else s.listen(arg as string, () => res());
    });
  const abstractName = `dynod-escape-${crypto.randomBytes(6).toString('hex')}`;
  let hostPort = 0;
  let hostIp: string | undefined;
  for (const addrs of Object.values(os.networkInterfaces()))
    for (const a of addrs ?? []) if (!hostIp && a.family === 'IPv4' && !a.internal) hostIp = a.address;
  let hostNic = 'eth0';
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) if (addrs?.some((a) => a.address === hostIp)) hostNic = name;
  let shmKey = '';
  let shmId = '';

  const ipcKeys = () => {
    try {
      return fs.readFileSync('/proc/sysvipc/shm', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
    } catch {
      return [];
    }
  };

  // What the host looks like before: compared at the end.
  const mountsBefore = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  const hostnameBefore = os.hostname();
  // The host's clock: wall minus monotonic moves only when CLOCK_REALTIME is stepped. Over the
  // whole battery an NTP step would look like an attack, so the offset is sampled right before
  // and right after each dyno that attacks the clock (settimeofday, clock_settime, adjtimex),
  // and only what moved inside those windows counts.
  const clockOffset = () => Date.now() - performance.now();
  const clockWindows: number[] = [];
  const watchClock = async <T>(run: () => Promise<T>): Promise<T> => {
    const before = clockOffset();
    try {
      return await run();
    } finally {
      clockWindows.push(clockOffset() - before);
    }
  };
  const clockBefore = clockOffset();
  const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
  const etcSnapshot = () =>
    fs.readdirSync('/etc').sort().map((n) => {
      const p = path.join('/etc', n);
      const st = fs.lstatSync(p);
      let extra = '';
      try {
        if (st.isFile()) extra = sha(p);
        else if (st.isSymbolicLink()) extra = fs.readlinkSync(p);
      } catch { /* unreadable */ }
      return `${n} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.size} ${st.mtimeMs} ${extra}`;
    });
  const etcBefore = etcSnapshot();
  const appSnapshot = () => fs.readdirSync(app).sort().map((n) => `${n} ${fs.statSync(path.join(app, n)).mode.toString(8)} ${sha(path.join(app, n))}`);
  const appBefore = appSnapshot();
  const hostInitCmdline = fs.readFileSync('/proc/1/cmdline', 'utf8').replace(/\0/g, '|');
  const initBinary = path.join(ROOT, 'build', 'Release', 'dynod-init');
  const initBefore = fs.existsSync(initBinary) ? sha(initBinary) : '';
  const hostTmpBefore = new Set(fs.readdirSync('/tmp'));
  const corePatternBefore = fs.readFileSync('/proc/sys/kernel/core_pattern', 'utf8');

  const params = () => [
    `hostpid=${sentinel.pid}`, `hostpid2=${sentinel2.pid}`, `marker=${marker}`, `secretrev=${[...SECRET].reverse().join('')}`, `port=${hostPort}`,
    // nic: the bridge the host has while a dyno with egress runs (the dyno's own interface is
    // eth0, a name the host's NIC may share); hostNic when it has another name
    `hostip=${hostIp ?? '192.0.2.254'}`, `abstract=${abstractName}`, `nic=${hostNic === 'eth0' ? 'dynod0' : hostNic}`, `shmkey=${shmKey || '0x64796e6f'}`,
  ];

  const sentinelStart = () => [startTime(sentinel.pid!), startTime(sentinel2.pid!)];
  let sentinelsBefore: (string | null)[] = [];
  let ia32: Ia32Baseline | undefined;
  t.before(async () => {
    const tcp = net.createServer((c) => c.destroy());
    await listen(tcp, 0, '0.0.0.0');
    hostPort = (tcp.address() as net.AddressInfo).port;
    const uds = net.createServer((c) => c.destroy());
    await listen(uds, `\0${abstractName}`);
    servers.push(tcp, uds);
    cleanups.push(() => servers.forEach((s) => s.close()));
    if (found('ipcmk')) {
      const mk = spawnSync('ipcmk', ['-M', '4096', '-p', '0600'], { encoding: 'utf8' });
      shmId = /(\d+)/.exec(mk.stdout)?.[1] ?? '';
      if (shmId) {
        cleanups.push(() => spawnSync('ipcrm', ['-m', shmId]));
        for (const l of fs.readFileSync('/proc/sysvipc/shm', 'utf8').split('\n').slice(1)) {
          const f = l.trim().split(/\s+/);
          if (f[1] === shmId) shmKey = `0x${(Number(f[0]) >>> 0).toString(16)}`;
        }
      }
    }
    await until(() => startTime(sentinel.pid!) !== null && startTime(sentinel2.pid!) !== null, 5000, 'the sentinels');
    sentinelsBefore = sentinelStart();
    // The i386 baseline: the same int $0x80 probe in a dyno without any seccomp filter.
    if (X64) {
      const r = await dynod(['run', '--seccomp', 'unconfined', '--app', app, '--', './probe', 'int80']);
      ia32 = ia32Baseline(r.code === 0 ? parse(r.stdout).get('int80') : `PROBE FAILED exit ${r.code}: ${r.stderr.trim()}`, (res) => res.startsWith('OK '));
    }
  });

  for (const who of ['dyno', 'root'] as const) {
    t.test(`attacks from a default dyno (${who === 'root' ? '--user root' : 'the dyno user'})`, async (t) => {
      const list = [...COMMON, ...(who === 'dyno' ? DYNO_ONLY : ROOT_ONLY)];
      const names = list.map((a) => a.probe);
      const flags = who === 'root' ? ['--user', 'root'] : [];
      const r = await watchClock(() => dynod(['run', ...flags, '--app', app, '-e', `ESCAPE_TAG=${tag}`, '--', './probe', ...params(), ...names, 'pid1_cmdline', 'write_app']));
      t.equal(r.code, 0, `the probe ran to its end (stderr: ${r.stderr.trim()})`);
      const got = parse(r.stdout);
      t.equal(got.get('write_app'), 'OK', 'control: /app is writable (copy-on-write)');
      if (X64) t.notOk(ia32!.unexpected, `control: int $0x80 without a filter gave ${ia32!.result} (OK, or KILLED:SEGV without IA32 emulation)`);
      for (const a of list) {
        if (a.probe === 'host_shm' && !shmKey) continue;
        if (a.probe === 'host_ip' && !hostIp) continue;
        if (a.probe === 'fcap_exec' && !haveFcap) continue;
        if (a.probe === 'int80' && ia32?.skip) {
          // not an attack here: the kernel refuses int $0x80 with or without a filter
          t.pass(`${a.attack} [${who}]: ${got.get(a.probe) ?? 'NO RESULT'} (without a filter: ${ia32.result})`, { skip: ia32.skip });
          continue;
        }
        judge(t, a.attack, who, got.get(a.probe), a.verdict, a.expect);
      }
      judge(t, "see the host's PID 1 as /proc/1", who, got.get('pid1_cmdline'), (res) => res.startsWith('CMDLINE:') && !res.startsWith(`CMDLINE:${hostInitCmdline.slice(0, 40)}`), "PID 1 is the dyno's init");
    });
  }

  t.test('shell tools: unshare -U, nsenter, mount, su, chroot', async (t) => {
    const script = [
      'try() { name=$1; shift; if "$@" >/dev/null 2>/tmp/err; then echo "$name OK"; else echo "$name FAILED $(head -c 200 /tmp/err | tr "\\n" " ")"; fi; }',
      'try unshare_U unshare -U true',
      'try unshare_r unshare -r id -u',
      'try nsenter nsenter -t 1 -a true',
      'try mount_tmpfs mount -t tmpfs none /tmp',
      'ch=$(command -v chroot || ls /usr/sbin/chroot /sbin/chroot 2>/dev/null | head -n 1); [ -n "$ch" ] && try chroot "$ch" / true',
      // su and passwd: setuid-root on the host; with no_new_privs they gain nothing.
      'if command -v su >/dev/null && [ "$(id -u)" != 0 ]; then',
      '  out=$(su root -c "id -u" </dev/null 2>&1); echo "su_root $( [ "$out" = 0 ] && echo OK || echo FAILED ) $out"',
      '  (sleep 1 | su root -c true >/dev/null 2>&1) & sleep 0.3',
      '  for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = su ] && echo "su_euid $(grep ^Uid: $p/status | tr -s "\\t " " ")"; done',
      '  wait',
      'fi',
      'if command -v passwd >/dev/null; then try passwd_d passwd -d root; fi',
      'echo "id $(id -u) $(id -G)"',
    ].join('\n');
    for (const who of ['dyno', 'root'] as const) {
      const flags = who === 'root' ? ['--user', 'root'] : [];
      const r = await dynod(['run', ...flags, '--app', app, '--', 'sh', '-c', script]);
      t.equal(r.code, 0, r.stderr);
      const got = parse(r.stdout);
      const failedTool = (res: string) => res === 'FAILED';
      judge(t, '`unshare -U` (a user namespace)', who, got.get('unshare_U'), failedTool, 'unshare fails');
      judge(t, '`unshare -r` (root in a new user namespace)', who, got.get('unshare_r'), failedTool, 'unshare fails');
      judge(t, '`nsenter -t 1 -a`', who, got.get('nsenter'), failedTool, 'nsenter fails');
      judge(t, '`mount -t tmpfs`', who, got.get('mount_tmpfs'), failedTool, 'mount fails');
      if (got.has('chroot')) judge(t, '`chroot /`', who, got.get('chroot'), failedTool, 'chroot fails');
      if (who === 'dyno' && got.has('su_root')) {
        judge(t, '`su root -c id` (setuid-root /usr/bin/su)', who, got.get('su_root'), failedTool, 'su fails');
        judge(t, 'a running setuid su keeps the dyno uid', who, got.get('su_euid') ?? 'Uid: (su exited first)',
          (_r, l) => l.includes(`Uid: ${DYNO_UID} ${DYNO_UID} ${DYNO_UID} ${DYNO_UID}`) || l.includes('exited first'), `Uid: ${DYNO_UID} x4`);
      }
      if (who === 'dyno' && got.has('passwd_d')) judge(t, '`passwd -d root` (setuid-root passwd)', who, got.get('passwd_d'), failedTool, 'passwd fails');
      t.equal(got.get('id'), who === 'root' ? '0 0' : `${DYNO_UID} ${DYNO_UID}`, 'the identity inside');
    }
  });

  for (const who of ['dyno', 'root'] as const) {
    t.test(`a fork loop stops at the process limit (${who})`, async (t) => {
      const flags = who === 'root' ? ['--user', 'root'] : [];
      const r = await dynod(['run', ...flags, '--pids', String(PIDS), '--app', app, '--', './probe', 'forkbomb']);
      t.equal(r.code, 0, r.stderr);
      judge(t, `fork past pids.max (--pids ${PIDS})`, who, parse(r.stdout).get('forkbomb'), (res, l) => {
        const n = Number(/^COUNT:(\d+)/.exec(res)?.[1] ?? NaN);
        return n < PIDS && /EAGAIN/.test(l);
      }, `COUNT < ${PIDS}, EAGAIN`);
    });
  }

  t.test("another dyno's processes, files, /tmp, loopback port, abstract socket and IPC are out of reach", async (t) => {
    const port = 20000 + crypto.randomInt(0, 20000);
    const aTag = `dyno-a-${crypto.randomBytes(6).toString('hex')}`;
    const aAbstract = `dynod-escape-a-${crypto.randomBytes(6).toString('hex')}`;
    const aShm = `0x${crypto.randomInt(0x10000000, 0x7fffffff).toString(16)}`;
    const aParams = [`port=${port}`, `abstract=${aAbstract}`, `shmkey=${aShm}`];
    const a = start(['run', '--app', app, '--', './probe', ...aParams, `label=${aTag}`, 'serve'], { timeoutMs: 90_000 });
    children.push(a.child);
    await until(() => a.stdoutSoFar().includes('READY') || a.child.exitCode !== null, 20_000, 'dyno A');
    t.match(a.stdoutSoFar(), /serve READY tcp=1 uds=1 shm=1 self_tcp=1 self_uds=1/, 'control: dyno A listens and reaches its own port and socket');

    const peek = ['peek_tmp', 'peek_app', 'peek_shm', 'peek_tcp', 'peek_uds', 'peek_sysv', 'find_tag'];
    for (const who of ['dyno', 'root'] as const) {
      const flags = who === 'root' ? ['--user', 'root'] : [];
      // Last, kill(-1, SIGKILL): everything this dyno can signal.
      const r = await dynod(['run', ...flags, '--app', app, '-e', `ESCAPE_TAG=${aTag}`, '--', 'sh', '-c',
        `./probe ${aParams.join(' ')} ${peek.join(' ')}; sleep 30 & bg=$!; kill -9 -1; sleep 0.1; if kill -0 $bg 2>/dev/null; then echo "bg alive"; else echo "bg killed"; fi`]);
      const got = parse(r.stdout);
      await new Promise((res) => setTimeout(res, 200)); // time for dyno A to end, had it been hit
      judge(t, "see dyno A's /tmp", who, got.get('peek_tmp'), refused(), 'ENOENT');
      judge(t, "see dyno A's writes to the shared app dir", who, got.get('peek_app'), refused(), 'ENOENT');
      judge(t, "see dyno A's /dev/shm", who, got.get('peek_shm'), refused(), 'ENOENT');
      judge(t, "connect to dyno A's 127.0.0.1 port", who, got.get('peek_tcp'), refused(), 'ECONNREFUSED');
      judge(t, "connect to dyno A's abstract unix socket", who, got.get('peek_uds'), refused(), 'ECONNREFUSED');
      judge(t, "attach dyno A's System V shared memory", who, got.get('peek_sysv'), refused(), 'ENOENT');
      judge(t, "see dyno A's processes", who, got.get('find_tag'), notFound, 'NOTFOUND');
      judge(t, 'kill(-1, SIGKILL) reaches dyno A', who, a.child.exitCode === null && a.child.signalCode === null ? 'ALIVE dyno A survived' : `DEAD dyno A ended (${a.child.exitCode ?? a.child.signalCode})`, (r) => r === 'ALIVE', 'dyno A survives');
      t.equal(got.get('bg'), 'killed', "control: kill -9 -1 did kill the dyno's own other processes");
    }
    // From the host: none of A's traces is here either.
    hostCheck(t, "dyno A's /app write stays in the dyno", !fs.existsSync(path.join(app, 'escape-dyno-a')), path.join(app, 'escape-dyno-a'));
    hostCheck(t, "dyno A's /tmp and /dev/shm stay in the dyno", !fs.existsSync('/tmp/escape-dyno-a') && !fs.existsSync('/dev/shm/escape-dyno-a'), '/tmp/escape-dyno-a, /dev/shm/escape-dyno-a');
    hostCheck(t, "dyno A's System V segment stays in its IPC namespace", !ipcKeys().some((k) => (Number(k) >>> 0) === Number(aShm)), `key ${aShm}`);
    const reach = await new Promise<string>((res) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => { s.destroy(); res('connected'); });
      s.on('error', (e: NodeJS.ErrnoException) => res(e.code ?? 'error'));
    });
    hostCheck(t, "dyno A's 127.0.0.1 port is not the host's", reach !== 'connected', reach);

    a.child.kill('SIGTERM');
    const ra = await a.result;
    t.ok(ra.code !== null || ra.signal !== null, `dyno A stopped (${ra.code ?? ra.signal})`);
  });

  t.test('host file descriptors never reach the dyno', async (t) => {
    // fd 8: the host's root directory, fd 9: a root-only host file, opened without
    // O_CLOEXEC by the shell that execs dynod.
    const shell = [
      `./probe marker=${marker} leaked_fds fd_cwd`,
      'if cat <&9 >/dev/null 2>&1; then echo "fd9 OK read"; else echo "fd9 EBADF"; fi',
      'if (cd -P /proc/self/fd/8 2>/dev/null); then echo "fd8 OK entered"; else echo "fd8 ENOENT"; fi',
      // CVE-2024-21626 by hand: cd into every /proc/self/fd/N, cd .. many times, look around.
      'esc=NOTFOUND; for n in /proc/self/fd/*; do',
      `  if (cd -P "$n" 2>/dev/null && for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do cd -P .. 2>/dev/null; done; test -e "./${marker.slice(1)}" || test -e ./work || test -e ./root/.bashrc); then esc="FOUND $n"; fi`,
      'done; echo "cd_fds $esc"',
    ].join('\n');
    const r = await dynod(['run', '--app', app, '--', 'sh', '-c', shell], { wrap: throughShell(`exec 8</ 9<${JSON.stringify(secretFile)}`) });
    t.equal(r.code, 0, r.stderr);
    const got = parse(r.stdout);
    judge(t, 'list fds above 2 handed down by the shell that started dynod', 'dyno', got.get('leaked_fds'), oneOf('NONE'), 'NONE');
    judge(t, "read a root-only host file through dynod's inherited fd 9", 'dyno', got.get('fd9'), refused(), 'EBADF');
    judge(t, "cd into the host's / through dynod's inherited fd 8", 'dyno', got.get('fd8'), refused(), 'ENOENT');
    judge(t, 'chdir into every fd, cwd and root link, then climb (with host fds on offer)', 'dyno', got.get('fd_cwd'), notFound, 'NOTFOUND');
    judge(t, '`cd /proc/self/fd/N; cd ..` x16 for every N (CVE-2024-21626 by hand)', 'dyno', got.get('cd_fds'), notFound, 'NOTFOUND');
  });

  t.test("a host directory on dynod's stdio", async (t) => {
    // dynod hands its stdio to the dyno as they are: a directory there is a way
    // out through /proc/self/fd/N, exactly like a leaked fd (CVE-2024-21626).
    // dynod refuses such stdio (exit 125, before the command runs): that counts as the attack failing.
    const refusedOr = (r: { code: number | null; stdout: string }) => (r.code === 125 ? 'REFUSED exit 125' : parse(r.stdout).get('fd_cwd'));
    const notFoundOrRefused: Verdict = (result, got) => result === 'REFUSED' || notFound(result, got);
    const r = await dynod(['run', '--app', app, '--', './probe', `marker=${marker}`, 'fd_cwd'], { wrap: throughShell('exec 2</') });
    judge(t, "a host directory as dynod's stderr: chdir /proc/self/fd/2, climb", 'dyno', refusedOr(r), notFoundOrRefused, 'NOTFOUND (or dynod refuses the directory)');
    const r2 = await dynod(['run', '-i', '--no-tty', '--app', app, '--', './probe', `marker=${marker}`, 'fd_cwd'], { wrap: throughShell('exec 0</') });
    judge(t, "a host directory as dynod's stdin (-i): chdir /proc/self/fd/0, climb", 'dyno', refusedOr(r2), notFoundOrRefused, 'NOTFOUND (or dynod refuses the directory)');
  });

  if (found('script')) {
    /** dynod under script(1): a terminal on its stdin; after dynod, the host side reads that terminal for a second. */
    const inTerminal = (argv: string[]) => ['script', '-qec', `${argv.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')}; read -t 1 l; echo "HOSTGOT:$l"`, '/dev/null'];
    t.test('TIOCSTI on the dyno terminal stays in the dyno', async (t) => {
      // script gives dynod a terminal; the dyno pushes a line into its own terminal's
      // input. After the dyno, the host side reads its terminal: nothing may be there.
      const r = await dynod(['run', '-i', '--app', app, '--', './probe', 'tiocsti_inject'], {
        wrap: inTerminal,
        keepStdinOpen: true,
      });
      const host = /HOSTGOT:(.*)/.exec(r.stdout)?.[1]?.trim() ?? 'NO RESULT';
      t.comment(`inside: ${/tiocsti_inject (.*)/.exec(r.stdout)?.[1]?.trim() ?? '(no result)'}`);
      judge(t, "TIOCSTI into the dyno's terminal reaches the host's terminal input", 'dyno', host === '' ? 'EMPTY nothing reached the host' : `OK host read: ${host}`, (res) => res === 'EMPTY', 'nothing reaches the host');

      // -i --no-tty hands the host's terminal itself to the dyno: make it the controlling
      // terminal (TIOCSCTTY), then push a command line into the operator's shell.
      for (const who of ['dyno', 'root'] as const) {
        const flags = who === 'root' ? ['--user', 'root'] : [];
        const r2 = await dynod(['run', ...flags, '-i', '--no-tty', '--app', app, '--', './probe', 'tiocsti_steal'], {
          wrap: inTerminal,
          keepStdinOpen: true,
        });
        const inside = parse(r2.stdout.replace(/\r/g, '')).get('tiocsti_steal');
        judge(t, "TIOCSCTTY + TIOCSTI on the host's terminal (-i --no-tty)", who, inside, refused(), 'EPERM');
        const host2 = /HOSTGOT:(.*)/.exec(r2.stdout)?.[1]?.trim() ?? 'NO RESULT';
        judge(t, "a line pushed into the host's terminal (-i --no-tty) reaches the host", who, host2 === '' ? 'EMPTY nothing reached the host' : `OK host read: ${host2}`, (res) => res === 'EMPTY', 'nothing reaches the host');
      }
    });
  }

  t.test("--app through .. or a symlink: the host's tree stays untouched", async (t) => {
    const depth = base.split('/').filter(Boolean).length;
    const dotdot = path.join(base, 'sub') + '/' + '../'.repeat(depth + 1) + 'etc';
    fs.mkdirSync(path.join(base, 'sub'));
    const link = path.join(base, 'etc-link');
    fs.symlinkSync('/etc', link);
    const vandal = [
      'echo pwned >> /app/passwd', 'touch /app/escape-new', 'rm -f /app/hostname', 'chmod 777 /app/shadow /app/passwd',
      'mkdir /app/escape-dir', 'ln -sf / /app/escape-link', 'mv /app/hosts /app/hosts-moved',
      'tail -n 1 /app/passwd', 'ls /app/escape-new /app/hosts-moved',
    ].map((c) => `${c} 2>/dev/null;`).join(' ');
    for (const [label, dir] of [['..', dotdot], ['symlink', link]] as const) {
      for (const who of ['dyno', 'root'] as const) {
        const flags = who === 'root' ? ['--user', 'root'] : [];
        const r = await dynod(['run', ...flags, '--app', dir, '--', 'sh', '-c', vandal]);
        if (r.stderr.includes('does not support idmapped mounts')) {
          // /etc on a filesystem without idmapped mounts (the VM's overlay root): dynod keeps
          // the host's ownership, so the writes are refused inside; the host must still be untouched.
          t.not(r.stdout, 'pwned\n/app/escape-new\n/app/hosts-moved\n', 'without idmapping, root-owned files stay unwritable');
        } else {
          t.equal(r.code, 0, `--app ${dir} runs (${r.stderr.trim()})`);
          t.equal(r.stdout, 'pwned\n/app/escape-new\n/app/hosts-moved\n', 'control: inside, the writes took (copy-on-write)');
        }
        const after = etcSnapshot();
        const changed = after.filter((l) => !etcBefore.includes(l)).concat(etcBefore.filter((l) => !after.includes(l)));
        judge(t, `write, delete, chmod, rename in /app = the host's /etc (--app via ${label})`, who, changed.length === 0 ? 'UNCHANGED host /etc' : `CHANGED ${changed.join('; ')}`, (res) => res === 'UNCHANGED', "host /etc unchanged");
      }
    }
  });

  t.test('--rootfs with symlinks that point out of it', async (t) => {
    // Each top-level dir dynod mounts on or writes into, as a symlink to the host's /.
    for (const d of ['etc', 'app', 'tmp', 'proc', 'sys', 'dev']) {
      const rootfs = path.join(base, `rootfs-${d}`);
      fs.mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
      fs.symlinkSync(d === 'tmp' ? '../../../../../../..' : '/', path.join(rootfs, d));
      const r = await dynod(['run', '--rootfs', rootfs, '--', '/bin/true']);
      judge(t, `--rootfs whose /${d} is a symlink out of it`, 'dyno', r.code === 125 ? `REFUSED exit 125: ${r.stderr.trim()}` : `RAN exit ${r.code}: ${r.stderr.trim()}`, (res) => res === 'REFUSED', 'exit 125');
    }

    // /etc/hostname, hosts and resolv.conf (which dynod writes) as symlinks to a host file.
    const staticProbe = path.join(base, 'probe-static');
    const cc = spawnSync('gcc', ['-static', '-O1', '-Wno-format-truncation', '-o', staticProbe, PROBE_SRC], { encoding: 'utf8' });
    const victim = path.join(base, 'victim');
    fs.writeFileSync(victim, 'victim\n', { mode: 0o644 });
    const rootfs = path.join(base, 'rootfs-links');
    fs.mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
    fs.symlinkSync(victim, path.join(rootfs, 'etc', 'hostname'));
    fs.symlinkSync('../'.repeat(12) + victim.slice(1), path.join(rootfs, 'etc', 'hosts'));
    fs.symlinkSync(victim, path.join(rootfs, 'etc', 'resolv.conf'));
    fs.mkdirSync(path.join(rootfs, 'bin'));
    if (cc.status === 0) fs.copyFileSync(staticProbe, path.join(rootfs, 'bin', 'probe'));
    const r = await dynod(['run', '--user', 'root', '--rootfs', rootfs, '--', '/bin/probe', 'write_etc_files']);
    t.comment(`in the dyno: ${r.stdout.trim()}`);
    if (!r.stdout.includes('write_etc_files')) t.comment(`inconclusive half: the --rootfs dyno did not start (exit ${r.code}: ${r.stderr.trim()}); the host file is still checked`);
    judge(t, "--rootfs whose /etc/hostname, hosts, resolv.conf are symlinks to a host file: dynod's writes and the dyno's", 'dyno',
      fs.readFileSync(victim, 'utf8') === 'victim\n' ? 'UNCHANGED the host file' : `CHANGED the host file: ${JSON.stringify(fs.readFileSync(victim, 'utf8'))}`, (res) => res === 'UNCHANGED', 'host file unchanged');

    // A setuid-root binary inside a --rootfs (not nosuid there: only no_new_privs stands in the way).
    if (cc.status === 0) {
      const rfs = path.join(base, 'rootfs-suid');
      fs.mkdirSync(path.join(rfs, 'bin'), { recursive: true });
      fs.copyFileSync(staticProbe, path.join(rfs, 'bin', 'probe'));
      fs.chmodSync(path.join(rfs, 'bin', 'probe'), 0o755);
      fs.copyFileSync(staticProbe, path.join(rfs, 'bin', 'suid'));
      fs.chmodSync(path.join(rfs, 'bin', 'suid'), 0o4755);
      for (const who of ['dyno', 'root'] as const) {
        const flags = who === 'root' ? ['--user', 'root'] : [];
        const rr = await dynod(['run', ...flags, '--rootfs', rfs, '--', '/bin/probe', 'suid=/bin/suid', `marker=${marker}`, who === 'root' ? 'suid_drop_exec' : 'suid_exec', 'fd_cwd', 'dotdot']);
        t.equal(rr.code, 0, rr.stderr);
        const got = parse(rr.stdout);
        judge(t, 'exec a setuid-root binary of a --rootfs' + (who === 'root' ? ' after dropping to the dyno user' : ''), who, got.get(who === 'root' ? 'suid_drop_exec' : 'suid_exec'), stayedDyno, `EUID:${DYNO_UID} CAPEFF:0`);
        judge(t, 'climb out of a --rootfs through fds and ..', who, got.get('fd_cwd'), notFound, 'NOTFOUND');
      }
    } else {
      t.comment(`no static libc (gcc -static failed): the setuid --rootfs attack is skipped\n${cc.stderr}`);
    }
  });

  t.test('the host is unchanged', async (t) => {
    const [s1, s2] = sentinelStart();
    hostCheck(t, 'the root sentinel process is alive', s1 !== null && s1 === sentinelsBefore[0], `pid ${sentinel.pid}`);
    hostCheck(t, `the uid ${DYNO_UID} sentinel process is alive`, s2 !== null && s2 === sentinelsBefore[1], `pid ${sentinel2.pid}`);
    const mountsAfter = fs.readFileSync('/proc/self/mountinfo', 'utf8');
    const added = mountsAfter.split('\n').filter((l) => l && !mountsBefore.includes(l));
    const removed = mountsBefore.split('\n').filter((l) => l && !mountsAfter.includes(l));
    hostCheck(t, 'no mount appeared or went away in the host', added.length === 0 && removed.length === 0, `added ${JSON.stringify(added)} removed ${JSON.stringify(removed)}`);
    hostCheck(t, 'the hostname', os.hostname() === hostnameBefore, os.hostname());
    const worst = clockWindows.reduce((w, d) => (Math.abs(d) > Math.abs(w) ? d : w), 0);
    hostCheck(t, 'the clock (wall minus monotonic, while the clock-attacking dynos ran)', clockWindows.length > 0 && Math.abs(worst) < 1000,
      `${clockWindows.length} windows, largest step ${worst.toFixed(1)} ms`);
    t.comment(`wall minus monotonic over the whole battery moved ${(clockOffset() - clockBefore).toFixed(1)} ms (not judged: NTP may step it meanwhile)`);
    hostCheck(t, 'the host-only marker and the secret file', fs.readFileSync(marker, 'utf8') === 'host\n' && fs.readFileSync(secretFile, 'utf8') === `${SECRET}\n`, marker);
    const etcAfter = etcSnapshot();
    hostCheck(t, '/etc', etcAfter.join('\n') === etcBefore.join('\n'), etcAfter.filter((l) => !etcBefore.includes(l)).join('; ') || 'unchanged');
    const appAfter = appSnapshot();
    hostCheck(t, 'the app dir (copy-on-write)', appAfter.join('\n') === appBefore.join('\n'), appAfter.filter((l) => !appBefore.includes(l)).join('; ') || 'unchanged');
    const strays = ['/escape-probe', '/usr/escape-probe', '/usr/lib/escape-probe', '/etc/escape-probe', '/sys/kernel/escape-probe'].filter((p) => fs.existsSync(p));
    hostCheck(t, 'no file the attacks tried to create', strays.length === 0, strays.join(' ') || 'none');
    const newTmp = fs.readdirSync('/tmp').filter((n) => !hostTmpBefore.has(n) && /escape|pwned/.test(n));
    hostCheck(t, "nothing from a dyno in the host's /tmp", newTmp.length === 0, newTmp.join(' ') || 'none');
    if (initBefore) hostCheck(t, 'dynod-init on disk', sha(initBinary) === initBefore, initBinary);
    if (shmKey) hostCheck(t, "the host's System V segment", ipcKeys().some((k) => (Number(k) >>> 0) === Number(shmKey)), shmKey);
    hostCheck(t, 'kernel.core_pattern', fs.readFileSync('/proc/sys/kernel/core_pattern', 'utf8') === corePatternBefore, fs.readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim());
  });

  t.test('summary', async (t) => {
    const succeeded = outcomes.filter((o) => !o.failed && !o.inconclusive);
    const inconclusive = outcomes.filter((o) => o.inconclusive);
    const broken = hostChecks.filter((o) => !o.failed);
    const n = outcomes.length;
    const k = succeeded.length + broken.length;
    const distinct = new Set(outcomes.map((o) => o.attack)).size;
    let line = `escape battery: ${n} attacks, ${k} succeeded`;
    if (k) line += `: ${[...succeeded.map((o) => `${o.attack} [${o.who}] (${o.line})`), ...broken.map((o) => `host: ${o.attack} changed (${o.line})`)].join('; ')}`;
    t.comment(line);
    if (inconclusive.length) t.comment(`${inconclusive.length} inconclusive (no result): ${inconclusive.map((o) => `${o.attack} [${o.who}]`).join('; ')}`);
    t.comment(`${distinct} distinct attacks, ${n} runs (dyno user and --user root), ${hostChecks.length} host checks, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    process.stderr.write(`${line}\n`);
    t.ok(n >= 40, `at least 40 attacks (${n})`);
    t.equal(inconclusive.length, 0, 'every attack reported a result');
    t.equal(k, 0, line);
  });
}
