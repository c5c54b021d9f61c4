// linux.resources of an OCI container → the files of its cgroup, v1 or v2, in the
// order they must be written. Pure: what the cgroup holds now comes in through
// `read` (update writes one field against the others' current values).
import type { ContainerResources } from '../oci/resources';
import { UsageError } from '../errors';

/** One write: `value` into `file` of the container's directory in the hierarchy of `controller`. */
export interface CgroupWrite {
  controller: 'memory' | 'cpu' | 'cpuset' | 'pids';
  file: string;
  value: string;
  /**
   * false: a missing file (the kernel accounts no swap) is fine, the write asks
   * for nothing that is not the case already
   */
  required: boolean;
}

/** A file of the container's cgroup by controller and name; null when there is no such file. */
export type ReadCgroupFile = (controller: CgroupWrite['controller'], file: string) => string | null;

/** 0 means unset in OCI's memory and CPU numbers (runc reads them so): null either way. */
function set(n: number | null): number | null {
  return n === null || n === 0 ? null : n;
}

/**
 * cpu.shares (v1, 2..262144, default 1024) → cpu.weight (v2, 1..10000, default 100),
 * as runc maps it since opencontainers/cgroups 0.0.2: a quadratic in log2(shares)
 * that meets both ends and sends 1024 to 100 (the older linear map sent it to 39).
 */
export function cpuWeightFromShares(shares: number): number {
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  return Math.ceil(10 ** ((l * l + 125 * l) / 612 - 7 / 34));
}

/** A v2 .max/.low value: -1 is "max" (v1's way of saying no limit). */
const v2Num = (n: number) => (n === -1 ? 'max' : String(n));

function parseMax(text: string | null): number | null {
  const s = text?.trim();
  return s && /^\d+$/.test(s) ? Number(s) : null;
}

/**
 * v2 memory.swap.max from OCI's memory+swap total (as runc's
 * ConvertMemorySwapToCgroupV2Value): null when nothing is to be written.
 * `limit` is the memory limit in effect (set now, or read from memory.max).
 */
export function v2SwapMax(swap: number | null, limit: number | null, limitSetNow: boolean): string | null {
  if (swap === null) return limitSetNow && limit === -1 ? 'max' : null;
  if (swap === -1) return 'max';
  if (limit === null || limit === -1)
    throw new UsageError(`linux.resources.memory.swap ${swap}: a swap limit needs a memory limit (set linux.resources.memory.limit too)`);
  if (swap < limit) throw new UsageError(`linux.resources.memory.swap ${swap}: memory+swap must be at least the memory limit ${limit} (OCI counts swap with memory)`);
  return String(swap - limit);
}

/** cpu.max "quota period": a field not set now keeps what the file holds ("max 100000" on a new cgroup). */
export function v2CpuMax(quota: number | null, period: number | null, current: string | null): string | null {
  if (quota === null && period === null) return null;
  const [curQuota, curPeriod] = (current ?? '').trim().split(/\s+/);
  const q = quota === null ? (curQuota || 'max') : quota > 0 ? String(quota) : 'max';
  const p = period === null ? (curPeriod ?? '') : String(period);
  return p ? `${q} ${p}` : q;
}

/** pids.max: OCI's limit of 0 or below means no limit. */
const pidsMax = (limit: number) => (limit > 0 ? String(limit) : 'max');

export function v2Writes(r: ContainerResources, read: ReadCgroupFile): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  const w = (controller: CgroupWrite['controller'], file: string, value: string, required = true) => out.push({ controller, file, value, required });
  const limit = set(r.memory.limit);
  const swap = set(r.memory.swap);
  if (r.memory.disableOOMKiller === true)
    throw new UsageError('linux.resources.memory.disableOOMKiller: cgroup v2 has no way to turn the OOM killer off (accepted on cgroup v1 only)');
  const limitNow = limit ?? (swap !== null && swap !== -1 ? parseMax(read('memory', 'memory.max')) : null);
  const swapMax = v2SwapMax(swap, limitNow, limit !== null);
  // no swap accounting: "max" and "0" ask for what is so anyway
  if (swapMax !== null) w('memory', 'memory.swap.max', swapMax, swapMax !== 'max' && swapMax !== '0');
  if (limit !== null) w('memory', 'memory.max', v2Num(limit));
  const reservation = set(r.memory.reservation);
  if (reservation !== null) w('memory', 'memory.low', v2Num(reservation));
  const shares = set(r.cpu.shares);
  if (shares !== null) w('cpu', 'cpu.weight', String(cpuWeightFromShares(shares)));
  const quota = set(r.cpu.quota);
  const period = set(r.cpu.period);
  const cpuMax = v2CpuMax(quota, period, quota === null || period === null ? read('cpu', 'cpu.max') : null);
  if (cpuMax !== null) w('cpu', 'cpu.max', cpuMax);
  if (r.cpu.cpus !== null) w('cpuset', 'cpuset.cpus', r.cpu.cpus);
  if (r.cpu.mems !== null) w('cpuset', 'cpuset.mems', r.cpu.mems);
  if (r.pids.limit !== null) w('pids', 'pids.max', pidsMax(r.pids.limit));
  return out;
}

/**
 * v1: memory.limit_in_bytes and memory.memsw.limit_in_bytes in the order the
 * kernel accepts (memsw >= limit at every step: swap first when it grows past the
 * current limit, as runc's setMemoryAndSwap); cpu.cfs_period_us before
 * cpu.cfs_quota_us (the applier retries a refused period after the quota).
 */
export function v1Writes(r: ContainerResources, read: ReadCgroupFile): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  const w = (controller: CgroupWrite['controller'], file: string, value: string, required = true) => out.push({ controller, file, value, required });
  const limit = set(r.memory.limit);
  let swap = set(r.memory.swap);
  const memsw = 'memory.memsw.limit_in_bytes';
  const hasMemsw = limit !== null || swap !== null ? read('memory', memsw) !== null : false;
  // unlimited memory with swap unset: unlimited swap too, where the kernel counts it
  if (limit === -1 && swap === null && hasMemsw) swap = -1;
  if (swap !== null && swap !== -1 && limit !== null && limit !== -1 && swap < limit)
    throw new UsageError(`linux.resources.memory.swap ${swap}: memory+swap must be at least the memory limit ${limit} (OCI counts swap with memory)`);
  const swapWrite = () => {
    if (swap === null) return;
    if (!hasMemsw && swap !== -1 && swap !== limit)
      throw new UsageError(`linux.resources.memory.swap: this kernel does not account swap (no ${memsw}); leave the swap limit out`);
    w('memory', memsw, String(swap), swap !== -1 && swap !== limit);
  };
  const limitWrite = () => {
    if (limit !== null) w('memory', 'memory.limit_in_bytes', String(limit));
  };
  const current = limit !== null && swap !== null ? parseMax(read('memory', 'memory.limit_in_bytes')) : null;
  if (limit !== null && swap !== null && (swap === -1 || (current !== null && current < swap))) {
    swapWrite();
    limitWrite();
  } else {
    limitWrite();
    swapWrite();
  }
  const reservation = set(r.memory.reservation);
  if (reservation !== null) w('memory', 'memory.soft_limit_in_bytes', String(reservation));
  if (r.memory.disableOOMKiller !== null) w('memory', 'memory.oom_control', r.memory.disableOOMKiller ? '1' : '0');
  const shares = set(r.cpu.shares);
  if (shares !== null) w('cpu', 'cpu.shares', String(shares));
  const period = set(r.cpu.period);
  if (period !== null) w('cpu', 'cpu.cfs_period_us', String(period));
  const quota = set(r.cpu.quota);
  if (quota !== null) w('cpu', 'cpu.cfs_quota_us', String(quota > 0 ? quota : -1));
  if (r.cpu.cpus !== null) w('cpuset', 'cpuset.cpus', r.cpu.cpus);
  if (r.cpu.mems !== null) w('cpuset', 'cpuset.mems', r.cpu.mems);
  if (r.pids.limit !== null) w('pids', 'pids.max', pidsMax(r.pids.limit));
  return out;
}

/** The OCI field a write comes from, for errors ("linux.resources.memory.limit"). */
export function fieldOf(file: string): string {
  const fields: Record<string, string> = {
    'memory.max': 'memory.limit', 'memory.limit_in_bytes': 'memory.limit',
    'memory.swap.max': 'memory.swap', 'memory.memsw.limit_in_bytes': 'memory.swap',
    'memory.low': 'memory.reservation', 'memory.soft_limit_in_bytes': 'memory.reservation',
    'memory.oom_control': 'memory.disableOOMKiller',
    'cpu.weight': 'cpu.shares', 'cpu.shares': 'cpu.shares',
    'cpu.max': 'cpu.quota/period', 'cpu.cfs_quota_us': 'cpu.quota', 'cpu.cfs_period_us': 'cpu.period',
    'cpuset.cpus': 'cpu.cpus', 'cpuset.mems': 'cpu.mems', 'pids.max': 'pids.limit',
  };
  return `linux.resources.${fields[file] ?? file}`;
}
