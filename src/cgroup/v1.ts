import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Limits } from './limits';
import type { CgroupBackend, CgroupView, DynoCgroup } from './types';
import { DynodError } from '../errors';
import { cgroupDir, ensureDir, readCounter, removeDir, sweepDir, tryWrite, writeFile, type CgroupMembership, type CgroupMount } from './hierarchy';

/** The v1 controllers a dyno is limited by; each is its own hierarchy. */
export const V1_CONTROLLERS = ['memory', 'cpu', 'pids'] as const;

interface Hierarchy {
  controller: string;
  /** <mount>/<dynod's own cgroup>/dynod */
  root: string;
  /** mount data that names this hierarchy, e.g. "cpu,cpuacct" */
  options: string;
}

/** cgroup v1 (and the v1 half of hybrid hosts). */
export class CgroupV1 implements CgroupBackend {
  readonly version = 1 as const;
  private readonly hierarchies: Hierarchy[];

  constructor(membership: CgroupMembership[], mounts: CgroupMount[], known: Set<string>) {
    this.hierarchies = V1_CONTROLLERS.map((controller) => {
      const member = membership.find((m) => m.controllers.includes(controller));
      const mount = mounts.find((m) => m.fstype === 'cgroup' && m.options.includes(controller));
      if (!member || !mount)
        throw new DynodError(`cgroup v1 controller "${controller}" is not mounted; dynod needs the memory, cpu and pids controllers (cgroup v2 or v1)`, { step: 'cgroups' });
      return {
        controller,
        root: path.join(cgroupDir(mount, member.path), 'dynod'),
        options: mount.options.filter((o) => known.has(o)).join(','),
      };
    });
  }

  get roots(): string[] {
    return this.hierarchies.map((h) => h.root);
  }

  get view(): CgroupView {
    return { version: 1, hierarchies: this.hierarchies.map((h) => ({ dir: h.controller, options: h.options })) };
  }

  create(name: string, limits: Limits): DynoCgroup {
    const dirs: string[] = [];
    const made = (dir: string) => {
      ensureDir(dir);
      dirs.push(dir);
      return dir;
    };
    try {
      for (const h of this.hierarchies) {
        const dir = made(path.join(h.root, name));
        if (h.controller === 'memory') {
          writeFile(`${dir}/memory.limit_in_bytes`, limits.memoryBytes);
          // memsw must be >= the limit: written after it on a fresh cgroup.
          tryWrite(`${dir}/memory.memsw.limit_in_bytes`, limits.memorySwapBytes);
        } else if (h.controller === 'cpu') {
          if (limits.cpuWeight !== null) writeFile(`${dir}/cpu.shares`, Math.round((limits.cpuWeight * 1024) / 100));
          if (limits.cpuQuota) {
            writeFile(`${dir}/cpu.cfs_period_us`, limits.cpuQuota.periodUs);
            writeFile(`${dir}/cpu.cfs_quota_us`, limits.cpuQuota.quotaUs);
          }
        } else if (h.controller === 'pids') {
          writeFile(`${dir}/pids.max`, limits.pids);
        }
      }
    } catch (e) {
      for (const d of dirs.reverse()) try { fs.rmdirSync(d); } catch { /* best effort */ }
      throw e;
    }
    const memoryDir = dirs[V1_CONTROLLERS.indexOf('memory')]!;
    return {
      version: 1,
      intoDir: '',
      procsFiles: dirs.map((d) => `${d}/cgroup.procs`),
      dirs,
      view: this.view,
      oomKills: () => readCounter(`${memoryDir}/memory.oom_control`, 'oom_kill'),
      remove: async () => {
        for (const d of dirs) await removeDir(d, () => killAll(d));
        for (const h of this.hierarchies) try { fs.rmdirSync(h.root); } catch { /* other dynos still use it */ }
      },
    };
  }

  async sweepStale(): Promise<number> {
    let n = 0;
    for (const h of this.hierarchies) n += await sweepDir(h.root, killAll);
    return n;
  }
}

/** v1 has no cgroup.kill: signal every pid listed. */
function killAll(dir: string): void {
  try {
    for (const pid of fs.readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean))
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
  } catch { /* gone */ }
}
