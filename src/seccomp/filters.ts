import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../errors';

// The seccomp side of a dyno start, kept light: the default filters come
// precompiled from `npm run build` (as crun caches its BPF), because building the
// filter from the profile and running libseccomp cost ~8 ms per process. The
// profile parser and libseccomp are loaded only for other profiles, or when the
// precompiled file is missing or older than the code that makes it.

/** Whose capabilities the command keeps: none for the dyno user, Docker's default 14 for --user root. */
export type SeccompCaps = 'dyno' | 'root';

export function precompiledPath(caps: SeccompCaps): string {
  return path.resolve(__dirname, '..', '..', 'build', `seccomp-default-${caps}-${process.arch}.bpf`);
}

/** The precompiled program is stale when any of the code that produced it is newer. */
function openPrecompiled(caps: SeccompCaps): number | null {
  try {
    const file = precompiledPath(caps);
    const built = fs.statSync(file).mtimeMs;
    for (const src of ['default.js', 'profile.js', 'index.js'])
      if (fs.statSync(path.join(__dirname, src)).mtimeMs > built) return null;
    return fs.openSync(file, 'r'); // Node opens with O_CLOEXEC
  } catch {
    return null;
  }
}

/**
 * Compiled seccomp programs, one fd per profile and capability set, owned by an
 * engine: dynos are handed these fds (dynod-init preads them), and close() frees
 * them all. A profile file is recompiled when it changes.
 */
export class SeccompFilters {
  private readonly entries = new Map<string, { fd: number; stamp: string }>();

  /**
   * The fd of the program for a plan's `seccomp` value: 'default' = dynod's
   * profile, 'unconfined' = none (-1), else the path of a Docker JSON profile.
   */
  fd(profile: string, caps: SeccompCaps): number {
    if (profile === 'unconfined') return -1;
    if (profile === '') throw new UsageError('seccomp: an empty profile path; accepted: default, unconfined, or the path of a Docker JSON profile');
    if (profile === 'default') {
      const key = `default\0${caps}`;
      let entry = this.entries.get(key);
      if (!entry) {
        const fd = openPrecompiled(caps) ?? lib().compileFilter(lib().defaultFilter(caps));
        entry = { fd, stamp: '' };
        this.entries.set(key, entry);
      }
      return entry.fd;
    }
    const file = path.resolve(profile);
    const key = `file\0${caps}\0${file}`;
    const { filter, stamp } = lib().readProfileFile(file, caps);
    const entry = this.entries.get(key);
    if (entry && entry.stamp === stamp) return entry.fd;
    const fd = lib().compileFilter(filter);
    if (entry) fs.closeSync(entry.fd);
    this.entries.set(key, { fd, stamp });
    return fd;
  }

  close(): void {
    for (const { fd } of this.entries.values()) fs.closeSync(fd);
    this.entries.clear();
  }
}

/** The profile parser and compiler, loaded only when a filter must be built. */
function lib(): typeof import('./index') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./index') as typeof import('./index');
}
