// A seccomp profile in Docker's JSON format, resolved into the normalized filter
// native/seccomp.cc compiles. Resolution follows moby's setupSeccomp and runc's
// loader: includes/excludes by architecture (Go's names: amd64, arm64, ...),
// capabilities and minimum kernel; archMap picks the host's entry and its
// sub-architectures; several comparisons on the same argument index are ORed
// (one rule each), on different indexes ANDed.
//
// A profile dynod cannot apply exactly is refused with a UsageError naming the
// JSON path of the field and what is accepted, never compiled into a weaker
// filter. That includes rules libseccomp would silently drop: a conditional rule
// shadowed by an unconditional one with another action for the same syscall.
import * as os from 'node:os';
import type { NativeSeccompAction, NativeSeccompArgCmp, NativeSeccompFilter, NativeSeccompRule } from '../addon';
import { UsageError } from '../errors';

export type SeccompAction = NativeSeccompAction;
export type SeccompArgCmp = NativeSeccompArgCmp;
export type SeccompRule = NativeSeccompRule;
export type SeccompFilter = NativeSeccompFilter;

export { CAPABILITIES, capabilityNames } from '../linux/capabilities';
import { CAPABILITIES } from '../linux/capabilities';

/** Docker's architecture names → libseccomp's. */
const SCMP_ARCHES: Record<string, string> = {
  SCMP_ARCH_X86: 'x86', SCMP_ARCH_X86_64: 'x86_64', SCMP_ARCH_X32: 'x32',
  SCMP_ARCH_ARM: 'arm', SCMP_ARCH_AARCH64: 'aarch64',
  SCMP_ARCH_MIPS: 'mips', SCMP_ARCH_MIPS64: 'mips64', SCMP_ARCH_MIPS64N32: 'mips64n32',
  SCMP_ARCH_MIPSEL: 'mipsel', SCMP_ARCH_MIPSEL64: 'mipsel64', SCMP_ARCH_MIPSEL64N32: 'mipsel64n32',
  SCMP_ARCH_PPC: 'ppc', SCMP_ARCH_PPC64: 'ppc64', SCMP_ARCH_PPC64LE: 'ppc64le',
  SCMP_ARCH_S390: 's390', SCMP_ARCH_S390X: 's390x',
  SCMP_ARCH_PARISC: 'parisc', SCMP_ARCH_PARISC64: 'parisc64',
  SCMP_ARCH_RISCV64: 'riscv64', SCMP_ARCH_LOONGARCH64: 'loongarch64', SCMP_ARCH_M68K: 'm68k',
  SCMP_ARCH_SH: 'sh', SCMP_ARCH_SHEB: 'sheb',
};

/** The architectures whose programs a host of the key architecture can run; any other is dropped from a filter. */
const RUNNABLE: Record<string, string[]> = {
  x86_64: ['x86_64', 'x86', 'x32'], aarch64: ['aarch64', 'arm'], mips64: ['mips64', 'mips', 'mips64n32'],
  mipsel64: ['mipsel64', 'mipsel', 'mipsel64n32'], s390x: ['s390x', 's390'], ppc64le: ['ppc64le'],
  ppc64: ['ppc64', 'ppc'], riscv64: ['riscv64'], loongarch64: ['loongarch64'], x86: ['x86'], arm: ['arm'],
};

/** Node's process.arch → libseccomp's name for it, and the name Docker's includes/excludes use (moby's goToNative). */
const HOST_ARCH: Record<string, { scmp: string; docker: string }> = {
  x64: { scmp: 'x86_64', docker: 'amd64' }, arm64: { scmp: 'aarch64', docker: 'arm64' },
  ia32: { scmp: 'x86', docker: 'x86' }, arm: { scmp: 'arm', docker: 'arm' },
  riscv64: { scmp: 'riscv64', docker: 'riscv64' }, s390x: { scmp: 's390x', docker: 's390x' },
  ppc64: { scmp: 'ppc64le', docker: 'ppc64le' }, loong64: { scmp: 'loongarch64', docker: 'loong64' },
  mips64el: { scmp: 'mipsel64', docker: 'mipsel64' },
};

/** Names includes.arches / excludes.arches may hold (moby's, including its "mips3l64n32" spelling). */
const DOCKER_ARCHES = [
  'x86', 'x32', 'amd64', 'arm', 'arm64', 'mips', 'mipsel', 'mips64', 'mips64n32', 'mipsel64', 'mipsel64n32',
  'mips3l64n32', 'ppc', 'ppc64', 'ppc64le', 's390', 's390x', 'riscv64', 'loong64',
];

const ACTIONS: Record<string, NativeSeccompAction['kind']> = {
  SCMP_ACT_ALLOW: 'allow', SCMP_ACT_ERRNO: 'errno', SCMP_ACT_KILL: 'kill_thread', SCMP_ACT_KILL_THREAD: 'kill_thread',
  SCMP_ACT_KILL_PROCESS: 'kill_process', SCMP_ACT_TRAP: 'trap', SCMP_ACT_TRACE: 'trace', SCMP_ACT_LOG: 'log',
};

const OPS: Record<string, NativeSeccompArgCmp['op']> = {
  SCMP_CMP_NE: 'ne', SCMP_CMP_LT: 'lt', SCMP_CMP_LE: 'le', SCMP_CMP_EQ: 'eq', SCMP_CMP_GE: 'ge', SCMP_CMP_GT: 'gt',
  SCMP_CMP_MASKED_EQ: 'masked_eq',
};

const EPERM = 1;
const U64_MAX = (1n << 64n) - 1n;

/** What a profile is resolved against. */
export interface ProfileContext {
  /** capability names the dyno's command holds (CAP_...): none for the dyno user */
  caps: readonly string[];
  /** the host as Node names it (process.arch); default: this host */
  arch?: string;
  /** the host kernel release (uname -r); default: this host's */
  kernel?: string;
  /** where the profile came from, for messages */
  source?: string;
  /**
   * The profile sits in a larger document at this JSON path (OCI's config.json
   * "linux.seccomp"): errors then read `<source>: <within>.<path>: ...`.
   */
  within?: string;
  /**
   * Conflicting rules for one syscall are settled as libseccomp settles them when runc
   * or crun add the rules in order, instead of refused: the first unconditional rule
   * wins, and beats every conditional one. OCI configs carry such pairs (podman's
   * profile allows setns, then denies it for want of CAP_SYS_ADMIN), and every other
   * runtime runs them so. Each rule dropped is reported here; the filter is then
   * exactly what the kernel gets.
   */
  settle?: (dropped: string) => void;
}

type Json = Record<string, unknown>;

class Reader {
  constructor(private readonly source: string, private readonly within?: string) {}

  fail(path: string, problem: string, accepted: string): never {
    if (this.within === undefined) throw new UsageError(`seccomp profile ${this.source}: ${path}: ${problem}; accepted: ${accepted}`);
    const where = path === '(top level)' ? this.within : path.startsWith('[') ? this.within + path : join(this.within, path);
    throw new UsageError(`${this.source}: ${where}: ${problem}; accepted: ${accepted}`);
  }

  object(v: unknown, path: string): Json {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, `${show(v)} is not an object`, 'a JSON object');
    return v as Json;
  }

  keys(o: Json, path: string, allowed: readonly string[]): void {
    for (const k of Object.keys(o))
      if (!allowed.includes(k)) this.fail(join(path, k), 'unknown field', `the fields ${allowed.join(', ')}`);
  }

  /** An array, or [] for null/absent (Go's nil slice). */
  list(v: unknown, path: string, what: string): unknown[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(path, `${show(v)} is not an array`, `an array of ${what}`);
    return v;
  }

  string(v: unknown, path: string, accepted: string): string {
    if (typeof v !== 'string') this.fail(path, `${show(v)} is not a string`, accepted);
    return v;
  }

  oneOf<T>(v: unknown, path: string, table: Record<string, T>): T {
    const names = Object.keys(table).join(', ');
    const s = this.string(v, path, names);
    if (!Object.hasOwn(table, s)) this.fail(path, `${show(s)} is not known`, names);
    return table[s]!;
  }

  int(v: unknown, path: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      this.fail(path, `${show(v)} is out of range`, `an integer from ${min} to ${max}`);
    return v;
  }

  /** A uint64: a JSON number up to 2^53-1 (larger ones lose digits in JSON.parse), or a decimal or 0x string, or a bigint. */
  u64(v: unknown, path: string): bigint {
    const accepted = 'an integer from 0 to 2^53-1, or a decimal or 0x-prefixed string up to 2^64-1 for larger values';
    let x: bigint | undefined;
    if (typeof v === 'bigint') x = v;
    else if (typeof v === 'number') {
      if (Number.isSafeInteger(v)) x = BigInt(v);
      else if (Number.isInteger(v) && v > 0) this.fail(path, `${v} is above 2^53-1 and cannot be read exactly from JSON`, accepted);
    } else if (typeof v === 'string' && /^(0|[1-9][0-9]*|0x[0-9a-fA-F]+)$/.test(v)) x = BigInt(v);
    if (x === undefined || x < 0n || x > U64_MAX) this.fail(path, `${show(v)} is not a uint64`, accepted);
    return x;
  }
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

function show(v: unknown): string {
  if (v === undefined) return 'a missing value';
  if (typeof v === 'bigint') return `${v}n`;
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Compares "X.Y" against the host's "X.Y.Z-..." release. */
function kernelAtLeast(min: string, release: string): boolean {
  const [ma, mi] = min.split('.').map(Number) as [number, number];
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return false;
  const [ha, hi] = [Number(m[1]), Number(m[2])];
  return ha > ma || (ha === ma && hi >= mi);
}

const SYSCALL_NAME = /^[a-z_][a-z0-9_]*$/;

interface Candidate extends SeccompRule {
  path: string;
}

function sameAction(a: SeccompAction, b: SeccompAction): boolean {
  return a.kind === b.kind && a.value === b.value;
}

function sameArgs(a: SeccompArgCmp[], b: SeccompArgCmp[]): boolean {
  const key = (c: SeccompArgCmp) => `${c.index}/${c.op}/${c.value}/${c.valueTwo}`;
  const ka = a.map(key).sort();
  const kb = b.map(key).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i]);
}

function describe(a: SeccompAction): string {
  return a.kind === 'errno' || a.kind === 'trace' ? `${a.kind}(${a.value})` : a.kind;
}

/**
 * Resolves a profile in Docker's JSON format (already parsed) for one dyno.
 * Throws UsageError for anything malformed or that dynod cannot apply exactly.
 */
export function parseProfile(profile: unknown, ctx: ProfileContext): SeccompFilter {
  const r = new Reader(ctx.source ?? '(inline)', ctx.within);
  const hostArch = HOST_ARCH[ctx.arch ?? process.arch];
  if (!hostArch) throw new UsageError(`seccomp: no seccomp support for the ${ctx.arch ?? process.arch} architecture`);
  const kernel = ctx.kernel ?? os.release();
  const caps = new Set(ctx.caps);
  for (const c of caps)
    if (!(CAPABILITIES as readonly string[]).includes(c)) throw new Error(`seccomp: unknown capability ${c} in the dyno's set`);

  const p = r.object(profile, '(top level)');
  r.keys(p, '', ['defaultAction', 'defaultErrnoRet', 'architectures', 'archMap', 'syscalls', 'flags', 'listenerPath', 'listenerMetadata', 'comment']);

  const action = (o: Json, path: string, actionKey: string, errnoKey: string): SeccompAction => {
    const kind = r.oneOf(o[actionKey], join(path, actionKey), ACTIONS);
    const ret = o[errnoKey];
    if (ret !== undefined && ret !== null && kind !== 'errno' && kind !== 'trace')
      r.fail(join(path, errnoKey), `is set for ${String(o[actionKey])}`, 'only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take it');
    if (kind === 'errno') return { kind, value: ret === undefined || ret === null ? EPERM : r.int(ret, join(path, errnoKey), 0, 4095) };
    if (kind === 'trace') return { kind, value: ret === undefined || ret === null ? EPERM : r.int(ret, join(path, errnoKey), 0, 65535) };
    return { kind, value: 0 };
  };

  if (p.defaultAction === undefined) r.fail('defaultAction', 'is missing', Object.keys(ACTIONS).join(', '));
  if (p.defaultAction === 'SCMP_ACT_NOTIFY') r.fail('defaultAction', 'SCMP_ACT_NOTIFY needs a seccomp agent, which dynod does not run', Object.keys(ACTIONS).join(', '));
  const defaultAction = action(p, '', 'defaultAction', 'defaultErrnoRet');
  if (r.list(p.flags, 'flags', 'flags').length > 0)
    r.fail('flags', 'dynod loads filters without flags', 'an empty list or no field');
  for (const k of ['listenerPath', 'listenerMetadata'])
    if (p[k] !== undefined && p[k] !== null && p[k] !== '') r.fail(k, 'dynod does not run a seccomp agent', 'no field, or an empty string');

  // Architectures: the host's own always; others only when the profile asks and the host can run them.
  const arches = [hostArch.scmp];
  const runnable = RUNNABLE[hostArch.scmp] ?? [hostArch.scmp];
  const addArch = (name: string) => {
    if (runnable.includes(name) && !arches.includes(name)) arches.push(name);
  };
  const archList = r.list(p.architectures, 'architectures', 'SCMP_ARCH_* names');
  const archMap = r.list(p.archMap, 'archMap', 'objects');
  if (archList.length && archMap.length)
    r.fail('architectures', "is given together with archMap", "either 'architectures' or 'archMap'");
  archList.forEach((a, i) => addArch(r.oneOf(a, join('architectures', i), SCMP_ARCHES)));
  archMap.forEach((e, i) => {
    const path = join('archMap', i);
    const o = r.object(e, path);
    r.keys(o, path, ['architecture', 'subArchitectures']);
    const main = r.oneOf(o.architecture, join(path, 'architecture'), SCMP_ARCHES);
    const subs = r.list(o.subArchitectures, join(path, 'subArchitectures'), 'SCMP_ARCH_* names')
      .map((s, j) => r.oneOf(s, join(join(path, 'subArchitectures'), j), SCMP_ARCHES));
    if (main === hostArch.scmp) subs.forEach(addArch);
  });

  const filterOf = (v: unknown, path: string) => {
    if (v === undefined || v === null) return { arches: [] as string[], caps: [] as string[], minKernel: undefined as string | undefined };
    const o = r.object(v, path);
    r.keys(o, path, ['arches', 'caps', 'minKernel']);
    const archesOf = r.list(o.arches, join(path, 'arches'), 'architecture names').map((a, i) => {
      const s = r.string(a, join(join(path, 'arches'), i), DOCKER_ARCHES.join(', '));
      if (!DOCKER_ARCHES.includes(s)) r.fail(join(join(path, 'arches'), i), `${show(s)} is not known`, DOCKER_ARCHES.join(', '));
      return s;
    });
    const capsOf = r.list(o.caps, join(path, 'caps'), 'capability names').map((c, i) => {
      const s = r.string(c, join(join(path, 'caps'), i), 'CAP_* names');
      if (!(CAPABILITIES as readonly string[]).includes(s)) r.fail(join(join(path, 'caps'), i), `${show(s)} is not a capability`, `${CAPABILITIES.slice(0, 4).join(', ')}, ... (linux/capability.h names)`);
      return s;
    });
    let minKernel: string | undefined;
    if (o.minKernel !== undefined && o.minKernel !== null && o.minKernel !== '') {
      minKernel = r.string(o.minKernel, join(path, 'minKernel'), 'a version "X.Y", e.g. "4.8"');
      if (!/^\d+\.\d+$/.test(minKernel)) r.fail(join(path, 'minKernel'), `${show(minKernel)} is not a kernel version`, 'a version "X.Y", e.g. "4.8"');
    }
    return { arches: archesOf, caps: capsOf, minKernel };
  };

  const candidates: Candidate[] = [];
  r.list(p.syscalls, 'syscalls', 'syscall rules').forEach((entry, i) => {
    const path = join('syscalls', i);
    const o = r.object(entry, path);
    r.keys(o, path, ['names', 'name', 'action', 'errnoRet', 'args', 'comment', 'includes', 'excludes']);
    // Validate the whole entry before deciding whether it applies here: a typo must not hide on another host.
    const names = r.list(o.names, join(path, 'names'), 'syscall names').map((n, j) => {
      const s = r.string(n, join(join(path, 'names'), j), 'syscall names such as "openat"');
      if (!SYSCALL_NAME.test(s)) r.fail(join(join(path, 'names'), j), `${show(s)} is not a syscall name`, 'lower-case names such as "openat"');
      return s;
    });
    if (o.name !== undefined && o.name !== null && o.name !== '') {
      if (names.length) r.fail(join(path, 'name'), "is given together with 'names'", "either 'name' or 'names'");
      const s = r.string(o.name, join(path, 'name'), 'a syscall name such as "openat"');
      if (!SYSCALL_NAME.test(s)) r.fail(join(path, 'name'), `${show(s)} is not a syscall name`, 'lower-case names such as "openat"');
      names.push(s);
    }
    if (!names.length) r.fail(join(path, 'names'), 'names no syscall', 'a non-empty list of syscall names');
    if (o.action === 'SCMP_ACT_NOTIFY') r.fail(join(path, 'action'), 'SCMP_ACT_NOTIFY needs a seccomp agent, which dynod does not run', Object.keys(ACTIONS).join(', '));
    const act = action(o, path, 'action', 'errnoRet');
    const args = r.list(o.args, join(path, 'args'), 'argument comparisons').map((a, j): SeccompArgCmp => {
      const ap = join(join(path, 'args'), j);
      const ao = r.object(a, ap);
      r.keys(ao, ap, ['index', 'value', 'valueTwo', 'op']);
      return {
        index: r.int(ao.index, join(ap, 'index'), 0, 5),
        op: r.oneOf(ao.op, join(ap, 'op'), OPS),
        value: r.u64(ao.value ?? 0, join(ap, 'value')),
        valueTwo: r.u64(ao.valueTwo ?? 0, join(ap, 'valueTwo')),
      };
    });
    const inc = filterOf(o.includes, join(path, 'includes'));
    const exc = filterOf(o.excludes, join(path, 'excludes'));

    if (exc.arches.includes(hostArch.docker)) return;
    if (exc.caps.some((c) => caps.has(c))) return;
    if (exc.minKernel && kernelAtLeast(exc.minKernel, kernel)) return;
    if (inc.arches.length && !inc.arches.includes(hostArch.docker)) return;
    if (!inc.caps.every((c) => caps.has(c))) return;
    if (inc.minKernel && !kernelAtLeast(inc.minKernel, kernel)) return;

    // runc: when an index repeats, every comparison becomes a rule of its own (OR).
    const repeats = new Set(args.map((a) => a.index)).size !== args.length;
    const groups = repeats ? args.map((a) => [a]) : [args];
    for (const name of names)
      for (const g of groups) candidates.push({ syscall: name, action: act, args: g, path });
  });

  // What libseccomp would resolve silently (by dropping a rule) is refused here, or
  // settled as libseccomp does and reported (ctx.settle); conditional rules with the
  // same arguments and other actions make libseccomp fail (EEXIST): always refused.
  const rules: SeccompRule[] = [];
  const bySyscall = new Map<string, Candidate[]>();
  for (const c of candidates) {
    const list = bySyscall.get(c.syscall) ?? [];
    bySyscall.set(c.syscall, list);
    const dup = list.find((x) => sameArgs(x.args, c.args));
    if (dup) {
      if (!sameAction(dup.action, c.action) && ctx.settle && c.args.length === 0)
        ctx.settle(`${c.path}: "${c.syscall}" ${describe(c.action)} dropped: ${dup.path} gives it ${describe(dup.action)} first`);
      else if (!sameAction(dup.action, c.action))
        r.fail(c.path, `gives "${c.syscall}" ${describe(c.action)} where ${dup.path} gives it ${describe(dup.action)} for the same arguments`, 'one action per syscall and argument condition');
      continue;
    }
    list.push(c);
  }
  for (const [name, list] of bySyscall) {
    const plain = list.find((c) => c.args.length === 0);
    for (const c of list) {
      if (plain && c !== plain) {
        if (!sameAction(plain.action, c.action) && ctx.settle)
          ctx.settle(`${c.path}: "${name}" ${describe(c.action)} under argument conditions dropped: ${plain.path} gives it ${describe(plain.action)} unconditionally`);
        else if (!sameAction(plain.action, c.action))
          r.fail(c.path, `gives "${name}" ${describe(c.action)} under argument conditions, but ${plain.path} gives it ${describe(plain.action)} unconditionally, and libseccomp would drop the conditional rule`, 'conditional rules only for syscalls without an unconditional rule of another action');
        continue;  // redundant: the unconditional rule already says it
      }
      rules.push({ syscall: c.syscall, action: c.action, args: c.args });
    }
  }

  const allowsByDefault = defaultAction.kind === 'allow' || defaultAction.kind === 'log';
  return {
    defaultAction,
    badArchAction: { kind: 'kill_process', value: 0 },
    arches,
    // A syscall newer than the profile returns ENOSYS so libc falls back (runc's lesson);
    // pointless when the default allows, or already returns ENOSYS.
    enosysAboveKnown: !allowsByDefault && !(defaultAction.kind === 'errno' && defaultAction.value === 38),
    rules,
  };
}

/** parseProfile for the text of a profile file. */
export function parseProfileText(text: string, ctx: ProfileContext): SeccompFilter {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`seccomp profile ${ctx.source ?? '(inline)'}: not valid JSON: ${(e as Error).message}`);
  }
  return parseProfile(json, ctx);
}
