// Seccomp, for real (root): the default filter is compiled by the addon, handed to
// dynod-init as fd 4 exactly as a dyno start does, and loaded by dynod-init as the
// last step before exec. A probe compiled here with gcc then tries each denied
// class of syscalls and reports the errno it got: EPERM for what the profile
// refuses, ENOSYS for clone3 and for syscalls newer than the profile, a SIGSYS
// kill for other architectures' syscalls. Ordinary programs must still work.
//
// dynod-init runs in a new PID namespace (unshare --pid --fork) as it would in a
// dyno, so its signal forwarding (kill(-1, sig) as PID 1) cannot reach the host.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { ROOT_CAPS } from '../../src/dyno/compile';
import { DYNO_USER } from '../../src/dyno/plan';
import { DynodError } from '../../src/errors';
import { ALLOWED, DEFAULT_PROFILE, compileFilter, defaultFilter, parseProfile, seccompFdFor, type SeccompCaps } from '../../src/seccomp';
import { ia32Baseline, type Ia32Baseline } from '../helpers/abi';

const ROOT = path.resolve(__dirname, '..', '..');
const INIT = path.join(ROOT, 'build', 'Release', 'dynod-init');
const PROBE_SRC = path.join(__dirname, 'fixtures', 'seccomp-probe.c');
const X64 = process.arch === 'x64';
const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/tmp', LANG: 'C.UTF-8' };

function found(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function whyNot(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!fs.existsSync(INIT)) return 'dynod-init is not built (npx node-gyp rebuild)';
  for (const cmd of ['gcc', 'unshare']) if (!found(cmd)) return `needs ${cmd}`;
  return undefined;
}

interface InitRecord {
  kind: number;
  err: number;
  tNs: bigint;
  step: string;
  syscall: string;
  detail: string;
}

interface InitRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  records: InitRecord[];
}

/** channel.h's Record: kind u32, err i32, t_ns u64, step[96], syscall[32], detail[128]. */
function parseRecords(b: Buffer): InitRecord[] {
  const out: InitRecord[] = [];
  const str = (at: number, len: number) => b.subarray(at, at + len).toString('utf8').replace(/\0[\s\S]*$/, '');
  for (let i = 0; i + 272 <= b.length; i += 272)
    out.push({ kind: b.readUInt32LE(i), err: b.readInt32LE(i + 4), tNs: b.readBigUInt64LE(i + 8), step: str(i + 16, 96), syscall: str(i + 112, 32), detail: str(i + 144, 128) });
  return out;
}

/** dynod-init as a dyno starts it, with `fd` as its seccomp program (-1: none). */
function runInit(fd: number, who: SeccompCaps, command: string[], opts: { trace?: boolean; timeoutMs?: number } = {}): Promise<InitRun> {
  const [uid, gid, caps] = who === 'root' ? [0, 0, ROOT_CAPS] : [DYNO_USER.uid, DYNO_USER.gid, 0n];
  const argv = [
    '--pid', '--fork', '--kill-child', '--', INIT, '--chan-fd=3', `--uid=${uid}`, `--gid=${gid}`, '--umask=022', '--cwd=/', '--tty=0',
    '--rows=0', '--cols=0', `--trace=${opts.trace ? 1 : 0}`, `--caps=${caps.toString(16)}`, `--seccomp-fd=${fd >= 0 ? 4 : -1}`, '--', ...command,
  ];
  // env -i: tap's processinfo would put its loader back into NODE_OPTIONS of any child it sees.
  const env = Object.entries(ENV).map(([k, v]) => `${k}=${v}`);
  const child = spawn('/usr/bin/env', ['-i', ...env, 'unshare', ...argv], { stdio: ['ignore', 'pipe', 'pipe', 'pipe', fd >= 0 ? fd : 'ignore'] });
  const out: Buffer[] = [], err: Buffer[] = [], chan: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => err.push(d));
  (child.stdio[3] as Readable).on('data', (d: Buffer) => chan.push(d));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), records: parseRecords(Buffer.concat(chan)) });
    });
  });
}

function probeResults(stdout: string): Record<string, string> {
  return Object.fromEntries(stdout.trim().split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
}

const DENIED_EPERM = [
  'mount', 'umount2', 'pivot_root', 'chroot', 'unshare', 'setns', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'move_mount',
  'open_tree', 'open_tree_attr', 'mount_setattr', 'keyctl', 'add_key', 'request_key', 'bpf', 'perf_event_open',
  'userfaultfd', 'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'reboot', 'swapon',
  'swapoff', 'acct', 'settimeofday', 'clock_settime', 'clock_adjtime', 'adjtimex', 'open_by_handle_at', 'quotactl',
  'syslog', 'ptrace', 'process_vm_readv', 'kcmp', 'pidfd_getfd', 'sethostname', 'io_uring_setup', 'io_uring_enter',
  'io_uring_register', 'personality_no_aslr', 'personality_high_bits', 'clone_newuser', 'clone_newns', 'clone_newnet',
  'clone_newpid', 'clone_newcgroup', 'socket_alg', 'socket_vsock', 'socket_alg_high_bits', 'socket_vsock_high_bits',
  'socket_unix_high_bits', 'listns', ...(X64 ? ['iopl', 'ioperm', 'modify_ldt'] : []),
];
const ENOSYS = ['clone3', 'newer_471', 'newer_1000'];
const OK = ['personality_query', 'personality_linux', 'getpid', 'memfd_create', 'clone', 'clone_thread_flags', 'socket_unix', 'socket_inet', 'socket_inet6', 'socket_netlink'];
/** Allowed: what the kernel says (module loaded or not, no such file) but never a seccomp answer. */
const KERNEL_DECIDES = ['socket_39', 'socket_41', 'socket_45'];
/** Allowed, but newer than some kernels we run on (fchmodat2: Linux 6.6; the VM's is 6.1), so ENOSYS may be the kernel's own answer. */
const NOT_REFUSED = ['statmount', 'mseal', 'fchmodat2'];
/** Another ABI's syscall: the filter kills the process (SIGSYS). i386 only where the kernel runs it at all (ia32Baseline). */
const KILLED = X64 ? ['x32_getpid', 'i386_getpid'] : [];

const skip = whyNot();
if (skip) {
  t.plan(0, skip);
} else {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-seccomp-'));
  fs.chmodSync(dir, 0o755);
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const PROBE = path.join(dir, 'probe');
  const cc = spawnSync('gcc', ['-O1', '-Wall', '-o', PROBE, PROBE_SRC], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`gcc failed:\n${cc.stderr}`);

  // The i386 baseline: the same int $0x80 probe under dynod-init with no filter at all.
  let ia32: Ia32Baseline | undefined;
  if (X64) {
    t.before(async () => {
      const r = await runInit(-1, 'dyno', [PROBE, 'i386_getpid']);
      ia32 = ia32Baseline(r.code === 0 ? probeResults(r.stdout).i386_getpid : `PROBE FAILED exit ${r.code}: ${r.stderr}`, (res) => res === 'EXIT:0');
    });
  }

  for (const who of ['dyno', 'root'] as const) {
    t.test(`default filter (${who}): each denied class gets its errno`, async (t) => {
      const fd = seccompFdFor(undefined, who);
      const r = await runInit(fd, who, [PROBE]);
      t.equal(r.code, 0, r.stderr);
      t.same(r.records, [], 'dynod-init reported no failure');
      const got = probeResults(r.stdout);
      for (const name of DENIED_EPERM) t.equal(got[name], 'EPERM', `${name}: EPERM`);
      for (const name of ENOSYS) t.equal(got[name], 'ENOSYS', `${name}: ENOSYS`);
      for (const name of OK) t.equal(got[name], 'OK', `${name}: allowed`);
      for (const name of KERNEL_DECIDES) t.notOk(['EPERM', 'ENOSYS'].includes(got[name] ?? 'EPERM'), `${name}: allowed (${got[name]})`);
      for (const name of NOT_REFUSED) t.not(got[name], 'EPERM', `${name}: allowed (${got[name]})`);
      for (const name of KILLED) {
        if (name === 'i386_getpid' && ia32?.skip) t.pass(`${name}: another ABI kills the process (without a filter: ${ia32.result})`, { skip: ia32.skip });
        else t.equal(got[name], 'KILLED:SYS', `${name}: another ABI kills the process`);
      }
    });
  }

  t.test('without a filter the same probes are not refused (the filter makes the difference)', async (t) => {
    const r = await runInit(-1, 'dyno', [PROBE, 'clone3', 'personality_no_aslr', 'personality_high_bits', 'socket_unix_high_bits', 'x32_getpid']);
    t.equal(r.code, 0, r.stderr);
    const got = probeResults(r.stdout);
    t.equal(got.clone3, 'OK');
    t.equal(got.personality_no_aslr, 'OK');
    t.equal(got.personality_high_bits, 'OK', 'the kernel reads only the low 32 bits');
    t.equal(got.socket_unix_high_bits, 'OK', 'the kernel reads only the low 32 bits');
    if (X64) t.notOk(got.x32_getpid!.startsWith('KILLED'), got.x32_getpid);
    if (X64) {
      // measured in t.before; an i386 syscall either works or (no IA32 emulation) is a SIGSEGV
      t.notOk(ia32!.unexpected, `i386_getpid without a filter: ${ia32!.result} (EXIT:0, or KILLED:SEGV without IA32 emulation)`);
      if (ia32!.skip) t.comment(`i386 checks skipped: ${ia32!.skip}`);
      else t.equal(ia32!.result, 'EXIT:0', 'i386_getpid: the kernel runs int $0x80 without a filter');
    }
  });

  t.test('ordinary programs work under the default filter', async (t) => {
    const fd = seccompFdFor(undefined, 'dyno');
    const worker = path.join(dir, 'worker.js');
    fs.writeFileSync(worker, `
      const { Worker, isMainThread, parentPort } = require('node:worker_threads');
      if (isMainThread) {
        const w = new Worker(__filename);
        w.on('message', (m) => console.log('worker says', m));
        require('node:crypto').scrypt('pw', 'salt', 16, (e, k) => console.log('scrypt', e ? e.code : k.length));
        require('node:fs').promises.readFile('/etc/hostname').then(() => console.log('fs ok'));
        require('node:child_process').execFile('/bin/echo', ['child ok'], (e, out) => console.log(e ? e.code : out.trim()));
      } else parentPort.postMessage(42);
    `);
    fs.chmodSync(worker, 0o644);
    let r = await runInit(fd, 'dyno', [process.execPath, worker]);
    t.equal(r.code, 0, r.stderr);
    t.same(r.stdout.trim().split('\n').sort(), ['child ok', 'fs ok', 'scrypt 16', 'worker says 42'], 'node: worker_threads, libuv threadpool, child_process');

    r = await runInit(fd, 'dyno', ['/usr/bin/python3', '-c', [
      'import threading, subprocess, socket, ssl, hashlib, multiprocessing',
      'out = []; th = threading.Thread(target=lambda: out.append("thread")); th.start(); th.join()',
      'print(out[0], subprocess.run(["/bin/true"]).returncode, hashlib.sha256(b"x").hexdigest()[:8])',
      'socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).close()',
      'with multiprocessing.Pool(2) as p: print(p.map(abs, [-1, -2]))',
    ].join('\n')]);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, 'thread 0 2d711642\n[1, 2]\n', 'python3: threads, subprocess, multiprocessing');

    r = await runInit(fd, 'dyno', ['/bin/sh', '-c', 'seq 1 1000 | sort -rn | head -n 3 | tr "\\n" " "; echo $((6 * 7)) | cat']);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, '1000 999 998 42\n', 'a shell pipeline');

    r = await runInit(seccompFdFor(undefined, 'root'), 'root', ['/bin/sh', '-c', 'id -u; ls / >/dev/null && echo ls ok']);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, '0\nls ok\n', 'as root');

    if (found('npm')) {
      r = await runInit(fd, 'dyno', ['npm', '--version']);
      t.equal(r.code, 0, r.stderr);
      t.match(r.stdout, /^\d+\.\d+\.\d+\n$/, 'npm --version');
    }

    if (found('curl')) {
      const server = http.createServer((_req, res) => res.end('hello from the host\n'));
      await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
      t.teardown(() => server.close());
      const port = (server.address() as { port: number }).port;
      r = await runInit(fd, 'dyno', ['curl', '-sS', `http://127.0.0.1:${port}/`]);
      t.equal(r.code, 0, r.stderr);
      t.equal(r.stdout, 'hello from the host\n', 'curl over TCP');
    }
  });

  t.test('ENOSYS for syscalls newer than the profile, EPERM for those it knows', async (t) => {
    // Cut the default profile back to Linux 5.18: nothing named above process_mrelease (448).
    const newer = new Set(['futex_waitv', 'set_mempolicy_home_node', 'cachestat', 'fchmodat2', 'map_shadow_stack', 'futex_wake', 'futex_wait',
      'futex_requeue', 'statmount', 'listmount', 'lsm_get_self_attr', 'lsm_list_modules', 'mseal', 'setxattrat', 'getxattrat',
      'listxattrat', 'removexattrat', 'file_getattr', 'file_setattr']);
    const old = {
      ...DEFAULT_PROFILE,
      syscalls: [
        { names: ALLOWED.filter((n) => !newer.has(n)), action: 'SCMP_ACT_ALLOW' },
        ...DEFAULT_PROFILE.syscalls.slice(1, -1),
      ],
    };
    const fd = compileFilter(parseProfile(old, { caps: [] }));
    t.teardown(() => fs.closeSync(fd));
    const r = await runInit(fd, 'dyno', [PROBE, 'fchmodat2', 'open_tree_attr', 'mount', 'io_uring_setup', 'getpid']);
    t.equal(r.code, 0, r.stderr);
    t.same(probeResults(r.stdout), { fchmodat2: 'ENOSYS', open_tree_attr: 'ENOSYS', mount: 'EPERM', io_uring_setup: 'EPERM', getpid: 'OK' });
  });

  t.test('a profile file (Docker format), cached until it changes', async (t) => {
    const file = path.join(dir, 'allow-most.json');
    const write = (errno: number) => fs.writeFileSync(file, JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mount', 'getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: errno }],
    }));
    write(13);
    const fd = seccompFdFor(file, 'dyno');
    t.equal(seccompFdFor(file, 'dyno'), fd, 'cached');
    let r = await runInit(fd, 'dyno', [PROBE, 'mount', 'getpid', 'clone3']);
    t.equal(r.code, 0, r.stderr);
    t.same(probeResults(r.stdout), { mount: 'EACCES', getpid: 'EACCES', clone3: 'OK' }, 'an allow-by-default profile: no ENOSYS stub');
    write(95);
    fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const fd2 = seccompFdFor(file, 'dyno');
    t.not(fd2, fd, 'recompiled');
    r = await runInit(fd2, 'dyno', [PROBE, 'getpid']);
    t.same(probeResults(r.stdout), { getpid: 'EOPNOTSUPP' });
    t.throws(() => fs.fstatSync(fd), { code: 'EBADF' }, 'the stale program was closed');
  });

  t.test('a broken program reaches dynod as a step error, and the command never runs', async (t) => {
    const tiny = path.join(dir, 'tiny.bpf');
    fs.writeFileSync(tiny, 'abcde');
    let fd = fs.openSync(tiny, 'r');
    let r = await runInit(fd, 'dyno', ['/bin/echo', 'ran']);
    fs.closeSync(fd);
    t.equal(r.code, 125);
    t.equal(r.stdout, '');
    t.match(r.records, [{ kind: 1, err: 22, step: 'load seccomp filter', syscall: 'fstat', detail: 'not a BPF program' }]);

    const bad = path.join(dir, 'bad.bpf');
    fs.writeFileSync(bad, Buffer.from([0xff, 0xff, 0, 0, 0, 0, 0, 0])); // no such BPF opcode
    fd = fs.openSync(bad, 'r');
    r = await runInit(fd, 'dyno', ['/bin/echo', 'ran']);
    fs.closeSync(fd);
    t.equal(r.code, 125);
    t.equal(r.stdout, '');
    t.match(r.records, [{ kind: 1, err: 22, step: 'load seccomp filter', syscall: 'seccomp' }]);
  });

  t.test('compile errors are DynodErrors from the addon', async (t) => {
    const base = { defaultAction: { kind: 'allow' as const, value: 0 }, badArchAction: { kind: 'kill_process' as const, value: 0 }, arches: [] as string[], enosysAboveKnown: false, rules: [] };
    t.throws(() => compileFilter({ ...base, rules: [{ syscall: 'no_such_syscall', action: { kind: 'errno', value: 1 }, args: [] }] }),
      { name: 'DynodError', step: 'compile seccomp filter', code: 'ENOENT', message: /no_such_syscall.*would allow it/ });
    const fd = compileFilter({ ...base, defaultAction: { kind: 'errno', value: 1 }, rules: [{ syscall: 'no_such_syscall', action: { kind: 'allow', value: 0 }, args: [] }] });
    t.ok(fd >= 0, 'an unknown syscall an allow rule names is left out: the default is stricter');
    fs.closeSync(fd);
    t.throws(() => compileFilter({ ...base, arches: ['z80'] }), DynodError);
    t.throws(() => compileFilter({ ...base, arches: ['z80'] }), { code: 'EINVAL', detail: /z80/ });
  });

  // How long compiling and loading take is measured by the benchmarks, not here:
  // scripts/bench.js row P1 ("hardening cost": dynod minus `--seccomp unconfined --userns host`)
  // and docs/benchmarks.md (libseccomp compile time in "first-dyno preparation").
  t.test('the default filter fits the kernel, compiles the same every time, and loads before the command', async (t) => {
    const programs = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const fd = compileFilter(defaultFilter('dyno'));
      const st = fs.fstatSync(fd);
      const buf = Buffer.alloc(st.size);
      fs.readSync(fd, buf, 0, st.size, 0);
      programs.add(buf.toString('hex'));
      fs.closeSync(fd);
    }
    t.equal(programs.size, 1, 'compiling the same profile gives the same program');
    const fd = seccompFdFor(undefined, 'dyno');
    const size = fs.fstatSync(fd).size;
    t.equal(size % 8, 0, 'whole sock_filter instructions (8 bytes each)');
    const insns = size / 8;
    t.ok(insns > 0 && insns <= 4096, `${insns} BPF instructions (the kernel takes at most BPF_MAXINSNS = 4096)`);

    // With and without a filter dynod-init gets from "init started" to "exec command", and the command runs.
    for (const f of [-1, fd]) {
      const r = await runInit(f, 'dyno', [PROBE, 'getpid', 'clone3'], { trace: true });
      t.equal(r.code, 0, r.stderr);
      const steps = r.records.map((x) => x.step);
      t.ok(steps.includes('init started') && steps.includes('exec command'), `${f < 0 ? 'no filter' : 'filter'}: traced from init to exec (${steps.join(', ')})`);
      t.same(probeResults(r.stdout), { getpid: 'OK', clone3: f < 0 ? 'OK' : 'ENOSYS' }, `${f < 0 ? 'no filter' : 'the filter was in force when the command ran'}`);
    }
  });
}
