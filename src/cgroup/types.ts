import type { Limits } from './limits';

/** How a dyno's cgroup view is mounted inside it at /sys/fs/cgroup. */
export type CgroupView =
  | { version: 2 }
  | { version: 1; hierarchies: { dir: string; options: string }[] };

/** One dyno's cgroup(s), created with limits written, not yet joined. */
export interface DynoCgroup {
  readonly version: 1 | 2;
  /** v2: the directory for CLONE_INTO_CGROUP; "" on v1 */
  readonly intoDir: string;
  /** files to write the child's pid into when it cannot be born inside */
  readonly procsFiles: string[];
  /** every directory created, for --dry-run and tests */
  readonly dirs: string[];
  readonly view: CgroupView;
  /** OOM kills so far; read before remove() */
  oomKills(): number;
  /** SIGKILL whatever is left, then remove the directories */
  remove(): Promise<void>;
}

/** One cgroup version's implementation (youki style: v1.ts, v2.ts behind this). */
export interface CgroupBackend {
  readonly version: 1 | 2;
  /** where dyno cgroups go, per controller (v1) or once (v2) */
  readonly roots: string[];
  /** how a dyno sees its limits at /sys/fs/cgroup */
  readonly view: CgroupView;
  create(name: string, limits: Limits): DynoCgroup;
  /** removes cgroups left by dynod processes that no longer exist */
  sweepStale(): Promise<number>;
}
