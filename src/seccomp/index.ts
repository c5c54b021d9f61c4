// Seccomp for dynos: profiles (Docker's JSON format) are resolved here and
// compiled by the addon in the parent; dynod-init receives the BPF program as
// fd 4 and loads it as the last step before exec (native/init.cc).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native } from '../native';
import { DynodError, UsageError } from '../errors';
import { ROOT_CAPABILITIES } from '../linux/capabilities';
import { precompiledPath, SeccompFilters, type SeccompCaps } from './filters';
import { DEFAULT_PROFILE } from './default';
import { parseProfile, parseProfileText, type SeccompFilter } from './profile';

export { DEFAULT_PROFILE, ALLOWED, DENIED, CLONE_NEW_MASK, PERSONALITIES, type DockerSeccompProfile } from './default';
export {
  parseProfile, parseProfileText, capabilityNames, CAPABILITIES,
  type ProfileContext, type SeccompAction, type SeccompArgCmp, type SeccompFilter, type SeccompRule,
} from './profile';

export { SeccompFilters, type SeccompCaps } from './filters';

export function capabilitiesOf(caps: SeccompCaps): string[] {
  return caps === 'root' ? [...ROOT_CAPABILITIES] : [];
}

/** dynod's default profile, resolved for this host. */
export function defaultFilter(caps: SeccompCaps): SeccompFilter {
  return parseProfile(DEFAULT_PROFILE, { caps: capabilitiesOf(caps), source: '(dynod default)' });
}

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

/** Compiles a filter into a sealed memfd holding its BPF program (close-on-exec). The caller owns the fd. */
export function compileFilter(filter: SeccompFilter): number {
  try {
    return native().compileSeccomp(filter);
  } catch (e) {
    throw DynodError.from(e);
  }
}

/** A profile file, resolved for this host, and a stamp that changes with the file; UsageError when it cannot be read or applied exactly. */
export function readProfileFile(file: string, caps: SeccompCaps): { filter: SeccompFilter; stamp: string } {
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

let processFilters: SeccompFilters | undefined;

/**
 * The fd of the compiled program for `option` (undefined = dynod's default,
 * 'unconfined' = -1, else a Docker JSON profile's path), from a cache of this
 * process's that is never closed. Engines keep their own (SeccompFilters).
 */
export function seccompFdFor(option: string | undefined, caps: SeccompCaps): number {
  processFilters ??= new SeccompFilters();
  return processFilters.fd(option ?? 'default', caps);
}
