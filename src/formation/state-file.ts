import * as fs from 'node:fs';
import * as path from 'node:path';
import { native } from '../native';
import { DynodError } from '../errors';

/*
 * Files of dynod's own state that hold secrets (config vars): in a directory only
 * their owner may enter, replaced whole (temp file, fsync, rename, fsync of the
 * directory) so a reader or a crash sees the old file or the new one, never half
 * of one; read-modify-write under an flock(2) so two processes cannot lose an update.
 */

function fileError(step: string, syscall: string, file: string, e: unknown): DynodError {
  const code = (e as NodeJS.ErrnoException)?.code ?? '';
  const why = code || (e instanceof Error ? e.message : String(e));
  return new DynodError(`${step}: ${syscall} ${file}: ${why}`, { step, syscall, code, detail: file }, undefined, { cause: e });
}

/**
 * Makes `dir` (and missing parents, 0755) and makes sure it is a private directory:
 * a real directory (not a symlink), owned by us, mode 0700 (looser modes are tightened).
 */
export function ensurePrivateDir(dir: string, step: string): void {
  try {
    fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o755 });
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fileError(step, 'mkdir', dir, e);
  }
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (e) {
    throw fileError(step, 'lstat', dir, e);
  }
  if (!st.isDirectory()) throw new DynodError(`${step}: ${dir} is not a directory`, { step, code: 'ENOTDIR', detail: dir });
  const uid = process.geteuid?.() ?? st.uid;
  // secrets must not land in a directory someone else controls (and could read or swap)
  if (st.uid !== uid) throw new DynodError(`${step}: ${dir} is owned by uid ${st.uid}, not by dynod's uid ${uid}`, { step, code: 'EPERM', detail: dir });
  if ((st.mode & 0o777) !== 0o700) {
    try {
      fs.chmodSync(dir, 0o700);
    } catch (e) {
      throw fileError(step, 'chmod', dir, e);
    }
  }
}

/** The file's text, or null when it does not exist. */
export function readIfExists(file: string, step: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw fileError(step, 'read', file, e);
  }
}

export interface AtomicWriteOptions {
  /** file mode of the new file (default 0600) */
  mode?: number;
  /** called after the temp file is written and synced, before the rename (tests crash here) */
  beforeRename?: (tempFile: string) => void;
}

/**
 * Replaces `file` with `data`: written to `<file>.tmp` (truncated first: a crashed
 * writer's leftover is simply overwritten), fsynced, renamed over `file`, and the
 * directory fsynced so the rename itself survives a power loss. Callers serialise
 * writers (withLock): the temp name is fixed.
 */
export function writeFileAtomic(file: string, data: string, opts: AtomicWriteOptions = {}, step = 'write state'): void {
  const mode = opts.mode ?? 0o600;
  const temp = `${file}.tmp`;
  // (libuv opens every file close-on-exec)
  const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW;
  let fd: number;
  try {
    fd = fs.openSync(temp, flags, mode);
  } catch (e) {
    throw fileError(step, 'open', temp, e);
  }
  try {
    // the umask may have narrowed the mode, and a leftover temp file keeps its old one
    fs.fchmodSync(fd, mode);
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } catch (e) {
    throw fileError(step, 'write', temp, e);
  } finally {
    fs.closeSync(fd);
  }
  opts.beforeRename?.(temp);
  try {
    fs.renameSync(temp, file);
  } catch (e) {
    throw fileError(step, 'rename', file, e);
  }
  syncDir(path.dirname(file), step);
}

function syncDir(dir: string, step: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  } catch (e) {
    throw fileError(step, 'open', dir, e);
  }
  try {
    fs.fsyncSync(fd);
  } catch (e) {
    throw fileError(step, 'fsync', dir, e);
  } finally {
    fs.closeSync(fd);
  }
}

function pauseSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** How long withLock waits for another holder before it gives up. */
export const LOCK_TIMEOUT_MS = 10_000;

/**
 * Runs fn holding an exclusive flock(2) on `lockFile` (created 0600 if missing). The
 * kernel drops the lock with its holder, so a crashed writer never leaves it taken.
 * The wait polls (the addon's flock is non-blocking; holders keep it for milliseconds)
 * and fails after timeoutMs naming the lock file.
 */
export function withLock<T>(lockFile: string, step: string, fn: () => T, timeoutMs = LOCK_TIMEOUT_MS): T {
  let fd: number;
  try {
    fd = fs.openSync(lockFile, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600);
  } catch (e) {
    throw fileError(step, 'open', lockFile, e);
  }
  try {
    const deadline = Date.now() + timeoutMs;
    for (let wait = 1; ; wait = Math.min(wait * 2, 20)) {
      let taken: boolean;
      try {
        taken = native().flock(fd, true);
      } catch (e) {
        throw fileError(step, 'flock', lockFile, e);
      }
      if (taken) break;
      if (Date.now() >= deadline) {
        throw new DynodError(`${step}: ${lockFile} is locked by another dynod process (waited ${timeoutMs / 1000} s)`, { step, syscall: 'flock', code: 'EWOULDBLOCK', detail: lockFile });
      }
      pauseSync(wait);
    }
    return fn();
  } finally {
    // closing the only fd of this open file description releases the flock
    fs.closeSync(fd);
  }
}
