import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Where a running formation can be found: /run/dynod/<app>/ (DYNOD_RUN_DIR moves
 * /run/dynod, for tests), root-only (0700): control.sock, the lock held by the
 * dynod that runs the app, and info.json naming the app directory, so that
 * `dynod ps` finds the app from the current directory.
 */
export function runRoot(): string {
  return process.env.DYNOD_RUN_DIR || '/run/dynod';
}

export function appRunDir(app: string): string {
  return path.join(runRoot(), app);
}

export const socketPath = (app: string) => path.join(appRunDir(app), 'control.sock');
export const lockPath = (app: string) => path.join(appRunDir(app), 'lock');
export const infoPath = (app: string) => path.join(appRunDir(app), 'info.json');

/** What a running dynod says about its app (info.json). */
export interface AppInfo {
  app: string;
  appDir: string;
  pid: number;
  startedAt: string;
}

export function readInfo(app: string): AppInfo | null {
  try {
    return JSON.parse(fs.readFileSync(infoPath(app), 'utf8')) as AppInfo;
  } catch {
    return null;
  }
}

/** The apps that have a run directory (running, or left by a dynod that was killed). */
export function listApps(): string[] {
  try {
    return fs
      .readdirSync(runRoot(), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}
