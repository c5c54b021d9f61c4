import * as fs from 'node:fs';
import * as path from 'node:path';
import { findSize } from '../dyno/sizes';
import { parseDotenvFiles } from '../dyno/env';
import { parseDuration, parsePositiveInt } from '../dyno/units';
import { UsageError } from '../errors';
import { ConfigStore, appNameFrom, validateAppName } from '../formation/config-store';
import { parseFormation } from '../formation/formation-spec';
import { readProcfile } from '../formation/procfile';
import { exportPlan, type ExportFile } from '../export/model';
import { nomadFiles } from '../export/nomad';
import { SYSTEMD_PATH, systemdFiles, systemdMarker } from '../export/systemd';
import { writeExportFiles } from '../export/write';

export interface ExportFlags {
  out?: string;
  procfile?: string;
  env?: string;
  app?: string;
  name?: string;
  port: string;
  bind: string;
  size: string;
  bootTimeout: string;
  dynod?: string;
  artifact?: string;
  datacenters: string;
}

export const ENGINES = ['systemd', 'nomad'] as const;
type Engine = (typeof ENGINES)[number];

/** bin/dynod beside this module, in dist/cli/ (bundled or not) and in src/cli/ alike. */
function ownDynod(): string {
  return path.resolve(__dirname, '..', '..', 'bin', 'dynod');
}

/**
 * The dynos' environment as `dynod start` gives it (heroku-dynos.md section 3): the
 * app's .env, then its config vars, then the -e files (relative to the app, as start).
 */
function appEnvironment(app: string, appDir: string, envFlag: string | undefined): Record<string, string> {
  const envFiles = envFlag ? envFlag.split(',').map((f) => path.resolve(appDir, f.trim())) : [];
  const dotenv = path.join(appDir, '.env');
  const base = fs.existsSync(dotenv) && !envFiles.includes(dotenv) ? parseDotenvFiles([dotenv]) : {};
  return { ...base, ...new ConfigStore(app).vars(), ...parseDotenvFiles(envFiles) };
}

/** `dynod export systemd|nomad [FORMATION]`: files that run the formation on that engine. */
export function exportCommand(engineArg: string, formationArg: string | undefined, flags: ExportFlags): number {
  if (!(ENGINES as readonly string[]).includes(engineArg)) throw new UsageError(`export ${engineArg}: unknown engine; accepted: ${ENGINES.join(', ')}`);
  const engine = engineArg as Engine;
  const appDir = path.resolve(flags.app ?? process.cwd());
  if (!fs.statSync(appDir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--app ${appDir}: not a directory`);
  const app = flags.name ? validateAppName(flags.name) : appNameFrom(appDir);
  const procfile = readProcfile(flags.procfile ? path.resolve(flags.procfile) : path.join(appDir, 'Procfile'));
  for (const w of procfile.warnings) process.stderr.write(`dynod: warning: ${w}\n`);
  const formation = parseFormation(formationArg, procfile, findSize(flags.size).name);
  const outDir = path.resolve(flags.out ?? `export-${engine}`);
  const plan = exportPlan({
    app,
    appDir,
    procfile,
    formation,
    env: appEnvironment(app, appDir, flags.env),
    port: parsePositiveInt(flags.port, '--port', 1, 65535),
    bootTimeoutMs: parseDuration(flags.bootTimeout, '--boot-timeout'),
    dynod: path.resolve(flags.dynod ?? ownDynod()),
  });
  let files: ExportFile[];
  let isStale: (name: string, content: string) => boolean = () => false;
  if (engine === 'systemd') {
    const nodeDir = path.dirname(process.execPath);
    files = systemdFiles(plan, { outDir, bind: flags.bind, nodeDir: SYSTEMD_PATH.split(':').includes(nodeDir) ? null : nodeDir });
    // a smaller formation than last time: its extra dyno units go
    const marker = `${systemdMarker(app)}\n`;
    isStale = (name, content) => (name.startsWith(`${app}-`) || name.startsWith(`${app}.`)) && content.startsWith(marker);
  } else {
    files = nomadFiles(plan, { artifact: flags.artifact ?? null, datacenters: flags.datacenters.split(',').map((d) => d.trim()) });
  }
  const { removed } = writeExportFiles(outDir, files, isStale);
  const shown = path.relative(process.cwd(), outDir) || '.';
  for (const f of files) process.stdout.write(`${path.join(shown.startsWith('..') ? outDir : shown, f.path)}${f.mode === 0o600 ? '  (0600: secrets)' : ''}\n`);
  for (const r of removed) process.stdout.write(`removed ${path.join(outDir, r)} (not in this formation)\n`);
  process.stdout.write(engine === 'systemd' ? systemdNext(outDir, app) : nomadNext(outDir, files, app));
  return 0;
}

function systemdNext(outDir: string, app: string): string {
  const installed = outDir === '/etc/systemd/system' || outDir === '/run/systemd/system';
  const link = installed ? '' : `systemctl link ${outDir}/${app}*.service ${outDir}/${app}*.target && `;
  return `next: ${link}systemctl daemon-reload && systemctl enable --now ${app}.target\n`;
}

function nomadNext(outDir: string, files: ExportFile[], app: string): string {
  const vars = files.some((f) => f.path === `${app}.vars.json`) ? `nomad var put @${path.join(outDir, `${app}.vars.json`)} && ` : '';
  return `next: ${vars}nomad job run -json ${path.join(outDir, `${app}.nomad.json`)} (with raw_exec enabled on the clients)\n`;
}
