import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UsageError } from '../errors';
import type { CgroupView } from '../cgroup';

/** What a host path is, as far as building a dyno's root needs to know. */
export type PathFact = { type: 'dir' } | { type: 'file' } | { type: 'symlink'; target: string } | { type: 'missing' };

/** Everything planDyno needs to know about the host, gathered in one place (I/O lives here, not in the plan). */
export interface HostFacts {
  paths: Record<string, PathFact>;
  /** rootfs/ templates of the package, by file name */
  templates: Record<string, string>;
  /** the host's resolv.conf (or $DYNOD_RESOLV_CONF's) */
  resolvConf: string;
  hostCpus: number;
  cgroupView: CgroupView;
  /**
   * Set when the paths and resolv.conf came from a cache checked against the host:
   * equal keys, equal facts (so what a plan builds from them can be reused).
   */
  key?: string;
}

/** Host paths a host-stack dyno may see, read-only. */
export const HOST_STACK_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
/** Host files and directories of /etc a dyno needs to run ordinary programs; never secrets. */
export const HOST_ETC = [
  '/etc/ssl/certs',
  '/etc/ssl/openssl.cnf',
  '/etc/ca-certificates',
  '/etc/ca-certificates.conf',
  '/etc/alternatives',
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
  '/etc/localtime',
  '/etc/timezone',
  '/etc/os-release',
  '/etc/protocols',
  '/etc/services',
  '/etc/mime.types',
  '/etc/bash.bashrc',
  '/etc/profile',
  '/etc/inputrc',
  '/etc/terminfo',
];
export const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

export const ROOTFS_DIR = path.resolve(__dirname, '..', '..', 'rootfs');

export function pathFact(p: string): PathFact {
  try {
    // a missing path is common (/lib32, /etc/timezone, ...): no exception for it (~30 µs each)
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (!st) return { type: 'missing' };
    if (st.isSymbolicLink()) return { type: 'symlink', target: fs.readlinkSync(p) };
    if (st.isDirectory()) return { type: 'dir' };
    return { type: 'file' };
  } catch {
    return { type: 'missing' };
  }
}

/** A directory given on the command line, resolved without trusting symlinks blindly. */
export function resolveDir(option: string, dir: string): string {
  const abs = path.resolve(dir);
  let real: string;
  try {
    real = fs.realpathSync(abs);
  } catch {
    throw new UsageError(`${option} ${dir}: no such directory`);
  }
  if (!fs.statSync(real).isDirectory()) throw new UsageError(`${option} ${dir}: not a directory`);
  if (/[,:\\\n]/.test(real))
    throw new UsageError(`${option} ${dir}: the path contains a character overlayfs cannot take (",", ":", "\\" or a newline)`);
  return real;
}

let templates: Record<string, string> | undefined;

/** The package's rootfs/etc templates: read once per process, they are part of the package. */
function rootfsTemplates(): Record<string, string> {
  if (!templates) {
    templates = {};
    for (const name of fs.readdirSync(path.join(ROOTFS_DIR, 'etc'))) templates[name] = fs.readFileSync(path.join(ROOTFS_DIR, 'etc', name), 'utf8');
  }
  return templates;
}

/**
 * A change in the same clock tick as a stat would leave a directory's mtime as it was
 * (timestamps are coarse, a jiffy): stamps this young are not trusted (git's racy rule).
 */
const RACY_MS = 100;

/**
 * What the host paths' facts depend on: each path of HOST_STACK_DIRS, HOST_ETC and
 * DEVICES is an entry of one of these directories, whose mtime changes whenever an
 * entry is added, removed, renamed or replaced (a symlink retargeted by ln -sf too);
 * resolv.conf's text by its own stamp. Null when a stamp is too young to trust.
 */
function hostStamp(resolvPath: string): string | null {
  const now = Date.now();
  let key = resolvPath;
  for (const p of ['/', '/etc', '/etc/ssl', '/dev', resolvPath]) {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (!st) {
      key += `|${p}:-`;
      continue;
    }
    if (now - st.mtimeMs < RACY_MS || now - st.ctimeMs < RACY_MS) return null;
    key += `|${p}:${st.dev}:${st.ino}:${st.mtimeMs}:${st.ctimeMs}:${st.size}`;
  }
  return key;
}

let hostCache: { key: string; paths: Record<string, PathFact>; resolvConf: string } | null = null;

/**
 * The host's paths and resolvers, gathered again only when hostStamp changed: a
 * long-lived engine starts the same dynos over and over, and the ~30 lstats cost a
 * start more than its cgroup writes.
 */
function hostPaths(): { key: string | undefined; paths: Record<string, PathFact>; resolvConf: string } {
  // DYNOD_RESOLV_CONF: the resolvers dynos use instead of the host's (tests, hosts with a split setup)
  const resolvPath = process.env.DYNOD_RESOLV_CONF || '/etc/resolv.conf';
  const key = hostStamp(resolvPath);
  if (key !== null && hostCache?.key === key) return hostCache;
  const paths: Record<string, PathFact> = {};
  for (const p of [...HOST_STACK_DIRS, ...HOST_ETC, ...DEVICES.map((d) => `/dev/${d}`)]) paths[p] = pathFact(p);
  let resolvConf = '';
  try {
    resolvConf = fs.readFileSync(resolvPath, 'utf8');
  } catch { /* none */ }
  // gathered after the stamp: a change in between shows in the next stamp
  hostCache = key === null ? null : { key, paths: Object.freeze(paths), resolvConf };
  return { key: key ?? undefined, paths, resolvConf };
}

export function gatherHostFacts(opts: { rootfs?: string | undefined; cgroupView: CgroupView }): HostFacts {
  const host = hostPaths();
  let paths = host.paths;
  let key = host.key;
  if (opts.rootfs) {
    paths = { ...paths };
    for (const p of ['/etc', '/app', '/proc', '/sys', '/dev', '/tmp']) paths[`rootfs:${p}`] = pathFact(path.join(opts.rootfs, p));
    key = undefined; // a rootfs is read afresh every time: it is not one of the stamped directories
  }
  const facts: HostFacts = { paths, templates: rootfsTemplates(), resolvConf: host.resolvConf, hostCpus: os.availableParallelism(), cgroupView: opts.cgroupView };
  if (key !== undefined) facts.key = key;
  return facts;
}
