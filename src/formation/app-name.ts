import * as path from 'node:path';
import { UsageError } from '../errors';

/*
 * App names follow Heroku's rule (lowercase letters, digits and dashes, starting with
 * a letter, ending with a letter or digit, at most 30 characters), minus its 3-character
 * minimum: names are not a global namespace here, and a directory called "ui" is fine.
 * They name a state directory, so nothing else (no "/", no "..") may get through.
 */

export const APP_NAME_MAX = 30;

const APP_NAME_RE = /^[a-z](?:[a-z0-9-]*[a-z0-9])?$/;

/** Whether `name` is a valid app name. */
export function isAppName(name: string): boolean {
  return typeof name === 'string' && name.length <= APP_NAME_MAX && APP_NAME_RE.test(name);
}

/** Returns `name` when it is a valid app name, else throws a UsageError saying what is accepted. */
export function validateAppName(name: string): string {
  if (!isAppName(name)) {
    throw new UsageError(`app name ${JSON.stringify(name)} is invalid: it must start with a letter, end with a letter or digit, and contain only lowercase letters, digits and dashes (at most ${APP_NAME_MAX} characters)`);
  }
  return name;
}

/**
 * The app name dynod derives from an app directory: its basename, accents dropped,
 * lowercased, every run of other characters made one dash; "app-" in front when it
 * does not start with a letter, cut to 30 characters. "My_Cool.App" → "my-cool-app",
 * "2048" → "app-2048", "/" → "app".
 */
export function appNameFrom(dir: string): string {
  let name = path.basename(path.resolve(dir))
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (!/^[a-z]/.test(name)) name = name ? `app-${name}` : 'app';
  return name.slice(0, APP_NAME_MAX).replace(/-+$/, '');
}
