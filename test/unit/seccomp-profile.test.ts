// The seccomp profile parser (Docker's JSON format) and dynod's default profile,
// without root and without the addon: what the normalized filter says.
import t, { type Test } from 'tap';
import { UsageError } from '../../src/errors';
import {
  ALLOWED, CAPABILITIES, CLONE_NEW_MASK, DEFAULT_PROFILE, DENIED, PERSONALITIES, capabilitiesOf, capabilityNames,
  parseProfile, parseProfileText, seccompFdFor, type SeccompAction, type SeccompFilter, type ProfileContext,
} from '../../src/seccomp';

const X64: ProfileContext = { caps: [], arch: 'x64', kernel: '6.1.0-18-amd64', source: 'test.json' };
const M64 = (1n << 64n) - 1n;

/** What the filter does to one call: the first rule whose comparisons all hold (libseccomp's rules never overlap here). */
function decide(f: SeccompFilter, syscall: string, args: bigint[] = []): SeccompAction {
  for (const r of f.rules) {
    if (r.syscall !== syscall) continue;
    const ok = r.args.every((c) => {
      const a = args[c.index] ?? 0n;
      switch (c.op) {
        case 'eq': return a === c.value;
        case 'ne': return a !== c.value;
        case 'lt': return a < c.value;
        case 'le': return a <= c.value;
        case 'gt': return a > c.value;
        case 'ge': return a >= c.value;
        case 'masked_eq': return (a & c.value) === c.valueTwo;
      }
    });
    if (ok) return r.action;
  }
  return f.defaultAction;
}

const ALLOW: SeccompAction = { kind: 'allow', value: 0 };
const EPERM: SeccompAction = { kind: 'errno', value: 1 };
const ENOSYS: SeccompAction = { kind: 'errno', value: 38 };

function profile(syscalls: unknown[], extra: Record<string, unknown> = {}): unknown {
  return { defaultAction: 'SCMP_ACT_ERRNO', syscalls, ...extra };
}

function rejects(t: Test, p: unknown, path: string, accepted: RegExp, ctx: ProfileContext = X64): void {
  let err: unknown;
  try {
    parseProfile(p, ctx);
  } catch (e) {
    err = e;
  }
  t.type(err, UsageError, `rejected: ${path}`);
  const msg = (err as Error | undefined)?.message ?? '';
  t.ok(msg.startsWith(`seccomp profile ${ctx.source}: ${path}: `), `names ${path}: ${msg}`);
  t.match(msg, accepted, 'says what is accepted');
}

t.test('the default profile: allow-list, EPERM default, ENOSYS for what is newer, native arch only', async (t) => {
  const f = parseProfile(DEFAULT_PROFILE, X64);
  t.same(f.defaultAction, EPERM);
  t.same(f.badArchAction, { kind: 'kill_process', value: 0 });
  t.same(f.arches, ['x86_64'], 'no i386, no x32');
  t.equal(f.enosysAboveKnown, true);
  t.ok(ALLOWED.length > 300, `${ALLOWED.length} names allowed`);
  for (const name of ['read', 'openat', 'execve', 'futex', 'epoll_wait', 'mmap', 'getrandom', 'rseq', 'arch_prctl', 'fchmodat2'])
    t.same(decide(f, name), ALLOW, `${name} allowed`);
  t.same(decide(f, 'clone3'), ENOSYS, 'clone3: ENOSYS, so glibc falls back to clone');
  for (const name of DENIED) t.same(decide(f, name), EPERM, `${name}: EPERM`);
  t.same(decide(f, 'some_future_syscall'), EPERM, 'unnamed: the default (the compiler adds ENOSYS above the highest known number)');
});

t.test('the default profile refuses the dangerous classes the issue lists', async (t) => {
  const f = parseProfile(DEFAULT_PROFILE, X64);
  const refused = [
    'mount', 'umount2', 'pivot_root', 'chroot', 'unshare', 'setns', 'fsopen', 'fsconfig', 'fsmount', 'fspick',
    'move_mount', 'open_tree', 'mount_setattr', 'keyctl', 'add_key', 'request_key', 'bpf', 'perf_event_open',
    'userfaultfd', 'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'reboot', 'swapon',
    'swapoff', 'acct', 'settimeofday', 'clock_settime', 'clock_adjtime', 'adjtimex', 'iopl', 'ioperm',
    'open_by_handle_at', 'quotactl', 'syslog', 'ptrace', 'io_uring_setup', 'io_uring_enter', 'io_uring_register',
  ];
  for (const name of refused) {
    t.same(decide(f, name), EPERM, name);
    t.notOk((ALLOWED as readonly string[]).includes(name), `${name} is not in the allow-list`);
  }
  t.same(ALLOWED.filter((n) => (DENIED as readonly string[]).includes(n)), [], 'ALLOWED and DENIED are disjoint');
});

t.test('clone: allowed only without CLONE_NEW* flags', async (t) => {
  const f = parseProfile(DEFAULT_PROFILE, X64);
  const SIGCHLD = 17n;
  const THREAD = 0x3d0f00n; // glibc's pthread_create flags
  t.same(decide(f, 'clone', [SIGCHLD]), ALLOW, 'fork');
  t.same(decide(f, 'clone', [THREAD]), ALLOW, 'a thread');
  for (const [name, bit] of [['NEWNS', 0x20000n], ['NEWCGROUP', 0x2000000n], ['NEWUTS', 0x4000000n], ['NEWIPC', 0x8000000n],
    ['NEWUSER', 0x10000000n], ['NEWPID', 0x20000000n], ['NEWNET', 0x40000000n]] as const)
    t.same(decide(f, 'clone', [SIGCHLD | bit]), EPERM, `CLONE_${name}`);
  t.equal(CLONE_NEW_MASK, 0x7e020000);
  const s390 = parseProfile(DEFAULT_PROFILE, { ...X64, arch: 's390x' });
  t.same(s390.rules.filter((r) => r.syscall === 'clone').map((r) => r.args[0]!.index), [1], 's390 has flags second');
  const arm = parseProfile(DEFAULT_PROFILE, { ...X64, arch: 'arm64' });
  t.same(arm.arches, ['aarch64'], 'no 32-bit arm on aarch64');
  t.same(arm.rules.filter((r) => r.syscall === 'clone').map((r) => r.args[0]!.index), [0]);
});

t.test('socket: every family but AF_ALG and AF_VSOCK, and never with high bits set', async (t) => {
  const f = parseProfile(DEFAULT_PROFILE, X64);
  for (let fam = 0n; fam < 70n; fam++) {
    const want = fam === 38n || fam === 40n || fam >= 64n ? EPERM : ALLOW;
    t.same(decide(f, 'socket', [fam, 1n, 0n]), want, `family ${fam}`);
  }
  t.same(decide(f, 'socket', [0x100000026n]), EPERM, 'AF_ALG with a high bit');
  t.same(decide(f, 'socket', [0x100000002n]), EPERM, 'AF_INET with a high bit');
  t.same(decide(f, 'socket', [M64]), EPERM);
});

t.test('personality: only the safe values', async (t) => {
  const f = parseProfile(DEFAULT_PROFILE, X64);
  for (const v of PERSONALITIES) t.same(decide(f, 'personality', [BigInt(v)]), ALLOW, `0x${v.toString(16)}`);
  for (const v of [0x0040000n /* ADDR_NO_RANDOMIZE */, 0x0400000n /* READ_IMPLIES_EXEC */, 1n, 0x100000000n])
    t.same(decide(f, 'personality', [v]), EPERM, `0x${v.toString(16)}`);
});

t.test('the dyno user and --user root get the same default filter', async (t) => {
  t.same(capabilitiesOf('dyno'), []);
  t.same(capabilitiesOf('root'), [
    'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP',
    'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_MKNOD', 'CAP_AUDIT_WRITE', 'CAP_SETFCAP',
  ]);
  t.same(parseProfile(DEFAULT_PROFILE, { ...X64, caps: capabilitiesOf('root') }), parseProfile(DEFAULT_PROFILE, X64));
  t.equal(CAPABILITIES.length, 41);
  t.same(capabilityNames(1n << 21n), ['CAP_SYS_ADMIN']);
});

t.test('architectures: archMap picks the host entry and its sub-architectures', async (t) => {
  const archMap = [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
    { architecture: 'SCMP_ARCH_RISCV64', subArchitectures: null },
  ];
  t.same(parseProfile(profile([], { archMap }), X64).arches, ['x86_64', 'x86', 'x32']);
  t.same(parseProfile(profile([], { archMap }), { ...X64, arch: 'arm64' }).arches, ['aarch64', 'arm']);
  t.same(parseProfile(profile([], { archMap }), { ...X64, arch: 'riscv64' }).arches, ['riscv64']);
  t.same(parseProfile(profile([]), X64).arches, ['x86_64'], 'neither: the native one only');
  t.same(parseProfile(profile([], { architectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_AARCH64'] }), X64).arches, ['x86_64', 'x86'],
    'architectures: those this host can run, and always the native one');
  rejects(t, profile([], { archMap, architectures: ['SCMP_ARCH_X86'] }), 'architectures', /either 'architectures' or 'archMap'/);
  rejects(t, profile([], { architectures: ['SCMP_ARCH_Z80'] }), 'architectures[0]', /SCMP_ARCH_X86, SCMP_ARCH_X86_64/);
  rejects(t, profile([], { archMap: [{ architecture: 'x86_64', subArchitectures: [] }] }), 'archMap[0].architecture', /SCMP_ARCH_X86_64/);
  rejects(t, profile([], { archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_Q'] }] }),
    'archMap[0].subArchitectures[0]', /SCMP_ARCH_/);
  rejects(t, profile([], { archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArches: [] }] }), 'archMap[0].subArches', /architecture, subArchitectures/);
});

t.test('includes and excludes: architectures (Go names), capabilities, minimum kernel', async (t) => {
  const p = profile([
    { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32'] } },
    { names: ['cacheflush'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm', 'arm64'] } },
    { names: ['uname'], action: 'SCMP_ACT_ALLOW', excludes: { arches: ['s390', 's390x'] } },
    { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
    { names: ['chroot'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_CHROOT', 'CAP_SYS_ADMIN'] }, comment: 'all of them' },
    { names: ['clone'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_SYS_ADMIN', 'CAP_SYS_CHROOT'] }, comment: 'any of them' },
    { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } },
    { names: ['getpid'], action: 'SCMP_ACT_ALLOW', excludes: { minKernel: '5.10' } },
  ]);
  const names = (ctx: ProfileContext) => parseProfile(p, ctx).rules.map((r) => r.syscall);
  t.same(names(X64), ['arch_prctl', 'uname', 'clone', 'ptrace']);
  t.same(names({ ...X64, arch: 'arm64' }), ['cacheflush', 'uname', 'clone', 'ptrace']);
  t.same(names({ ...X64, arch: 's390x' }), ['clone', 'ptrace']);
  t.same(names({ ...X64, caps: ['CAP_SYS_ADMIN'] }), ['arch_prctl', 'uname', 'mount', 'ptrace']);
  t.same(names({ ...X64, caps: ['CAP_SYS_ADMIN', 'CAP_SYS_CHROOT'] }), ['arch_prctl', 'uname', 'mount', 'chroot', 'ptrace']);
  t.same(names({ ...X64, caps: capabilitiesOf('root') }), ['arch_prctl', 'uname', 'ptrace'], 'root holds CAP_SYS_CHROOT');
  t.same(names({ ...X64, kernel: '4.4.0-210-generic' }), ['arch_prctl', 'uname', 'clone', 'getpid']);
  t.same(names({ ...X64, kernel: '5.10.0' }), ['arch_prctl', 'uname', 'clone', 'ptrace']);
});

t.test('rules: name or names, actions, errno values, argument comparisons', async (t) => {
  const f = parseProfile({
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 38,
    syscalls: [
      { name: 'getpid', action: 'SCMP_ACT_ALLOW' },
      { names: ['kill', 'tkill'], action: 'SCMP_ACT_ERRNO' },
      { names: ['mount'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
      { names: ['reboot'], action: 'SCMP_ACT_KILL' },
      { names: ['kexec_load'], action: 'SCMP_ACT_KILL_PROCESS' },
      { names: ['swapon'], action: 'SCMP_ACT_TRAP' },
      { names: ['acct'], action: 'SCMP_ACT_LOG' },
      { names: ['syslog'], action: 'SCMP_ACT_TRACE', errnoRet: 7 },
      { names: ['getppid'], action: 'SCMP_ACT_ALLOW', errnoRet: null, args: null, includes: null, excludes: {} },
    ],
  }, X64);
  t.same(f.defaultAction, ENOSYS, 'defaultErrnoRet');
  t.equal(f.enosysAboveKnown, false, 'the default already says ENOSYS');
  t.same(f.rules.map((r) => [r.syscall, r.action.kind, r.action.value]), [
    ['getpid', 'allow', 0], ['kill', 'errno', 1], ['tkill', 'errno', 1], ['mount', 'errno', 13], ['reboot', 'kill_thread', 0],
    ['kexec_load', 'kill_process', 0], ['swapon', 'trap', 0], ['acct', 'log', 0], ['syslog', 'trace', 7], ['getppid', 'allow', 0],
  ]);
  t.equal(parseProfile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [] }, X64).enosysAboveKnown, false, 'nothing to fall back from');
  t.equal(parseProfile({ defaultAction: 'SCMP_ACT_KILL_PROCESS', syscalls: [] }, X64).enosysAboveKnown, true);
  t.same(parseProfile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: null }, X64).rules, [], 'Go null slices');

  const args = parseProfile(profile([
    { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2, op: 'SCMP_CMP_EQ' }, { index: 1, value: 1, op: 'SCMP_CMP_EQ' }] },
    { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }, { index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
    { names: ['ioctl'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value: '0xffffffff', valueTwo: '21505', op: 'SCMP_CMP_MASKED_EQ' }] },
    { names: ['kill'], action: 'SCMP_ACT_ALLOW', args: [{ index: 5, value: '18446744073709551615', op: 'SCMP_CMP_LE' }] },
  ]), X64);
  t.same(args.rules.map((r) => [r.syscall, r.args.map((a) => `${a.index} ${a.op} ${a.value} ${a.valueTwo}`)]), [
    ['socket', ['0 eq 2 0', '1 eq 1 0']],
    ['personality', ['0 eq 0 0']],
    ['personality', ['0 eq 8 0']],
    ['ioctl', ['1 masked_eq 4294967295 21505']],
    ['kill', [`5 le ${M64} 0`]],
  ], 'different indexes are ANDed; a repeated index becomes one rule per comparison (runc)');
});

t.test('duplicates merge; conflicts libseccomp would settle silently are refused', async (t) => {
  const f = parseProfile(profile([
    { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
    { names: ['write', 'close'], action: 'SCMP_ACT_ALLOW' },
    { names: ['close'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 3, op: 'SCMP_CMP_EQ' }] },
  ]), X64);
  t.same(f.rules.map((r) => r.syscall), ['read', 'write', 'close'], 'a conditional rule with the same action as an unconditional one is redundant');
  rejects(t, profile([
    { names: ['socket'], action: 'SCMP_ACT_ALLOW' },
    { names: ['socket'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 38, op: 'SCMP_CMP_EQ' }] },
  ]), 'syscalls[1]', /only for syscalls without an unconditional rule of another action/);
  rejects(t, profile([
    { names: ['socket'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 38, op: 'SCMP_CMP_EQ' }] },
    { names: ['socket'], action: 'SCMP_ACT_ALLOW' },
  ]), 'syscalls[0]', /unconditional/);
  rejects(t, profile([
    { names: ['getpid'], action: 'SCMP_ACT_ALLOW' },
    { names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 5 },
  ]), 'syscalls[1]', /one action per syscall and argument condition/);
  rejects(t, profile([
    { names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
    { names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 5 },
  ]), 'syscalls[1]', /one action per syscall/);
});

t.test('malformed profiles are UsageErrors naming the JSON path and what is accepted', async (t) => {
  rejects(t, [], '(top level)', /a JSON object/);
  rejects(t, { syscalls: [] }, 'defaultAction', /SCMP_ACT_ALLOW, SCMP_ACT_ERRNO/);
  rejects(t, { defaultAction: 'SCMP_ACT_DENY', syscalls: [] }, 'defaultAction', /SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL/);
  rejects(t, { defaultAction: 'SCMP_ACT_NOTIFY', syscalls: [] }, 'defaultAction', /seccomp agent/);
  rejects(t, { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 4096, syscalls: [] }, 'defaultErrnoRet', /from 0 to 4095/);
  rejects(t, { defaultAction: 'SCMP_ACT_ALLOW', defaultErrnoRet: 1, syscalls: [] }, 'defaultErrnoRet', /only SCMP_ACT_ERRNO and SCMP_ACT_TRACE/);
  rejects(t, { defaultAction: 'SCMP_ACT_ERRNO', syscall: [] }, 'syscall', /the fields defaultAction, defaultErrnoRet/);
  rejects(t, profile([], { flags: ['SECCOMP_FILTER_FLAG_SPEC_ALLOW'] }), 'flags', /an empty list/);
  rejects(t, profile([], { listenerPath: '/run/agent.sock' }), 'listenerPath', /no field/);
  rejects(t, { defaultAction: 'SCMP_ACT_ERRNO', syscalls: {} }, 'syscalls', /an array of syscall rules/);
  rejects(t, profile(['read']), 'syscalls[0]', /a JSON object/);
  rejects(t, profile([{ action: 'SCMP_ACT_ALLOW' }]), 'syscalls[0].names', /a non-empty list of syscall names/);
  rejects(t, profile([{ names: [], action: 'SCMP_ACT_ALLOW' }]), 'syscalls[0].names', /non-empty/);
  rejects(t, profile([{ names: ['read', 7], action: 'SCMP_ACT_ALLOW' }]), 'syscalls[0].names[1]', /syscall names such as "openat"/);
  rejects(t, profile([{ names: ['Read'], action: 'SCMP_ACT_ALLOW' }]), 'syscalls[0].names[0]', /lower-case names/);
  rejects(t, profile([{ names: ['read'], name: 'write', action: 'SCMP_ACT_ALLOW' }]), 'syscalls[0].name', /either 'name' or 'names'/);
  rejects(t, profile([{ names: ['read'] }]), 'syscalls[0].action', /SCMP_ACT_ALLOW/);
  rejects(t, profile([{ names: ['read'], action: 'SCMP_ACT_ALLOWED' }]), 'syscalls[0].action', /SCMP_ACT_ALLOW, SCMP_ACT_ERRNO/);
  rejects(t, profile([{ names: ['read'], action: 'SCMP_ACT_NOTIFY' }]), 'syscalls[0].action', /seccomp agent/);
  rejects(t, profile([{ names: ['read'], action: 'SCMP_ACT_ALLOW', errnoRet: 1 }]), 'syscalls[0].errnoRet', /only SCMP_ACT_ERRNO/);
  rejects(t, profile([{ names: ['read'], action: 'SCMP_ACT_ERRNO', errnoRet: -1 }]), 'syscalls[0].errnoRet', /from 0 to 4095/);
  rejects(t, profile([{ names: ['read'], action: 'SCMP_ACT_ERRNO', errnoRet: '1' }]), 'syscalls[0].errnoRet', /an integer/);
  rejects(t, profile([{ names: ['read'], action: 'SCMP_ACT_ALLOW', priority: 1 }]), 'syscalls[0].priority', /names, name, action, errnoRet, args/);
  const arg = (a: Record<string, unknown>) => profile([{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [a] }]);
  rejects(t, arg({ index: 6, value: 0, op: 'SCMP_CMP_EQ' }), 'syscalls[0].args[0].index', /from 0 to 5/);
  rejects(t, arg({ value: 0, op: 'SCMP_CMP_EQ' }), 'syscalls[0].args[0].index', /from 0 to 5/);
  rejects(t, arg({ index: 0, value: 0, op: 'SCMP_CMP_EQUAL' }), 'syscalls[0].args[0].op', /SCMP_CMP_NE, SCMP_CMP_LT, .*SCMP_CMP_MASKED_EQ/);
  rejects(t, arg({ index: 0, value: 0 }), 'syscalls[0].args[0].op', /SCMP_CMP_EQ/);
  rejects(t, arg({ index: 0, value: -1, op: 'SCMP_CMP_EQ' }), 'syscalls[0].args[0].value', /from 0 to 2\^53-1/);
  rejects(t, arg({ index: 0, value: 1.5, op: 'SCMP_CMP_EQ' }), 'syscalls[0].args[0].value', /0x-prefixed string/);
  rejects(t, arg({ index: 0, value: 2 ** 60, op: 'SCMP_CMP_EQ' }), 'syscalls[0].args[0].value', /cannot be read exactly from JSON/);
  rejects(t, arg({ index: 0, value: '18446744073709551616', op: 'SCMP_CMP_EQ' }), 'syscalls[0].args[0].value', /up to 2\^64-1/);
  rejects(t, arg({ index: 0, value: 'ten', op: 'SCMP_CMP_EQ' }), 'syscalls[0].args[0].value', /decimal or 0x/);
  rejects(t, arg({ index: 0, value: 0, valueTwo: '-3', op: 'SCMP_CMP_MASKED_EQ' }), 'syscalls[0].args[0].valueTwo', /decimal/);
  rejects(t, arg({ index: 0, value: 0, op: 'SCMP_CMP_EQ', val: 1 }), 'syscalls[0].args[0].val', /index, value, valueTwo, op/);
  const inc = (f: Record<string, unknown>) => profile([{ names: ['read'], action: 'SCMP_ACT_ALLOW', includes: f }]);
  rejects(t, inc({ caps: ['CAP_SYS_ADMN'] }), 'syscalls[0].includes.caps[0]', /CAP_CHOWN/);
  rejects(t, inc({ arches: ['amd46'] }), 'syscalls[0].includes.arches[0]', /amd64, arm, arm64/);
  rejects(t, inc({ minKernel: '4' }), 'syscalls[0].includes.minKernel', /"X\.Y"/);
  rejects(t, inc({ minKernel: 4.8 }), 'syscalls[0].includes.minKernel', /"X\.Y"/);
  rejects(t, inc({ kernel: '4.8' }), 'syscalls[0].includes.kernel', /arches, caps, minKernel/);
  rejects(t, profile([{ names: ['read'], action: 'SCMP_ACT_ALLOW', excludes: { caps: 'CAP_SYS_ADMIN' } }]), 'syscalls[0].excludes.caps', /an array of capability names/);
  // A mistake in a rule for another host is still a mistake.
  rejects(t, profile([{ names: ['read'], action: 'SCMP_ACT_ALOW', includes: { arches: ['s390x'] } }]), 'syscalls[0].action', /SCMP_ACT_ALLOW/);
});

t.test('profile text and files', async (t) => {
  t.throws(() => parseProfileText('{"defaultAction": ', X64), { message: /^seccomp profile test\.json: not valid JSON: / });
  t.throws(() => parseProfileText('{"defaultAction": ', X64), UsageError);
  t.equal(parseProfileText('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[]}', X64).defaultAction.kind, 'allow');
  t.equal(seccompFdFor('unconfined', 'dyno'), -1);
  t.throws(() => seccompFdFor('/nonexistent/profile.json', 'dyno'), { message: /^seccomp profile \/nonexistent\/profile\.json: cannot read it: ENOENT/ });
  t.throws(() => seccompFdFor('', 'root'), UsageError);
  t.throws(() => seccompFdFor('/', 'root'), { message: /not a regular file/ });
});
