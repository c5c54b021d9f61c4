// linux.seccomp of config.json: podman's real profile resolved (and compiled by
// libseccomp where the addon is built), conflicts settled as libseccomp settles them
// under runc and crun, flags, and the JSON-able form of the filter.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../../src/errors';
import { parseProfile, type SeccompAction, type SeccompFilter } from '../../src/seccomp/profile';
import { nativeSeccompFilter, ociSeccompFilter } from '../../src/oci/seccomp';
import { PODMAN_CONFIG } from './fixtures/oci-bundle';

const podman = JSON.parse(fs.readFileSync(PODMAN_CONFIG, 'utf8')) as { linux: { seccomp: unknown }; process: { capabilities: { bounding: string[] } } };
const X64 = process.arch === 'x64';

/** What the filter does to one call: the first rule whose comparisons all hold (as the compiled BPF would answer). */
function decide(f: SeccompFilter, syscall: string, args: bigint[] = []): SeccompAction {
  for (const r of f.rules) {
    if (r.syscall !== syscall) continue;
    const ok = r.args.every((c) => {
      const a = args[c.index] ?? 0n;
      return c.op === 'eq' ? a === c.value : c.op === 'ne' ? a !== c.value : c.op === 'masked_eq' ? (a & c.value) === c.valueTwo : false;
    });
    if (ok) return r.action;
  }
  return f.defaultAction;
}

const ALLOW = { kind: 'allow', value: 0 };

t.test('podman\'s profile', async (t) => {
  const { filter, notes } = ociSeccompFilter(podman.linux.seccomp, podman.process.capabilities.bounding);
  const f = nativeSeccompFilter(filter);
  t.same(f.defaultAction, { kind: 'errno', value: 38 }, 'ENOSYS by default (defaultErrnoRet)');
  t.equal(f.enosysAboveKnown, false, 'the default already says ENOSYS');
  if (X64) t.same(f.arches, ['x86_64', 'x86', 'x32']);
  t.same(decide(f, 'read'), ALLOW);
  t.same(decide(f, 'setns'), ALLOW, 'setns: the first rule (allow) wins, as libseccomp keeps it under runc and crun');
  t.same(notes, ['linux.seccomp.syscalls[10]: "setns" errno(1) dropped: syscalls[1] gives it allow first']);
  t.same(decide(f, 'bpf'), { kind: 'errno', value: 1 });
  t.same(decide(f, 'kexec_load'), { kind: 'errno', value: 1 });
  t.same(decide(f, 'not_a_listed_call'), { kind: 'errno', value: 38 });
  t.same(decide(f, 'personality', [0n]), ALLOW);
  t.same(decide(f, 'personality', [0xffffffffn]), ALLOW);
  t.same(decide(f, 'personality', [1n]), { kind: 'errno', value: 38 });
  t.same(decide(f, 'socket', [16n, 3n, 9n]), { kind: 'errno', value: 22 }, 'AF_NETLINK with NETLINK_AUDIT: EINVAL');
  t.same(decide(f, 'socket', [2n, 1n, 0n]), ALLOW);
  t.equal(f.rules.filter((r) => r.syscall === 'socket').length, 3, 'the repeated socket rule is merged');
  t.equal(typeof f.rules.find((r) => r.args.length)!.args[0]!.value, 'bigint', 'operands are bigints for the addon');
  t.same(JSON.parse(JSON.stringify(filter)), filter, 'the plan\'s form is plain JSON');
  t.same(nativeSeccompFilter(JSON.parse(JSON.stringify(filter))), f, 'and comes back exact');
});

t.test('podman\'s profile compiles with libseccomp', async (t) => {
  const built = ['build/Release', 'build/Debug'].some((d) => fs.existsSync(path.join(__dirname, '..', '..', d, 'dynod.node')));
  if (!built) return t.skip('the addon is not built (npx node-gyp rebuild)');
  const { compileFilter } = await import('../../src/seccomp');
  const { filter } = ociSeccompFilter(podman.linux.seccomp, podman.process.capabilities.bounding);
  let fd = -1;
  try {
    fd = compileFilter(nativeSeccompFilter(filter));
  } catch (e) {
    if (/libseccomp/.test(String(e))) return t.skip(`libseccomp is not loadable here: ${String(e).slice(0, 200)}`);
    throw e;
  }
  t.ok(fd >= 0, 'a BPF program');
  const size = fs.fstatSync(fd).size;
  t.ok(size > 0 && size % 8 === 0, `${size / 8} instructions`);
  fs.closeSync(fd);
});

t.test('flags: TSYNC is honoured (dynod-init has one thread), the others refused', async (t) => {
  const base = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['kexec_load'], action: 'SCMP_ACT_ERRNO' }] };
  t.doesNotThrow(() => ociSeccompFilter({ ...base, flags: ['SECCOMP_FILTER_FLAG_TSYNC'] }, []));
  for (const [flag, why] of [['SECCOMP_FILTER_FLAG_LOG', /logging/], ['SECCOMP_FILTER_FLAG_SPEC_ALLOW', /the speculative/], ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV', /it needs a seccomp agent/]] as const)
    t.throws(() => ociSeccompFilter({ ...base, flags: ['SECCOMP_FILTER_FLAG_TSYNC', flag] }, []), { message: new RegExp(`^config\\.json: linux\\.seccomp\\.flags\\[1\\]: not supported by dynod-oci \\(${flag}: ${why.source}`) });
  t.throws(() => ociSeccompFilter({ ...base, listenerMetadata: 'x' }, []), { message: /^config\.json: linux\.seccomp\.listenerMetadata: dynod does not run a seccomp agent/ });
  t.throws(() => ociSeccompFilter({ ...base, syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }] }, [], 'process.json', 'seccomp'),
    { message: /^process\.json: seccomp\.syscalls\[0\]\.args\[0\]\.index: 6 is out of range/ }, 'file and path are the caller\'s');
});

t.test('settling conflicts as libseccomp does (only when asked: dynod\'s own profiles still refuse them)', async (t) => {
  const ctx = { caps: [], arch: 'x64', kernel: '6.1.0', source: 'config.json' };
  const profile = (syscalls: unknown[]) => ({ defaultAction: 'SCMP_ACT_ERRNO', syscalls });
  const notes: string[] = [];
  const settle = (d: string) => notes.push(d);
  const f = parseProfile(profile([
    { names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 5 },
    { names: ['getpid'], action: 'SCMP_ACT_ALLOW' },
    { names: ['socket'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 16, op: 'SCMP_CMP_EQ' }] },
    { names: ['socket'], action: 'SCMP_ACT_ALLOW' },
  ]), { ...ctx, settle });
  t.same(decide(f, 'getpid'), { kind: 'errno', value: 5 }, 'the first unconditional rule wins');
  t.same(decide(f, 'socket', [16n]), ALLOW, 'an unconditional rule beats a conditional one, whatever the order');
  t.same(notes, [
    'syscalls[1]: "getpid" allow dropped: syscalls[0] gives it errno(5) first',
    'syscalls[2]: "socket" errno(1) under argument conditions dropped: syscalls[3] gives it allow unconditionally',
  ]);
  const same = profile([
    { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 16, op: 'SCMP_CMP_EQ' }] },
    { names: ['socket'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 16, op: 'SCMP_CMP_EQ' }] },
  ]);
  t.throws(() => parseProfile(same, { ...ctx, settle }), UsageError, 'the same condition with two actions makes libseccomp fail: refused');
  t.throws(() => parseProfile(profile([{ names: ['getpid'], action: 'SCMP_ACT_ALLOW' }, { names: ['getpid'], action: 'SCMP_ACT_KILL' }]), ctx),
    { message: /one action per syscall/ }, 'without settle, refused as before');
});
