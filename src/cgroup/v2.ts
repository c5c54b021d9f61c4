import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Limits } from './limits';
import type { CgroupBackend, DynoCgroup } from './types';
import { ensureDir, readCounter, removeDir, sweepDir, tryWrite, writeFile } from './hierarchy';

export const V2_CONTROLLERS = ['cpu', 'memory', 'pids'] as const;

/** cgroup v2: one hierarchy, limits in memory.max, cpu.weight/cpu.max, pids.max. */
export class CgroupV2 implements CgroupBackend {
  readonly version = 2 as const;
  private prepared = false;

  /** mount: the cgroup2 mount point; own: dynod's own cgroup path in it */
  constructor(private readonly mount: string, private own: string) {}

  readonly view = { version: 2 } as const;

  get roots(): string[] {
    return [this.root];
  }

  private get root(): string {
    return path.join(this.mount, this.own, 'dynod');
  }

  /**
   * Controllers must be enabled in subtree_control from dynod's own cgroup down,
   * and a non-root cgroup with processes cannot enable them (the no-internal-
   * processes rule). When dynod is the only process there, it moves itself into a
   * leaf of its own first, as nsjail does.
   */
  private prepare(): void {
    if (this.prepared) return;
    const ownDir = path.join(this.mount, this.own);
    const want = V2_CONTROLLERS.map((c) => `+${c}`).join(' ');
    try {
      writeFile(`${ownDir}/cgroup.subtree_control`, want);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EBUSY') throw e;
      const procs = fs.readFileSync(`${ownDir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number);
      if (procs.some((p) => p !== process.pid))
        throw new Error(
          `cgroup ${ownDir} holds other processes (${procs.filter((p) => p !== process.pid).join(', ')}), so its controllers cannot be delegated to dynod; run dynod in a cgroup of its own`,
        );
      const leaf = path.join(ownDir, 'dynod-supervisor');
      ensureDir(leaf);
      writeFile(`${leaf}/cgroup.procs`, process.pid);
      writeFile(`${ownDir}/cgroup.subtree_control`, want);
    }
    this.prepared = true;
  }

  /**
   * <own>/dynod with its controllers enabled, and the dyno's cgroup in it. The last
   * dyno of any dynod removes that parent (as on v1), so it may vanish between two
   * steps here; made afresh, it needs its subtree_control written again.
   */
  private makeDir(dir: string): void {
    const want = V2_CONTROLLERS.map((c) => `+${c}`).join(' ');
    for (let attempt = 0; ; attempt++) {
      try {
        ensureDir(this.root);
        writeFile(`${this.root}/cgroup.subtree_control`, want);
        fs.mkdirSync(dir);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw e;
      }
    }
  }

  create(name: string, limits: Limits): DynoCgroup {
    this.prepare();
    const dir = path.join(this.root, name);
    this.makeDir(dir);
    try {
      writeFile(`${dir}/memory.max`, limits.memoryBytes);
      // ENOENT without swap accounting: nothing to limit then.
      tryWrite(`${dir}/memory.swap.max`, Math.max(0, limits.memorySwapBytes - limits.memoryBytes));
      // R15 kills the whole dyno, not one process of it.
      tryWrite(`${dir}/memory.oom.group`, 1);
      if (limits.cpuWeight !== null) writeFile(`${dir}/cpu.weight`, Math.max(1, Math.min(10000, Math.round(limits.cpuWeight))));
      if (limits.cpuQuota) writeFile(`${dir}/cpu.max`, `${limits.cpuQuota.quotaUs} ${limits.cpuQuota.periodUs}`);
      writeFile(`${dir}/pids.max`, limits.pids);
    } catch (e) {
      try { fs.rmdirSync(dir); } catch { /* best effort */ }
      throw e;
    }
    return {
      version: 2,
      intoDir: dir,
      procsFiles: [`${dir}/cgroup.procs`],
      dirs: [dir],
      view: { version: 2 },
      oomKills: () => readCounter(`${dir}/memory.events`, 'oom_kill'),
      remove: async () => {
        await removeDir(dir, () => tryWrite(`${dir}/cgroup.kill`, 1));
        try { fs.rmdirSync(this.root); } catch { /* other dynos still use it */ }
      },
    };
  }

  async sweepStale(): Promise<number> {
    return sweepDir(this.root, (dir) => tryWrite(`${dir}/cgroup.kill`, 1));
  }
}
