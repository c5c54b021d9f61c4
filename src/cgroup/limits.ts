/**
 * What a cgroup enforces, in the kernel's units. Knows nothing of dyno sizes:
 * v1 and v2 both write these numbers, each in its own files.
 */
export interface Limits {
  /** hard RAM limit in bytes */
  memoryBytes: number;
  /** RAM plus swap in bytes (where the host swaps); >= memoryBytes */
  memorySwapBytes: number;
  /** relative CPU weight, where 100 is the kernel's default (v2 cpu.weight; v1 cpu.shares = weight * 1024 / 100) */
  cpuWeight: number | null;
  /** CPU bandwidth: quota microseconds per period microseconds */
  cpuQuota: { quotaUs: number; periodUs: number } | null;
  /** processes and threads */
  pids: number;
}

export const CPU_PERIOD_US = 100_000;

export function cpuQuotaFor(cpus: number): { quotaUs: number; periodUs: number } {
  return { quotaUs: Math.max(1000, Math.round(cpus * CPU_PERIOD_US)), periodUs: CPU_PERIOD_US };
}
