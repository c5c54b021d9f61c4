// What a dyno's cgroup has used, from the texts of its files (pure: no kernel needed).
import type { CgroupStats } from './types';

/** "key N" lines (memory.stat, cpu.stat, memory.events, memory.oom_control). */
export function parseKeyed(text: string | null): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\S+)\s+(-?\d+)\s*$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/**
 * A single number of a cgroup file, or null for none: no such file, "max" (v2), or
 * v1's "unlimited" (PAGE_COUNTER_MAX pages, about 2^63 bytes).
 */
export function parseValue(text: string | null): number | null {
  if (text === null) return null;
  const s = text.trim();
  if (s === 'max' || !/^-?\d+$/.test(s)) return null;
  const n = Number(s);
  return n >= 2 ** 62 || n < 0 ? null : n;
}

/** The largest page size Linux has (arm64, ppc64): memory limits are kept in whole pages. */
const PAGE_MAX = 65536;

/**
 * Records in `known` the text a limit file shows after dynod wrote `value` into it,
 * when that is certain (pids.max; a memory limit that is a whole number of any page
 * size), so a reading of the dyno's stats need not open the file again.
 */
export function rememberWritten<K extends string>(known: Partial<Record<K, string | null>>, file: K, value: number): void {
  if (file === 'pids.max' || value % PAGE_MAX === 0) known[file] = String(value);
}

/** The files of `all` that `known` does not give. */
export function unknownFiles<K extends string>(all: readonly K[], known: Partial<Record<K, string | null>>): K[] {
  return all.filter((f) => known[f] === undefined);
}

function key(map: Map<string, number>, text: string | null, k: string): number | null {
  return text === null ? null : (map.get(k) ?? null);
}

/** cgroup v2 file texts by file name (null when the kernel has no such file). */
export type V2Files = Record<
  'memory.current' | 'memory.stat' | 'memory.swap.current' | 'memory.max' | 'memory.swap.max' | 'cpu.stat' | 'pids.current' | 'pids.max' | 'memory.events',
  string | null
>;

export const V2_STAT_FILES: Array<keyof V2Files> = [
  'memory.current', 'memory.stat', 'memory.swap.current', 'memory.max', 'memory.swap.max', 'cpu.stat', 'pids.current', 'pids.max', 'memory.events',
];

export function v2Stats(f: V2Files): CgroupStats {
  const mstat = parseKeyed(f['memory.stat']);
  const quota = parseValue(f['memory.max']);
  const swapMax = parseValue(f['memory.swap.max']);
  return {
    memory: {
      usedBytes: parseValue(f['memory.current']),
      rssBytes: key(mstat, f['memory.stat'], 'anon'),
      cacheBytes: key(mstat, f['memory.stat'], 'file'),
      swapBytes: parseValue(f['memory.swap.current']),
      quotaBytes: quota,
      // the kill threshold is RAM plus the swap it may use on top
      limitBytes: quota !== null && swapMax !== null ? quota + swapMax : null,
    },
    cpu: { usageUsec: key(parseKeyed(f['cpu.stat']), f['cpu.stat'], 'usage_usec') },
    pids: { current: parseValue(f['pids.current']), limit: parseValue(f['pids.max']) },
    oomKills: parseKeyed(f['memory.events']).get('oom_kill') ?? 0,
  };
}

/** cgroup v1 file texts by file name: memory.*, cpuacct.usage (null without a cpuacct hierarchy), pids.*. */
export type V1Files = Record<
  'memory.usage_in_bytes' | 'memory.stat' | 'memory.limit_in_bytes' | 'memory.memsw.limit_in_bytes' | 'memory.oom_control' | 'cpuacct.usage' | 'pids.current' | 'pids.max',
  string | null
>;

export const V1_STAT_FILES: Array<keyof V1Files> = [
  'memory.usage_in_bytes', 'memory.stat', 'memory.limit_in_bytes', 'memory.memsw.limit_in_bytes', 'memory.oom_control', 'cpuacct.usage', 'pids.current', 'pids.max',
];

export function v1Stats(f: V1Files): CgroupStats {
  const mstat = parseKeyed(f['memory.stat']);
  const ns = parseValue(f['cpuacct.usage']);
  return {
    memory: {
      usedBytes: parseValue(f['memory.usage_in_bytes']),
      rssBytes: key(mstat, f['memory.stat'], 'total_rss'),
      cacheBytes: key(mstat, f['memory.stat'], 'total_cache'),
      // total_swap is there only with swap accounting
      swapBytes: key(mstat, f['memory.stat'], 'total_swap'),
      quotaBytes: parseValue(f['memory.limit_in_bytes']),
      limitBytes: parseValue(f['memory.memsw.limit_in_bytes']),
    },
    cpu: { usageUsec: ns === null ? null : Math.floor(ns / 1000) },
    pids: { current: parseValue(f['pids.current']), limit: parseValue(f['pids.max']) },
    oomKills: parseKeyed(f['memory.oom_control']).get('oom_kill') ?? 0,
  };
}
