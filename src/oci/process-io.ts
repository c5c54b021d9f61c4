// What create (PID 1) and exec (a session's helper) share once the addon has cloned:
// the setup records up to the exec of the command, and a foreground wait that passes
// the caller's signals on.
import * as fs from 'node:fs';
import { native } from '../native';
import { DynodError } from '../errors';
import { signalNumber } from '../linux/signals';

/**
 * runc's words for a command that cannot run, which podman and containerd turn into
 * 127 ("executable file not found in $PATH", "no such file or directory") and 126
 * ("permission denied"): the message is what they read, not our exit status.
 */
export function commandError(cmd: string, rec: { code: string; errno: number }): DynodError {
  const notFound = rec.code === 'ENOENT' || rec.code === 'ENOTDIR';
  const why = notFound ? (cmd.includes('/') ? 'no such file or directory' : 'executable file not found in $PATH') : 'permission denied';
  return new DynodError(`exec: "${cmd}": ${why}`, { step: 'exec', syscall: 'execve', errno: rec.errno, code: rec.code, detail: cmd }, notFound ? 127 : 126);
}

/**
 * The records of dynod-init until its channel ends: the first failure (null when the
 * command was reached), a terminal master handed to consoleSocket as it comes.
 */
export function awaitSetup(channel: number, consoleSocket: string | undefined): Promise<DynodError | null> {
  return new Promise((resolve) => {
    let error: DynodError | null = null;
    native().watchChannel(channel, (rec) => {
      if (rec === null) return resolve(error);
      if (rec.kind === 'pty' && rec.fd !== undefined) {
        try {
          native().sendFd(consoleSocket!, rec.fd, rec.detail);
        } catch (e) {
          error ??= DynodError.from(e, 'console socket');
        } finally {
          fs.closeSync(rec.fd);
        }
      } else if (rec.kind === 'error' && !error) {
        error = rec.step === 'exec' ? commandError(rec.detail, rec) : DynodError.fromStep(rec);
      }
    });
  });
}

/** The status (128+N for a signal) of the process behind pidfd, which must be our child; closes pidfd. */
export function exitStatus(pidfd: number): Promise<number> {
  return new Promise((resolve) => native().watchExit(pidfd, (e) => resolve(e.code ?? 128 + (e.signal ?? 0))));
}

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** Waits for exited, passing the signals this process gets to the process behind pidfd (which forwards them on). */
export async function waitForwarding(pidfd: number, exited: Promise<number>): Promise<number> {
  const forward = (sig: NodeJS.Signals) => native().signal(pidfd, signalNumber(sig)!);
  for (const s of FORWARDED) process.on(s, forward);
  try {
    return await exited;
  } finally {
    for (const s of FORWARDED) process.off(s, forward);
  }
}
