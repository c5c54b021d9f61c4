// Seccomp for dynos: profiles (Docker's JSON format) are resolved here and
// compiled by the addon in the parent; dynod-init receives the BPF program as
// fd 4 and loads it as the last step before exec (native/init.cc).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native } from '../native';
import { DynodError, UsageError } from '../errors';
import { ROOT_CAPABILITIES } from '../dyno/plan';
import { precompiledPath } from './precompiled';
import { DEFAULT_PROFILE } from './default';
import { parseProfile, parseProfileText, type SeccompFilter } from './profile';

export { DEFAULT_PROFILE, ALLOWED, DENIED, CLONE_NEW_MASK, PERSONALITIES, type DockerSeccompProfile } from './default';
export {
  parseProfile, parseProfileText, capabilityNames, CAPABILITIES,
  type ProfileContext, type SeccompAction, type SeccompArgCmp, type SeccompFilter, type SeccompRule,
} from './profile';

/** Whose capabilities the command keeps: none for the dyno user, Docker's default 14 for --user root. */
export type SeccompCaps = 'dyno' | 'root';

export function capabilitiesOf(caps: SeccompCaps): string[] {
  return caps === 'root' ? [...ROOT_CAPABILITIES] : [];
}

/** dynod's default profile, resolved for this host. */
export function defaultFilter(caps: SeccompCaps): SeccompFilter {
  return parseProfile(DEFAULT_PROFILE, { caps: capabilitiesOf(caps), source: '(dynod default)' });
}

/** A profile file, resolved for this host; UsageError when it cannot be read or applied exactly. */
export function readProfile(file: string, caps: SeccompCaps): SeccompFilter {
  return readProfileFile(file, caps).filter;
}

/** Compiles a filter into a sealed memfd holding its BPF program (close-on-exec). The caller owns the fd. */
/** Writes the default filters' BPF programs for precompiledDefault (run by `npm run build`). */
export function writePrecompiled(): string[] {
  return (['dyno', 'root'] as const).map((caps) => {
    const fd = compileFilter(defaultFilter(caps));
    const file = precompiledPath(caps);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, fs.readFileSync(`/proc/self/fd/${fd}`));
    fs.closeSync(fd);
    return file;
  });
}

export function compileFilter(filter: SeccompFilter): number {
  try {
    return native().compileSeccomp(filter);
  } catch (e) {
    throw DynodError.fromNative(e);
  }
}

function readProfileFile(file: string, caps: SeccompCaps): { filter: SeccompFilter; stamp: string } {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new UsageError(`seccomp profile ${file}: cannot read it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new UsageError(`seccomp profile ${file}: not a regular file`);
    const text = fs.readFileSync(fd, 'utf8');
    const filter = parseProfileText(text, { caps: capabilitiesOf(caps), source: file });
    return { filter, stamp: `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}` };
  } finally {
    fs.closeSync(fd);
  }
}

const compiled = new Map<string, { fd: number; stamp: string }>();

/**
 * The fd of the compiled seccomp program for a dyno, for CompileContext.seccompFd,
 * or -1 for none.
 *
 *   option undefined      dynod's default profile
 *   option 'unconfined'   no filter (-1)
 *   otherwise             the path of a profile in Docker's JSON format
 *
 * The fd belongs to a per-process cache (one per profile and capability set,
 * recompiled when the file changes): pass it to spawn, never close it.
 */
export function seccompFdFor(option: string | undefined, caps: SeccompCaps): number {
  if (option === 'unconfined') return -1;
  if (option === undefined) {
    const key = `default\0${caps}`;
    let entry = compiled.get(key);
    if (!entry) {
      entry = { fd: compileFilter(defaultFilter(caps)), stamp: '' };
      compiled.set(key, entry);
    }
    return entry.fd;
  }
  if (option === '') throw new UsageError('seccomp: an empty profile path; accepted: unconfined, or the path of a Docker JSON profile');
  const file = path.resolve(option);
  const key = `file\0${caps}\0${file}`;
  const { filter, stamp } = readProfileFile(option, caps);
  const entry = compiled.get(key);
  if (entry && entry.stamp === stamp) return entry.fd;
  const fd = compileFilter(filter);
  if (entry) fs.closeSync(entry.fd);
  compiled.set(key, { fd, stamp });
  return fd;
}
