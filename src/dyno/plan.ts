import * as path from 'node:path';
import { UsageError } from '../errors';
import { cpuQuotaFor, type Limits } from '../cgroup';
import type { DynoOptions } from './options';
import { DEFAULT_SIZE, findSize, type DynoSize } from './sizes';
import { parseBytes, parseCpus, parsePositiveInt } from './units';
import { parseDotenvFiles } from './env';
import { DEVICES, HOST_ETC, HOST_STACK_DIRS, type HostFacts } from './host';
import { parsePublish, type PublishSpec } from '../net/publish-spec';
import { dynoResolvConf, parseResolvConf } from '../net/resolv';

export { ROOT_CAPABILITIES } from '../linux/capabilities';
import { ROOT_CAPABILITIES } from '../linux/capabilities';
import { randomInt } from '../linux/random';

/** The unprivileged user a dyno's command runs as. */
export const DYNO_USER = { name: 'dyno', uid: 30000, gid: 30000 } as const;
export const ROOT_USER = { name: 'root', uid: 0, gid: 0 } as const;
/** Heroku's base PATH for a dyno. */
export const DYNO_PATH = '/usr/local/bin:/usr/bin:/bin';
export const DEFAULT_PORT = 5000;
export const NOFILE = 10000;

/** One entry of a dyno's filesystem, in the order it is built. Paths are inside the dyno. */
export interface MountSpec {
  target: string;
  type: 'root-tmpfs' | 'root-overlay' | 'bind' | 'mask' | 'readonly' | 'tmpfs' | 'proc' | 'sysfs' | 'devpts' | 'overlay' | 'cgroup' | 'cgroup2' | 'symlink' | 'file' | 'dir';
  /** host path (bind, overlay lower, root-overlay lower), link target (symlink) */
  source?: string;
  /** for bind: whether the source is a regular file */
  sourceIsFile?: boolean;
  /** ro, nosuid, nodev, noexec, and filesystem data such as mode=1777 */
  options: string[];
  /** file contents (type "file") */
  content?: string;
  mode?: number;
  /** skip when the target does not exist on this kernel (masked and read-only paths) */
  optional?: boolean;
}

/** Kernel interfaces a dyno must not read (Docker's masked paths): files get /dev/null, directories an empty read-only tmpfs. */
export const MASKED_FILES = ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/latency_stats', '/proc/interrupts'];
export const MASKED_DIRS = ['/proc/acpi', '/proc/asound', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap'];
/** Kernel interfaces a dyno may read but never write (Docker's read-only paths). */
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

function maskMounts(): MountSpec[] {
  return [
    ...READONLY_PATHS.map((target): MountSpec => ({ target, type: 'readonly', options: ['ro', 'nosuid', 'nodev', 'noexec'], optional: true })),
    ...MASKED_FILES.map((target): MountSpec => ({ target, type: 'mask', sourceIsFile: true, options: [], optional: true })),
    ...MASKED_DIRS.map((target): MountSpec => ({ target, type: 'mask', options: ['ro', 'nosuid', 'nodev', 'noexec', 'size=0'], optional: true })),
  ];
}

/**
 * Stands for the hostname in the contents of /etc files: a plan is a template,
 * and each start of it gets a hostname of its own (its instance id, as on Heroku).
 */
export const HOSTNAME_TOKEN = '{{HOSTNAME}}';

export interface DynoPlan {
  /** the options this plan was built from (app and rootfs resolved, the name chosen): start() checks a plan against them */
  source: DynoOptions;
  /** $DYNO */
  name: string;
  command: string[];
  size: { name: string; label: string };
  limits: Limits;
  /** R15 fires at this many bytes of RAM plus swap */
  killBytes: number;
  namespaces: Array<'user' | 'pid' | 'mount' | 'uts' | 'ipc' | 'net' | 'cgroup'>;
  /** private: ids 0-65535 inside map to USERNS_SIZE host ids reserved when the dyno starts */
  userns: 'private' | 'host';
  root: { kind: 'host-stack' } | { kind: 'rootfs'; path: string };
  app: { source: string; target: '/app' };
  mounts: MountSpec[];
  user: { name: string; uid: number; gid: number };
  umask: number;
  cwd: string;
  env: Record<string, string>;
  rlimits: { nproc: number; nofile: number };
  network: {
    /** private: own namespace with egress; none: own namespace, lo only; host: the host's */
    mode: 'private' | 'none' | 'host';
    publish: PublishSpec[];
    /** host ports reached at 127.0.0.1:PORT inside */
    allowHostPorts: number[];
    /** the forwarder at 127.0.0.11:53 and the host resolvers it asks (private only) */
    dns: { upstreams: string[] } | null;
  };
  /** "default", "unconfined", or the absolute path of a Docker JSON profile */
  seccomp: string;
  /** always true: no process of the dyno gains privileges through exec */
  noNewPrivileges: true;
  /** capabilities the command keeps (in every set but inheritable): none for dyno, Docker's defaults but CAP_NET_RAW for root */
  capabilities: string[];
  stdin: boolean;
  tty: boolean;
  terminalSize: { rows: number; cols: number };
}

function limitsFor(size: DynoSize, opts: DynoOptions, hostCpus: number): { limits: Limits; killBytes: number } {
  const MiB = 1024 * 1024;
  let memoryBytes = size.memoryMiB * MiB;
  let killBytes = size.killMiB * MiB;
  if (opts.memory !== undefined) {
    const ratio = size.killMiB / size.memoryMiB;
    memoryBytes = parseBytes(opts.memory);
    killBytes = Math.floor(memoryBytes * ratio);
  }
  let cpuWeight: number | null = size.cpuShare !== null ? size.cpuShare * 100 : null;
  let cpuQuota = size.vcpus !== null ? cpuQuotaFor(Math.min(size.vcpus, hostCpus)) : null;
  if (opts.cpus !== undefined) {
    cpuQuota = cpuQuotaFor(Math.min(parseCpus(opts.cpus), hostCpus));
    cpuWeight = null;
  }
  const pids = opts.pids !== undefined ? parsePositiveInt(opts.pids, '--pids', 1) : size.processLimit;
  return { limits: { memoryBytes, memorySwapBytes: killBytes, cpuWeight, cpuQuota, pids }, killBytes };
}

function dynoName(opts: DynoOptions): string {
  if (opts.name === undefined) return `run.${randomInt(1000, 10000)}`;
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/.test(opts.name))
    throw new UsageError(`--name ${JSON.stringify(opts.name)}: use letters, digits, ".", "_" and "-" (e.g. web.1), at most 63 characters`);
  return opts.name;
}

function buildEnv(opts: DynoOptions, name: string, port: number): Record<string, string> {
  const env: Record<string, string> = { PATH: DYNO_PATH, HOME: '/app', PORT: String(port), DYNO: name, LANG: 'C.UTF-8' };
  if (opts.term) env.TERM = opts.term;
  const files = opts.envFile === undefined ? [] : Array.isArray(opts.envFile) ? opts.envFile : [opts.envFile];
  // $NAME in a file may refer to the earlier files and to the defaults above
  Object.assign(env, parseDotenvFiles(files, env));
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new UsageError(`env ${JSON.stringify(k)}: names are letters, digits and _ (not starting with a digit)`);
    env[k] = v;
  }
  for (const [k, v] of Object.entries(env)) if (v.includes('\0')) throw new UsageError(`env ${k}: the value contains a NUL byte`);
  parsePositiveInt(env.PORT!, 'PORT', 1, 65535);
  return env;
}

function seccompOption(value: string | undefined): string {
  if (value === undefined || value === 'default' || value === 'unconfined') return value ?? 'default';
  if (value.trim() === '') throw new UsageError('--seccomp: empty; accepted: default, unconfined, or the path of a Docker JSON profile');
  return path.resolve(value);
}

/** Fills {{NAME}} placeholders; the hostname's stays for each start to fill (HOSTNAME_TOKEN). */
function fill(template: string, vars: Record<string, string | number>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (whole, k: string) => (k === 'HOSTNAME' ? whole : String(vars[k] ?? '')));
}

/** --allow-host-port values: ports 1-65535, each once, never the dyno's own $PORT. */
export function allowedHostPorts(opts: { allowHostPorts?: ReadonlyArray<number | string> }, net: string, port: number): number[] {
  const ports: number[] = [];
  for (const p of opts.allowHostPorts ?? []) {
    const n = parsePositiveInt(p, '--allow-host-port', 1, 65535);
    if (n === port) throw new UsageError(`--allow-host-port ${n}: that is the dyno's $PORT (the app listens there); choose another port or --port`);
    if (!ports.includes(n)) ports.push(n);
  }
  if (ports.length > 0 && net === 'host') throw new UsageError("--allow-host-port needs --net private or none (with --net host the dyno already reaches the host's ports)");
  return ports;
}

/** /etc of a host-stack dyno: generated identity files, plus what programs need from the host, read-only. */
function etcMounts(facts: HostFacts, resolvConf: string): MountSpec[] {
  const vars = { DYNO_UID: DYNO_USER.uid, DYNO_GID: DYNO_USER.gid };
  const out: MountSpec[] = [{ target: '/etc', type: 'dir', options: [], mode: 0o755 }];
  for (const [name, text] of Object.entries(facts.templates).sort()) out.push({ target: `/etc/${name}`, type: 'file', options: [], content: fill(text, vars), mode: 0o644 });
  out.push({ target: '/etc/resolv.conf', type: 'file', options: [], content: resolvConf, mode: 0o644 });
  for (const p of HOST_ETC) {
    const f = facts.paths[p];
    if (!f || f.type === 'missing') continue;
    const parent = path.posix.dirname(p);
    if (parent !== '/etc' && !out.some((m) => m.target === parent)) out.push({ target: parent, type: 'dir', options: [], mode: 0o755 });
    if (f.type === 'symlink') out.push({ target: p, type: 'symlink', source: f.target, options: [] });
    else out.push({ target: p, type: 'bind', source: p, sourceIsFile: f.type === 'file', options: ['ro', 'nosuid', 'nodev'] });
  }
  return out;
}

function devMounts(facts: HostFacts): MountSpec[] {
  const out: MountSpec[] = [{ target: '/dev', type: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'mode=755', 'size=65536k'] }];
  for (const d of DEVICES) {
    if (facts.paths[`/dev/${d}`]?.type === 'missing') continue;
    // Bound from the host rather than mknod'ed: the same code works in a user namespace.
    out.push({ target: `/dev/${d}`, type: 'bind', source: `/dev/${d}`, sourceIsFile: true, options: ['nosuid', 'noexec'] });
  }
  out.push(
    { target: '/dev/pts', type: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { target: '/dev/ptmx', type: 'symlink', source: 'pts/ptmx', options: [] },
    { target: '/dev/shm', type: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'mode=1777', 'size=65536k'] },
    { target: '/dev/fd', type: 'symlink', source: '/proc/self/fd', options: [] },
    { target: '/dev/stdin', type: 'symlink', source: '/proc/self/fd/0', options: [] },
    { target: '/dev/stdout', type: 'symlink', source: '/proc/self/fd/1', options: [] },
    { target: '/dev/stderr', type: 'symlink', source: '/proc/self/fd/2', options: [] },
  );
  return out;
}

function cgroupMounts(facts: HostFacts, sysBound = false): MountSpec[] {
  const view = facts.cgroupView;
  // The v1 hierarchies need directories to be mounted on; on v2, a bound host /sys carries
  // the host's cgroup2 mount at /sys/fs/cgroup, and the kernel refuses the same superblock
  // on the root of a mount of it (EBUSY): a tmpfs goes between in both cases.
  const base: MountSpec = { target: '/sys/fs/cgroup', type: 'tmpfs', options: ['ro', 'nosuid', 'nodev', 'noexec', 'mode=755', 'size=64k'] };
  const cg2: MountSpec = { target: '/sys/fs/cgroup', type: 'cgroup2', options: ['ro', 'nosuid', 'nodev', 'noexec'] };
  if (view.version === 2) return sysBound ? [base, cg2] : [cg2];
  const out: MountSpec[] = [base];
  for (const h of view.hierarchies)
    out.push({ target: `/sys/fs/cgroup/${h.dir}`, type: 'cgroup', source: h.options, options: ['ro', 'nosuid', 'nodev', 'noexec'] });
  return out;
}

/** The options as plain data with no undefined members (so a plan survives JSON). */
function sourceOf(opts: DynoOptions, fixed: Partial<DynoOptions>): DynoOptions {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries({ ...opts, ...fixed })) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? [...v] : v && typeof v === 'object' ? { ...v } : v;
  }
  return out as unknown as DynoOptions;
}

/**
 * Options plus host facts → the complete dyno plan, as plain data. No I/O but
 * reading --env-file; everything else the host has to say comes in through facts.
 */
/** The dyno's filesystem, in the order it is built: its root, /etc, /app, the kernel's filesystems, /dev, /tmp. */
function rootMounts(facts: HostFacts, appDir: string, rootfsDir: string | undefined, net: string, userns: string, resolvConf: string): MountSpec[] {
  const mounts: MountSpec[] = [];
  if (rootfsDir) {
    mounts.push({ target: '/', type: 'root-overlay', source: rootfsDir, options: [] });
    for (const d of ['/proc', '/sys', '/dev', '/tmp', '/app', '/etc']) mounts.push({ target: d, type: 'dir', options: [], mode: 0o755 });
    mounts.push(
      { target: '/etc/hostname', type: 'file', options: [], content: `${HOSTNAME_TOKEN}\n`, mode: 0o644 },
      { target: '/etc/hosts', type: 'file', options: [], content: fill(facts.templates.hosts ?? '', {}), mode: 0o644 },
      { target: '/etc/resolv.conf', type: 'file', options: [], content: resolvConf, mode: 0o644 },
    );
  } else {
    mounts.push({ target: '/', type: 'root-tmpfs', options: ['mode=755'] });
    for (const d of HOST_STACK_DIRS) {
      const f = facts.paths[d];
      if (!f || f.type === 'missing' || f.type === 'file') continue;
      if (f.type === 'symlink') mounts.push({ target: d, type: 'symlink', source: f.target, options: [] });
      else mounts.push({ target: d, type: 'bind', source: d, options: ['ro', 'nodev'] });
    }
    mounts.push(...etcMounts(facts, resolvConf));
  }
  mounts.push(
    { target: '/app', type: 'overlay', source: appDir, options: [] },
    { target: '/proc', type: 'proc', options: ['nosuid', 'nodev', 'noexec'] },
    // sysfs can be mounted afresh only by the owner of the network namespace; with the
    // host's network under a user namespace, the host's /sys is bound (recursively read-only).
    net === 'host' && userns === 'private'
      ? { target: '/sys', type: 'bind', source: '/sys', options: ['ro', 'nosuid', 'nodev', 'noexec', 'rec'] }
      : { target: '/sys', type: 'sysfs', options: ['ro', 'nosuid', 'nodev', 'noexec'] },
    ...cgroupMounts(facts, net === 'host' && userns === 'private'),
    ...maskMounts(),
    ...devMounts(facts),
    { target: '/tmp', type: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
  );
  return mounts;
}

/**
 * Keeps built mount lists: by a key that names everything they are built from (with
 * facts.key), or, with no key (facts read afresh), by what build() returns. A
 * long-lived engine starts the same dyno many times, and every start of an app has
 * the same list.
 */
export type MountsMemo = (key: string | null, build: () => MountSpec[]) => MountSpec[];

export function planDyno(opts: DynoOptions, facts: HostFacts, appDir: string, rootfsDir?: string, memo?: MountsMemo): DynoPlan {
  if (!opts.command || opts.command.length === 0) throw new UsageError('no command given; usage: dynod run [options] -- COMMAND [ARGS...]');
  const size = findSize(opts.size ?? DEFAULT_SIZE);
  const { limits, killBytes } = limitsFor(size, opts, facts.hostCpus);
  const name = dynoName(opts);
  const port = opts.port === undefined ? DEFAULT_PORT : parsePositiveInt(opts.port, '--port', 1, 65535);
  const userName = opts.user ?? 'dyno';
  if (userName !== 'dyno' && userName !== 'root') throw new UsageError(`--user ${JSON.stringify(userName)}: must be "dyno" or "root"`);
  const user = userName === 'root' ? { ...ROOT_USER } : { ...DYNO_USER };
  const net = opts.net ?? 'private';
  if (net !== 'private' && net !== 'none' && net !== 'host') throw new UsageError(`--net ${JSON.stringify(net)}: must be "private", "none" or "host"`);
  const publish = (opts.publish ?? []).map((p) => parsePublish(String(p)));
  const allowHostPorts = allowedHostPorts(opts, net, port);
  // Parsed only for egress: the parser's address check would load node:net for every plan.
  const hostResolv = net === 'private' ? parseResolvConf(facts.resolvConf) : null;
  const resolvConf = hostResolv ? dynoResolvConf(hostResolv) : facts.resolvConf;
  const userns = opts.userns ?? 'private';
  if (userns !== 'private' && userns !== 'host') throw new UsageError(`--userns ${JSON.stringify(userns)}: must be "private" or "host"`);
  if (publish.length > 0 && net === 'host') throw new UsageError('--publish needs --net private or none (with --net host the app already listens on the host)');
  if (opts.command.some((a) => a.includes('\0'))) throw new UsageError('the command contains a NUL byte');
  if (rootfsDir) {
    // Everything dynod mounts on or writes into must be a real directory of the
    // rootfs: a symlink there would resolve in the host's tree while the root is built.
    for (const d of ['/etc', '/app', '/proc', '/sys', '/dev', '/tmp']) {
      const f = facts.paths[`rootfs:${d}`];
      if (f && f.type !== 'dir' && f.type !== 'missing')
        throw new UsageError(`--rootfs ${rootfsDir}: ${d} is a ${f.type}; a root filesystem's /etc, /app, /proc, /sys, /dev and /tmp must be directories (or absent)`);
    }
  }
  const build = () => rootMounts(facts, appDir, rootfsDir, net, userns, resolvConf);
  const key = facts.key === undefined ? null : `${facts.key}\0${JSON.stringify(facts.cgroupView)}\0${appDir}\0${rootfsDir ?? ''}\0${net}\0${userns}`;
  const mounts = memo ? memo(key, build) : build();

  const env = buildEnv(opts, name, port);
  return {
    source: sourceOf(opts, { app: appDir, rootfs: rootfsDir, name }),
    name: env.DYNO!,
    command: [...opts.command],
    size: { name: size.name, label: size.label },
    limits,
    killBytes,
    namespaces: ['user', 'pid', 'mount', 'uts', 'ipc', 'net', 'cgroup'].filter((n) => (n !== 'net' || net !== 'host') && (n !== 'user' || userns === 'private')) as DynoPlan['namespaces'],
    userns,
    root: rootfsDir ? { kind: 'rootfs', path: rootfsDir } : { kind: 'host-stack' },
    app: { source: appDir, target: '/app' },
    mounts,
    user,
    umask: 0o022,
    cwd: '/app',
    env,
    rlimits: { nproc: limits.pids, nofile: NOFILE },
    network: { mode: net, publish, allowHostPorts, dns: hostResolv ? { upstreams: hostResolv.nameservers } : null },
    seccomp: seccompOption(opts.seccomp),
    noNewPrivileges: true,
    capabilities: user.uid === 0 ? [...ROOT_CAPABILITIES] : [],
    stdin: !!opts.interactive,
    tty: !!opts.interactive && !!opts.tty,
    terminalSize: { rows: opts.rows ?? 24, cols: opts.cols ?? 80 },
  };
}
