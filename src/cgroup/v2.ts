import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Limits } from './limits';
import type { CgroupBackend, CgroupSpec, DynoCgroup } from './types';
import { DynodError } from '../errors';
import { IdleParents } from './idle-parents';
import { cgroupError, errCode, mkdirExisting, op, readProcs, removeTree, rmdirIfEmpty, tryRead, tryWrite, writeFile } from './hierarchy';
import { createOwnedLeaf, leafNames, mkdirUnder, sweepRoot } from './leaf';
import { V2_STAT_FILES, rememberWritten, unknownFiles, v2Stats, type V2Files } from './stats';

/** The texts of the v2 stat files of `dir` (only those in `only` when given; null: no such file). */
export function readV2Files(dir: string, only?: Array<keyof V2Files>): V2Files {
  const out = {} as V2Files;
  for (const f of V2_STAT_FILES) out[f] = !only || only.includes(f) ? tryRead(`${dir}/${f}`) : null;
  return out;
}

export const V2_CONTROLLERS = ['cpu', 'memory', 'pids'] as const;
const WANT = V2_CONTROLLERS.map((c) => `+${c}`).join(' ');

/** cgroup v2: one hierarchy, limits in memory.max, cpu.weight/cpu.max, pids.max. */
export class CgroupV2 implements CgroupBackend {
  readonly version = 2 as const;
  private prepared = false;
  private readonly parents = new IdleParents();

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
    try {
      fs.writeFileSync(`${ownDir}/cgroup.subtree_control`, WANT);
    } catch (e) {
      if (errCode(e) !== 'EBUSY') throw cgroupError('enable cgroup controllers', 'write', `${ownDir}/cgroup.subtree_control`, e);
      const procs = op('enable cgroup controllers', 'read', `${ownDir}/cgroup.procs`, () => fs.readFileSync(`${ownDir}/cgroup.procs`, 'utf8'))
        .split('\n').filter(Boolean).map(Number);
      if (procs.some((p) => p !== process.pid))
        throw new DynodError(
          `cgroup ${ownDir} holds other processes (${procs.filter((p) => p !== process.pid).join(', ')}), so its controllers cannot be delegated to dynod; run dynod in a cgroup of its own`,
          { step: 'enable cgroup controllers', syscall: 'write', errno: 16, code: 'EBUSY', detail: `${ownDir}/cgroup.subtree_control` },
        );
      const leaf = path.join(ownDir, 'dynod-supervisor');
      mkdirExisting(leaf, 'enable cgroup controllers');
      op('enable cgroup controllers', 'write', `${leaf}/cgroup.procs`, () => fs.writeFileSync(`${leaf}/cgroup.procs`, String(process.pid)));
      op('enable cgroup controllers', 'write', `${ownDir}/cgroup.subtree_control`, () => fs.writeFileSync(`${ownDir}/cgroup.subtree_control`, WANT));
    }
    this.prepared = true;
  }

  /**
   * The leaf under <own>/dynod/<group>, both with their controllers enabled. The
   * last dyno of any dynod removes empty parents, so one may vanish between two
   * steps here (ENOENT: the caller starts over); made afresh, it needs its
   * subtree_control written again.
   */
  private mkdirLeaf(group: string, dir: string): void {
    mkdirUnder([this.root, path.join(this.root, group)], dir, (p) => writeFile(`${p}/cgroup.subtree_control`, WANT));
  }

  create(spec: CgroupSpec, limits: Limits): DynoCgroup {
    const { group, leaf } = leafNames(spec);
    this.prepare();
    const dir = path.join(this.root, group, leaf);
    const dropEmptyParents = () => {
      try { rmdirIfEmpty(path.join(this.root, group)); rmdirIfEmpty(this.root); } catch { /* best effort */ }
    };
    let fd: number;
    try {
      fd = createOwnedLeaf(dir, () => this.mkdirLeaf(group, dir));
    } catch (e) {
      dropEmptyParents();
      throw e;
    }
    // the limit files' texts as written: a reading of the dyno's stats opens the others only
    const known: Partial<V2Files> = {};
    const writeLimits = () => {
      writeFile(`${dir}/memory.max`, limits.memoryBytes);
      rememberWritten(known, 'memory.max', limits.memoryBytes);
      // ENOENT without swap accounting: nothing to limit then.
      const swapMax = Math.max(0, limits.memorySwapBytes - limits.memoryBytes);
      if (tryWrite(`${dir}/memory.swap.max`, swapMax)) rememberWritten(known, 'memory.swap.max', swapMax);
      // R15 kills the whole dyno, not one process of it.
      tryWrite(`${dir}/memory.oom.group`, 1);
      if (limits.cpuWeight !== null) writeFile(`${dir}/cpu.weight`, Math.max(1, Math.min(10000, Math.round(limits.cpuWeight))));
      if (limits.cpuQuota) writeFile(`${dir}/cpu.max`, `${limits.cpuQuota.quotaUs} ${limits.cpuQuota.periodUs}`);
      writeFile(`${dir}/pids.max`, limits.pids);
      rememberWritten(known, 'pids.max', limits.pids);
    };
    try {
      try {
        writeLimits();
      } catch (e) {
        // The leaf went into parents that were already there, one of them made by
        // another dynod that has not enabled its controllers yet: enable them here.
        if (errCode(e) !== 'ENOENT') throw e;
        for (const p of [this.root, path.join(this.root, group)]) writeFile(`${p}/cgroup.subtree_control`, WANT);
        writeLimits();
      }
    } catch (e) {
      try { fs.rmdirSync(dir); } catch { /* best effort */ }
      fs.closeSync(fd);
      dropEmptyParents();
      throw e;
    }
    const statFiles = unknownFiles(V2_STAT_FILES, known);
    const files = (only?: Array<keyof V2Files>) => readV2Files(dir, only);
    let removing: Promise<void> | undefined;
    return {
      version: 2,
      path: `dynod/${group}/${leaf}`,
      intoDir: dir,
      procsFiles: [`${dir}/cgroup.procs`],
      dirs: [dir],
      view: { version: 2 },
      oomKills: () => v2Stats(files(['memory.events'])).oomKills,
      stats: () => v2Stats({ ...files(statFiles), ...known }),
      pids: () => readProcs(dir),
      remove: () =>
        (removing ??= (async () => {
          try {
            await removeTree(dir, true);
          } finally {
            fs.closeSync(fd);
          }
          this.parents.release([path.join(this.root, group), this.root]);
        })()),
    };
  }

  flushIdleParents(): void {
    this.parents.flush();
  }

  async sweepStale(): Promise<number> {
    const n = await sweepRoot(this.root, [this.root], (rel) => removeTree(path.join(this.root, rel), true));
    rmdirIfEmpty(this.root);
    return n;
  }
}
