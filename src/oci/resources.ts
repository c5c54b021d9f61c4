/**
 * What an OCI container's cgroup enforces (linux.resources of config.json, checked),
 * in the spec's own units: the cgroup code converts to v1 or v2 files. null: not set
 * (the kernel's default stays). Written by create and by `update --resources`.
 * Filled by validateResources (src/oci/linux-resources.ts); a 0 in the JSON reads as
 * null, as runc reads it.
 */
export interface ContainerResources {
  memory: {
    /** bytes; memory.limit_in_bytes / memory.max; -1: unlimited */
    limit: number | null;
    /** bytes of memory plus swap, as OCI and v1 count it (v2 memory.swap.max = swap - limit); -1: unlimited */
    swap: number | null;
    /** bytes; soft limit: memory.soft_limit_in_bytes / memory.low; -1: unlimited */
    reservation: number | null;
    /** v1 memory.oom_control; refused on v2 (no such knob) */
    disableOOMKiller: boolean | null;
  };
  cpu: {
    /** v1 cpu.shares (2..262144); v2 cpu.weight by runc's mapping (1024 shares → 100; src/cgroup/container-limits.ts) */
    shares: number | null;
    /** microseconds per period; -1: unlimited */
    quota: number | null;
    /** microseconds */
    period: number | null;
    /** cpuset.cpus, e.g. "0-1" */
    cpus: string | null;
    /** cpuset.mems */
    mems: string | null;
  };
  /** -1: unlimited */
  pids: { limit: number | null };
  /** the device cgroup's rules, in order (the last matching one wins, as runc applies them) */
  devices: DeviceRule[];
}

export interface DeviceRule {
  allow: boolean;
  /** a: all, c: char, b: block */
  type: 'a' | 'c' | 'b';
  /** null: any (*) */
  major: number | null;
  minor: number | null;
  /** a subset of "rwm" */
  access: string;
}

export function emptyResources(): ContainerResources {
  return {
    memory: { limit: null, swap: null, reservation: null, disableOOMKiller: null },
    cpu: { shares: null, quota: null, period: null, cpus: null, mems: null },
    pids: { limit: null },
    devices: [],
  };
}
