import * as path from 'node:path';
import { parseDuration, parsePositiveInt } from '../dyno/units';
import { UsageError } from '../errors';
import { ConfigStore } from '../formation/config-store';
import { readAppInput } from './app-input';
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

/** `dynod export systemd|nomad [FORMATION]`: files that run the formation on that engine. */
export function exportCommand(engineArg: string, formationArg: string | undefined, flags: ExportFlags): number {
  if (!(ENGINES as readonly string[]).includes(engineArg)) throw new UsageError(`export ${engineArg}: unknown engine; accepted: ${ENGINES.join(', ')}`);
  const engine = engineArg as Engine;
  const { appDir, app, procfile, formation, baseEnv, overrideEnv } = readAppInput(formationArg, flags);
  for (const w of procfile.warnings) process.stderr.write(`dynod: warning: ${w}\n`);
  const outDir = path.resolve(flags.out ?? `export-${engine}`);
  const plan = exportPlan({
    app,
    appDir,
    procfile,
    formation,
    // the dynos' environment as `dynod start` gives it: the app's .env, its config vars, the -e files
    env: { ...baseEnv, ...new ConfigStore(app).vars(), ...overrideEnv },
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
