import { plan as makePlan, start } from '../dyno/index';
import { Dyno, type DynoExit } from '../dyno/dyno';
import type { DynoOptions } from '../dyno/options';
import { parseEnvPair } from '../dyno/env';
import { DynodError } from '../errors';
import { native } from '../native';

export interface RunFlags {
  size?: string;
  memory?: string;
  cpus?: string;
  pids?: string;
  app?: string;
  rootfs?: string;
  name?: string;
  port?: string;
  env: string[];
  envFile: string[];
  user?: string;
  net?: string;
  publish: string[];
  interactive?: boolean;
  tty?: boolean;
  dryRun?: boolean;
  seccomp?: string;
  userns?: string;
}

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

export function toOptions(command: string[], f: RunFlags): DynoOptions {
  const env: Record<string, string> = {};
  for (const pair of f.env) {
    const [k, v] = parseEnvPair(pair);
    env[k] = v;
  }
  const interactive = !!f.interactive;
  const tty = interactive && f.tty !== false && !!process.stdin.isTTY;
  return {
    command,
    size: f.size,
    memory: f.memory,
    cpus: f.cpus,
    pids: f.pids,
    app: f.app,
    rootfs: f.rootfs,
    name: f.name,
    port: f.port,
    env,
    envFile: f.envFile,
    term: process.env.TERM,
    user: f.user,
    net: f.net,
    publish: f.publish,
    interactive,
    tty,
    seccomp: f.seccomp,
    userns: f.userns,
    rows: tty ? process.stdout.rows : undefined,
    cols: tty ? process.stdout.columns : undefined,
  };
}

/** `dynod run`: returns the exit status for the process. */
export async function runCommand(command: string[], flags: RunFlags): Promise<number> {
  const options = toOptions(command, flags);
  const plan = makePlan(options);
  if (flags.dryRun) {
    process.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
    return 0;
  }
  const trace = process.env.DYNOD_TRACE === '1';
  let dyno: Dyno | null = null;
  const pending: NodeJS.Signals[] = [];
  const onSignal = (sig: NodeJS.Signals) => {
    if (sig === 'SIGWINCH' && plan.tty) {
      dyno?.resize(process.stdout.rows, process.stdout.columns);
      return;
    }
    if (dyno) dyno.kill(sig);
    else pending.push(sig);
  };
  for (const s of FORWARDED) process.on(s, onSignal);
  let exit: DynoExit;
  try {
    try {
      dyno = await start(plan, {
        stdin: plan.stdin && !plan.tty ? 'inherit' : 'ignore',
        stdout: 'inherit',
        stderr: 'inherit',
        trace,
      });
    } catch (e) {
      const err = DynodError.fromNative(e);
      return report({ status: err.exitCode, code: null, signal: null, oomKilled: false, error: err }, null);
    }
    for (const w of dyno.warnings) process.stderr.write(`dynod: warning: ${w}\n`);
    for (const s of pending) dyno.kill(s);
    if (plan.tty) attachTerminal(dyno);
    exit = await dyno.wait();
  } finally {
    for (const s of FORWARDED) process.off(s, onSignal);
    if (plan.tty && process.stdin.isTTY) process.stdin.setRawMode(false);
  }
  return report(exit, trace ? dyno : null);
}

function attachTerminal(dyno: Dyno): void {
  const term = dyno.terminal;
  if (!term) return;
  process.stdin.setRawMode(true);
  if (process.stdout.isTTY) native().rawOutput(1);
  process.stdin.pipe(term);
  term.pipe(process.stdout);
  dyno.once('exit', () => {
    process.stdin.unpipe(term);
    process.stdin.pause();
  });
}

function report(exit: DynoExit, traced: Dyno | null): number {
  if (traced) for (const t of traced.traces) process.stderr.write(`dynod trace: ${t.ms.toFixed(3).padStart(9)} ms  ${t.phase}\n`);
  if (exit.error) process.stderr.write(`dynod: ${exit.error.message}\n`);
  else if (exit.oomKilled) process.stderr.write('Error R15 (Memory quota vastly exceeded)\n');
  return exit.status;
}
