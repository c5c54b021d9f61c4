// File work shared by the v1 and v2 container cgroups: making a container's
// directory (and the parents it needs) with a rollback, and writing its limits.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cgroupError, errCode, readProcs, readProcsDeep, rmdirIfEmpty, signalIfStillIn, type InCgroup } from './hierarchy';
import { fieldOf, type CgroupWrite } from './container-limits';
import { DynodError } from '../errors';

/**
 * A process is in a container's directory when its /proc/<pid>/cgroup line names
 * that directory's cgroup path (never the root: every directory ends with "/").
 */
export const inContainer: InCgroup = (dir, p) => p.length > 1 && dir.endsWith(p);

/** What makeDir did: the directories it created, top-down (for a rollback), and whether the leaf was there already. */
export interface Made {
  created: string[];
  reused: boolean;
}

const ATTEMPTS = 50;

/**
 * Makes `dir` below the hierarchy's mount point, and the parents it lacks.
 * `level(d, isLeaf)` runs for the mount point and for each level once it exists
 * (v2 enables controllers in parents; v1 fills empty cpuset files). An existing
 * leaf is EEXIST, unless `reuse` and no process is in it. A parent removed
 * meanwhile (the last container of a shared parent going) is made again.
 */
export function makeDir(mountPoint: string, dir: string, reuse: boolean, level: (d: string, isLeaf: boolean) => void): Made {
  const parts = path.relative(mountPoint, dir).split('/');
  const made: Made = { created: [], reused: false };
  for (let attempt = 0; ; attempt++) {
    try {
      level(mountPoint, false);
      let d = mountPoint;
      for (const [i, part] of parts.entries()) {
        d = `${d}/${part}`;
        const leaf = i === parts.length - 1;
        try {
          fs.mkdirSync(d);
          made.created.push(d);
        } catch (e) {
          if (errCode(e) !== 'EEXIST') throw cgroupError('create cgroup', 'mkdir', d, e);
          if (leaf && !reuse)
            throw new DynodError(`create cgroup: ${d} exists already (a container's cgroup is its own: delete what uses it, or give another cgroupsPath)`, { step: 'create cgroup', syscall: 'mkdir', errno: 17, code: 'EEXIST', detail: d });
          if (leaf && readProcsDeep(d).length > 0)
            throw new DynodError(`create cgroup: ${d} exists and holds processes (only an empty cgroup is reused)`, { step: 'create cgroup', syscall: 'mkdir', errno: 17, code: 'EEXIST', detail: d });
          if (leaf) made.reused = true;
        }
        level(d, leaf);
      }
      return made;
    } catch (e) {
      if (errCode(e) !== 'ENOENT' || attempt >= ATTEMPTS) {
        undoMade(made);
        throw e;
      }
    }
  }
}

/** Removes what makeDir created, deepest first (best effort: this is the path of an error already). */
export function undoMade(made: Made): void {
  for (const d of [...made.created].reverse()) {
    try {
      fs.rmdirSync(d);
    } catch { /* not ours to fix now */ }
  }
  made.created.length = 0;
}

/**
 * Writes the limits, each into the directory of its controller. A missing file
 * fails with the OCI field and what is wrong (`missing`), unless the write is not
 * `required`.
 * A refused cfs_period_us (EINVAL: the old quota over the new period exceeds the
 * parent's) is tried again after the quota, as runc does.
 */
export function applyWrites(writes: CgroupWrite[], dirOf: (c: CgroupWrite['controller']) => string, missing: (w: CgroupWrite, dir: string) => Error): void {
  const later: CgroupWrite[] = [];
  const write = (w: CgroupWrite, retry: boolean) => {
    const dir = dirOf(w.controller);
    const file = `${dir}/${w.file}`;
    try {
      fs.writeFileSync(file, w.value);
    } catch (e) {
      const code = errCode(e);
      // no such file: kernfs says EACCES (its O_CREAT is refused) rather than ENOENT
      if ((code === 'ENOENT' || code === 'EACCES') && fs.existsSync(dir) && !fs.existsSync(file)) {
        if (!w.required) return;
        throw missing(w, dir);
      }
      if (code === 'EINVAL' && !retry && w.file === 'cpu.cfs_period_us' && writes.some((x) => x.file === 'cpu.cfs_quota_us')) {
        later.push(w);
        return;
      }
      throw cgroupError(fieldOf(w.file), 'write', `${file} (${JSON.stringify(w.value)})`, e);
    }
  };
  for (const w of writes) write(w, false);
  for (const w of later) write(w, true);
}

/** Calls `done` every few ms until it says so; false after `ms`. */
export async function pollUntil(done: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (let i = 0; ; i++) {
    if (done()) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, i < 10 ? 1 : 10));
  }
}

/**
 * rmdir of the "dynod-oci" directory that cgroups without a cgroupsPath share, once
 * empty (another container may still be in it, or making its own right now: its
 * makeDir makes the parent again).
 */
export function removeSharedParent(dir: string, parentName: string): void {
  const parent = path.dirname(dir);
  if (path.basename(parent) === parentName) rmdirIfEmpty(parent);
}

/** Sends sig to every process of dir and of the cgroups below it. */
export function signalTree(dir: string, sig: number): void {
  for (const pid of readProcs(dir)) signalIfStillIn(pid, dir, sig, inContainer);
  let ents: fs.Dirent[] = [];
  try {
    ents = fs.readdirSync(dir, { withFileTypes: true });
  } catch { /* gone */ }
  for (const e of ents) if (e.isDirectory()) signalTree(`${dir}/${e.name}`, sig);
}
