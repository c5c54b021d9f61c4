// `dynod-oci exec`, and the startContainer hooks: a new process in a container,
// through the same native enter as `dynod exec` (setns by PID 1's pidfd into its
// namespaces, its cgroup, dynod-init as the helper that forks the command inside).
// With --detach the helper outlives us and is reaped by our caller's subreaper
// (conmon, the shim), which reads its pid from --pid-file; otherwise we wait and
// exit with the command's status.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native, buildFile } from '../native';
import { DynodError, UsageError } from '../errors';
import { CLONE } from '../dyno/constants';
import { awaitSetup, exitStatus, waitForwarding } from './process-io';
import { loadBundle, validateProcess } from './config';
import { planContainer, planProcess, type PlanProcess } from './plan';
import { processInitArgv } from './compile';
import { nativeSeccompFilter, type PlanSeccompFilter } from './seccomp';
import { detectCgroups } from '../cgroup';
import type { Loaded } from './lifecycle';
import { writeAtomic, type StoredHook } from './state';

export interface ExecOptions {
  root: string;
  id: string;
  /** config.json's process object for the new process (--process FILE, or built from the command line) */
  process: unknown;
  /** where process came from, for errors */
  where: string;
  detach: boolean;
  pidFile?: string;
  consoleSocket?: string;
}

const NS_FLAGS: Record<string, number> = {
  user: CLONE.newuser, mount: CLONE.newns, pid: CLONE.newpid, network: CLONE.newnet, uts: CLONE.newuts, ipc: CLONE.newipc, cgroup: CLONE.newcgroup,
};

interface Entered {
  pid: number;
  pidfd: number;
  /** the command's status (128+N for a signal); null when detached */
  exited: Promise<number> | null;
}

/** Starts proc inside the container; resolves once its command runs (or rejects, the helper gone). */
async function enterContainer(
  c: Loaded,
  proc: PlanProcess,
  o: { seccomp: PlanSeccompFilter | null; stdio: [number, number, number]; detach: boolean; consoleSocket?: string },
): Promise<Entered> {
  const n = native();
  const fds: number[] = [];
  try {
    const namespaces = c.state.namespaces.reduce((acc, ns) => acc | (NS_FLAGS[ns] ?? 0), 0);
    if (!(namespaces & CLONE.newpid) || !(namespaces & CLONE.newns)) throw new UsageError(`container ${c.state.id} shares the host's PID or mount namespace: dynod-oci exec needs both of its own`);
    if (!c.cgroup) throw new DynodError(`container ${c.state.id}: its cgroup is gone`, { step: 'exec' });
    const seccompFd = o.seccomp ? n.compileSeccomp(nativeSeccompFilter(o.seccomp)) : -1;
    if (seccompFd >= 0) fds.push(seccompFd);
    const initFd = n.sealedCopy(buildFile('dynod-init'));
    fds.push(initFd);
    const result = n.enter(
      {
        pid: c.state.pid,
        startTime: c.state.startTime,
        namespaces,
        rlimits: proc.rlimits.map(({ resource, soft, hard }) => ({ resource, soft, hard })),
        cgroupDir: c.cgroup.intoDir,
        cgroupProcs: c.cgroup.procsFiles,
        stdio: o.stdio,
        initFd,
        seccompFd,
        argv: processInitArgv(proc, seccompFd >= 0),
        envp: [...proc.env],
        detached: o.detach,
      },
    );
    const exited = o.detach ? null : exitStatus(result.pidfd);
    const failed = await awaitSetup(result.channel, o.consoleSocket);
    if (failed) {
      n.signal(result.pidfd, 9);
      if (exited) await exited;
      throw failed;
    }
    return { pid: result.pid, pidfd: result.pidfd, exited };
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
}

/** The container's plan, made again from its bundle (its seccomp filter applies to every process of it, as with runc). */
function planOf(c: Loaded) {
  return planContainer(loadBundle(c.state.bundle), { bundle: c.state.bundle, id: c.state.id, cgroupView: detectCgroups().view });
}

/** Resolves with the command's status (128+N for a signal); with detach, once it runs. */
export async function execInContainer(o: ExecOptions): Promise<number> {
  const { load } = require('./lifecycle') as typeof import('./lifecycle');
  const c = load(o.root, o.id);
  if (c.status !== 'running' && c.status !== 'created') throw new DynodError(`container ${o.id} is ${c.status}: exec needs a running container`, { step: 'exec' });
  const proc: PlanProcess = planProcess(validateProcess(o.process, o.where));
  if (proc.terminal && !o.consoleSocket) throw new UsageError('exec with a terminal needs --console-socket to hand it over');
  const entered = await enterContainer(c, proc, { seccomp: planOf(c).seccomp, stdio: [0, 1, 2], detach: o.detach, consoleSocket: o.consoleSocket });
  if (o.pidFile) writeAtomic(path.resolve(o.pidFile), String(entered.pid), 0o644);
  if (!entered.exited) {
    fs.closeSync(entered.pidfd);
    return 0;
  }
  // Signals for the session reach the command (its helper forwards them).
  return waitForwarding(entered.pidfd, entered.exited);
}

/**
 * The startContainer hooks (runtime spec): in the container's namespaces and root,
 * the path resolved there, before the command runs; the state on stdin, killed at
 * the timeout. They run as the container's root with its bounding set, without its
 * seccomp filter (a hook is the runtime's, not the container's). The first failure
 * is returned.
 */
export async function runStartContainerHooks(c: Loaded, hooks: StoredHook[], state: Record<string, unknown>): Promise<string | null> {
  if (hooks.length === 0) return null;
  const bounding = planOf(c).process.capabilities.bounding;
  const n = native();
  for (const h of hooks) {
    const proc: PlanProcess = {
      // dynod-init runs command[0]: the hook's path stands for args[0]
      args: [h.path, ...h.args.slice(1)],
      env: [...h.env],
      cwd: '/',
      user: { uid: 0, gid: 0, additionalGids: [], umask: 0o022 },
      terminal: false,
      consoleSize: null,
      capabilities: { bounding, effective: bounding, permitted: bounding, inheritable: [], ambient: [] },
      rlimits: [],
      noNewPrivileges: true,
      oomScoreAdj: null,
    };
    const [r, w] = n.pipe();
    const devnull = fs.openSync('/dev/null', 'w');
    let entered: Entered;
    try {
      fs.writeSync(w, JSON.stringify(state)); // far below a pipe's 64 KiB
      fs.closeSync(w);
      entered = await enterContainer(c, proc, { seccomp: null, stdio: [r, devnull, 2], detach: false });
    } catch (e) {
      return `startContainer hook ${h.path}: ${DynodError.from(e).message}`;
    } finally {
      for (const fd of [r, w, devnull]) try { fs.closeSync(fd); } catch { /* closed above */ }
    }
    let timedOut = false;
    const timer = h.timeout ? setTimeout(() => { timedOut = true; n.signal(entered.pidfd, 9); }, h.timeout * 1000) : undefined;
    const status = await entered.exited!;
    clearTimeout(timer);
    if (timedOut) return `startContainer hook ${h.path}: timed out after ${h.timeout} s`;
    if (status !== 0) return `startContainer hook ${h.path}: exit status ${status}`;
  }
  return null;
}
