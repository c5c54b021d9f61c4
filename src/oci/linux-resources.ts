// linux.resources of config.json (and the LinuxResources JSON `update --resources`
// reads) → ContainerResources. Zeros mean "not set", as runc reads them (it never
// writes a 0 limit); -1 means unlimited. What the container cgroup cannot apply is
// refused with its JSON path.
import { JsonReader, at, isSet, present, type Json } from './json';
import { emptyResources, type ContainerResources, type DeviceRule } from './resources';

const SUPPORTED = 'supported: memory, cpu, pids, devices';
const INT64_MAX = Number.MAX_SAFE_INTEGER;
const CPUSET = /^(\d+(-\d+)?)(,\d+(-\d+)?)*$/;

/** -1 (unlimited), null for 0 or absent, else a positive number. */
function limit(r: JsonReader, v: unknown, path: string): number | null {
  const n = r.optInt(v, path, -1, INT64_MAX);
  return n === 0 || n === null ? null : n;
}

function memory(r: JsonReader, o: Json, path: string): ContainerResources['memory'] {
  for (const k of ['kernel', 'kernelTCP']) r.refuseSet(o, k, path, 'kernel memory accounting is deprecated and gone from cgroup v2');
  r.refuseSet(o, 'swappiness', path, 'supported memory fields: limit, swap, reservation, disableOOMKiller');
  r.refuseSet(o, 'useHierarchy', path, 'always on in current kernels');
  r.refuseSet(o, 'checkBeforeUpdate', path, 'an update always applies the limit it is given');
  const out = {
    limit: limit(r, o.limit, at(path, 'limit')),
    swap: limit(r, o.swap, at(path, 'swap')),
    reservation: limit(r, o.reservation, at(path, 'reservation')),
    disableOOMKiller: present(o.disableOOMKiller) ? r.bool(o.disableOOMKiller, at(path, 'disableOOMKiller'), false) : null,
  };
  // OCI's swap is memory plus swap (v1's memsw): below the memory limit it means nothing sane.
  if (out.limit !== null && out.limit > 0 && out.swap !== null && out.swap > 0 && out.swap < out.limit)
    r.fail(at(path, 'swap'), `${out.swap} is below memory.limit ${out.limit}`, 'memory plus swap in bytes, at least memory.limit, or -1 for unlimited');
  return out;
}

function cpu(r: JsonReader, o: Json, path: string): ContainerResources['cpu'] {
  for (const k of ['realtimeRuntime', 'realtimePeriod']) r.refuseSet(o, k, path, 'real-time CPU bandwidth needs CONFIG_RT_GROUP_SCHED, which cgroup v2 lacks');
  r.refuseSet(o, 'burst', path, 'supported cpu fields: shares, quota, period, cpus, mems');
  if (isSet(o.idle) && o.idle !== 0) r.unsupported(at(path, 'idle'), 'supported cpu fields: shares, quota, period, cpus, mems');
  const shares = r.optInt(o.shares, at(path, 'shares'), 0, 262144);
  if (shares !== null && shares > 0 && shares < 2) r.fail(at(path, 'shares'), `${shares} is out of range`, 'an integer from 2 to 262144, or 0 for none');
  const period = r.optInt(o.period, at(path, 'period'), 0, 1_000_000);
  if (period !== null && period > 0 && period < 1000) r.fail(at(path, 'period'), `${period} is out of range`, 'microseconds from 1000 to 1000000, or 0 for none');
  const quota = limit(r, o.quota, at(path, 'quota'));
  if (quota !== null && quota > 0 && quota < 1000) r.fail(at(path, 'quota'), `${quota} is out of range`, 'microseconds from 1000 up, or -1 for unlimited');
  const set = (k: 'cpus' | 'mems'): string | null => {
    const s = r.optString(o[k], at(path, k), 'a list such as "0-3,6"');
    if (s === null || s === '') return null;
    if (!CPUSET.test(s)) r.fail(at(path, k), `${JSON.stringify(s)} is not a list of numbers and ranges`, 'a list such as "0-3,6"');
    return s;
  };
  return { shares: shares || null, quota, period: period || null, cpus: set('cpus'), mems: set('mems') };
}

function device(r: JsonReader, v: unknown, path: string): DeviceRule {
  const o = r.object(v, path);
  if (typeof o.allow !== 'boolean') r.fail(at(path, 'allow'), o.allow === undefined ? 'missing' : `${JSON.stringify(o.allow)} is not a boolean`, 'true or false');
  const type = r.optString(o.type, at(path, 'type'), 'a, b or c') ?? 'a';
  if (type !== 'a' && type !== 'b' && type !== 'c') r.fail(at(path, 'type'), `${JSON.stringify(type)} is not a device type`, 'a (all), b (block) or c (char)');
  const num = (k: 'major' | 'minor') => {
    const n = r.optInt(o[k], at(path, k), -1, 0xffffffff);
    return n === null || n === -1 ? null : n;
  };
  const access = r.optString(o.access, at(path, 'access'), 'a subset of "rwm"') ?? '';
  if (!/^[rwm]{1,3}$/.test(access) || new Set(access).size !== access.length)
    r.fail(at(path, 'access'), `${JSON.stringify(access)} is not a set of access letters`, 'a non-empty subset of "rwm"');
  return { allow: o.allow, type, major: num('major'), minor: num('minor'), access };
}

/**
 * Checks a LinuxResources object: config.json's linux.resources (file "config.json",
 * path "linux.resources"), or what `update --resources` reads (file and path of its own).
 */
export function validateResources(raw: unknown, file = 'config.json', path = 'linux.resources'): ContainerResources {
  const r = new JsonReader(file);
  const out = emptyResources();
  const o = r.optObject(raw, path || '(top level)');
  if (!o) return out;
  for (const k of ['blockIO', 'hugepageLimits', 'network']) r.refuseSet(o, k, path, SUPPORTED);
  for (const k of ['rdma', 'unified']) r.refuseEntries(o, k, path, SUPPORTED);
  const m = r.optObject(o.memory, at(path, 'memory'));
  if (m) out.memory = memory(r, m, at(path, 'memory'));
  const c = r.optObject(o.cpu, at(path, 'cpu'));
  if (c) out.cpu = cpu(r, c, at(path, 'cpu'));
  const p = r.optObject(o.pids, at(path, 'pids'));
  if (p) out.pids = { limit: limit(r, p.limit, at(at(path, 'pids'), 'limit')) };
  out.devices = r.array(o.devices, at(path, 'devices'), 'device rules').map((d, i) => device(r, d, at(at(path, 'devices'), i)));
  return out;
}
