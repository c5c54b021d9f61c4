import { UsageError } from '../errors';

/** The names of Heroku's dyno sizes. */
export type SizeName =
  | 'eco' | 'basic' | 'standard-1x' | 'standard-2x' | 'performance-m' | 'performance-l'
  | 'performance-l-ram' | 'performance-xl' | 'performance-2xl';

/** One dyno size, as Heroku defines it (heroku-dynos.md section 1). */
export interface DynoSize {
  /** canonical lowercase name, e.g. "standard-2x" */
  name: SizeName;
  /** display name, e.g. "Standard-2X" */
  label: string;
  /** RAM quota in MiB */
  memoryMiB: number;
  /** where R15 kills the dyno, in MiB (RAM plus swap) */
  killMiB: number;
  /** relative CPU share for shared sizes (1x, 2x) */
  cpuShare: number | null;
  /** dedicated vCPUs for performance sizes */
  vcpus: number | null;
  /** processes and threads */
  processLimit: number;
  dedicated: boolean;
}

const MiB_PER_GB = 1024;

function shared(name: SizeName, label: string, memoryMiB: number, share: number, procs: number): DynoSize {
  return { name, label, memoryMiB, killMiB: memoryMiB * 2, cpuShare: share, vcpus: null, processLimit: procs, dedicated: false };
}

function dedicated(name: SizeName, label: string, memoryMiB: number, killMiB: number, vcpus: number, procs: number): DynoSize {
  return { name, label, memoryMiB, killMiB, cpuShare: null, vcpus, processLimit: procs, dedicated: true };
}

export const SIZES: readonly DynoSize[] = Object.freeze([
  shared('eco', 'Eco', 512, 1, 256),
  shared('basic', 'Basic', 512, 1, 256),
  shared('standard-1x', 'Standard-1X', 512, 1, 256),
  shared('standard-2x', 'Standard-2X', 1024, 2, 512),
  dedicated('performance-m', 'Performance-M', 2560, 5 * MiB_PER_GB, 2, 16384),
  dedicated('performance-l', 'Performance-L', 14 * MiB_PER_GB, 28 * MiB_PER_GB, 8, 32768),
  dedicated('performance-l-ram', 'Performance-L-RAM', 30 * MiB_PER_GB, 36 * MiB_PER_GB, 4, 24576),
  dedicated('performance-xl', 'Performance-XL', 62 * MiB_PER_GB, 74 * MiB_PER_GB, 8, 32768),
  dedicated('performance-2xl', 'Performance-2XL', 126 * MiB_PER_GB, 151 * MiB_PER_GB, 16, 65536),
]);

export const DEFAULT_SIZE: SizeName = 'standard-1x';

/** Looks a size up by name, case-insensitively. */
export function findSize(name: string): DynoSize {
  const key = name.trim().toLowerCase();
  const size = SIZES.find((s) => s.name === key);
  if (!size) throw new UsageError(`unknown size "${name}"; valid sizes: ${SIZES.map((s) => s.name).join(', ')}`);
  return size;
}
