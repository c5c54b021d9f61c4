import type { ReleaseInfo } from './types';

/* What a release says about itself, as Heroku words it. */

export const INITIAL_RELEASE_DESCRIPTION = 'Initial release';

/** "Set FOO, BAR config vars" */
export function setDescription(keys: readonly string[]): string {
  return `Set ${keys.join(', ')} config vars`;
}

/** "Remove FOO config vars" */
export function unsetDescription(keys: readonly string[]): string {
  return `Remove ${keys.join(', ')} config vars`;
}

/**
 * The release that runs: the newest that succeeded. A pending one has not run its
 * release phase yet, and a failed one never replaces what runs (Heroku's rule).
 */
export function currentRelease<T extends ReleaseInfo>(releases: readonly T[]): T | null {
  let current: T | null = null;
  for (const r of releases) {
    if (r.status === 'succeeded' && (current === null || r.version > current.version)) current = r;
  }
  return current;
}
