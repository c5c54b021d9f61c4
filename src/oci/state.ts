// What dynod-oci keeps of a container between its verbs (each verb is one process):
// <root>/<id>/state.json, written atomically, and the exec FIFO beside it while the
// container is created but not started. The status is never stored: it is read from
// the kernel each time (PID 1 alive with its start time, FIFO present, cgroup frozen).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError, DynodError } from '../errors';
import { native } from '../native';
import { stillRunning } from '../linux/proc-stat';

export const OCI_VERSION = '1.0.2';
export const DEFAULT_ROOT = '/run/dynod-oci';

/** runc's rule for container ids. */
const ID_RE = /^[\w+.-]+$/;

export type OciStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

/** A hook of config.json (src/oci/spec.ts OciHook): timeout in seconds, null for none. */
export interface StoredHook {
  path: string;
  args: string[];
  env: string[];
  timeout: number | null;
}

/** Everything later verbs need, fixed at create. */
export interface StoredState {
  ociVersion: string;
  id: string;
  /** PID 1 (dynod-init) as the host sees it; 0 before it exists */
  pid: number;
  /** /proc/<pid>/stat field 22 of PID 1: a reused pid is not our container */
  startTime: number;
  bundle: string;
  rootfs: string;
  /** ISO 8601 */
  created: string;
  annotations: Record<string, string>;
  cgroupPath: string;
  /** the container cgroup's directories (one per v1 hierarchy, one on v2), to reopen it exactly */
  cgroupDirs: string[];
  /** CLONE_NEW* of the namespaces an exec joins (every namespace PID 1 has apart from the host's) */
  namespaces: string[];
  /** run by `start` inside the container before its command (absent in states of older dynod-oci) */
  startContainer?: StoredHook[];
  poststart: StoredHook[];
  poststop: StoredHook[];
  /** set while create runs, cleared when the container exists */
  creating?: boolean;
}

export function checkId(id: unknown): string {
  if (typeof id !== 'string' || id === '' || !ID_RE.test(id) || id === '.' || id === '..')
    throw new UsageError(`container id ${JSON.stringify(id ?? '')}: use letters, digits, "_", "+", "-" and "." (runc's rule)`);
  return id;
}

/** Writes path through a temporary file and rename: readers see the old or the new file, never half of one. */
export function writeAtomic(file: string, content: string, mode = 0o600): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, content, { mode });
  fs.renameSync(tmp, file);
}

export class StateDir {
  readonly dir: string;
  constructor(readonly root: string, readonly id: string) {
    this.dir = path.join(root, checkId(id));
  }

  get stateFile(): string {
    return path.join(this.dir, 'state.json');
  }
  get fifo(): string {
    return path.join(this.dir, 'exec.fifo');
  }

  /** Makes the container's directory; refuses an id in use. */
  claim(): void {
    fs.mkdirSync(this.root, { recursive: true, mode: 0o700 });
    try {
      fs.mkdirSync(this.dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`container ${this.id}: an id in use (delete it first)`);
      throw DynodError.from(e, 'create state directory');
    }
  }

  exists(): boolean {
    return fs.existsSync(this.dir);
  }

  read(): StoredState {
    let text: string;
    try {
      text = fs.readFileSync(this.stateFile, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DynodError(`container ${this.id} does not exist`, { step: 'load state', code: 'ENOENT' });
      throw DynodError.from(e, 'load state');
    }
    return JSON.parse(text) as StoredState;
  }

  write(s: StoredState): void {
    writeAtomic(this.stateFile, JSON.stringify(s));
  }

  /** An exclusive lock on the container for the verbs that change it (flock on its directory). */
  lock(): () => void {
    const fd = fs.openSync(this.dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    for (let i = 0; !native().flock(fd, true); i++) {
      if (i > 2000) {
        fs.closeSync(fd);
        throw new DynodError(`container ${this.id}: locked by another dynod-oci for over 10 s`, { step: 'lock state' });
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
    return () => fs.closeSync(fd);
  }

  /** Whether another process holds the lock now (a create in progress holds it throughout). */
  busy(): boolean {
    let fd: number;
    try {
      fd = fs.openSync(this.dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    } catch {
      return false;
    }
    try {
      return !native().flock(fd, true);
    } finally {
      fs.closeSync(fd); // releases ours, if we got it
    }
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Whether PID 1 of this state still runs (the same process, not a reused pid). */
export function alive(s: StoredState): boolean {
  return s.pid > 0 && stillRunning(s.pid, s.startTime);
}

export function statusOf(dir: StateDir, s: StoredState, frozen: () => boolean): OciStatus {
  // a create in progress holds the lock; one that died left PID 1 waiting, or nothing
  if (s.creating) return dir.busy() || (s.pid > 0 && alive(s)) ? 'creating' : 'stopped';
  if (!alive(s)) return 'stopped';
  if (fs.existsSync(dir.fifo)) return 'created';
  try {
    if (frozen()) return 'paused';
  } catch {
    // a cgroup that cannot be read says nothing of the process
  }
  return 'running';
}

/** The state as the runtime spec (and runc's `state`) prints it. */
export function publicState(s: StoredState, status: OciStatus): Record<string, unknown> {
  return {
    ociVersion: s.ociVersion,
    id: s.id,
    pid: status === 'stopped' ? 0 : s.pid,
    status,
    bundle: s.bundle,
    rootfs: s.rootfs,
    created: s.created,
    owner: '',
    annotations: s.annotations,
  };
}

/** The containers under root (ids of directories holding a state). */
export function listIds(root: string): string[] {
  try {
    return fs.readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory() && ID_RE.test(e.name)).map((e) => e.name).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw DynodError.from(e, 'list containers');
  }
}
