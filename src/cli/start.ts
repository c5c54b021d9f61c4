import * as fs from 'node:fs';
import * as path from 'node:path';
import { Engine } from '../engine/engine';
import { findSize } from '../dyno/sizes';
import { parseDuration, parsePositiveInt } from '../dyno/units';
import { parseDotenvFiles } from '../dyno/env';
import { DynodError, UsageError } from '../errors';
import { RESTART_POLICIES, type RestartPolicy } from '../formation/backoff';
import { ConfigStore, appNameFrom, validateAppName } from '../formation/config-store';
import { applyScale, parseFormation } from '../formation/formation-spec';
import { LogHub } from '../formation/logs';
import { Formation, appDotenvPath } from '../formation/manager';
import { readProcfile } from '../formation/procfile';
import { ControlServer } from '../control/server';

export interface StartFlags {
  procfile?: string;
  env?: string;
  app?: string;
  name?: string;
  port: string;
  size: string;
  bootTimeout: string;
  grace: string;
  restart: string;
  backoffScale: string;
  runtimeMetrics?: boolean;
  cycle?: string;
  logFormat: string;
  color?: boolean;
}

/** `dynod start`: the formation in the foreground, its log on stdout, until Ctrl-C or `dynod stop --all`. */
export async function startCommand(formationArg: string | undefined, flags: StartFlags): Promise<number> {
  const appDir = path.resolve(flags.app ?? process.cwd());
  if (!fs.statSync(appDir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--app ${appDir}: not a directory`);
  const app = flags.name ? validateAppName(flags.name) : appNameFrom(appDir);
  const procfile = readProcfile(flags.procfile ? path.resolve(flags.procfile) : path.join(appDir, 'Procfile'));
  const size = findSize(flags.size).name;
  const formation = parseFormation(formationArg, procfile, size);
  if (!formation.length) throw new UsageError(`${procfile.file}: only a release type; nothing to run (add a line like "web: node server.js")`);
  const envFiles = flags.env ? flags.env.split(',').map((f) => path.resolve(appDir, f.trim())) : [];
  const dotenv = appDotenvPath(appDir);
  const baseEnv = dotenv && !envFiles.includes(dotenv) ? parseDotenvFiles([dotenv]) : {};
  const overrideEnv = parseDotenvFiles(envFiles);
  const restart = flags.restart as RestartPolicy;
  if (!RESTART_POLICIES.includes(restart)) throw new UsageError(`--restart ${flags.restart}: accepted: ${RESTART_POLICIES.join(', ')}`);
  const backoffScale = Number(flags.backoffScale);
  if (!(backoffScale > 0 && backoffScale <= 1000)) throw new UsageError(`--backoff-scale ${flags.backoffScale}: a number greater than 0 (1 is Heroku's cool-offs, 0.001 shrinks 20 min to 1.2 s)`);
  if (flags.logFormat !== 'text' && flags.logFormat !== 'json') throw new UsageError(`--log-format ${flags.logFormat}: accepted: text, json`);
  const port = parsePositiveInt(flags.port, '--port', 1, 65535);
  if (process.getuid?.() !== 0) throw new DynodError('must run as root (try sudo)', { step: 'permissions' });

  const logs = new LogHub({ output: 1, format: flags.logFormat, color: flags.color });
  const engine = new Engine();
  const config = new ConfigStore(app);
  const f = new Formation({
    engine,
    logs,
    app,
    appDir,
    procfile,
    formation,
    baseEnv,
    overrideEnv,
    releases: config,
    port,
    bootTimeoutMs: parseDuration(flags.bootTimeout, '--boot-timeout'),
    graceMs: parseDuration(flags.grace, '--grace'),
    restart,
    backoffScale,
    runtimeMetrics: !!flags.runtimeMetrics,
    cycleMs: flags.cycle ? parseDuration(flags.cycle, '--cycle') : 0,
  });

  let stopRequested: () => void = () => {};
  const stopped = new Promise<void>((r) => (stopRequested = r));
  let signals = 0;
  const onSignal = () => {
    // The first Ctrl-C stops gracefully (SIGTERM, the grace, SIGKILL); the second skips the grace.
    if (++signals === 1) stopRequested();
    else f.hurry();
  };
  const server = new ControlServer({
    formation: f,
    logs,
    config,
    applyScale,
    execTarget: () => {
      throw new UsageError('dynod exec: not available yet');
    },
    stopAll: () => stopRequested(),
  });
  await server.listen();
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
  let status = 0;
  try {
    try {
      await Promise.race([f.start(), stopped]);
    } catch (e) {
      const err = DynodError.from(e);
      logs.system('dynod', `Error: ${err.message}`);
      status = err.exitCode;
      stopRequested();
    }
    await stopped;
    await f.stop();
  } finally {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, onSignal);
    await server.close();
    await engine.close();
    await logs.close();
  }
  return status;
}
