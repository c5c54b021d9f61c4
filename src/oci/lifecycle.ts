// The verbs after create: start, state, kill, delete, pause/resume, ps, list.
// Each is one short-lived process working from <root>/<id>/state.json and the kernel.
import * as fs from 'node:fs';
import { native } from '../native';
import { DynodError, UsageError } from '../errors';
import { openContainerCgroup, type ContainerCgroup } from '../cgroup/container';
import { signalNumber, SIGNAL_ACCEPTED } from '../linux/signals';
import { runHook } from './hooks';
import { StateDir, alive, listIds, publicState, statusOf, type OciStatus, type StoredState } from './state';

export interface Loaded {
  dir: StateDir;
  state: StoredState;
  cgroup: ContainerCgroup | null;
  status: OciStatus;
}

export function load(root: string, id: string): Loaded {
  const dir = new StateDir(root, id);
  const state = dir.read();
  let cgroup: ContainerCgroup | null = null;
  try {
    cgroup = state.cgroupDirs?.length ? openContainerCgroup(state.cgroupDirs) : null;
  } catch {
    cgroup = null; // gone with a failed create; the process says the rest
  }
  return { dir, state, cgroup, status: statusOf(dir, state, () => cgroup?.frozen() ?? false) };
}

/** The container's lock (create holds it throughout); an unknown id is the error `load` gives. */
function lockExisting(root: string, id: string): () => void {
  const dir = new StateDir(root, id);
  if (!dir.exists()) throw new DynodError(`container ${id} does not exist`, { step: 'load state', code: 'ENOENT' });
  return dir.lock();
}

export function stateOf(root: string, id: string): Record<string, unknown> {
  const c = load(root, id);
  return publicState(c.state, c.status);
}

/** Lets PID 1 run the command: one byte into the exec FIFO, which then goes. */
export async function start(root: string, id: string, warn: (m: string) => void): Promise<void> {
  const unlock = lockExisting(root, id);
  let c: Loaded;
  try {
    // read under the lock: a concurrent start (or delete) is done by now
    c = load(root, id);
    if (c.status !== 'created') throw new DynodError(`container ${id} is ${c.status}: start needs a created container`, { step: 'start' });
    if (c.state.startContainer?.length) {
      const { runStartContainerHooks } = require('./exec') as typeof import('./exec');
      const failed = await runStartContainerHooks(c, c.state.startContainer, publicState(c.state, 'created'));
      if (failed) {
        // the runtime spec: stop the container; its delete (and poststop) follow
        c.cgroup?.signalAll(9);
        signalPid1(c.state, 9);
        throw new DynodError(failed, { step: 'start' });
      }
    }
    let fd: number;
    try {
      fd = fs.openSync(c.dir.fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    } catch (e) {
      // ENXIO: nobody holds it open for reading any more (PID 1 is gone or started)
      throw new DynodError(`container ${id} cannot be started: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { step: 'start' });
    }
    try {
      fs.writeSync(fd, '0');
    } finally {
      fs.closeSync(fd);
    }
    fs.rmSync(c.dir.fifo, { force: true });
  } finally {
    unlock();
  }
  // poststart: after the command was let go; a failure is a warning (runtime spec)
  const s = publicState(c.state, 'running');
  for (const h of c.state.poststart) {
    const err = await runHook(h, s);
    if (err) warn(`poststart ${err}`);
  }
}

export function parseSignal(sig: string | undefined): number {
  const s = (sig ?? 'TERM').trim();
  const n = /^\d+$/.test(s) ? Number(s) : signalNumber((s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`) as NodeJS.Signals);
  if (n === null || !Number.isInteger(n) || n < 1 || n > 64) throw new UsageError(`signal ${JSON.stringify(sig)}: ${SIGNAL_ACCEPTED}`);
  return n;
}

function signalPid1(state: StoredState, sig: number): boolean {
  const fd = native().pidfdOpen(state.pid);
  if (fd < 0) return false;
  try {
    // the pidfd now holds a process: is it still ours?
    if (!alive(state)) return false;
    return native().signal(fd, sig);
  } finally {
    fs.closeSync(fd);
  }
}

export function kill(root: string, id: string, sig: string | undefined, all: boolean): void {
  const n = parseSignal(sig);
  const c = load(root, id);
  if (c.status === 'stopped' || c.status === 'creating') throw new DynodError(`container ${id} is ${c.status}: kill needs a created or running container`, { step: 'kill' });
  if (all && c.cgroup) {
    c.cgroup.signalAll(n);
    // a frozen cgroup holds the signal until it thaws; SIGKILL must not wait
    if (n === 9 && c.status === 'paused') c.cgroup.thaw();
    return;
  }
  if (!signalPid1(c.state, n)) throw new DynodError(`container ${id}: its process has exited`, { step: 'kill' });
}

/** Waits until PID 1 is gone, up to ms. */
async function waitStopped(state: StoredState, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (alive(state)) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

export async function remove(root: string, id: string, force: boolean, warn: (m: string) => void): Promise<void> {
  const dir = new StateDir(root, id);
  if (!dir.exists()) {
    if (force) return; // as runc: nothing to delete is no error with --force
    throw new DynodError(`container ${id} does not exist`, { step: 'load state', code: 'ENOENT' });
  }
  // a create in progress holds the lock: this waits for it
  const unlock = dir.lock();
  let c: Loaded;
  try {
    c = load(root, id);
  } catch (e) {
    unlock();
    // a create that died before its state was written leaves a directory only
    if (DynodError.from(e).code === 'ENOENT') return dir.remove();
    throw e;
  }
  if (c.status === 'running' || c.status === 'paused' || c.status === 'creating') {
    if (!force) {
      unlock();
      throw new DynodError(`container ${id} is ${c.status}: stop it first, or delete --force`, { step: 'delete' });
    }
  }
  try {
    if (c.status !== 'stopped') {
      // created (the command never ran) or forced: the whole container goes
      if (c.cgroup) {
        c.cgroup.signalAll(9);
        if (c.status === 'paused') c.cgroup.thaw();
      }
      signalPid1(c.state, 9);
      if (!(await waitStopped(c.state, 10_000))) throw new DynodError(`container ${id}: its process survived SIGKILL for 10 s`, { step: 'delete' });
    }
    await c.cgroup?.remove();
    const s = publicState(c.state, 'stopped');
    for (const h of c.state.poststop) {
      const err = await runHook(h, s);
      if (err) warn(`poststop ${err}`);
    }
  } finally {
    unlock();
  }
  c.dir.remove();
}

export async function pause(root: string, id: string): Promise<void> {
  const c = load(root, id);
  if (c.status !== 'running' && c.status !== 'created') throw new DynodError(`container ${id} is ${c.status}: pause needs a running container`, { step: 'pause' });
  if (!c.cgroup) throw new DynodError(`container ${id} has no cgroup to freeze`, { step: 'pause' });
  await c.cgroup.freeze();
}

export function resume(root: string, id: string): void {
  const c = load(root, id);
  if (c.status !== 'paused') throw new DynodError(`container ${id} is ${c.status}: resume needs a paused container`, { step: 'resume' });
  c.cgroup!.thaw();
}

export function pids(root: string, id: string): number[] {
  const c = load(root, id);
  return c.cgroup?.pids() ?? [];
}

export function list(root: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const id of listIds(root)) {
    try {
      out.push(stateOf(root, id));
    } catch {
      // a directory without a state: a create in progress or one that died early
    }
  }
  return out;
}
