import type { Limits } from './limits';

/** How a dyno's cgroup view is mounted inside it at /sys/fs/cgroup. */
export type CgroupView =
  | { version: 2 }
  | { version: 1; hierarchies: { dir: string; options: string }[] };

/** Which dyno a cgroup holds: it is named <dynod root>/dynod/<group>/<name>-<id8>. */
export interface CgroupSpec {
  /** the formation's name, or "run" for one-off dynos */
  group: string;
  /** the dyno's name, e.g. web.1 */
  name: string;
  /** the start's UUID; its first 8 hex digits name the cgroup */
  id: string;
}

/** What a dyno's cgroup has used; the same on v1 and v2; null where the kernel has no such file (or no limit). */
export interface CgroupStats {
  memory: {
    /** v2 memory.current, v1 memory.usage_in_bytes (page cache included) */
    usedBytes: number | null;
    /** anonymous memory: v2 memory.stat anon, v1 total_rss */
    rssBytes: number | null;
    /** page cache: v2 memory.stat file, v1 total_cache */
    cacheBytes: number | null;
    /** v2 memory.swap.current, v1 memory.stat total_swap */
    swapBytes: number | null;
    /** the RAM limit: v2 memory.max, v1 memory.limit_in_bytes */
    quotaBytes: number | null;
    /** RAM plus swap, the kill threshold: v2 memory.max + memory.swap.max, v1 memory.memsw.limit_in_bytes */
    limitBytes: number | null;
  };
  /** CPU time used: v2 cpu.stat usage_usec, v1 cpuacct.usage / 1000 */
  cpu: { usageUsec: number | null };
  pids: { current: number | null; limit: number | null };
  /** v2 memory.events oom_kill, v1 memory.oom_control oom_kill */
  oomKills: number;
}

/**
 * One dyno's cgroup(s), created with limits written, not yet joined, and owned
 * (locked) by this process until remove().
 */
export interface DynoCgroup {
  readonly version: 1 | 2;
  /** relative to the dynod root: "dynod/<group>/<name>-<id8>" */
  readonly path: string;
  /** v2: the directory for CLONE_INTO_CGROUP; "" on v1 */
  readonly intoDir: string;
  /** files to write the child's pid into when it cannot be born inside */
  readonly procsFiles: string[];
  /** every leaf directory created, for --dry-run and tests */
  readonly dirs: string[];
  readonly view: CgroupView;
  /** OOM kills so far; read before remove() */
  oomKills(): number;
  stats(): CgroupStats;
  /** the host pids of every process in it ([] once it is gone) */
  pids(): number[];
  /** SIGKILL whatever is left, remove the leaf (and its group when empty), release ownership */
  remove(): Promise<void>;
}

/** One cgroup version's implementation (youki style: v1.ts, v2.ts behind this). */
export interface CgroupBackend {
  readonly version: 1 | 2;
  /** the dynod/ directories dyno cgroups go under, per hierarchy (v1) or once (v2) */
  readonly roots: string[];
  /** how a dyno sees its limits at /sys/fs/cgroup */
  readonly view: CgroupView;
  /** a new cgroup for one start; never joins or reuses one (EEXIST) */
  create(spec: CgroupSpec, limits: Limits): DynoCgroup;
  /** removes every dyno cgroup whose owner is gone (its lock is free), killing what is left in it */
  sweepStale(): Promise<number>;
  /** removes now the empty directories above dyno cgroups that otherwise stay a moment (idle-parents.ts) */
  flushIdleParents(): void;
}
