// What the host sees: cgroups, processes and mounts, read straight from the kernel
// (independently of dynod's own code, which is what is under test).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';

export const V1_CONTROLLERS = ['memory', 'cpu', 'pids'] as const;
export type Controller = (typeof V1_CONTROLLERS)[number];

interface MountLine {
  root: string;
  mountPoint: string;
  fstype: string;
  superOpts: string[];
}

function mountLines(): MountLine[] {
  const out: MountLine[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const f = line.slice(0, sep).split(' ');
    const [fstype, , superOpts] = line.slice(sep + 3).split(' ');
    out.push({ root: f[3]!, mountPoint: f[4]!, fstype: fstype!, superOpts: (superOpts ?? '').split(',') });
  }
  return out;
}

/** The cgroup2 mount and this process's cgroup path in it (relative to the mount's root), or null. */
function v2Membership(): { mount: string; own: string } | null {
  const m = mountLines().find((l) => l.fstype === 'cgroup2');
  const line = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'));
  if (!m || line === undefined) return null;
  let own = line.slice(3);
  if (m.root !== '/' && (own === m.root || own.startsWith(`${m.root}/`))) own = own.slice(m.root.length) || '/';
  return { mount: m.mountPoint, own };
}

let version: 1 | 2 | undefined;

/**
 * The cgroup backend dynod picks on this host, detected the way it does: v2 when
 * the cgroup2 mount offers cpu, memory and pids to this process's cgroup (the
 * "0::" line of /proc/self/cgroup), else v1.
 */
export function cgroupVersion(): 1 | 2 {
  if (version !== undefined) return version;
  version = 1;
  const v2 = v2Membership();
  if (v2) {
    let controllers: string[] = [];
    try {
      controllers = fs.readFileSync(path.join(v2.mount, v2.own, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
    } catch { /* none */ }
    if (['cpu', 'memory', 'pids'].every((c) => controllers.includes(c))) version = 2;
  }
  return version;
}

export const CGROUP_V2 = cgroupVersion() === 2;

/** How many cgroup directories one dyno has: one per controller on v1, one on v2. */
export const DYNO_CGROUP_DIRS = CGROUP_V2 ? 1 : V1_CONTROLLERS.length;
/** The controllers whose dyno directories differ: the three of v1, or one standing for v2's single directory. */
export const DYNO_CONTROLLERS: readonly string[] = CGROUP_V2 ? V1_CONTROLLERS.slice(0, 1) : V1_CONTROLLERS;

/** The mount point of a controller: v1, e.g. /sys/fs/cgroup/memory; v2, the cgroup2 mount (controller ignored). */
export function cgroupMount(controller: string): string {
  if (CGROUP_V2) return v2Membership()!.mount;
  for (const m of mountLines()) {
    if (m.fstype === 'cgroup' && m.superOpts.includes(controller)) return m.mountPoint;
  }
  throw new Error(`no cgroup v1 mount for ${controller}`);
}

/** This process's cgroup path in a controller's hierarchy (dynod started from here shares it); on v2 the unified one. */
export function ownCgroupPath(controller: string): string {
  if (CGROUP_V2) return v2Membership()!.own;
  for (const line of fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, ctrls, ...rest] = line.split(':');
    if (ctrls && ctrls.split(',').includes(controller)) return rest.join(':');
  }
  throw new Error(`not in a ${controller} cgroup`);
}

/** <mount>/<own path>/dynod: where dynod makes its dynos' cgroups. */
export function dynodRoot(controller: string): string {
  return path.join(cgroupMount(controller), ownCgroupPath(controller), 'dynod');
}

/** The dyno cgroup leaves under a dynod/ directory: <group>/<name>-<id8>, and legacy <pid>-<id8> of older dynods. */
export function dynoLeaves(root: string): string[] {
  const dirs = (d: string) => {
    try {
      return fs.readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(d, e.name));
    } catch {
      return [];
    }
  };
  return dirs(root).flatMap((g) => (/^\d+-[0-9a-f]{8}$/.test(path.basename(g)) ? [g] : dirs(g)));
}

/**
 * The cgroup directories (dynod/<group>/<name>-<id8>) of the running dynos started
 * by the process pid: the leaves that hold a child of it (the dyno's dynod-init).
 * Names no longer tell their owner: once the dyno is gone this is [].
 */
export function dynoCgroupDirs(controller: string, dynodPid: number): string[] {
  return dynoLeaves(dynodRoot(controller)).filter((dir) => {
    try {
      return cgroupProcs(dir).some((p) => ppid(p) === dynodPid);
    } catch {
      return false;
    }
  });
}

function ppid(pid: number): number {
  try {
    return Number(/^PPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? -1);
  } catch {
    return -1;
  }
}

/** The directory that carries a dyno cgroup's lock: its leaf in the memory hierarchy (v1), its only one (v2). */
export function lockDirOf(leaf: string): string {
  const parts = leaf.split('/');
  return path.join(dynodRoot('memory'), ...parts.slice(parts.lastIndexOf('dynod') + 1));
}

/**
 * Dyno cgroups (dynod/<group>/<leaf>) under a controller's dynod/ that no live dynod
 * owns: what a dynod left behind. (Legacy <pid>-<id8> leaves are other, older
 * dynods' business on a host shared with them.)
 */
export function unownedDynoLeaves(controller: string, mine: (leaf: string) => boolean = () => true): string[] {
  // A dynod removes the other hierarchies' leaves before the one with the lock: a leaf
  // still there after its lock leaf was found free is left behind, not being removed.
  // `mine` (by the leaf's name, <dyno name>-<short id>) keeps a test to its own dynos:
  // test files run two at a time, and another file's dynod killed on purpose leaves
  // leaves until its next start sweeps them.
  return dynoLeaves(dynodRoot(controller)).filter((l) => !/^\d+-[0-9a-f]{8}$/.test(path.basename(l)) && mine(path.basename(l)) && !leafOwned(l) && fs.existsSync(l));
}

/** Whether a live dynod owns a dyno cgroup leaf: its lock directory exists and flock(1) -n cannot take it. */
export function leafOwned(leaf: string): boolean {
  const dir = lockDirOf(leaf);
  if (!fs.existsSync(dir)) return false;
  try {
    execFileSync('flock', ['-n', dir, 'true'], { stdio: 'ignore' });
    return false;
  } catch {
    return fs.existsSync(dir);
  }
}

/** Every cgroup directory of the dynos of dynod process pid: memory, cpu and pids ones on v1, the single one on v2. */
export function allDynoCgroupDirs(dynodPid: number): string[] {
  return CGROUP_V2 ? dynoCgroupDirs('memory', dynodPid) : V1_CONTROLLERS.flatMap((c) => dynoCgroupDirs(c, dynodPid));
}

export function readTrim(file: string): string {
  return fs.readFileSync(file, 'utf8').trim();
}

export function cgroupProcs(dir: string): number[] {
  return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
}

/** Directories named "dynod" anywhere under /sys/fs/cgroup (find -maxdepth 6). */
export function findDynodCgroupDirs(base = '/sys/fs/cgroup', maxDepth = 6): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    let ents: fs.Dirent[];
    try {
      ents = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of ents) {
      if (!e.isDirectory()) continue;
      const p = path.join(dir, e.name);
      if (e.name === 'dynod') found.push(p);
      if (depth < maxDepth) walk(p, depth + 1);
    }
  };
  walk(base, 1);
  return found;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Field 22 of /proc/PID/stat (start time in clock ticks), or null when gone. */
export function startTime(pid: number): string | null {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]!;
  } catch {
    return null;
  }
}

export interface HostProc {
  pid: number;
  ppid: number;
  cmdline: string;
  cgroup: string;
  pidns: string;
  exe: string;
}

/** Every process on the host, with what the leak checks need. */
export function hostProcesses(): HostProc[] {
  const out: HostProc[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = fs.readFileSync(`/proc/${name}/status`, 'utf8');
      let exe = '';
      try {
        exe = fs.readlinkSync(`/proc/${name}/exe`);
      } catch { /* kernel thread or gone */ }
      out.push({
        pid: Number(name),
        ppid: Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? -1),
        cmdline: fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim(),
        cgroup: fs.readFileSync(`/proc/${name}/cgroup`, 'utf8'),
        pidns: fs.readlinkSync(`/proc/${name}/ns/pid`),
        exe,
      });
    } catch { /* gone meanwhile */ }
  }
  return out;
}

/** Lines of a mountinfo that mention dynod's scratch paths. */
export function dynodMountLines(file = '/proc/self/mountinfo'): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => /newroot|\.oldroot|dynod/.test(l));
}

/** Network interface names of a /proc/net/dev text. */
export function netDevNames(text: string): string[] {
  return text.split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter(Boolean).sort();
}

/** "Key:\tvalue" fields of a /proc/PID/status text. */
export function statusFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}
