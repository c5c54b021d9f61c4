// linux.seccomp of config.json: Docker's profile format without includes, excludes
// and archMap, plus flags and the listener fields. Resolved by the same parser as
// dynod's --seccomp profiles (src/seccomp/profile.ts), with conflicting rules
// settled as libseccomp settles them under runc and crun (podman's profile has
// such a pair), each dropped rule noted in the plan.
import type { NativeSeccompArgCmp, NativeSeccompFilter, NativeSeccompRule } from '../addon';
import { parseProfile } from '../seccomp/profile';
import { JsonReader, at, type Json } from './json';

/** The fields OCI defines; others are ignored, as the spec says of unknown properties. */
const OCI_FIELDS = ['defaultAction', 'defaultErrnoRet', 'architectures', 'flags', 'listenerPath', 'listenerMetadata', 'syscalls'];
const RULE_FIELDS = ['names', 'action', 'errnoRet', 'args'];
const ARG_FIELDS = ['index', 'value', 'valueTwo', 'op'];

/**
 * The flags of seccomp(SECCOMP_SET_MODE_FILTER) OCI names. Only TSYNC is honoured:
 * dynod-init loads the filter while it has one thread, so every thread gets it anyway.
 */
const FLAGS: Record<string, string | null> = {
  SECCOMP_FILTER_FLAG_TSYNC: null,
  SECCOMP_FILTER_FLAG_LOG: 'logging of allowed actions is not implemented',
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 'the speculative store bypass mitigation stays on',
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 'it needs a seccomp agent (listenerPath), which dynod-oci does not run',
};

/** NativeSeccompFilter with its 64-bit operands as decimal strings, so that a plan is plain JSON. */
export type PlanSeccompArgCmp = Omit<NativeSeccompArgCmp, 'value' | 'valueTwo'> & { value: string; valueTwo: string };
export type PlanSeccompRule = Omit<NativeSeccompRule, 'args'> & { args: PlanSeccompArgCmp[] };
export type PlanSeccompFilter = Omit<NativeSeccompFilter, 'rules'> & { rules: PlanSeccompRule[] };

function pick(o: Json, keys: string[]): Json {
  return Object.fromEntries(keys.filter((k) => Object.hasOwn(o, k)).map((k) => [k, o[k]]));
}

/**
 * Resolves config.json's linux.seccomp for this host (file names the document in
 * messages, path is where the object sits). caps: the process's bounding set.
 */
export function ociSeccompFilter(raw: unknown, caps: readonly string[], file = 'config.json', path = 'linux.seccomp'): { filter: PlanSeccompFilter; notes: string[] } {
  const r = new JsonReader(file);
  const o = r.object(raw, path);
  const flags = r.strings(o.flags, at(path, 'flags'), 'SECCOMP_FILTER_FLAG_* names');
  flags.forEach((f, i) => {
    if (!Object.hasOwn(FLAGS, f)) r.fail(at(at(path, 'flags'), i), `${JSON.stringify(f)} is not a seccomp filter flag`, Object.keys(FLAGS).join(', '));
    const why = FLAGS[f];
    if (why) r.unsupported(at(at(path, 'flags'), i), `${f}: ${why}`);
  });
  const profile = pick(o, OCI_FIELDS.filter((k) => k !== 'flags'));
  if (Array.isArray(profile.syscalls))
    profile.syscalls = profile.syscalls.map((s) => {
      if (typeof s !== 'object' || s === null || Array.isArray(s)) return s;  // the parser names it
      const rule = pick(s as Json, RULE_FIELDS);
      if (Array.isArray(rule.args)) rule.args = rule.args.map((a) => (typeof a === 'object' && a !== null && !Array.isArray(a) ? pick(a as Json, ARG_FIELDS) : a));
      return rule;
    });
  const notes: string[] = [];
  const filter = parseProfile(profile, { caps, source: file, within: path, settle: (d) => notes.push(`${path}.${d}`) });
  return { filter: planFilter(filter), notes };
}

function planFilter(f: NativeSeccompFilter): PlanSeccompFilter {
  return { ...f, rules: f.rules.map((r) => ({ ...r, args: r.args.map((a) => ({ ...a, value: String(a.value), valueTwo: String(a.valueTwo) })) })) };
}

/** The filter as the addon compiles it (compileFilter in src/seccomp). */
export function nativeSeccompFilter(f: PlanSeccompFilter): NativeSeccompFilter {
  return { ...f, rules: f.rules.map((r) => ({ ...r, args: r.args.map((a) => ({ ...a, value: BigInt(a.value), valueTwo: BigInt(a.valueTwo) })) })) };
}
