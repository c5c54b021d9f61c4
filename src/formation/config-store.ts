import * as os from 'node:os';
import * as path from 'node:path';
import { DynodError, UsageError } from '../errors';
import { validateAppName } from './app-name';
import { checkConfigSize, validateConfigKey, validateConfigValue } from './config-vars';
import { currentRelease, INITIAL_RELEASE_DESCRIPTION, setDescription, unsetDescription } from './releases';
import { ensurePrivateDir, readIfExists, withLock, writeFileAtomic } from './state-file';
import type { ReleaseInfo } from './types';

export { appNameFrom, validateAppName } from './app-name';
export { parseConfigSetArgs, parseConfigUnsetArgs, validateConfigKey } from './config-vars';

/*
 * An app's config vars and releases, kept outside the app directory (they hold
 * secrets): ${DYNOD_STATE_DIR:-/var/lib/dynod}/apps/<app>/releases.json, directory
 * 0700, file 0600, replaced atomically under an flock (state-file.ts).
 *
 * Every release keeps the whole set of vars it was made with: the app's config vars
 * are the newest release's (what `config` shows and the next `config:set` builds on,
 * even when its release phase failed, as on Heroku), while the dynos run the current
 * release's (the newest that succeeded), so the manager falls back with varsOf().
 */

export const DEFAULT_STATE_DIR = '/var/lib/dynod';

/** Releases whose vars are kept (older ones keep their line in `releases`). */
export const RELEASES_WITH_VARS = 100;

interface StoredRelease extends ReleaseInfo {
  /** absent once pruned */
  vars?: Record<string, string>;
}

interface StoreFile {
  schema: 1;
  app: string;
  releases: StoredRelease[];
}

export interface ConfigStoreOptions {
  /** the clock of createdAt (tests) */
  now?: () => Date;
  /** called between the temp file's fsync and its rename (tests crash there) */
  beforeRename?: () => void;
}

/** The state directory: DYNOD_STATE_DIR, else /var/lib/dynod. */
export function stateDir(): string {
  return process.env.DYNOD_STATE_DIR || DEFAULT_STATE_DIR;
}

/** Who makes a change (Heroku's user column): the sudo user behind root, else our user. */
function defaultUser(): string {
  if (process.geteuid?.() === 0 && process.env.SUDO_USER) return process.env.SUDO_USER;
  try {
    return os.userInfo().username;
  } catch {
    return `uid ${process.geteuid?.() ?? '?'}`;
  }
}

function publicInfo(r: StoredRelease): ReleaseInfo {
  const info: ReleaseInfo = { version: r.version, description: r.description, createdAt: r.createdAt, status: r.status };
  if (r.releaseStatus !== undefined) info.releaseStatus = r.releaseStatus;
  if (r.user !== undefined) info.user = r.user;
  return info;
}

export class ConfigStore {
  readonly app: string;
  /** the app's private directory */
  readonly dir: string;
  readonly file: string;
  private readonly lockFile: string;
  private readonly now: () => Date;
  private readonly beforeRename: (() => void) | undefined;

  constructor(app: string, root: string = stateDir(), options: ConfigStoreOptions = {}) {
    this.app = validateAppName(app);
    this.dir = path.join(path.resolve(root), 'apps', app);
    this.file = path.join(this.dir, 'releases.json');
    this.lockFile = path.join(this.dir, 'releases.lock');
    this.now = options.now ?? (() => new Date());
    this.beforeRename = options.beforeRename;
  }

  /** The app's config vars (the newest release's), {} before any. */
  vars(): Record<string, string> {
    const last = this.load().releases.at(-1);
    return last ? this.varsIn(last) : {};
  }

  /**
   * Sets config vars: a new pending release "Set FOO, BAR config vars" with the newest
   * release's vars plus `pairs` (even a value it already has: Heroku makes a release,
   * and restarts, for every set).
   */
  set(pairs: Readonly<Record<string, string>>, user: string = defaultUser()): ReleaseInfo {
    const keys = Object.keys(pairs);
    if (keys.length === 0) throw new UsageError('Must specify KEY and VALUE to set: dynod config:set KEY1=VALUE1 [KEY2=VALUE2 ...]');
    for (const k of keys) {
      validateConfigKey(k);
      validateConfigValue(k, pairs[k]!);
    }
    return this.update((data) => {
      const last = data.releases.at(-1);
      const vars = { ...(last ? this.varsIn(last) : {}), ...pairs };
      checkConfigSize(this.app, vars);
      return { value: this.append(data, setDescription(keys), vars, user), write: true };
    });
  }

  /**
   * Unsets config vars: a new pending release "Remove FOO config vars" naming the keys
   * that were set. Keys that are not set are ignored; when none was, nothing changes
   * and the newest release comes back (the CLI then says "done, v<same>", as heroku's
   * does after an unset that changed nothing; with no release yet, the initial one is made).
   */
  unset(keys: readonly string[], user: string = defaultUser()): ReleaseInfo {
    if (keys.length === 0) throw new UsageError('Must specify KEY to unset: dynod config:unset KEY1 [KEY2 ...]');
    return this.update((data) => {
      const last = data.releases.at(-1);
      if (!last) return { value: this.append(data, INITIAL_RELEASE_DESCRIPTION, {}, user), write: true };
      const vars = this.varsIn(last);
      const removed = [...new Set(keys)].filter((k) => Object.hasOwn(vars, k));
      if (removed.length === 0) return { value: publicInfo(last), write: false };
      for (const k of removed) delete vars[k];
      return { value: this.append(data, unsetDescription(removed), vars, user), write: true };
    });
  }

  /** All releases, oldest first. */
  releases(): ReleaseInfo[] {
    return this.load().releases.map(publicInfo);
  }

  /** The release that runs (newest succeeded), null when none has. */
  current(): ReleaseInfo | null {
    const r = currentRelease(this.load().releases);
    return r ? publicInfo(r) : null;
  }

  /** The newest release, making v1 "Initial release" (pending, no vars) when there is none. */
  ensureInitialRelease(user: string = defaultUser()): ReleaseInfo {
    const last = this.load().releases.at(-1);
    if (last) return publicInfo(last);
    return this.update((data) => {
      const newest = data.releases.at(-1);
      if (newest) return { value: publicInfo(newest), write: false };
      return { value: this.append(data, INITIAL_RELEASE_DESCRIPTION, {}, user), write: true };
    });
  }

  /**
   * Records how a release's release phase went (the formation manager calls this). A
   * success expires the older releases still pending: made while no dynod ran (or during
   * another's release phase), they will never run, as the newer one holds their vars too.
   * An app without a release phase has nothing to run for them: they succeed with it
   * (`older: 'succeeded'`), as every release of such an app does on Heroku.
   */
  mark(version: number, status: ReleaseInfo['status'], releaseStatus?: number | null, older: 'expired' | 'succeeded' = 'expired'): void {
    this.update((data) => {
      const r = data.releases.find((x) => x.version === version);
      if (!r) throw new UsageError(`release v${version} of ${this.app} does not exist`);
      r.status = status;
      if (releaseStatus !== undefined) r.releaseStatus = releaseStatus;
      if (status === 'succeeded') for (const old of data.releases) if (old.version < version && old.status === 'pending') old.status = older;
      return { value: undefined, write: true };
    });
  }

  /** The config vars release `version` was made with (what its dynos run with). */
  varsOf(version: number): Record<string, string> {
    const r = this.load().releases.find((x) => x.version === version);
    if (!r) throw new UsageError(`release v${version} of ${this.app} does not exist`);
    return this.varsIn(r);
  }

  private varsIn(r: StoredRelease): Record<string, string> {
    if (!r.vars) throw new DynodError(`config vars of ${this.app} v${r.version} are no longer kept (dynod keeps those of the last ${RELEASES_WITH_VARS} releases)`, { step: 'config', code: 'ENOENT', detail: this.file });
    return { ...r.vars };
  }

  private append(data: StoreFile, description: string, vars: Record<string, string>, user: string): ReleaseInfo {
    const r: StoredRelease = {
      version: (data.releases.at(-1)?.version ?? 0) + 1,
      description,
      createdAt: this.now().toISOString(),
      status: 'pending',
      user,
      vars,
    };
    data.releases.push(r);
    this.prune(data);
    return publicInfo(r);
  }

  /** Drops the vars of old releases (the current one keeps them: dynos may run it). */
  private prune(data: StoreFile): void {
    const keepFrom = data.releases.length - RELEASES_WITH_VARS;
    const current = currentRelease(data.releases);
    data.releases.forEach((r, i) => {
      if (i < keepFrom && r !== current) delete r.vars;
    });
  }

  private load(): StoreFile {
    const text = readIfExists(this.file, 'read config');
    if (text === null) return { schema: 1, app: this.app, releases: [] };
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new DynodError(`read config: ${this.file}: not JSON (${(e as Error).message})`, { step: 'read config', code: 'EINVAL', detail: this.file });
    }
    const d = data as Partial<StoreFile> | null;
    if (!d || d.schema !== 1 || !Array.isArray(d.releases)) {
      throw new DynodError(`read config: ${this.file}: not a dynod releases file (schema 1 with a releases list)`, { step: 'read config', code: 'EINVAL', detail: this.file });
    }
    return d as StoreFile;
  }

  /** Read-modify-write under the app's lock; the file is replaced only when `write`. */
  private update<T>(fn: (data: StoreFile) => { value: T; write: boolean }): T {
    ensurePrivateDir(this.dir, 'write config');
    return withLock(this.lockFile, 'write config', () => {
      const data = this.load();
      const { value, write } = fn(data);
      if (write) writeFileAtomic(this.file, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600, beforeRename: this.beforeRename }, 'write config');
      return value;
    });
  }
}
