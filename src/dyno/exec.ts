import * as tty from 'node:tty';
import type * as net from 'node:net';
import { Readable, Writable } from 'node:stream';
import { buildFile, native } from '../native';
import type { NativeExit, NativeRecord } from '../addon';
import { CommandError, DynodError, EXIT_DYNOD_ERROR, UsageError } from '../errors';
import { SeccompFilters } from '../seccomp/filters';
import { initArgv } from './compile';
import { CLONE, RLIMIT } from './constants';
import { checkExecTarget, targetRunning, type ExecTarget } from './exec-target';
import { closeChildEnds, prepareStdio, releaseStdio, type PreparedStdio, type StdioOption } from './stdio';
import { SIGNAL_ACCEPTED, signalName, signalNumber } from '../linux/signals';

export { checkExecTarget, type ExecTarget } from './exec-target';

// `dynod exec`: a new command inside a running dyno, from a process other than the
// one that started it. The addon clones a helper into the dyno's cgroup, joins it
// to PID 1's namespaces in one setns(pidfd), and execs dynod-init, which forks the
// command into the dyno's PID namespace as the dyno's user, with its capabilities,
// seccomp filter and limits (see docs/exec.md).

/** A stdio of an exec session: this process's own, /dev/null, an fd of the caller's, or a stream copied to or from it. */
export type ExecStdio<S> = 'inherit' | 'ignore' | number | S;

export interface ExecIO {
  /** default 'ignore' (/dev/null); a Readable is copied into the command's stdin (or its terminal), ending it at its end */
  stdin?: ExecStdio<Readable>;
  /** default 'ignore'; a Writable receives the command's output (never ended by the session) */
  stdout?: ExecStdio<Writable>;
  /** default 'ignore'; unused with tty (the terminal carries both outputs) */
  stderr?: ExecStdio<Writable>;
  /**
   * A terminal of the dyno's own (a pty in its devpts, as `run -i`), connected to
   * stdin and stdout ('inherit', 'ignore' or a stream). Putting the caller's own
   * terminal in raw mode is the caller's business.
   */
  tty?: boolean;
  /** the terminal's size (default 24 × 80) */
  rows?: number;
  cols?: number;
  /** $TERM of the session (the caller's own terminal type); none when not given */
  term?: string;
  /** called once the command runs: the session, to signal it or resize its terminal */
  onStart?: (session: ExecSession) => void;
}

/** A running exec session. */
export interface ExecSession {
  /** the host pid of the session's helper (dynod-init, outside the dyno's PID namespace; the command is its child) */
  readonly pid: number;
  /** the command's terminal (its pty master), with tty */
  readonly terminal: net.Socket | null;
  /**
   * Sends a signal: SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH
   * reach the command's process group; SIGKILL ends the helper, and the command with
   * it. False once the session has ended.
   */
  kill(signal?: NodeJS.Signals | number): boolean;
  resize(rows: number, cols: number): void;
}

/** How an exec session ended. */
export interface ExecResult {
  /** what `dynod exec` exits with: the command's status, 128+N for signal N, 126/127 when it cannot run, 125 for dynod's own failures */
  status: number;
  /** the helper's exit code (the command's status, 128+N for a signal), or null when a signal ended the helper */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** set when the command did not run: `web.1 is not running`, a failed step, a CommandError (126/127) */
  error: DynodError | null;
}

const NAMESPACE_FLAGS: Record<ExecTarget['namespaces'][number], number> = {
  user: CLONE.newuser,
  mount: CLONE.newns,
  pid: CLONE.newpid,
  uts: CLONE.newuts,
  ipc: CLONE.newipc,
  net: CLONE.newnet,
  cgroup: CLONE.newcgroup,
};

/** The sealed dynod-init of this process's sessions: made once, kept for the process's life. */
let initFd = -1;
function initBinary(): number {
  if (initFd < 0) initFd = native().sealedCopy(buildFile('dynod-init'));
  return initFd;
}

function checkedSignal(sig: NodeJS.Signals | number): number {
  const n = signalNumber(sig);
  if (n === null) throw new UsageError(`unknown signal ${String(sig)}; ${SIGNAL_ACCEPTED}`);
  return n;
}

function checkCommand(command: unknown): string[] {
  if (!Array.isArray(command) || command.length === 0 || !command.every((a) => typeof a === 'string'))
    throw new UsageError('exec: no command given; expected COMMAND [ARGS...] as an array of strings');
  if (command.some((a: string) => a.includes('\0'))) throw new UsageError('exec: the command contains a NUL byte');
  return command as string[];
}

function checkSize(v: number | undefined, what: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 1 || v > 65535) throw new UsageError(`exec: ${what} ${v}: expected an integer in 1..65535`);
  return v;
}

const isReadable = (v: unknown): v is Readable => v instanceof Readable;
const isWritable = (v: unknown): v is Writable => v instanceof Writable;

/** Our end of one stdio, as prepareStdio takes it: a stream becomes a pipe whose other end we copy. */
function option(v: ExecStdio<Readable | Writable> | undefined, what: string, stream: (v: unknown) => boolean): StdioOption {
  if (v === undefined) return 'ignore';
  if (v === 'inherit' || v === 'ignore') return v;
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0) throw new UsageError(`exec: ${what} ${v}: expected an fd (an integer ≥ 0)`);
    return v;
  }
  if (stream(v)) return 'pipe';
  throw new UsageError(`exec: ${what}: expected 'inherit', 'ignore', an fd or a stream`);
}

/** One exec session, from the clone to the result. */
class Session implements ExecSession {
  pid = -1;
  terminal: net.Socket | null = null;
  private pidfd = -1;
  private ptyFd = -1;
  private exited = false;
  private stdio: PreparedStdio | null = null;
  private setupError: DynodError | null = null;
  private channelEnded = false;
  private started = false;
  private resolveSetup!: () => void;
  private readonly setupDone = new Promise<void>((r) => (this.resolveSetup = r));
  /** undone when the session ends: our streams' links to the command's pipes or terminal */
  private readonly unlink: Array<() => void> = [];
  private readonly outputs: Promise<void>[] = [];

  constructor(
    private readonly target: ExecTarget,
    private readonly command: string[],
    private readonly io: ExecIO,
  ) {}

  async run(): Promise<ExecResult> {
    const t = this.target;
    const io = this.io;
    const tty = !!io.tty;
    const rows = checkSize(io.rows, 'rows', 24);
    const cols = checkSize(io.cols, 'cols', 80);
    if (tty) {
      for (const [what, v] of [['stdin', io.stdin], ['stdout', io.stdout]] as const)
        if (typeof v === 'number') throw new UsageError(`exec: ${what}: with tty, expected 'inherit', 'ignore' or a stream (the terminal is the command's stdio)`);
    }
    // With a terminal the helper's own stdio is /dev/null: the command's is the pty.
    const stdio = prepareStdio(
      tty
        ? { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' }
        : { stdin: option(io.stdin, 'stdin', isReadable), stdout: option(io.stdout, 'stdout', isWritable), stderr: option(io.stderr, 'stderr', isWritable) },
      true,
    );
    this.stdio = stdio;
    const env = { ...t.env, ...(io.term ? { TERM: io.term } : {}) };
    const filters = new SeccompFilters();
    let result;
    try {
      const seccompFd = filters.fd(t.seccomp, t.capabilities.length ? 'root' : 'dyno');
      const argv = initArgv({ capabilities: t.capabilities, user: t.user, umask: t.umask, cwd: t.cwd, tty, terminalSize: { rows, cols }, command: this.command }, false, seccompFd >= 0);
      result = native().enter(
        {
          pid: t.pid,
          startTime: t.startTime,
          namespaces: t.namespaces.reduce((acc, ns) => acc | NAMESPACE_FLAGS[ns], 0),
          rlimits: [
            { resource: RLIMIT.nproc, soft: t.rlimits.nproc, hard: t.rlimits.nproc },
            { resource: RLIMIT.nofile, soft: t.rlimits.nofile, hard: t.rlimits.nofile },
          ],
          cgroupDir: t.cgroup.dir,
          cgroupProcs: t.cgroup.procsFiles,
          stdio: stdio.fds,
          initFd: initBinary(),
          seccompFd,
          argv,
          envp: Object.entries(env).map(([k, v]) => `${k}=${v}`),
          detached: false,
        },
      );
    } catch (e) {
      releaseStdio(stdio);
      const error = this.explain(DynodError.from(e, 'exec'));
      return { status: error.exitCode, code: null, signal: null, error };
    } finally {
      filters.close();
    }
    closeChildEnds(stdio);
    this.pid = result.pid;
    this.pidfd = result.pidfd;
    if (!tty) this.linkPipes(stdio);
    const n = native();
    n.watchChannel(result.channel, (rec) => (rec === null ? this.onChannelEnd() : this.onRecord(rec)));
    const exit = await new Promise<NativeExit>((resolve) => n.watchExit(result.pidfd, resolve));
    this.exited = true;
    await this.setupDone;
    return this.finish(exit);
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    const num = checkedSignal(signal);
    if (this.exited || this.pidfd < 0) return false;
    try {
      return native().signal(this.pidfd, num);
    } catch (e) {
      throw DynodError.from(e, 'signal exec session');
    }
  }

  resize(rows: number, cols: number): void {
    if (this.ptyFd < 0 || this.exited || !this.terminal || this.terminal.destroyed) return;
    try {
      native().resizePty(this.ptyFd, rows, cols);
    } catch (e) {
      throw DynodError.from(e, 'resize terminal');
    }
  }

  /** A failure while the target is gone is that: the dyno is not running (any more). */
  private explain(err: DynodError): DynodError {
    if (err.exitCode !== EXIT_DYNOD_ERROR || err instanceof UsageError) return err;
    if (err.code !== 'ESRCH' && targetRunning(this.target)) return err;
    return new DynodError(`${this.target.name} is not running`, { step: err.step, syscall: err.syscall, errno: err.errno, code: err.code || 'ESRCH', detail: err.detail }, EXIT_DYNOD_ERROR, { cause: err });
  }

  /** Streams given for stdio, copied through the pipes prepareStdio made. */
  private linkPipes(stdio: PreparedStdio): void {
    const src = this.io.stdin;
    if (stdio.stdin && isReadable(src)) {
      const sink = stdio.stdin;
      sink.on('error', () => {}); // EPIPE: the command does not read it all
      src.pipe(sink);
      this.unlink.push(() => {
        src.unpipe(sink);
        sink.destroy();
      });
    }
    for (const [from, to] of [[stdio.stdout, this.io.stdout], [stdio.stderr, this.io.stderr]] as const) {
      if (!from || !isWritable(to)) continue;
      from.pipe(to, { end: false });
      this.outputs.push(new Promise((resolve) => { from.on('close', resolve); from.on('error', () => resolve()); }));
    }
  }

  /** The terminal to the caller's stdin and stdout ('inherit': this process's own). */
  private linkTerminal(term: net.Socket): void {
    const src = this.io.stdin === 'inherit' ? process.stdin : isReadable(this.io.stdin) ? this.io.stdin : null;
    const dst = this.io.stdout === 'inherit' ? process.stdout : isWritable(this.io.stdout) ? this.io.stdout : null;
    if (src) {
      src.pipe(term, { end: false });
      this.unlink.push(() => {
        src.unpipe(term);
        if (src === process.stdin && process.stdin.listenerCount('data') === 0) process.stdin.pause();
      });
    }
    if (dst) term.pipe(dst, { end: false });
    else term.resume(); // nobody reads: drain it, so the command never blocks on a full terminal
  }

  private onRecord(rec: NativeRecord): void {
    if (rec.kind === 'pty' && rec.fd !== undefined) {
      this.ptyFd = rec.fd;
      const term = new tty.ReadStream(rec.fd);
      // EIO on the master: the last slave fd closed, the stream ends there.
      term.on('error', () => term.destroy());
      this.terminal = term;
      this.linkTerminal(term);
    } else if (rec.kind === 'error') {
      this.setupError = rec.step === 'exec' ? new CommandError(rec.detail || this.command[0]!, rec) : DynodError.fromStep(rec);
    }
  }

  private onChannelEnd(): void {
    this.channelEnded = true;
    this.maybeStarted();
  }

  private maybeStarted(): void {
    if (!this.channelEnded) return;
    this.resolveSetup();
    if (this.setupError || this.started) return;
    this.started = true;
    try {
      this.io.onStart?.(this);
    } catch (e) {
      process.nextTick(() => { throw e; });
    }
  }

  private async finish(exit: NativeExit): Promise<ExecResult> {
    for (const undo of this.unlink.splice(0)) undo();
    const stdio = this.stdio;
    if (stdio) {
      stdio.inputPump?.destroy();
      // Output still in a pipe is delivered: until its last writer closes it (as ssh
      // and docker exec, a background process holding it keeps the session open).
      await Promise.all([...stdio.outputPumps, ...this.outputs]);
    }
    await this.releaseTerminal();
    const { code, signal } = exit;
    let error = this.setupError ?? (exit.error ? DynodError.fromStep(exit.error) : null);
    if (error) error = this.explain(error);
    const status = error ? error.exitCode : code !== null ? code : 128 + (signal ?? 0);
    return { status, code, signal: signal !== null ? signalName(signal) : null, error };
  }

  /**
   * The command has ended; a process it left in the background may still hold the
   * terminal, whose master then never reports EIO: give the output a moment, then
   * close it (as sshd closes a session's pty when its shell exits).
   */
  private async releaseTerminal(): Promise<void> {
    const term = this.terminal;
    if (!term || term.destroyed) return;
    await new Promise((r) => { term.once('close', r); setTimeout(r, 1_000).unref(); });
    term.destroy();
  }
}

/**
 * Runs `command` inside the running dyno `target` (from Dyno.execTarget(), possibly
 * in another process) and resolves when it has ended, never rejecting for what
 * happens in the dyno: a dyno that has ended gives status 125 and the error
 * `web.1 is not running`; a missing command 127. Bad arguments (a malformed target,
 * an empty command) throw a UsageError. Needs root, and Linux ≥ 5.8 (setns with a pidfd).
 */
export async function execIn(target: ExecTarget, command: string[], io: ExecIO = {}): Promise<ExecResult> {
  return new Session(checkExecTarget(target), checkCommand(command), io).run();
}
