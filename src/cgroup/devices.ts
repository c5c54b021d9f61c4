// The device cgroup of an OCI container as the kernel's v1 controller models it: a
// default (allow or deny everything) plus exceptions. OCI's rules are applied to that
// model in order, as runc's emulator does (cgroups/devices/devices_emulator.go), so v1
// (devices.allow/deny writes) and v2 (an eBPF program built from the same state) agree,
// and a rule v1 cannot express (a hole in a wildcard) is refused on both.
import type { DeviceRule } from '../oci/resources';
import { UsageError } from '../errors';

/** An exception to the default: a char or block device (null: any major/minor) and its access, a subset of "rwm". */
export interface DeviceException {
  type: 'c' | 'b';
  major: number | null;
  minor: number | null;
  access: string;
}

export interface DeviceState {
  /** true: everything but the exceptions is allowed (v1 "a *:* rwm"); false: only the exceptions are */
  defaultAllow: boolean;
  /** ordered by major, minor, type (stable output for v1 writes and the BPF program) */
  exceptions: DeviceException[];
}

/** One write to a v1 devices cgroup: `line` to devices.allow or devices.deny. */
export interface DeviceWrite {
  file: 'devices.allow' | 'devices.deny';
  line: string;
}

const rule = (type: 'c' | 'b', major: number | null, minor: number | null, access = 'rwm'): DeviceRule => ({ allow: true, type, major, minor, access });

/**
 * Allowed in every container after its own rules, as runc's AllowedDevices
 * (libcontainer/specconv): mknod of any node (opening one still needs r/w), the
 * runtime-spec default devices (null, zero, full, random, urandom, tty, ptmx), the
 * pty slaves, and /dev/net/tun (runc restored it in 1.2 for compatibility).
 */
export const DEFAULT_ALLOWED_DEVICES: readonly DeviceRule[] = Object.freeze([
  rule('c', null, null, 'm'),
  rule('b', null, null, 'm'),
  rule('c', 1, 3), // null
  rule('c', 1, 8), // random
  rule('c', 1, 7), // full
  rule('c', 5, 0), // tty
  rule('c', 1, 5), // zero
  rule('c', 1, 9), // urandom
  rule('c', 136, null), // pts/*
  rule('c', 5, 2), // ptmx
  rule('c', 10, 200), // net/tun
]);

const BITS: Record<string, number> = { m: 1, r: 2, w: 4 };

/** "rwm" subset → bits (BPF_DEVCG_ACC_MKNOD 1, READ 2, WRITE 4: the same in the kernel's BPF ABI) */
export function accessBits(access: string): number {
  let bits = 0;
  for (const ch of access) {
    const b = BITS[ch];
    if (b === undefined) throw new UsageError(`device access ${JSON.stringify(access)}: only r, w and m are accepted`);
    bits |= b;
  }
  return bits;
}

/** bits → "rwm" in the kernel's order */
export function accessString(bits: number): string {
  return `${bits & 2 ? 'r' : ''}${bits & 4 ? 'w' : ''}${bits & 1 ? 'm' : ''}`;
}

const num = (n: number | null) => (n === null ? '*' : String(n));
const keyOf = (type: 'c' | 'b', major: number | null, minor: number | null) => `${type} ${num(major)}:${num(minor)}`;

/** A rule as v1's devices.allow/deny take it: "a", or "c 1:3 rwm". */
export function deviceLine(r: { type: 'a' | 'c' | 'b'; major: number | null; minor: number | null; access: string }): string {
  return r.type === 'a' ? 'a' : `${keyOf(r.type, r.major, r.minor)} ${r.access}`;
}

/** The v1 model: default plus exceptions keyed "c 1:3" (exact, wildcards as "*"). */
class Model {
  defaultAllow = false;
  readonly exceptions = new Map<string, { type: 'c' | 'b'; major: number | null; minor: number | null; bits: number }>();

  reset(allow: boolean): void {
    this.defaultAllow = allow;
    this.exceptions.clear();
  }

  add(r: DeviceRule & { type: 'c' | 'b' }, bits: number): void {
    const k = keyOf(r.type, r.major, r.minor);
    const old = this.exceptions.get(k);
    this.exceptions.set(k, { type: r.type, major: r.major, minor: r.minor, bits: (old?.bits ?? 0) | bits });
  }

  /** Removes bits from the exact exception; a wildcard exception that covers the rule would keep them: refused (v1 cannot punch holes). */
  remove(r: DeviceRule & { type: 'c' | 'b' }, bits: number, where: string): void {
    const k = keyOf(r.type, r.major, r.minor);
    for (const [maj, min] of [[null, r.minor], [r.major, null], [null, null]] as const) {
      const wk = keyOf(r.type, maj, min);
      const w = this.exceptions.get(wk);
      if (wk !== k && w && w.bits & bits)
        throw new UsageError(
          `${where}: "${deviceLine({ ...r, access: accessString(bits) })}" cannot be taken out of the earlier wildcard rule "${wk} ${accessString(w.bits)}" (the device cgroup cannot punch holes in a wildcard; list narrower rules instead)`,
        );
    }
    const old = this.exceptions.get(k);
    if (!old) return;
    const left = old.bits & ~bits;
    if (left) this.exceptions.set(k, { ...old, bits: left });
    else this.exceptions.delete(k);
  }

  apply(r: DeviceRule, where: string): void {
    // "a" is the whole-controller switch on v1 (its numbers and access are ignored there too)
    if (r.type === 'a') return this.reset(r.allow);
    const bits = accessBits(r.access);
    if (bits === 0) throw new UsageError(`${where}: access is empty (accepted: a subset of "rwm")`);
    const typed = r as DeviceRule & { type: 'c' | 'b' };
    // an exception has the opposite effect of the default: adding one toward the
    // default is taking it away
    if (r.allow !== this.defaultAllow) this.add(typed, bits);
    else this.remove(typed, bits, where);
  }

  state(): DeviceState {
    const exceptions = [...this.exceptions.values()]
      .sort((a, b) => (a.major ?? -1) - (b.major ?? -1) || (a.minor ?? -1) - (b.minor ?? -1) || a.type.localeCompare(b.type))
      .map((e) => ({ type: e.type, major: e.major, minor: e.minor, access: accessString(e.bits) }));
    return { defaultAllow: this.defaultAllow, exceptions };
  }
}

/**
 * The state a container's rules produce: its own rules in order, from deny-all (an
 * OCI device list is an allow list), then DEFAULT_ALLOWED_DEVICES. A rule is named in
 * errors as linux.resources.devices[i].
 */
export function containerDeviceState(rules: readonly DeviceRule[]): DeviceState {
  const m = new Model();
  rules.forEach((r, i) => m.apply(r, `linux.resources.devices[${i}]`));
  DEFAULT_ALLOWED_DEVICES.forEach((r) => m.apply(r, 'default device rules'));
  return m.state();
}

/** What a v1 devices.list says (allow-all shows as "a *:* rwm" alone; the deny exceptions of that mode are not listed). */
export function parseDevicesList(text: string): DeviceState {
  const m = new Model();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/[ :]/);
    if (f.length !== 4) continue;
    const [type, major, minor, access] = f as [string, string, string, string];
    if (type === 'a') {
      m.reset(true);
      continue;
    }
    if (type !== 'c' && type !== 'b') continue;
    const n = (s: string) => (s === '*' ? null : Number(s));
    m.add({ allow: true, type, major: n(major), minor: n(minor), access }, accessBits(access));
  }
  return m.state();
}

/**
 * The writes that take a v1 devices cgroup from `from` to `to`, as runc's
 * Transition: a reset ("a") when the default changes or when `from` allows by
 * default (its deny exceptions cannot be read back); then bits dropped from
 * exceptions, then bits gained. A running container keeps its devices throughout
 * unless the default changes.
 */
export function deviceTransition(from: DeviceState, to: DeviceState): DeviceWrite[] {
  const out: DeviceWrite[] = [];
  const toward = (allow: boolean): DeviceWrite['file'] => (allow ? 'devices.allow' : 'devices.deny');
  let old = from.exceptions;
  if (from.defaultAllow || from.defaultAllow !== to.defaultAllow) {
    out.push({ file: toward(to.defaultAllow), line: 'a' });
    old = [];
  }
  const bitsIn = (list: DeviceException[]) => new Map(list.map((e) => [keyOf(e.type, e.major, e.minor), accessBits(e.access)]));
  const oldBits = bitsIn(old);
  const newBits = bitsIn(to.exceptions);
  for (const e of old) {
    const dropped = accessBits(e.access) & ~(newBits.get(keyOf(e.type, e.major, e.minor)) ?? 0);
    if (dropped) out.push({ file: toward(to.defaultAllow), line: deviceLine({ ...e, access: accessString(dropped) }) });
  }
  for (const e of to.exceptions) {
    const gained = accessBits(e.access) & ~(oldBits.get(keyOf(e.type, e.major, e.minor)) ?? 0);
    if (gained) out.push({ file: toward(!to.defaultAllow), line: deviceLine({ ...e, access: accessString(gained) }) });
  }
  return out;
}

/** The state's equality as v1 can check it (allow-mode exceptions are invisible there). */
export function sameDeviceState(a: DeviceState, b: DeviceState): boolean {
  if (a.defaultAllow !== b.defaultAllow) return false;
  if (a.defaultAllow) return true;
  return JSON.stringify(a.exceptions) === JSON.stringify(b.exceptions);
}
