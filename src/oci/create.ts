// `dynod-oci create`: everything of config.json but the command, then PID 1
// (dynod-init) waits on the exec FIFO for `start`. The container outlives this
// process: its caller (conmon, containerd's shim) is a subreaper and reaps it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native, buildFile } from '../native';
import { DynodError, UsageError } from '../errors';
import { detectCgroups } from '../cgroup';
import { readProcStat } from '../linux/proc-stat';
import { createContainerCgroup, type ContainerCgroup } from '../cgroup/container';
import { loadBundle } from './config';
import { planContainer } from './plan';
import { compileContainer, needsHookState } from './compile';
import { runHooks } from './hooks';
import { awaitSetup } from './process-io';
import { nativeSeccompFilter } from './seccomp';
import { OCI_VERSION, StateDir, checkId, publicState, writeAtomic, type StoredState } from './state';

/** the addon hands dynod-init at most 8 fds: the seccomp program, the start FIFO, and these */
export const MAX_PRESERVE_FDS = 6;

export interface CreateOptions {
  root: string;
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
  trace?: boolean;
}

export interface Created {
  state: StoredState;
  pid: number;
  pidfd: number;
}

function closeQuietly(fd: number): void {
  if (fd < 0) return;
  try { fs.closeSync(fd); } catch { /* already closed */ }
}

export async function createContainer(o: CreateOptions): Promise<Created> {
  const preserve = o.preserveFds ?? 0;
  if (!Number.isInteger(preserve) || preserve < 0 || preserve > MAX_PRESERVE_FDS)
    throw new UsageError(`--preserve-fds ${o.preserveFds}: accepted: 0 to ${MAX_PRESERVE_FDS} (fds 3 to ${2 + MAX_PRESERVE_FDS} of dynod-oci become the container's)`);
  const preserveFds = Array.from({ length: preserve }, (_, i) => 3 + i);
  for (const fd of preserveFds) {
    try {
      fs.fstatSync(fd);
    } catch {
      throw new UsageError(`--preserve-fds ${preserve}: fd ${fd} is not open in dynod-oci`);
    }
  }
  checkId(o.id);
  const bundle = path.resolve(o.bundle);
  const config = loadBundle(bundle);
  const backend = detectCgroups();
  let plan = planContainer(config, { bundle, id: o.id, cgroupView: backend.view });
  if (plan.process.terminal && !o.consoleSocket) throw new UsageError('process.terminal is true: --console-socket is needed to hand over the terminal');

  const dir = new StateDir(o.root, o.id);
  dir.claim();
  // held until the container exists or is gone again: delete and start wait for it
  const unlock = dir.lock();
  const state: StoredState = {
    ociVersion: OCI_VERSION,
    id: o.id,
    pid: 0,
    startTime: 0,
    bundle,
    rootfs: plan.rootfs,
    created: new Date().toISOString(),
    annotations: plan.annotations,
    cgroupPath: '',
    cgroupDirs: [],
    namespaces: [...plan.namespaces.new, ...plan.namespaces.join.map((j) => j.type)],
    startContainer: plan.hooks.startContainer,
    poststart: plan.hooks.poststart,
    poststop: plan.hooks.poststop,
    creating: true,
  };
  const fds: number[] = [];
  let hookWrite = -1;
  let cgroup: ContainerCgroup | null = null;
  let pidfd = -1;
  try {
    dir.write(state);
    try {
      cgroup = createContainerCgroup(plan.cgroupsPath, o.id, plan.resources);
    } catch (e) {
      // the cgroup code names the field (linux.resources.X); here the field is config.json's
      const err = DynodError.from(e, 'create cgroup');
      if (err.message.startsWith('linux.')) err.message = `config.json: ${err.message}`;
      throw err;
    }
    state.cgroupPath = cgroup.path;
    state.cgroupDirs = [...cgroup.dirs];
    // The container's /sys/fs/cgroup shows the hierarchies its cgroup spans (freezer and
    // devices too on v1), which only the made cgroup knows: the plan is made again for them.
    plan = planContainer(config, { bundle, id: o.id, cgroupView: cgroup.view });
    dir.write(state);
    const n = native();
    n.mkfifo(dir.fifo, 0o622);
    const startFd = fs.openSync(dir.fifo, fs.constants.O_RDWR);
    fds.push(startFd);
    const nsFds: Record<string, number> = {};
    for (const j of plan.namespaces.join) {
      try {
        nsFds[j.path] ??= fs.openSync(j.path, fs.constants.O_RDONLY);
      } catch (e) {
        throw new UsageError(`config.json: linux.namespaces[${j.type}].path ${j.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      fds.push(nsFds[j.path]!);
    }
    const seccompFd = plan.seccomp ? n.compileSeccomp(nativeSeccompFilter(plan.seccomp)) : -1;
    if (seccompFd >= 0) fds.push(seccompFd);
    const initFd = n.sealedCopy(buildFile('dynod-init'));
    fds.push(initFd);
    // The runtime spec's create hooks: prestart and createRuntime here while the child
    // waits before pivot_root, then its createContainer ones (compile.ts).
    if (needsHookState(plan)) {
      const [r, w] = n.pipe();
      fds.push(r);
      hookWrite = w;
    }
    const hookState = hookWrite >= 0 ? { fd: fds[fds.length - 1]!, closeFd: hookWrite } : undefined;
    const spawnPlan = compileContainer(plan, { cgroup, stdio: [0, 1, 2], initFd, seccompFd, startFd, nsFds, preserveFds, hookState, trace: !!o.trace });
    const result = n.spawn(spawnPlan);
    pidfd = result.pidfd;
    const st = readProcStat(result.pid);
    state.pid = result.pid;
    state.startTime = st?.startTime ?? 0;
    dir.write(state);
    if (plan.process.oomScoreAdj !== null && plan.process.oomScoreAdj !== undefined) {
      try {
        fs.writeFileSync(`/proc/${result.pid}/oom_score_adj`, String(plan.process.oomScoreAdj));
      } catch (e) {
        throw new DynodError(`process.oomScoreAdj ${plan.process.oomScoreAdj}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { step: 'oom score' });
      }
    }
    const setupP = awaitSetup(result.channel, o.consoleSocket);
    let hookError: string | null = null;
    if (hookWrite >= 0) {
      const s = publicState(state, 'creating');
      hookError = (await runHooks(plan.hooks.prestart, s)) ?? (await runHooks(plan.hooks.createRuntime, s));
      try {
        // nothing written (a hook failed): the child gives up at once
        if (!hookError) fs.writeSync(hookWrite, JSON.stringify(s)); // far below a pipe's 64 KiB
      } catch {
        // EPIPE: the child failed before it waited; its record says why
      }
      fs.closeSync(hookWrite);
      hookWrite = -1;
    }
    const setupError = await setupP;
    if (hookError) throw new DynodError(hookError, { step: 'hooks' });
    if (setupError) throw setupError;
    delete state.creating;
    dir.write(state);
    if (o.pidFile) writeAtomic(path.resolve(o.pidFile), String(result.pid), 0o644);
    return { state, pid: result.pid, pidfd };
  } catch (e) {
    // Errors must leave the host as if create had not been attempted.
    if (pidfd >= 0) {
      native().signal(pidfd, 9);
      await waitGone(pidfd);
    }
    await cgroup?.remove().catch(() => {});
    dir.remove();
    throw e;
  } finally {
    for (const fd of fds) closeQuietly(fd);
    if (hookWrite >= 0) closeQuietly(hookWrite);
    unlock();
  }
}

/** Resolves once the process behind pidfd has exited (and closes the pidfd). */
export function waitGone(pidfd: number): Promise<void> {
  return new Promise((resolve) => native().watchExit(pidfd, () => resolve()));
}
