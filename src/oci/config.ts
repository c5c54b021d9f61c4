// config.json → OciConfig: every field dynod-oci applies, checked; every field the
// spec defines that it cannot honour, refused in one line naming its JSON path.
// Unknown fields are ignored, as the spec requires. No I/O but reading the file:
// what depends on the host (paths, namespaces on disk) is planContainer's.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../errors';
import { CAPABILITIES } from '../linux/capabilities';
import { RLIMIT } from '../dyno/constants';
import { JsonReader, at, present } from './json';
import { validateResources } from './linux-resources';
import { isBindOptions, parseMountOptions } from './mount-options';
import { ociSeccompFilter } from './seccomp';
import { validateLinux } from './linux-config';
import {
  HOOK_KINDS, type OciCapabilities, type OciConfig, type OciHook, type OciHooks, type OciMount, type OciProcess, type OciRlimit,
} from './spec';

/** The versions of the runtime spec whose config.json dynod-oci reads (podman writes "1.0.2-dev"). */
const VERSION = /^1\.[012]\.\d+([-+].*)?$/;
const UID_MAX = 0xfffffffe;
/** RLIM_INFINITY (2^64-1) as JSON.parse reads it */
const RLIM_INFINITY_JSON = 2 ** 64;

/** Mount types dynod-oci mounts (bind mounts are told by their options). */
export const MOUNT_TYPES = ['bind', 'tmpfs', 'proc', 'sysfs', 'devpts', 'mqueue', 'cgroup', 'cgroup2'] as const;

/** Reads bundle/config.json and checks it. */
export function loadBundle(bundle: string): OciConfig {
  const file = path.join(bundle, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new UsageError(`${file}: cannot read it: ${code}; the bundle directory must hold the container's config.json`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  return validateConfig(raw, path.resolve(bundle));
}

/**
 * Checks a parsed config.json. bundle: the bundle's absolute path, against which
 * root.path and bind mount sources that are relative are resolved.
 */
export function validateConfig(raw: unknown, bundle: string): OciConfig {
  const r = new JsonReader('config.json');
  const c = r.object(raw, '(top level)');
  const ociVersion = r.string(c.ociVersion, 'ociVersion', 'a version of the runtime spec, e.g. "1.2.0"');
  if (!VERSION.test(ociVersion)) r.unsupported('ociVersion', `${JSON.stringify(ociVersion)}; supported: 1.0.x to 1.2.x`);
  for (const k of ['solaris', 'windows', 'vm', 'zos']) if (present(c[k])) r.unsupported(k, 'dynod-oci runs Linux containers only');

  if (!present(c.root)) r.fail('root', 'missing', 'an object with the path of the root filesystem');
  const root = r.object(c.root, 'root');
  const rootPath = r.string(root.path, 'root.path', 'the path of the root filesystem (absolute, or relative to the bundle)');
  if (rootPath === '') r.fail('root.path', 'empty', 'the path of the root filesystem (absolute, or relative to the bundle)');

  if (!present(c.process)) r.fail('process', 'missing', 'the process to run (dynod-oci needs it at create)');
  const process = readProcess(r, c.process, 'process');
  const caps = process.capabilities?.bounding ?? [];

  const linuxRaw = r.optObject(c.linux, 'linux') ?? {};
  const linux = validateLinux(r, linuxRaw);
  const resources = validateResources(linuxRaw.resources);
  const seccomp = present(linuxRaw.seccomp) ? ociSeccompFilter(linuxRaw.seccomp, caps) : null;

  const hostname = r.optString(c.hostname, 'hostname');
  const domainname = r.optString(c.domainname, 'domainname');
  const ownUts = linux.namespaces.some((n) => n.type === 'uts' && n.path === null);
  for (const [k, v] of [['hostname', hostname], ['domainname', domainname]] as const)
    if (v && !ownUts) r.fail(k, 'set without a new uts namespace', 'a uts namespace of the container\'s own in linux.namespaces, or no ' + k);

  return {
    ociVersion,
    root: { path: path.resolve(bundle, rootPath), readonly: r.bool(root.readonly, 'root.readonly', false) },
    mounts: r.array(c.mounts, 'mounts', 'mounts').map((m, i) => readMount(r, m, at('mounts', i), bundle)),
    process,
    hostname: hostname || null,
    domainname: domainname || null,
    hooks: readHooks(r, c.hooks),
    annotations: r.stringMap(c.annotations, 'annotations'),
    linux: { ...linux, resources, seccomp: seccomp?.filter ?? null, seccompNotes: seccomp?.notes ?? [] },
  };
}

/** Checks a process object on its own: `exec --process FILE` (where: how to name FILE in messages). */
export function validateProcess(raw: unknown, where: string): OciProcess {
  return readProcess(new JsonReader(where), raw, '');
}

function readMount(r: JsonReader, v: unknown, p: string, bundle: string): OciMount {
  const m = r.object(v, p);
  const destination = r.absolutePath(m.destination, at(p, 'destination'));
  if (path.posix.normalize(destination) === '/') r.fail(at(p, 'destination'), '"/" is the root filesystem itself', 'a path below /; the root filesystem is root.path');
  for (const k of ['uidMappings', 'gidMappings']) r.refuseSet(m, k, p, 'idmapped mounts are not implemented');
  const type = r.optString(m.type, at(p, 'type'));
  let source = r.optString(m.source, at(p, 'source'));
  const options = r.strings(m.options, at(p, 'options'), 'mount options');
  const bind = isBindOptions(options) || type === 'bind' || type === 'rbind';
  if (!bind) {
    if (type === null || type === '') r.fail(at(p, 'type'), 'missing', `${MOUNT_TYPES.join(', ')}, or bind/rbind in options`);
    if (!(MOUNT_TYPES as readonly string[]).includes(type))
      r.unsupported(at(p, 'type'), `${JSON.stringify(type)}; supported: ${MOUNT_TYPES.join(', ')}`);
  } else {
    if (!source) r.fail(at(p, 'source'), 'missing', 'the host path to bind (absolute, or relative to the bundle)');
    source = path.resolve(bundle, source);
  }
  parseMountOptions(options, bind, r, at(p, 'options'));
  return { destination, type, source, options };
}

function readHooks(r: JsonReader, v: unknown): OciHooks {
  const o = r.optObject(v, 'hooks') ?? {};
  const hooks = {} as OciHooks;
  for (const kind of HOOK_KINDS) hooks[kind] = r.array(o[kind], at('hooks', kind), 'hooks').map((h, i) => readHook(r, h, at(at('hooks', kind), i)));
  return hooks;
}

function readHook(r: JsonReader, v: unknown, p: string): OciHook {
  const h = r.object(v, p);
  return {
    path: r.absolutePath(h.path, at(p, 'path')),
    args: r.strings(h.args, at(p, 'args')),
    env: readEnv(r, h.env, at(p, 'env')),
    timeout: present(h.timeout) ? r.int(h.timeout, at(p, 'timeout'), 1, 2 ** 31 - 1) : null,
  };
}

function readEnv(r: JsonReader, v: unknown, p: string): string[] {
  const env = r.strings(v, p, 'KEY=VALUE strings');
  env.forEach((e, i) => {
    if (e.indexOf('=') < 1) r.fail(at(p, i), `${JSON.stringify(e)} is not KEY=VALUE`, 'KEY=VALUE strings');
  });
  return env;
}

function readProcess(r: JsonReader, v: unknown, p: string): OciProcess {
  const o = r.object(v, p || '(top level)');
  for (const k of ['commandLine']) r.refuseSet(o, k, p, 'Windows only');
  r.refuseSet(o, 'apparmorProfile', p, 'dynod-oci applies no AppArmor profile');
  r.refuseSet(o, 'selinuxLabel', p, 'dynod-oci applies no SELinux label');
  for (const k of ['scheduler', 'ioPriority', 'execCPUAffinity']) r.refuseSet(o, k, p, 'supported process fields: args, env, cwd, user, terminal, consoleSize, capabilities, rlimits, noNewPrivileges, oomScoreAdj');

  const args = r.strings(o.args, at(p, 'args'), 'strings, the command first');
  if (args.length === 0) r.fail(at(p, 'args'), present(o.args) ? 'empty' : 'missing', 'the command and its arguments, at least one string');
  const cwd = r.absolutePath(o.cwd, at(p, 'cwd'));

  if (!present(o.user)) r.fail(at(p, 'user'), 'missing', 'an object with uid and gid');
  const u = r.object(o.user, at(p, 'user'));
  r.refuseSet(u, 'username', at(p, 'user'), 'Windows only');
  const user = {
    uid: r.int(u.uid, at(at(p, 'user'), 'uid'), 0, UID_MAX),
    gid: r.int(u.gid, at(at(p, 'user'), 'gid'), 0, UID_MAX),
    umask: r.optInt(u.umask, at(at(p, 'user'), 'umask'), 0, 0o777),
    additionalGids: r.ints(u.additionalGids, at(at(p, 'user'), 'additionalGids'), 0, UID_MAX),
  };

  const cs = r.optObject(o.consoleSize, at(p, 'consoleSize'));
  return {
    terminal: r.bool(o.terminal, at(p, 'terminal'), false),
    consoleSize: cs ? { height: r.int(cs.height, at(at(p, 'consoleSize'), 'height'), 0, 65535), width: r.int(cs.width, at(at(p, 'consoleSize'), 'width'), 0, 65535) } : null,
    user,
    args,
    env: readEnv(r, o.env, at(p, 'env')),
    cwd,
    capabilities: readCapabilities(r, o.capabilities, at(p, 'capabilities')),
    rlimits: readRlimits(r, o.rlimits, at(p, 'rlimits')),
    noNewPrivileges: r.bool(o.noNewPrivileges, at(p, 'noNewPrivileges'), false),
    oomScoreAdj: r.optInt(o.oomScoreAdj, at(p, 'oomScoreAdj'), -1000, 1000),
  };
}

function readCapabilities(r: JsonReader, v: unknown, p: string): OciCapabilities | null {
  const o = r.optObject(v, p);
  if (!o) return null;
  const set = (k: keyof OciCapabilities) =>
    r.strings(o[k], at(p, k), 'capability names such as "CAP_CHOWN"').map((name, i) => {
      if (!(CAPABILITIES as readonly string[]).includes(name)) r.fail(at(at(p, k), i), `unknown capability ${JSON.stringify(name)}`, CAPABILITIES.join(', '));
      return name;
    });
  return { bounding: set('bounding'), effective: set('effective'), inheritable: set('inheritable'), permitted: set('permitted'), ambient: set('ambient') };
}

/** RLIMIT_* names dynod-oci knows, from RLIMIT in src/dyno/constants.ts. */
export const RLIMIT_NAMES: Record<string, number> = Object.fromEntries(Object.entries(RLIMIT).map(([k, n]) => [`RLIMIT_${k.toUpperCase()}`, n]));

function readRlimits(r: JsonReader, v: unknown, p: string): OciRlimit[] {
  const seen = new Set<string>();
  return r.array(v, p, 'rlimits').map((e, i) => {
    const ep = at(p, i);
    const o = r.object(e, ep);
    const type = r.string(o.type, at(ep, 'type'), 'an RLIMIT_* name');
    if (!Object.hasOwn(RLIMIT_NAMES, type)) r.fail(at(ep, 'type'), `unknown resource ${JSON.stringify(type)}`, Object.keys(RLIMIT_NAMES).join(', '));
    if (seen.has(type)) r.fail(at(ep, 'type'), `${type} is given twice`, 'each resource once');
    seen.add(type);
    const value = (k: 'soft' | 'hard'): number => {
      if (o[k] === RLIM_INFINITY_JSON) return -1;
      return r.int(o[k], at(ep, k), 0, Number.MAX_SAFE_INTEGER);
    };
    const soft = value('soft');
    const hard = value('hard');
    if (hard !== -1 && (soft === -1 || soft > hard)) r.fail(at(ep, 'soft'), `${soft === -1 ? 'unlimited' : soft} is above hard ${hard}`, 'a soft limit at most the hard one');
    return { type, soft, hard };
  });
}
