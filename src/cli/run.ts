import { plan as makePlan, start } from '../dyno/index';
import { getDefaultEngine } from '../engine/engine';
import type { Dyno, DynoExit } from '../dyno/dyno';
import type { ByteSize, DynoOptions } from '../dyno/options';
import type { DynoPlan } from '../dyno/plan';
import { parseEnvPair } from '../dyno/env';
import { parseCpus, parseDuration, parsePositiveInt } from '../dyno/units';
import { DynodError, UsageError } from '../errors';
import { native } from '../native';
import { networkPreview } from '../net/dyno-network';
import { terminalSize } from './terminal-size';

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
  allowHostPort?: string[];
  interactive?: boolean;
  tty?: boolean;
  /** true or 'plan': the plan; 'native': what executes (ops, id maps, capabilities, init argv) */
  dryRun?: boolean | string;
  seccomp?: string;
  userns?: string;
  detach?: boolean;
  /** R10: SIGKILL the dyno when nothing listens on $PORT within this (what `dynod export` gives web dynos) */
  bootTimeout?: string;
}

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];
const TERMINATING: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];
/** Heroku's grace between SIGTERM and SIGKILL */
const STOP_GRACE_MS = 30_000;

export function toOptions(command: string[], f: RunFlags): DynoOptions {
  const env: Record<string, string> = {};
  for (const pair of f.env) {
    const [k, v] = parseEnvPair(pair);
    env[k] = v;
  }
  const interactive = !!f.interactive;
  const tty = interactive && f.tty !== false && !!process.stdin.isTTY;
  // Strings from the command line become the library's types here; the plan checks
  // every value again and names the option in its error.
  return {
    command,
    size: f.size as DynoOptions['size'],
    memory: f.memory as ByteSize | undefined,
    cpus: f.cpus === undefined ? undefined : parseCpus(f.cpus),
    pids: f.pids === undefined ? undefined : parsePositiveInt(f.pids, '--pids'),
    app: f.app,
    rootfs: f.rootfs,
    name: f.name,
    port: f.port === undefined ? undefined : parsePositiveInt(f.port, '--port', 1, 65535),
    env,
    envFile: f.envFile,
    term: process.env.TERM,
    user: f.user as DynoOptions['user'],
    net: f.net as DynoOptions['net'],
    publish: f.publish,
    allowHostPorts: (f.allowHostPort ?? []).map((p) => parsePositiveInt(p, '--allow-host-port', 1, 65535)),
    interactive,
    tty,
    seccomp: f.seccomp,
    userns: f.userns as DynoOptions['userns'],
    ...(tty ? terminalSize() : { rows: undefined, cols: undefined }),
  };
}

/** `dynod run`: returns the exit status for the process. */
export async function runCommand(command: string[], flags: RunFlags): Promise<number> {
  if (typeof flags.dryRun === 'string' && flags.dryRun !== 'plan' && flags.dryRun !== 'native') {
    // `--dry-run node server.js`: commander took the command's first word as the option's value
    command = [flags.dryRun, ...command];
    flags = { ...flags, dryRun: true };
  }
  let options = toOptions(command, flags);
  const bootTimeoutMs = flags.bootTimeout === undefined ? null : parseDuration(flags.bootTimeout, '--boot-timeout');
  // With a formation of this app running, `dynod run` is one of its one-offs (heroku run):
  // run.N, the app's environment and config vars; ps shows it while it runs.
  const formation = flags.dryRun ? null : await joinFormation(command, flags, options);
  if (formation === 'detached') return 0;
  if (formation) options = formation.options;
  let plan: ReturnType<typeof makePlan>;
  try {
    plan = makePlan(options);
  } catch (e) {
    // a formation's one-off that cannot start ends there, or ps would list it as starting
    // and this process would wait on its control connection for good
    formation?.ended(DynodError.from(e).exitCode);
    throw e;
  }
  if (flags.dryRun !== undefined && flags.dryRun !== false) {
    process.stdout.write(`${JSON.stringify(flags.dryRun === 'native' ? nativeView(plan) : plan, null, 2)}\n`);
    return 0;
  }
  const trace = process.env.DYNOD_TRACE === '1';
  let dyno: Dyno | null = null;
  const pending: NodeJS.Signals[] = [];
  // A terminating signal gives every process of the dyno Heroku's 30 s (dynod-init waits
  // for them all); a second one, or the end of the grace, is SIGKILL, as Heroku's
  // second Ctrl-C.
  let terminating = 0;
  let graceTimer: NodeJS.Timeout | undefined;
  const deliver = (sig: NodeJS.Signals) => {
    if (!TERMINATING.includes(sig)) return void dyno!.kill(sig);
    if (++terminating > 1) return void dyno!.kill('SIGKILL');
    dyno!.kill(sig);
    graceTimer = setTimeout(() => dyno?.kill('SIGKILL'), STOP_GRACE_MS);
    graceTimer.unref();
  };
  const onSignal = (sig: NodeJS.Signals) => {
    if (sig === 'SIGWINCH' && plan.tty) {
      const size = terminalSize();
      if (size.rows !== undefined && size.cols !== undefined) dyno?.resize(size.rows, size.cols);
      return;
    }
    if (dyno) deliver(sig);
    else pending.push(sig);
  };
  for (const s of FORWARDED) process.on(s, onSignal);
  if (formation)
    formation.onStop = (graceMs) => {
      if (!dyno) return void pending.push(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
      if (graceMs <= 0) return void dyno.kill('SIGKILL');
      terminating++;
      dyno.kill('SIGTERM');
      clearTimeout(graceTimer);
      graceTimer = setTimeout(() => dyno?.kill('SIGKILL'), graceMs);
      graceTimer.unref();
    };
  let exit: DynoExit;
  try {
    try {
      dyno = await start(plan, {
        stdin: plan.stdin && !plan.tty ? 'inherit' : 'ignore',
        stdout: 'inherit',
        stderr: 'inherit',
        trace,
        group: formation?.app,
      });
    } catch (e) {
      const err = DynodError.from(e);
      formation?.ended(err.exitCode);
      return report({ status: err.exitCode, code: null, signal: null, oomKilled: false, error: err }, null);
    }
    formation?.started(dyno.pid);
    for (const w of dyno.warnings) process.stderr.write(`dynod: warning: ${w}\n`);
    if (bootTimeoutMs !== null) watchBoot(dyno, bootTimeoutMs);
    for (const s of pending) deliver(s);
    if (plan.tty) attachTerminal(dyno);
    exit = await dyno.wait();
    formation?.ended(exit.status);
  } finally {
    // The last user of the host network takes it down (bridge, nftables) on the way out.
    await getDefaultEngine().close().catch(() => {});
    clearTimeout(graceTimer);
    for (const s of FORWARDED) process.off(s, onSignal);
    if (plan.tty && process.stdin.isTTY) process.stdin.setRawMode(false);
  }
  return report(exit, trace ? dyno : null);
}

/** R10 as a formation's web dyno gets it: nothing listens on $PORT within the boot timeout → SIGKILL. */
function watchBoot(dyno: Dyno, ms: number): void {
  dyno.waitForPort(undefined, ms).catch((e: unknown) => {
    // ESRCH: the dyno ended first, and its own exit status tells
    if (DynodError.from(e).code !== 'ETIMEDOUT') return;
    process.stderr.write(`Error R10 (Boot timeout) -> Web process failed to bind to $PORT within ${Number((ms / 1000).toFixed(3))} seconds of launch\nStopping process with SIGKILL\n`);
    dyno.kill('SIGKILL');
  });
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

/**
 * What the addon would execute for this plan, as bubblewrap would print it: the
 * clone flags, id maps, rlimits, the child's op list, dynod-init's argv with the
 * capability mask, and the environment. Per-start values (fds, the id range, the
 * cgroup) are shown as placeholders.
 */
function nativeView(plan: DynoPlan): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { compileSpawn } = require('../dyno/compile') as typeof import('../dyno/compile');
  const FD = -1;
  const spawn = compileSpawn(plan, {
    hostname: '<instance id>',
    cgroup: { intoDir: '<dynod cgroup>/dynod/run/<name>-<id8>', procsFiles: [] },
    stdio: [0, 1, 2],
    initFd: FD,
    appMountFd: plan.userns === 'private' ? 99 : -1,
    rootfsMountFd: plan.root.kind === 'rootfs' && plan.userns === 'private' ? 98 : -1,
    idBase: 0,
    seccompFd: plan.seccomp === 'unconfined' ? -1 : 97,
    trace: false,
    network: networkPreview(plan),
  });
  return {
    note: 'per start: the id range replaces host id 0 in the maps, fds 97-99 stand for the seccomp program and the idmapped /app and rootfs mounts',
    ...spawn,
  };
}

/** The options given that a formation's one-off cannot honour (its network, user, root, … are the formation's). */
function formationIgnores(flags: RunFlags): string[] {
  const given: [boolean, string][] = [
    [flags.name !== undefined, '--name'],
    [flags.port !== undefined && flags.port !== '5000', '--port'],
    [flags.net !== undefined && flags.net !== 'private', '--net'],
    [flags.user !== undefined && flags.user !== 'dyno', '--user'],
    [flags.userns !== undefined && flags.userns !== 'private', '--userns'],
    [flags.seccomp !== undefined && flags.seccomp !== 'default', '--seccomp'],
    [flags.rootfs !== undefined, '--rootfs'],
    [flags.publish.length > 0, '--publish'],
    [(flags.allowHostPort?.length ?? 0) > 0, '--allow-host-port'],
    [flags.bootTimeout !== undefined, '--boot-timeout'],
  ];
  return given.filter(([on]) => on).map(([, name]) => name);
}

interface FormationOneOff {
  app: string;
  options: DynoOptions;
  started(pid: number): void;
  ended(status: number): void;
  /** the formation stops this one-off (`dynod stop -d run.N`, `--all`): SIGTERM, SIGKILL after graceMs */
  onStop: ((graceMs: number) => void) | null;
}

/**
 * The formation this one-off belongs to (the app of --app or the current directory
 * has one running), or null. Attached, this process runs the dyno with the options
 * the formation gives and tells it when the dyno started and ended; --detach asks
 * the formation to run it.
 */
async function joinFormation(command: string[], flags: RunFlags, local: DynoOptions): Promise<FormationOneOff | 'detached' | null> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { findApp, ControlConnection } = require('../control/client') as typeof import('../control/client');
  let app: string;
  try {
    app = findApp({ app: flags.app });
  } catch {
    if (flags.detach) throw new DynodError('--detach: no formation of this app is running (dynod start it first)', { step: 'usage' });
    // the verbs find an app by --name; here --name names the dyno: a user who meant the app is told
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { listApps } = require('../control/paths') as typeof import('../control/paths');
    if (flags.name !== undefined && listApps().includes(flags.name))
      throw new UsageError(
        `--name ${flags.name}: for dynod run it names the dyno ($DYNO), and a formation of app ${flags.name} runs: for a one-off in it, run from its directory or give --app DIR; for a dyno of your own, choose another --name`,
      );
    return null;
  }
  const ignored = formationIgnores(flags);
  if (ignored.length)
    throw new UsageError(
      `${ignored.join(', ')}: not for a one-off of a running formation (app ${app}), which gets the formation's settings; accepted then: -s, -e, --env-file, -i, --no-tty, --memory, --cpus, --pids, --detach`,
    );
  const c = await ControlConnection.connect(app);
  const r = await c.request<import('../control/protocol').RunResult>({
    op: 'run', command, size: flags.size === 'standard-1x' ? undefined : flags.size, env: local.env ?? {}, detach: !!flags.detach, tty: !!local.tty,
  });
  if (flags.detach) {
    c.close();
    process.stdout.write(`Running \`${r.command ?? command.join(' ')}\` on ⬢ ${app}... up, ${r.name}\nRun dynod logs --name ${app} --dyno-name ${r.name} to view the output.\n`);
    return 'detached';
  }
  const options: DynoOptions = { ...r.options!, interactive: local.interactive, tty: local.tty, rows: local.rows, cols: local.cols, term: local.term, memory: local.memory, cpus: local.cpus, pids: local.pids };
  const oneOff: FormationOneOff = {
    app,
    options,
    onStop: null,
    started: (pid) => c.send({ started: { pid } }),
    ended: (status) => {
      c.send({ exited: { status } });
      c.close();
    },
  };
  c.listen((ev) => {
    if ('stop' in ev) oneOff.onStop?.(ev.stop.graceMs);
  });
  return oneOff;
}
