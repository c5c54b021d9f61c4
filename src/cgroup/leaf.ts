import * as fs from 'node:fs';
import { native } from '../native';
import { DynodError } from '../errors';
import { cgroupError, errCode, mkdirExisting, pauseSync, rmdirIfEmpty } from './hierarchy';
import type { CgroupSpec } from './types';

/*
 * Who owns a dyno's cgroup, and when may another dynod remove it?
 *
 * A cgroup directory outlives a dynod that was SIGKILLed, and names tell nothing of
 * their owner's liveness (a pid is reused, and a daemon may hand its dynos over).
 * So ownership is a lock the kernel drops with its holder: the owner keeps the leaf
 * directory open with an exclusive flock(2) for as long as the dyno lives. A sweeper
 * removes a leaf only while it holds that same lock itself, so it never races its owner.
 *
 * The one window is a creator's mkdir → open → flock: there the leaf is unlocked
 * and a sweeper may take it. Both sides settle that by the lock and the inode:
 *   - creator: mkdir; open (ENOENT: swept already); flock (false: a sweeper holds
 *     it); then the open directory must still be the one at the path (else swept
 *     between open and flock). Any failure: close, and retry with a fresh mkdir
 *     (whose EEXIST, after such a loss, is the sweeper still at work: wait).
 *   - sweeper: open; flock (false: owned); the open directory must still be the
 *     one at the path (else removed by its owner, maybe re-made by someone else);
 *     only then kill what is in it and remove it, releasing the lock afterwards.
 * The leaf's processes are not consulted: an unlocked leaf has no live owner.
 */

/** Group and dyno names: letters, digits, ".", "_" and "-", at most 63 characters, not starting with "." or "-". */
export const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;

/** Leaves of older dynods, directly under dynod/: "<pid>-<id8>". */
export const LEGACY_LEAF_RE = /^\d+-[0-9a-f]{8}$/;

/** The group and leaf directory names of a dyno's cgroup, validated. */
export function leafNames(spec: CgroupSpec): { group: string; leaf: string } {
  const bad = (what: string, value: unknown, why: string) =>
    new DynodError(`create cgroup: ${what} ${JSON.stringify(value)}: ${why}`, { step: 'create cgroup', code: 'EINVAL', detail: String(value) });
  const rule = 'use letters, digits, ".", "_" and "-" (not first), at most 63 characters';
  if (typeof spec.group !== 'string' || !NAME_RE.test(spec.group)) throw bad('group', spec.group, rule);
  if (LEGACY_LEAF_RE.test(spec.group)) throw bad('group', spec.group, 'a group may not look like a cgroup of an older dynod ("<pid>-<8 hex digits>")');
  if (typeof spec.name !== 'string' || !NAME_RE.test(spec.name)) throw bad('name', spec.name, rule);
  const id8 = typeof spec.id === 'string' ? spec.id.slice(0, 8).toLowerCase() : '';
  if (!/^[0-9a-f]{8}$/.test(id8)) throw bad('id', spec.id, 'must start with 8 hex digits (a UUID)');
  return { group: spec.group, leaf: `${spec.name}-${id8}` };
}

function sameDir(fd: number, dir: string): boolean {
  try {
    const a = fs.fstatSync(fd);
    const b = fs.statSync(dir);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

function openDir(dir: string, step: string): number | null {
  try {
    return fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return null;
    throw cgroupError(step, 'open', dir, e);
  }
}

function lock(fd: number, dir: string, step: string): boolean {
  try {
    return native().flock(fd, true);
  } catch (e) {
    const err = DynodError.from(e);
    throw new DynodError(`${step}: flock ${dir}: ${err.code || err.message}`, { step, syscall: 'flock', errno: err.errno, code: err.code, detail: dir }, undefined, { cause: e });
  }
}

function closeQuietly(fd: number): void {
  try { fs.closeSync(fd); } catch { /* already closed */ }
}

const CREATE_ATTEMPTS = 200;

/**
 * Makes the leaf `dir` and returns an fd of it that holds its exclusive flock.
 * `mkdirLeaf` makes its parents as needed and then the leaf itself (plain mkdir:
 * EEXIST when it exists); it throws DynodErrors, ENOENT when a parent was removed
 * meanwhile by another dynod's sweep (retried here).
 */
export function createOwnedLeaf(dir: string, mkdirLeaf: () => void): number {
  let lostToSweep = false;
  for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
    try {
      mkdirLeaf();
    } catch (e) {
      const code = errCode(e);
      if (code === 'ENOENT') continue;
      if (code === 'EEXIST' && lostToSweep) {
        pauseSync(2);
        continue;
      }
      if (code === 'EEXIST')
        throw new DynodError(`create cgroup: mkdir ${dir}: EEXIST (a cgroup by this name exists; dynod never joins one)`, { step: 'create cgroup', syscall: 'mkdir', errno: 17, code: 'EEXIST', detail: dir }, undefined, { cause: e });
      throw cgroupError('create cgroup', 'mkdir', dir, e);
    }
    const fd = openDir(dir, 'create cgroup');
    if (fd === null) {
      lostToSweep = true;
      continue;
    }
    let owned = false;
    try {
      owned = lock(fd, dir, 'create cgroup') && sameDir(fd, dir);
    } catch (e) {
      // no lock at all (not a lost race): the leaf just made is ours to remove
      try { fs.rmdirSync(dir); } catch { /* best effort */ }
      throw e;
    } finally {
      if (!owned) closeQuietly(fd);
    }
    if (owned) return fd;
    lostToSweep = true;
  }
  throw new DynodError(`create cgroup: ${dir}: still removed by a concurrent sweep after ${CREATE_ATTEMPTS} attempts`, { step: 'create cgroup', syscall: 'mkdir', detail: dir });
}

/**
 * Removes the leaf `dir` if its lock can be taken (its owner is gone), after
 * `remove` (which removes `dir` and its counterparts in other hierarchies). True
 * when it was removed.
 */
export async function sweepLeaf(dir: string, remove: () => Promise<void>): Promise<boolean> {
  const fd = openDir(dir, 'sweep cgroups');
  if (fd === null) return false;
  try {
    if (!lock(fd, dir, 'sweep cgroups')) return false;
    if (!sameDir(fd, dir)) return false;
    await remove();
    return true;
  } finally {
    closeQuietly(fd);
  }
}

function subdirs(dir: string): string[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (e) {
    if (errCode(e) === 'ENOENT') return [];
    throw cgroupError('sweep cgroups', 'readdir', dir, e);
  }
}

/**
 * Sweeps `lockRoot` (the dynod/ directory whose leaves carry the locks): every
 * <group>/<leaf> and legacy <pid>-<id8> leaf whose lock can be taken goes, through
 * removeLeaf(relative path); then empty groups (in every root given).
 */
export async function sweepRoot(lockRoot: string, allRoots: string[], removeLeaf: (rel: string) => Promise<void>): Promise<number> {
  let n = 0;
  for (const name of subdirs(lockRoot)) {
    if (LEGACY_LEAF_RE.test(name)) {
      if (await sweepLeaf(`${lockRoot}/${name}`, () => removeLeaf(name))) n++;
      continue;
    }
    if (!NAME_RE.test(name)) continue; // not a group of dynod's
    for (const leaf of subdirs(`${lockRoot}/${name}`))
      if (await sweepLeaf(`${lockRoot}/${name}/${leaf}`, () => removeLeaf(`${name}/${leaf}`))) n++;
    for (const root of allRoots) rmdirIfEmpty(`${root}/${name}`);
  }
  return n;
}

/**
 * mkdir of `leaf`, and of `parents` first when one is missing (each as needed,
 * `onParent` after each: v2 enables controllers there). ENOENT means another dynod
 * removed a parent meanwhile: the caller starts over.
 */
export function mkdirUnder(parents: string[], leaf: string, onParent?: (dir: string) => void): void {
  // The usual case: the parents are there (they outlive their dynos, idle-parents.ts),
  // and the leaf alone is one syscall where checking each parent first is four more.
  if (mkdirLeaf(leaf, true)) return;
  for (const p of parents) {
    mkdirExisting(p);
    onParent?.(p);
  }
  mkdirLeaf(leaf, false);
}

/** mkdir of a leaf; false for ENOENT (a missing parent) when `parentMayBeMissing`. */
function mkdirLeaf(leaf: string, parentMayBeMissing: boolean): boolean {
  try {
    fs.mkdirSync(leaf);
    return true;
  } catch (e) {
    if (parentMayBeMissing && errCode(e) === 'ENOENT') return false;
    throw cgroupError('create cgroup', 'mkdir', leaf, e);
  }
}

/** mkdirUnder, retried while a parent vanishes under it (a concurrent sweep or remove of an empty group). */
export function mkdirUnderRetrying(parents: string[], leaf: string, onParent?: (dir: string) => void): void {
  for (let attempt = 0; ; attempt++) {
    try {
      mkdirUnder(parents, leaf, onParent);
      return;
    } catch (e) {
      if (errCode(e) !== 'ENOENT' || attempt >= CREATE_ATTEMPTS) throw e;
    }
  }
}
