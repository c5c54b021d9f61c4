import * as fs from 'node:fs';
import { native } from '../native';
import * as os from 'node:os';
import { DynodError } from '../errors';

/** One line of /proc/self/cgroup: hierarchy id, controllers, path. */
export interface CgroupMembership {
  id: number;
  controllers: string[];
  path: string;
}

export function parseProcCgroup(text: string): CgroupMembership[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id, ctrls, ...rest] = line.split(':');
      return { id: Number(id), controllers: ctrls ? ctrls.split(',') : [], path: rest.join(':') };
    });
}

export interface CgroupMount {
  mountPoint: string;
  /** the cgroup this mount shows as its root (not "/" inside containers) */
  root: string;
  fstype: 'cgroup' | 'cgroup2';
  /** super options, e.g. ["rw", "memory"] */
  options: string[];
}

/** The cgroup and cgroup2 mounts of /proc/self/mountinfo. */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const [fstype, , superOpts] = line.slice(sep + 3).split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    out.push({ mountPoint: unescapeMount(left[4]!), root: unescapeMount(left[3]!), fstype, options: (superOpts ?? '').split(',') });
  }
  return out;
}

/** The directory of cgroup `path` under a mount that shows `mount.root` as its top. */
export function cgroupDir(mount: CgroupMount, path: string): string {
  const rel = mount.root !== '/' && (path === mount.root || path.startsWith(`${mount.root}/`)) ? path.slice(mount.root.length) : path;
  return `${mount.mountPoint}${rel === '/' ? '' : rel}`;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function readProcSelf(): { cgroup: string; mountinfo: string } {
  return {
    cgroup: fs.readFileSync('/proc/self/cgroup', 'utf8'),
    mountinfo: fs.readFileSync('/proc/self/mountinfo', 'utf8'),
  };
}

/** A failed file operation as a DynodError: what dynod was doing, the syscall, errno, and the file. */
export function cgroupError(step: string, syscall: string, file: string, err: unknown): DynodError {
  if (err instanceof DynodError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : '';
  const errno = (code && (os.constants.errno as Record<string, number>)[code]) || Math.abs(e?.errno ?? 0);
  // Node's message is "ENOENT: no such file or directory, open '/x'": keep the middle part.
  const why = /^[A-Z0-9_]+: ([^,]+)/.exec(e?.message ?? '')?.[1] ?? e?.message ?? String(err);
  return new DynodError(`${step}: ${syscall} ${file}: ${code || 'error'} (${why})`, { step, syscall, errno, code, detail: file }, undefined, { cause: err });
}

export function errCode(err: unknown): string {
  return err instanceof DynodError ? err.code : ((err as NodeJS.ErrnoException)?.code ?? '');
}

/** Runs one file operation, turning its failure into a DynodError. */
export function op<T>(step: string, syscall: string, file: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw cgroupError(step, syscall, file, e);
  }
}

/** A synchronous pause, for the few retries of create (which is synchronous). */
export function pauseSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** mkdir that is fine with an existing directory (ENOENT, from a concurrent rmdir of a parent, is thrown). */
export function mkdirExisting(dir: string, step = 'create cgroup'): void {
  // The usual case since parents outlive their dynos (idle-parents.ts): there already,
  // and a thrown EEXIST costs ~6 µs each (six per start on v1).
  if (fs.existsSync(dir)) return;
  try {
    fs.mkdirSync(dir);
  } catch (e) {
    if (errCode(e) !== 'EEXIST') throw cgroupError(step, 'mkdir', dir, e);
  }
}

/** rmdir of a group or root directory once it may be empty: other dynos may still use it, or have removed it. */
export function rmdirIfEmpty(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch (e) {
    if (!['ENOTEMPTY', 'EBUSY', 'ENOENT', 'EEXIST'].includes(errCode(e))) throw cgroupError('remove cgroup', 'rmdir', dir, e);
  }
}

export function writeFile(file: string, value: string | number): void {
  op('write cgroup limit', 'write', file, () => fs.writeFileSync(file, String(value)));
}

/** Writes a file the kernel may not have (ENOENT, e.g. no swap accounting): false then. */
export function tryWrite(file: string, value: string | number, step = 'write cgroup limit'): boolean {
  try {
    fs.writeFileSync(file, String(value));
    return true;
  } catch (e) {
    const code = errCode(e);
    if (code === 'ENOENT' || code === 'EACCES') return false;
    throw cgroupError(step, 'write', file, e);
  }
}

/** A cgroup file's text, or null when the kernel has no such file. */
export function tryRead(file: string, step = 'read cgroup stats'): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (errCode(e) === 'ENOENT') return null;
    throw cgroupError(step, 'read', file, e);
  }
}

/** The pids of cgroup.procs; [] once the directory is gone. */
export function readProcs(dir: string): number[] {
  const text = tryRead(`${dir}/cgroup.procs`, 'remove cgroup');
  return text ? text.split('\n').filter(Boolean).map(Number) : [];
}

/**
 * Whether a process whose /proc/<pid>/cgroup names cgroup `cgroupPath` (in some
 * hierarchy) is in the directory `dir` read its pid from. The default is for
 * dyno cgroups, which always lie below a dynod/ directory.
 */
export type InCgroup = (dir: string, cgroupPath: string) => boolean;

const inDynoCgroup: InCgroup = (dir, p) => p.includes('/dynod/') && dir.endsWith(p);

/**
 * Sends `sig` to the process behind a pid read from dir's cgroup.procs, if it still
 * is there: the pid may have been reused by an unrelated process meanwhile. The
 * pidfd pins the process it was opened for; its cgroup is checked after opening it.
 * False when it was gone (or elsewhere).
 */
export function signalIfStillIn(pid: number, dir: string, sig: number, inCgroup: InCgroup = inDynoCgroup): boolean {
  const n = native();
  const pidfd = n.pidfdOpen(pid);
  if (pidfd < 0) return false;
  try {
    let lines: string[];
    try {
      lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
    } catch {
      return false; // gone meanwhile
    }
    const inDir = lines.some((l) => inCgroup(dir, l.split(':').slice(2).join(':')));
    return inDir && n.signal(pidfd, sig);
  } finally {
    fs.closeSync(pidfd);
  }
}

/**
 * Kills every process of a cgroup and waits until cgroup.procs is empty: with
 * cgroup.kill (v2, Linux 5.14+) when `useKillFile`, else SIGKILL to each pid listed,
 * again until none is left (a process may fork between the read and the kill).
 */
export async function killAll(dir: string, useKillFile: boolean, inCgroup: InCgroup = inDynoCgroup): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const pids = readProcs(dir);
    if (pids.length === 0) return;
    if (!(useKillFile && tryWrite(`${dir}/cgroup.kill`, 1, 'remove cgroup')))
      for (const pid of pids) signalIfStillIn(pid, dir, 9, inCgroup);
    await new Promise((r) => setTimeout(r, attempt < 10 ? 2 : 10));
  }
}

/** The pids of a cgroup and of every cgroup below it; [] once it is gone. */
export function readProcsDeep(dir: string): number[] {
  const out = readProcs(dir);
  let ents: fs.Dirent[];
  try {
    ents = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if (errCode(e) === 'ENOENT') return out;
    throw cgroupError('read cgroup', 'readdir', dir, e);
  }
  for (const ent of ents) if (ent.isDirectory()) out.push(...readProcsDeep(`${dir}/${ent.name}`));
  return out;
}

/** rmdir of a cgroup: true once it is gone (ENOENT too), false for an error in `busy`. */
function rmdirCgroup(dir: string, busy: string[]): boolean {
  try {
    fs.rmdirSync(dir);
    return true;
  } catch (e) {
    const code = errCode(e);
    if (code === 'ENOENT') return true;
    if (busy.includes(code)) return false;
    throw cgroupError('remove cgroup', 'rmdir', dir, e);
  }
}

/**
 * Removes a cgroup directory: sub-cgroups first (a dyno or container may make its
 * own), each emptied of processes, then rmdir with retries (a cgroup stays busy for
 * a moment after its last process is reaped).
 */
export async function removeTree(dir: string, useKillFile: boolean, inCgroup: InCgroup = inDynoCgroup): Promise<void> {
  // Usually the dyno is gone and its cgroup empty: one rmdir does it. EBUSY (a process
  // or sub-cgroup in it) takes the long way below.
  if (rmdirCgroup(dir, ['EBUSY', 'ENOTEMPTY'])) return;
  let ents: fs.Dirent[];
  try {
    ents = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if (errCode(e) === 'ENOENT') return;
    throw cgroupError('remove cgroup', 'readdir', dir, e);
  }
  for (const ent of ents) if (ent.isDirectory()) await removeTree(`${dir}/${ent.name}`, useKillFile, inCgroup);
  for (let attempt = 0; ; attempt++) {
    await killAll(dir, useKillFile, inCgroup);
    if (rmdirCgroup(dir, attempt < 200 ? ['EBUSY'] : [])) return;
    await new Promise((r) => setTimeout(r, attempt < 10 ? 1 : 10));
  }
}
