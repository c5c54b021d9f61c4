import { call, findApp, ControlConnection, type AppSelector } from '../control/client';
import type { ConfigResult, InfoResult, PsResult, ScaleResult } from '../control/protocol';
import { appRunDir, listApps, readInfo, socketPath } from '../control/paths';
import { ConfigStore, appNameFrom, validateAppName, parseConfigSetArgs, parseConfigUnsetArgs } from '../formation/config-store';
import { formatFormation, formatScaled, parseScaleArgs } from '../formation/formation-spec';
import { configSetAction, configUnsetAction, doneStatus, formatAction, formatConfig, formatConfigGet, formatConfigGetJson, formatConfigSetVars, formatConfigShell, formatPs, formatPsJson, formatReleases } from '../formation/format';
import { formatLine } from '../formation/logs';
import type { LogLine } from '../formation/types';
import { DynodError, UsageError } from '../errors';
import { checkExecTarget, execIn, type ExecSession } from '../dyno/exec';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { terminalSize } from './terminal-size';

/** The flags every verb that talks to a running formation takes. */
export interface VerbFlags extends AppSelector {
  json?: boolean;
}

/** heroku prints its ⬢ only on a terminal */
const glyph = !!process.stdout.isTTY;

const out = (text: string) => process.stdout.write(text.endsWith('\n') || text === '' ? text : `${text}\n`);

export async function psCommand(types: string[], flags: VerbFlags): Promise<number> {
  const app = findApp(flags);
  const r = await call<PsResult>(app, { op: 'ps', types });
  out(flags.json ? formatPsJson(r.dynos) : formatPs(r.app, r.dynos, new Date(), { types, glyph }));
  return 0;
}

export async function scaleCommand(args: string[], flags: VerbFlags): Promise<number> {
  const app = findApp(flags);
  const changes = parseScaleArgs(args);
  const r = await call<ScaleResult>(app, { op: 'scale', changes });
  if (flags.json) out(JSON.stringify(r.formation, null, 2));
  else out(changes.length ? formatScaled(r.formation, r.changed) : formatFormation(r.formation));
  return 0;
}

export async function restartCommand(flags: VerbFlags & { dyno?: string; processType?: string }): Promise<number> {
  if (flags.dyno && flags.processType) throw new UsageError('--dyno-name and --process-type cannot be used together');
  const app = findApp(flags);
  const names = await call<string[]>(app, { op: 'restart', dyno: flags.dyno, type: flags.processType });
  const what = flags.dyno ? `dyno ${flags.dyno}` : flags.processType ? `all ${flags.processType} dynos` : 'all dynos';
  out(flags.json ? JSON.stringify(names) : `Restarting ${what} on ⬢ ${app}... done`);
  return 0;
}

export async function stopCommand(flags: VerbFlags & { dyno?: string; processType?: string; all?: boolean }): Promise<number> {
  if (!flags.dyno && !flags.processType && !flags.all) throw new UsageError('Please specify a process type or dyno name to stop (-d web.1, -p web), or --all for the whole formation.');
  if (flags.all && (flags.dyno || flags.processType)) throw new UsageError('--all stops the whole formation: it cannot be used with --dyno-name or --process-type');
  if (flags.dyno && flags.processType) throw new UsageError('--dyno-name and --process-type cannot be used together');
  const app = findApp(flags);
  const pid = flags.all ? (readInfo(app)?.pid ?? null) : null;
  const names = await call<string[]>(app, { op: 'stop', dyno: flags.dyno, type: flags.processType, all: flags.all });
  // --all returns once that dynod is done (its grace given), so `stop --all && start` works
  if (flags.all) await formationGone(app, pid);
  const what = flags.all ? 'the formation' : flags.dyno ? `dyno ${flags.dyno}` : `all ${flags.processType} dynos`;
  out(flags.json ? JSON.stringify(names) : `Stopping ${what} on ⬢ ${app}... done`);
  return 0;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Resolves when the app's run directory is gone (its dynod's last step) or that dynod is. */
async function formationGone(app: string, pid: number | null): Promise<void> {
  while (fs.existsSync(appRunDir(app)) && (pid === null || pidAlive(pid))) await new Promise((r) => setTimeout(r, 50));
}

export interface LogsFlags extends VerbFlags {
  tail?: boolean;
  num: string;
  source?: string;
  dyno?: string;
  processType?: string;
}

export async function logsCommand(flags: LogsFlags): Promise<number> {
  const num = Number(flags.num);
  if (!Number.isInteger(num) || num < 0 || num > 1500) throw new UsageError(`--num ${flags.num}: a whole number from 0 to 1500 (dynod keeps the last 1500 lines)`);
  if (flags.source !== undefined && flags.source !== 'app' && flags.source !== 'dynod') throw new UsageError(`--source ${flags.source}: accepted: app, dynod`);
  const app = findApp(flags);
  const c = await ControlConnection.connect(app);
  const color = !!process.stdout.isTTY && !process.env.NO_COLOR;
  const print = (line: LogLine) => out(flags.json ? JSON.stringify(line) : formatLine(line, { color }));
  await c.request({ op: 'logs', filter: { source: flags.source as 'app' | 'dynod' | undefined, dyno: flags.dyno, type: flags.processType }, num, tail: !!flags.tail });
  let ended = false;
  let interrupted = false;
  await new Promise<void>((resolve) => {
    c.onClose = resolve;
    c.listen((e) => {
      if ('line' in e) print(e.line);
      else if ('ended' in e) ended = true;
    });
    if (flags.tail)
      process.once('SIGINT', () => {
        interrupted = true;
        c.destroy();
      });
  });
  // a stopped formation says so last; without that word its dynod is gone (killed), and its dynos with it
  if (flags.tail && !ended && !interrupted) throw new DynodError(`app ${app}: its dynod went away without stopping its formation (killed?); its dynos died with it: the next dynod start cleans up`, { step: 'control socket' });
  return 0;
}

/** The app config verbs work on: a running formation's, else one named by --name / --app / the current directory. */
function configApp(flags: VerbFlags): { app: string; running: boolean } {
  try {
    const app = findApp(flags);
    // a run directory left by a dynod that was SIGKILLed: nobody to tell; the store is edited as when none runs
    const pid = readInfo(app)?.pid;
    return { app, running: pid === undefined || pidAlive(pid) };
  } catch {
    const app = flags.name !== undefined ? validateAppName(flags.name) : appNameFrom(path.resolve(flags.app ?? process.cwd()));
    return { app, running: false };
  }
}

export function configCommand(flags: VerbFlags & { shell?: boolean }): number {
  const { app } = configApp(flags);
  const vars = new ConfigStore(app).vars();
  out(flags.json ? JSON.stringify(vars, null, 2) : flags.shell ? formatConfigShell(vars) : formatConfig(app, vars, { glyph }));
  return 0;
}

/** heroku's config:get KEY...: a line per key (empty when unset); --json {key, value}, an array for several */
export function configGetCommand(keys: string[], flags: VerbFlags & { shell?: boolean }): number {
  const { app } = configApp(flags);
  const vars = new ConfigStore(app).vars();
  out(flags.json ? formatConfigGetJson(vars, keys) : formatConfigGet(vars, keys, { shell: !!flags.shell }));
  return 0;
}

async function changeConfig(flags: VerbFlags, req: { op: 'config:set'; pairs: Record<string, string> } | { op: 'config:unset'; keys: string[] }): Promise<number> {
  const { app, running } = configApp(flags);
  let r: ConfigResult;
  if (running) r = await call<ConfigResult>(app, req);
  else {
    const store = new ConfigStore(app);
    const release = req.op === 'config:set' ? store.set(req.pairs) : store.unset(req.keys);
    r = { release, restarted: false, ok: true, message: '' };
  }
  if (!r.ok) throw new DynodError(`${r.message}; the running dynos keep the previous release`, { step: 'release phase' });
  if (flags.json) out(JSON.stringify(r, null, 2));
  else if (req.op === 'config:set') {
    process.stderr.write(formatAction(configSetAction(app, Object.keys(req.pairs), r.restarted, { glyph }), doneStatus(r.release)));
    out(formatConfigSetVars(req.pairs));
  } else process.stderr.write(formatAction(configUnsetAction(app, req.keys, r.restarted, { glyph }), doneStatus(r.release)));
  return 0;
}

export function configSetCommand(args: string[], flags: VerbFlags): Promise<number> {
  return changeConfig(flags, { op: 'config:set', pairs: parseConfigSetArgs(args) });
}

export function configUnsetCommand(keys: string[], flags: VerbFlags): Promise<number> {
  return changeConfig(flags, { op: 'config:unset', keys: parseConfigUnsetArgs(keys) });
}

export function releasesCommand(flags: VerbFlags & { num?: number }): number {
  const { app, running } = configApp(flags);
  // newest first, heroku's 15 by default
  const releases = new ConfigStore(app).releases().reverse().slice(0, flags.num ?? 15);
  out(flags.json ? JSON.stringify(releases, null, 2) : formatReleases(app, releases, new Date(), { glyph, running }));
  return 0;
}

/** `dynod apps`: the formations running on this host. */
export async function appsCommand(flags: { json?: boolean }): Promise<number> {
  const apps: InfoResult[] = [];
  for (const app of listApps()) {
    if (!fs.existsSync(socketPath(app))) continue;
    try {
      apps.push(await call<InfoResult>(app, { op: 'info' }));
    } catch {
      // killed: its directory waits for the next start of that app
    }
  }
  if (flags.json) out(JSON.stringify(apps, null, 2));
  else if (!apps.length) out('No formations running.');
  else out(['=== Running formations', ...apps.map((a) => `${a.app}  ${a.appDir}  v${a.release}  pid ${a.pid}`)].join('\n'));
  return 0;
}


/**
 * `dynod exec`: a command inside a running dyno of the formation (heroku ps:exec):
 * the formation says where the dyno is, this process enters it.
 */
export async function execCommand(command: string[], flags: VerbFlags & { dyno: string; interactive?: boolean }): Promise<number> {
  const app = findApp(flags);
  const target = checkExecTarget(await call<unknown>(app, { op: 'exec', dyno: flags.dyno }));
  const tty = !!flags.interactive && !!process.stdin.isTTY && !!process.stdout.isTTY;
  const forwarded: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGWINCH'];
  let session: ExecSession | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    if (sig !== 'SIGWINCH') return void session?.kill(sig);
    const size = terminalSize();
    if (size.rows !== undefined && size.cols !== undefined) session?.resize(size.rows, size.cols);
  };
  for (const s of forwarded) process.on(s, onSignal);
  try {
    const result = await execIn(target, command, {
      stdin: flags.interactive ? 'inherit' : 'ignore',
      stdout: 'inherit',
      stderr: 'inherit',
      tty,
      ...(tty ? terminalSize() : {}),
      term: tty ? process.env.TERM : undefined,
      onStart: (s) => {
        session = s;
        if (s.terminal) {
          process.stdin.setRawMode(true);
          process.stdin.pipe(s.terminal);
          s.terminal.pipe(process.stdout);
        }
      },
    });
    if (result.error) process.stderr.write(`dynod: ${result.error.message}\n`);
    return result.status;
  } finally {
    for (const s of forwarded) process.off(s, onSignal);
    if (tty) {
      process.stdin.setRawMode(false);
      process.stdin.pause();
    }
  }
}
