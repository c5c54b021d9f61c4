import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseDotenvFiles } from '../dyno/env';
import { findSize } from '../dyno/sizes';
import { UsageError } from '../errors';
import { appNameFrom, validateAppName } from '../formation/config-store';
import { parseFormation } from '../formation/formation-spec';
import { readProcfile } from '../formation/procfile';
import type { FormationEntry, Procfile } from '../formation/types';

/** The flags `dynod start` and `dynod export` read an app by. */
export interface AppFlags {
  app?: string;
  name?: string;
  procfile?: string;
  /** comma-separated .env files, relative to the app directory */
  env?: string;
  size: string;
}

/** An app as `dynod start` and `dynod export` read it. */
export interface AppInput {
  appDir: string;
  app: string;
  procfile: Procfile;
  formation: FormationEntry[];
  /** the app's .env: under the config vars */
  baseEnv: Record<string, string>;
  /** the -e files: over the config vars */
  overrideEnv: Record<string, string>;
}

/**
 * The app directory (--app, else the current one), its name, its Procfile and the
 * formation asked for, and the two halves of the dynos' environment around the config
 * vars (heroku-dynos.md section 3: the app's .env, the config vars, the -e files).
 */
export function readAppInput(formationArg: string | undefined, flags: AppFlags): AppInput {
  const appDir = path.resolve(flags.app ?? process.cwd());
  if (!fs.statSync(appDir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--app ${appDir}: not a directory`);
  const app = flags.name !== undefined ? validateAppName(flags.name) : appNameFrom(appDir);
  const procfile = readProcfile(flags.procfile ? path.resolve(flags.procfile) : path.join(appDir, 'Procfile'));
  const formation = parseFormation(formationArg, procfile, findSize(flags.size).name);
  const envFiles = flags.env ? flags.env.split(',').map((f) => path.resolve(appDir, f.trim())) : [];
  const dotenv = path.join(appDir, '.env');
  const baseEnv = fs.existsSync(dotenv) && !envFiles.includes(dotenv) ? parseDotenvFiles([dotenv]) : {};
  return { appDir, app, procfile, formation, baseEnv, overrideEnv: parseDotenvFiles(envFiles) };
}
