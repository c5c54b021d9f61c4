import * as path from 'node:path';
import { Engine } from '../engine/engine';
import { parseDuration, parsePositiveInt } from '../dyno/units';
import { DynodError, UsageError } from '../errors';
import { RESTART_POLICIES, type RestartPolicy } from '../formation/backoff';
import { ConfigStore } from '../formation/config-store';
import { applyScale } from '../formation/formation-spec';
import { LogHub } from '../formation/logs';
import { Formation } from '../formation/manager';
import { readAppInput } from './app-input';
import { trimWhenSettled } from './idle-trim';
import { ControlServer } from '../control/server';
import { Router, loadCertificate, selfSignedCertificate } from '../router';
import { webBackends } from '../formation/web-backends';
import { stateDir } from '../formation/config-store';
import * as net from 'node:net';
import { checkConfiguredRange } from '../net/dyno-network';
import { allowedHostPorts } from '../dyno/plan';

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
  /** true, or the interval (Heroku: 20 s) */
  runtimeMetrics?: boolean | string;
  releaseTimeout: string;
  cycle?: string;
  logFormat: string;
  allowHostPort: string[];
  net: string;
  bind: string;
  tls?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsPort: string;
  publishDynos?: boolean;
  color?: boolean;
}

/** `dynod start`: the formation in the foreground, its log on stdout, until Ctrl-C or `dynod stop --all`. */
export async function startCommand(formationArg: string | undefined, flags: StartFlags): Promise<number> {
  const { appDir, app, procfile, formation, baseEnv, overrideEnv } = readAppInput(formationArg, flags);
  if (!formation.length) throw new UsageError(`${procfile.file}: only a release type; nothing to run (add a line like "web: node server.js")`);
  const restart = flags.restart as RestartPolicy;
  if (!RESTART_POLICIES.includes(restart)) throw new UsageError(`--restart ${flags.restart}: accepted: ${RESTART_POLICIES.join(', ')}`);
  const backoffScale = Number(flags.backoffScale);
  if (!(backoffScale > 0 && backoffScale <= 1000)) throw new UsageError(`--backoff-scale ${flags.backoffScale}: a number greater than 0 (1 is Heroku's cool-offs, 0.001 shrinks 20 min to 1.2 s)`);
  if (flags.logFormat !== 'text' && flags.logFormat !== 'json') throw new UsageError(`--log-format ${flags.logFormat}: accepted: text, json`);
  const port = parsePositiveInt(flags.port, '--port', 1, 65535);
  if (process.getuid?.() !== 0) throw new DynodError('must run as root (try sudo)', { step: 'permissions' });

  // a range no dyno could get an address from fails the start, not every dyno of it
  if (flags.net !== 'none') checkConfiguredRange();
  // every dyno gets $PORT = --port: a host port forwarded there would take the app's port in each
  const allowHostPorts = allowedHostPorts({ allowHostPorts: flags.allowHostPort }, flags.net, port);
  const tls = tlsOptions(flags, app);
  const bind = flags.bind;
  if (!net.isIP(bind)) throw new UsageError(`--bind ${bind}: an IP address (e.g. 127.0.0.1, 0.0.0.0, ::)`);
  const logs = new LogHub({ output: 1, format: flags.logFormat, color: flags.color });
  const engine = new Engine();
  const config = new ConfigStore(app);
  const period = (v: string, option: string) => {
    const ms = parseDuration(v, option);
    if (ms < 100) throw new UsageError(`${option} ${v}: at least 100ms`);
    return ms;
  };
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
    bootTimeoutMs: period(flags.bootTimeout, '--boot-timeout'),
    graceMs: parseDuration(flags.grace, '--grace'),
    restart,
    backoffScale,
    runtimeMetrics: !!flags.runtimeMetrics,
    metricsIntervalMs: typeof flags.runtimeMetrics === 'string' ? period(flags.runtimeMetrics, '--runtime-metrics') : 20_000,
    releaseTimeoutMs: period(flags.releaseTimeout, '--release-timeout'),
    publish: !!flags.publishDynos,
    net: flags.net as 'private' | 'none',
    preboot: true,
    allowHostPorts,
    cycleMs: flags.cycle ? period(flags.cycle, '--cycle') : 0,
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
    execTarget: (d) => d.execTarget(),
    stopAll: () => stopRequested(),
  });
  // the sweep and the host network (nft) run while the control socket and the router start
  void engine.prepare({ network: flags.net !== 'none' });
  await server.listen();
  // Heroku's router in front of the web dynos: -p PORT (and the TLS port).
  const router = new Router({
    source: webBackends(f, port),
    log: (line) => logs.system('router', line),
    listen: [{ port, host: bind }],
    tls: tls ? { port: tls.port, host: bind, cert: tls.cert, key: tls.key } : undefined,
  });
  try {
    await router.listen();
  } catch (e) {
    await server.close();
    await engine.close();
    await logs.close();
    throw e;
  }
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
  const stopTrimming = trimWhenSettled(f);
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
    stopTrimming();
    await router.close();
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, onSignal);
    await server.close();
    await engine.close();
    await logs.close();
  }
  return status;
}

/** --tls-cert/--tls-key, or --tls self-signed (made once per app, kept in its state dir). */
function tlsOptions(flags: StartFlags, app: string): { port: number; cert: string; key: string } | null {
  const port = parsePositiveInt(flags.tlsPort, '--tls-port', 1, 65535);
  if (flags.tls !== undefined) {
    if (flags.tls !== 'self-signed') throw new UsageError(`--tls ${flags.tls}: accepted: self-signed (or give --tls-cert FILE --tls-key FILE)`);
    if (flags.tlsCert || flags.tlsKey) throw new UsageError('--tls self-signed and --tls-cert/--tls-key: choose one');
    const c = selfSignedCertificate(path.join(stateDir(), 'apps', app, 'tls'));
    return { port, cert: c.cert, key: c.key };
  }
  if (!flags.tlsCert && !flags.tlsKey) return null;
  if (!flags.tlsCert || !flags.tlsKey) throw new UsageError('--tls-cert and --tls-key go together');
  const c = loadCertificate(path.resolve(flags.tlsCert), path.resolve(flags.tlsKey));
  return { port, cert: c.cert, key: c.key };
}

