// `dynod-oci exec`: a new process in a running container, through the same native
// enter as `dynod exec` (setns by PID 1's pidfd into its namespaces, its cgroup,
// dynod-init as the helper that forks the command inside). With --detach the helper
// outlives us and is reaped by our caller's subreaper (conmon, the shim), which reads
// its pid from --pid-file; otherwise we wait and exit with the command's status.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native, buildFile } from '../native';
import { DynodError, UsageError } from '../errors';
import { commandError } from './create';
import { CLONE } from '../dyno/constants';
import { loadBundle, validateProcess } from './config';
import { planContainer, planProcess, type PlanProcess } from './plan';
import { processInitArgv } from './compile';
import { nativeSeccompFilter } from './seccomp';
import { detectCgroups } from '../cgroup';
import { load } from './lifecycle';
import { writeAtomic } from './state';

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

/** Resolves with the command's status (128+N for a signal); with detach, once it runs. */
export async function execInContainer(o: ExecOptions): Promise<number> {
  const c = load(o.root, o.id);
  if (c.status !== 'running' && c.status !== 'created') throw new DynodError(`container ${o.id} is ${c.status}: exec needs a running container`, { step: 'exec' });
  const proc: PlanProcess = planProcess(validateProcess(o.process, o.where));
  if (proc.terminal && !o.consoleSocket) throw new UsageError('exec with a terminal needs --console-socket to hand it over');
  // The container's seccomp filter applies to every process of it, as with runc.
  const plan = planContainer(loadBundle(c.state.bundle), { bundle: c.state.bundle, id: o.id, cgroupView: detectCgroups().view });
  const n = native();
  const fds: number[] = [];
  try {
    const seccompFd = plan.seccomp ? n.compileSeccomp(nativeSeccompFilter(plan.seccomp)) : -1;
    if (seccompFd >= 0) fds.push(seccompFd);
    const initFd = n.sealedCopy(buildFile('dynod-init'));
    fds.push(initFd);
    const namespaces = c.state.namespaces.reduce((acc, ns) => acc | (NS_FLAGS[ns] ?? 0), 0);
    if (!(namespaces & CLONE.newpid) || !(namespaces & CLONE.newns)) throw new UsageError(`container ${o.id} shares the host's PID or mount namespace: dynod-oci exec needs both of its own`);
    if (!c.cgroup) throw new DynodError(`container ${o.id}: its cgroup is gone`, { step: 'exec' });
    let joinError: DynodError | null = null;
    let joined!: () => void;
    const joinedP = new Promise<void>((r) => (joined = r));
    const result = n.enter(
      {
        pid: c.state.pid,
        startTime: c.state.startTime,
        namespaces,
        rlimits: proc.rlimits.map(({ resource, soft, hard }) => ({ resource, soft, hard })),
        cgroupDir: c.cgroup.intoDir,
        cgroupProcs: c.cgroup.procsFiles,
        stdio: [0, 1, 2],
        initFd,
        seccompFd,
        argv: processInitArgv(proc, seccompFd >= 0),
        envp: [...proc.env],
        detached: o.detach,
      },
      (err) => {
        if (err) joinError = DynodError.fromStep(err);
        joined();
      },
    );
    const exited = o.detach ? null : new Promise<number>((resolve) => n.watchExit(result.pidfd, (e) => resolve(e.code ?? 128 + (e.signal ?? 0))));
    let setupError: DynodError | null = null;
    await new Promise<void>((resolve) =>
      n.watchChannel(result.channel, (rec) => {
        if (rec === null) return resolve();
        if (rec.kind === 'pty' && rec.fd !== undefined) {
          try {
            n.sendFd(o.consoleSocket!, rec.fd, rec.detail);
          } catch (e) {
            setupError ??= DynodError.from(e, 'console socket');
          } finally {
            fs.closeSync(rec.fd);
          }
        } else if (rec.kind === 'error' && !setupError) {
          setupError = rec.step === 'exec' ? commandError(proc.args[0] ?? '', rec) : DynodError.fromStep(rec);
        }
      }),
    );
    await joinedP;
    const failed = setupError ?? joinError;
    if (failed) {
      n.signal(result.pidfd, 9);
      if (exited) await exited;
      throw failed;
    }
    if (o.pidFile) writeAtomic(path.resolve(o.pidFile), String(result.pid), 0o644);
    if (!exited) {
      fs.closeSync(result.pidfd);
      return 0;
    }
    // Signals for the session reach the command (its helper forwards them).
    const forward = (sig: NodeJS.Signals) => n.signal(result.pidfd, ({ SIGTERM: 15, SIGINT: 2, SIGHUP: 1, SIGQUIT: 3, SIGUSR1: 10, SIGUSR2: 12 } as Record<string, number>)[sig]!);
    const sigs: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
    for (const s of sigs) process.on(s, forward);
    try {
      return await exited;
    } finally {
      for (const s of sigs) process.off(s, forward);
    }
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
}
