import * as fs from 'node:fs';
import * as path from 'node:path';

// The seccomp entry point of a dyno start, kept light: the default filters come
// precompiled from `npm run build` (as crun caches its BPF), because building the
// filter from the profile and running libseccomp cost ~8 ms per process. The
// profile parser and libseccomp are loaded only for other profiles, or when the
// cache is missing or older than the profile's code.

type Caps = 'dyno' | 'root';

export function precompiledPath(caps: Caps): string {
  return path.resolve(__dirname, '..', '..', 'build', `seccomp-default-${caps}-${process.arch}.bpf`);
}

const defaults = new Map<Caps, number>();

function precompiledDefault(caps: Caps): number | null {
  try {
    const file = precompiledPath(caps);
    if (fs.statSync(file).mtimeMs < fs.statSync(path.join(__dirname, 'default.js')).mtimeMs) return null;
    return fs.openSync(file, 'r'); // Node opens with O_CLOEXEC
  } catch {
    return null;
  }
}

/**
 * The fd of the compiled seccomp program for a dyno, or -1 for none, from the plan's
 * `seccomp`: 'default' = dynod's profile, 'unconfined' = none, else the path of a
 * profile in Docker's JSON format. The fd belongs to a per-process cache.
 */
export function seccompFd(profile: string, caps: Caps): number {
  if (profile === 'unconfined') return -1;
  if (profile === 'default') {
    let fd = defaults.get(caps) ?? precompiledDefault(caps);
    if (fd !== null && fd !== undefined) {
      defaults.set(caps, fd);
      return fd;
    }
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('./index') as typeof import('./index')).seccompFdFor(profile === 'default' ? undefined : profile, caps);
}
