import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Limits } from './limits';
import type { CgroupBackend, CgroupSpec, CgroupView, DynoCgroup } from './types';
import { DynodError } from '../errors';
import { cgroupDir, readProcs, removeTree, rmdirIfEmpty, tryRead, tryWrite, writeFile, type CgroupMembership, type CgroupMount } from './hierarchy';
import { IdleParents } from './idle-parents';
import { createOwnedLeaf, leafNames, mkdirUnder, mkdirUnderRetrying, sweepRoot } from './leaf';
import { V1_STAT_FILES, rememberWritten, unknownFiles, v1Stats, type V1Files } from './stats';

/** USER_HZ: the unit of /proc/<pid>/stat times (100 on every Linux architecture dynod runs on) */
const CLOCK_TICKS = 100;

/**
 * CPU time of a dyno's whole process tree, in ns, from /proc: every live process's own
 * time plus that of the children it reaped (utime, stime, cutime, cstime). Each process
 * of a dyno descends from its PID 1, which reaps every orphan, so this counts every
 * process that ever ran in it, to the clock tick.
 */
export function treeCpuNs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile (ENOENT, ESRCH): counted in its reaper's cutime
    }
    // fields after the command (which may hold spaces and parentheses): state is field 3
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return Math.round((ticks * 1e9) / CLOCK_TICKS);
}

/**
 * The texts of the v1 stat files, from the directories of the hierarchies that hold
 * them (null: no such hierarchy, so no such file); only the files named in `only`
 * when given.
 */
export function readV1Files(memoryDir: string | null, acctDir: string | null, pidsDir: string | null, only?: Array<keyof V1Files>): V1Files {
  // each file's hierarchy is its name's controller
  const dirOf = (name: keyof V1Files) => (name.startsWith('memory.') ? memoryDir : name.startsWith('cpuacct.') ? acctDir : pidsDir);
  const out = {} as V1Files;
  for (const name of V1_STAT_FILES) {
    const dir = dirOf(name);
    out[name] = dir !== null && (!only || only.includes(name)) ? tryRead(`${dir}/${name}`) : null;
  }
  return out;
}

/** The v1 controllers a dyno is limited by; each is its own hierarchy. */
export const V1_CONTROLLERS = ['memory', 'cpu', 'pids'] as const;

interface Hierarchy {
  controller: string;
  /** <mount>/<dynod's own cgroup>/dynod */
  root: string;
  /** mount data that names this hierarchy, e.g. "cpu,cpuacct" */
  options: string;
  /** shown to the dyno at /sys/fs/cgroup/<controller> */
  inView: boolean;
}

/** cgroup v1 (and the v1 half of hybrid hosts). The lock of a dyno's cgroup is on its memory leaf. */
export class CgroupV1 implements CgroupBackend {
  readonly version = 1 as const;
  private readonly hierarchies: Hierarchy[];
  /** the hierarchy with cpuacct co-mounted (usually cpu,cpuacct), for CPU usage; -1 without one */
  private readonly acct: number;
  private readonly parents = new IdleParents();

  constructor(membership: CgroupMembership[], mounts: CgroupMount[], known: Set<string>) {
    const find = (controller: string) => ({
      member: membership.find((m) => m.controllers.includes(controller)),
      mount: mounts.find((m) => m.fstype === 'cgroup' && m.options.includes(controller)),
    });
    const hierarchy = (controller: string, member: CgroupMembership, mount: CgroupMount, inView: boolean): Hierarchy => ({
      controller,
      root: path.join(cgroupDir(mount, member.path), 'dynod'),
      options: mount.options.filter((o) => known.has(o)).join(','),
      inView,
    });
    this.hierarchies = V1_CONTROLLERS.map((controller) => {
      const { member, mount } = find(controller);
      if (!member || !mount)
        throw new DynodError(`cgroup v1 controller "${controller}" is not mounted; dynod needs the memory, cpu and pids controllers (cgroup v2 or v1)`, { step: 'cgroups' });
      return hierarchy(controller, member, mount, true);
    });
    // A cpuacct hierarchy of its own would cost every start one more migration (a v1
    // join waits for an RCU grace period): without cpu,cpuacct, CPU time comes from /proc.
    this.acct = this.hierarchies.findIndex((h) => h.options.split(',').includes('cpuacct'));
  }

  get roots(): string[] {
    return this.hierarchies.map((h) => h.root);
  }

  get view(): CgroupView {
    return { version: 1, hierarchies: this.hierarchies.filter((h) => h.inView).map((h) => ({ dir: h.controller, options: h.options })) };
  }

  create(spec: CgroupSpec, limits: Limits): DynoCgroup {
    const { group, leaf } = leafNames(spec);
    const dirs = this.hierarchies.map((h) => path.join(h.root, group, leaf));
    const lockDir = dirs[0]!;
    const lockRoot = this.hierarchies[0]!.root;
    const dropEmptyParents = () => {
      for (const h of this.hierarchies) {
        try { rmdirIfEmpty(path.join(h.root, group)); rmdirIfEmpty(h.root); } catch { /* best effort */ }
      }
    };
    let fd: number;
    try {
      fd = createOwnedLeaf(lockDir, () => mkdirUnder([lockRoot, path.join(lockRoot, group)], lockDir));
    } catch (e) {
      dropEmptyParents();
      throw e;
    }
    const made: string[] = [lockDir];
    // the limit files' texts as written: a reading of the dyno's stats opens the others only
    const known: Partial<V1Files> = {};
    try {
      this.hierarchies.forEach((h, i) => {
        const dir = dirs[i]!;
        if (i > 0) {
          mkdirUnderRetrying([h.root, path.join(h.root, group)], dir);
          made.push(dir);
        }
        if (h.controller === 'memory') {
          writeFile(`${dir}/memory.limit_in_bytes`, limits.memoryBytes);
          rememberWritten(known, 'memory.limit_in_bytes', limits.memoryBytes);
          // memsw must be >= the limit: written after it on a fresh cgroup.
          if (tryWrite(`${dir}/memory.memsw.limit_in_bytes`, limits.memorySwapBytes)) rememberWritten(known, 'memory.memsw.limit_in_bytes', limits.memorySwapBytes);
        } else if (h.controller === 'cpu') {
          if (limits.cpuWeight !== null) writeFile(`${dir}/cpu.shares`, Math.round((limits.cpuWeight * 1024) / 100));
          if (limits.cpuQuota) {
            writeFile(`${dir}/cpu.cfs_period_us`, limits.cpuQuota.periodUs);
            writeFile(`${dir}/cpu.cfs_quota_us`, limits.cpuQuota.quotaUs);
          }
        } else if (h.controller === 'pids') {
          writeFile(`${dir}/pids.max`, limits.pids);
          rememberWritten(known, 'pids.max', limits.pids);
        }
      });
    } catch (e) {
      // the lock leaf last: until it goes, the others are still visibly ours
      for (const d of made.slice(1).concat(lockDir)) try { fs.rmdirSync(d); } catch { /* best effort */ }
      fs.closeSync(fd);
      dropEmptyParents();
      throw e;
    }
    const statFiles = unknownFiles(V1_STAT_FILES, known);
    const memoryDir = lockDir;
    const acctDir = this.acct >= 0 ? dirs[this.acct]! : null;
    const pidsDir = dirs[V1_CONTROLLERS.indexOf('pids')]!;
    let removing: Promise<void> | undefined;
    return {
      version: 1,
      path: `dynod/${group}/${leaf}`,
      intoDir: '',
      procsFiles: dirs.map((d) => `${d}/cgroup.procs`),
      dirs,
      view: this.view,
      oomKills: () => v1Stats(readV1Files(memoryDir, acctDir, pidsDir, ['memory.oom_control'])).oomKills,
      stats: () => {
        const stats = v1Stats({ ...readV1Files(memoryDir, acctDir, pidsDir, statFiles), ...known });
        if (acctDir === null) stats.cpu.usageUsec = Math.floor(treeCpuNs(readProcs(memoryDir)) / 1000);
        return stats;
      },
      pids: () => readProcs(memoryDir),
      remove: () =>
        (removing ??= (async () => {
          try {
            await this.removeLeaf(`${group}/${leaf}`);
          } finally {
            fs.closeSync(fd);
          }
          this.parents.release(this.hierarchies.flatMap((h) => [path.join(h.root, group), h.root]));
        })()),
    };
  }

  /** Kills what is in a leaf (all hierarchies) and removes it, the lock leaf last. */
  private async removeLeaf(rel: string): Promise<void> {
    const dirs = this.hierarchies.map((h) => path.join(h.root, rel));
    // v1 has no cgroup.kill; a process is in every hierarchy, so the memory leaf lists them all
    for (const d of dirs.slice(1).concat(dirs[0]!)) await removeTree(d, false);
  }

  flushIdleParents(): void {
    this.parents.flush();
  }

  /**
   * Only leaves that have their lock leaf (memory) in this dynod's memory hierarchy
   * are judged: the other hierarchies may be shared with dynods in other memory
   * cgroups, whose leaves are not ours to see.
   */
  async sweepStale(): Promise<number> {
    const n = await sweepRoot(this.hierarchies[0]!.root, this.roots, (rel) => this.removeLeaf(rel));
    for (const root of this.roots) rmdirIfEmpty(root);
    return n;
  }
}

