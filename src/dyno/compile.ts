import type { NativeOp, NativeSpawnPlan, SerializedOps } from '../addon';
import type { DynoCgroup } from '../cgroup';
import { CLONE, MOUNT_ATTR, MS, RLIMIT, USERNS_SIZE, msFlags, type MountFlag } from './constants';
import { HOSTNAME_TOKEN, type DynoPlan, type MountSpec } from './plan';
import { ROOT_CAPABILITIES, capabilityMask } from '../linux/capabilities';
import type { DynoNetworkSetup } from '../net/dyno-network';

/**
 * Where the child builds the dyno's root. It mounts a scratch tmpfs over the host's
 * /tmp (in its own mount namespace only) and pivots into it, so the host root sits
 * at OLD and every host path is OLD + path, whatever it is, even under /tmp.
 */
export const SCRATCH = '/tmp';
export const OLD = '/.oldroot';
export const NEW = '/newroot';
export const UPPER = '/upper';

const FLAG_OPTIONS: Record<string, MountFlag> = { ro: 'rdonly', nosuid: 'nosuid', nodev: 'nodev', noexec: 'noexec' };

/** Docker's default capability set as dynod-init's mask. */
export const ROOT_CAPS = capabilityMask(ROOT_CAPABILITIES);


function split(options: string[]): { flags: number; data: string | null; ro: boolean } {
  const flags: MountFlag[] = [];
  const data: string[] = [];
  for (const o of options) {
    const f = FLAG_OPTIONS[o];
    if (f) flags.push(f);
    else data.push(o);
  }
  return { flags: msFlags(flags), data: data.length ? data.join(',') : null, ro: options.includes('ro') };
}

/** overlayfs splits lowerdir on ":" and options on ","; plan paths never contain either (resolveDir refuses them). */
function overlayData(lower: string, upper: string, work: string): string {
  return `lowerdir=${lower},upperdir=${upper},workdir=${work}`;
}

export interface CompileContext {
  /** this start's hostname (its instance id) */
  hostname: string;
  cgroup: Pick<DynoCgroup, 'intoDir' | 'procsFiles'>;
  stdio: [number, number, number];
  initFd: number;
  /** a detached idmapped mount of the app directory (made by the parent), or -1 to use it as is */
  appMountFd: number;
  /** likewise for --rootfs under a user namespace */
  rootfsMountFd?: number;
  /** first host id of the dyno's user namespace range (private userns) */
  idBase: number;
  /** fd holding the compiled seccomp program, or -1 for none */
  seccompFd: number;
  trace: boolean;
  /** this start's veth, address and sockets in the namespace (none: lo only) */
  network?: DynoNetworkSetup;
  /** a spare made with this start's id maps (spareMake), or -1/absent */
  spare?: number;
}

/**
 * The first steps of every root build (a dyno's, an OCI container's): the mount tree
 * made private (or slave: OCI's rootfsPropagation) so nothing propagates to the host,
 * the scratch tmpfs with these directories (paths inside it), and the pivot into it.
 */
export function scratchRootOps(dirs: Array<{ path: string; uid?: number; gid?: number }>, propagation: number = MS.rec | MS.private): NativeOp[] {
  const step = propagation & MS.slave ? 'make mounts slaves' : 'make mounts private';
  return [
    { op: 'mount', step, source: null, target: '/', fstype: null, flags: propagation, data: null },
    { op: 'mount', step: 'scratch tmpfs', source: 'tmpfs', target: SCRATCH, fstype: 'tmpfs', flags: MS.nosuid | MS.nodev, data: 'mode=0755' },
    ...dirs.map(({ path, ...owner }): NativeOp => ({ op: 'mkdir', step: 'scratch tmpfs', path: SCRATCH + path, mode: 0o755, ...owner })),
    { op: 'pivot', step: 'enter scratch root', target: SCRATCH, source: SCRATCH + OLD },
  ];
}

/** The plan's filesystem as the ordered primitive steps the child executes. */
export function compileOps(plan: DynoPlan, ctx: Pick<CompileContext, 'hostname' | 'appMountFd' | 'rootfsMountFd' | 'network'>): NativeOp[] {
  const deferredRo: string[] = [];
  // The upper layer's root is what /app itself looks like: the dyno's user owns its $HOME.
  const owner = { uid: plan.user.uid, gid: plan.user.gid };
  const ops = scratchRootOps(
    [OLD, NEW, UPPER, `${UPPER}/app`, `${UPPER}/app-work`, `${UPPER}/root`, `${UPPER}/root-work`, `${UPPER}/app-lower`, `${UPPER}/root-lower`]
      .map((d) => ({ path: d, ...(d === `${UPPER}/app` ? owner : {}) })),
  );

  // The child joins its cgroup before the cgroup view, which must show the dyno's own cgroup.
  const join: NativeOp = { op: 'join-cgroup', step: 'join cgroup' };
  let joined = false;
  for (const m of plan.mounts) {
    if (!joined && m.target.startsWith('/sys/fs/cgroup')) {
      ops.push(join);
      joined = true;
    }
    ops.push(...mountOps(m, ctx, deferredRo));
  }
  if (!joined) ops.push(join);

  ops.push({ op: 'hostname', step: 'set hostname', name: ctx.hostname });
  if (plan.network.mode !== 'host') ops.push({ op: 'loopback', step: 'bring up loopback' });
  if (ctx.network?.config) ops.push(netConfigOp(ctx.network.config));
  for (const t of deferredRo.reverse()) ops.push({ op: 'remount', step: `read-only ${t.slice(NEW.length) || '/'}`, target: t, flags: MS.rdonly });
  ops.push({ op: 'pivot', step: 'pivot_root into the dyno', target: NEW, source: null });
  return ops;
}

function netConfigOp(cfg: NonNullable<DynoNetworkSetup['config']>): NativeOp {
  return { op: 'net-config', step: `configure ${cfg.name}`, name: cfg.name, address: cfg.address, gateway: cfg.gateway };
}

function mountOps(m: MountSpec, ctx: Pick<CompileContext, 'hostname' | 'appMountFd' | 'rootfsMountFd'>, deferredRo: string[]): NativeOp[] {
  const t = m.target === '/' ? NEW : NEW + m.target;
  const step = `${m.type} ${m.target}`;
  const { flags, data, ro } = split(m.options);
  const mkdir: NativeOp = { op: 'mkdir', step, path: t, mode: m.mode ?? 0o755 };
  // Filesystems we fill after mounting are mounted writable and made read-only at the end.
  const fresh = (fstype: string, source: string, deferRo: boolean): NativeOp[] => {
    if (deferRo && ro) deferredRo.push(t);
    return [mkdir, { op: 'mount', step, source, target: t, fstype, flags: deferRo ? flags & ~MS.rdonly : flags, data }];
  };
  switch (m.type) {
    case 'root-tmpfs':
      deferredRo.push(t);
      return [{ op: 'mount', step, source: 'tmpfs', target: t, fstype: 'tmpfs', flags: MS.nosuid | MS.nodev, data }];
    case 'root-overlay': {
      deferredRo.push(t);
      const ops: NativeOp[] = [];
      let lower = OLD + m.source!;
      if ((ctx.rootfsMountFd ?? -1) >= 0) {
        // In a user namespace the rootfs's root-owned files must be the namespace root's.
        ops.push({ op: 'move-mount', step: 'idmap /', target: `${UPPER}/root-lower`, fd: ctx.rootfsMountFd! });
        lower = `${UPPER}/root-lower`;
      }
      ops.push({ op: 'mount', step, source: 'overlay', target: t, fstype: 'overlay', flags: MS.nodev, data: overlayData(lower, `${UPPER}/root`, `${UPPER}/root-work`) });
      return ops;
    }
    case 'dir':
      return [mkdir];
    case 'file':
      return [{ op: 'write', step, path: t, content: (m.content ?? '').replaceAll(HOSTNAME_TOKEN, ctx.hostname), mode: m.mode ?? 0o644 }];
    case 'symlink':
      return [{ op: 'symlink', step, source: m.source!, path: t }];
    case 'bind': {
      const point: NativeOp = m.sourceIsFile ? { op: 'write', step, path: t, content: '', mode: 0o644 } : mkdir;
      const rec = m.options.includes('rec');
      const ops: NativeOp[] = [point, { op: 'mount', step, source: OLD + m.source!, target: t, fstype: null, flags: MS.bind | (rec ? MS.rec : 0), data: null }];
      // A recursive bind is made read-only all the way down, not just at its top.
      if (rec && ro) ops.push({ op: 'setattr', step, target: t, attrSet: MOUNT_ATTR.rdonly | MOUNT_ATTR.nosuid | MOUNT_ATTR.nodev | MOUNT_ATTR.noexec, recursive: true });
      else if (flags) ops.push({ op: 'remount', step, target: t, flags });
      return ops;
    }
    case 'mask':
      return m.sourceIsFile
        ? [{ op: 'mount', step, source: `${OLD}/dev/null`, target: t, fstype: null, flags: MS.bind, data: null, optional: true }]
        : [{ op: 'mount', step, source: 'tmpfs', target: t, fstype: 'tmpfs', flags, data, optional: true }];
    case 'readonly':
      return [
        { op: 'mount', step, source: t, target: t, fstype: null, flags: MS.bind | MS.rec, data: null, optional: true },
        { op: 'remount', step, target: t, flags, optional: true },
      ];
    case 'tmpfs':
      return fresh('tmpfs', 'tmpfs', true);
    case 'proc':
      return fresh('proc', 'proc', false);
    case 'sysfs':
      return fresh('sysfs', 'sysfs', false);
    case 'devpts':
      return fresh('devpts', 'devpts', false);
    case 'cgroup2':
      return [{ op: 'mount', step, source: 'cgroup2', target: t, fstype: 'cgroup2', flags, data: null }];
    case 'cgroup':
      return [mkdir, { op: 'mount', step, source: 'cgroup', target: t, fstype: 'cgroup', flags, data: m.source ?? null }];
    case 'overlay': {
      let lower = OLD + m.source!;
      const ops: NativeOp[] = [mkdir];
      if (ctx.appMountFd >= 0) {
        // The app's files appear owned by the dyno user, so it can write (copy up) anywhere under /app.
        ops.push({ op: 'move-mount', step: `idmap ${m.target}`, target: `${UPPER}/app-lower`, fd: ctx.appMountFd });
        lower = `${UPPER}/app-lower`;
      }
      ops.push({ op: 'mount', step, source: 'overlay', target: t, fstype: 'overlay', flags: MS.nosuid | MS.nodev, data: overlayData(lower, `${UPPER}/app`, `${UPPER}/app-work`) });
      return ops;
    }
  }
}

/** The record socket's fd in dynod-init, and the first pass fd (the seccomp program). */
const INIT_CHAN_FD = 3;
const INIT_SECCOMP_FD = 4;

/** What an OCI container's PID 1 does beyond a dyno's (dynod-oci); every field optional. */
export interface InitExtras {
  /** setgroups exactly these (OCI additionalGids); absent: the gid alone (non-root) or none (root) */
  groups?: number[];
  /** the command's capability sets (names), apart from the bounding set (plan.capabilities); absent: all of it for root, none otherwise */
  capSets?: { effective: string[]; permitted: string[]; inheritable: string[]; ambient: string[] };
  /** default true */
  noNewPrivileges?: boolean;
  /** hold the command until one byte can be read from this pass fd (OCI create, then start); the record channel ends when it waits */
  startFd?: boolean;
  /** bind the terminal's slave onto /dev/console (OCI, with tty) */
  console?: boolean;
  /** the command gets this many pass fds (after the seccomp program and the start fd) as 3, 4, ... (OCI --preserve-fds) */
  preserveFds?: number;
}

/**
 * PID 1's argv: named options, all required (native/init.cc parses them strictly),
 * then -- and the command. Pass fds: the seccomp program first (4), then the start fd.
 */
export function initArgv(
  plan: Pick<DynoPlan, 'capabilities' | 'umask' | 'cwd' | 'tty' | 'terminalSize' | 'command'> & { user: Pick<DynoPlan['user'], 'uid' | 'gid'> },
  trace: boolean,
  seccomp = false,
  extras: InitExtras = {},
): string[] {
  const caps = capabilityMask(plan.capabilities);
  const options: Record<string, string> = {
    'chan-fd': String(INIT_CHAN_FD),
    uid: String(plan.user.uid),
    gid: String(plan.user.gid),
    umask: plan.umask.toString(8).padStart(3, '0'),
    cwd: plan.cwd,
    tty: plan.tty ? '1' : '0',
    rows: String(plan.terminalSize.rows),
    cols: String(plan.terminalSize.cols),
    trace: trace ? '1' : '0',
    caps: caps.toString(16),
    'seccomp-fd': seccomp ? String(INIT_SECCOMP_FD) : '-1',
  };
  if (extras.groups) options.groups = extras.groups.join(',');
  if (extras.capSets) {
    options['caps-eff'] = capabilityMask(extras.capSets.effective).toString(16);
    options['caps-prm'] = capabilityMask(extras.capSets.permitted).toString(16);
    options['caps-inh'] = capabilityMask(extras.capSets.inheritable).toString(16);
    options['caps-amb'] = capabilityMask(extras.capSets.ambient).toString(16);
  }
  if (extras.noNewPrivileges === false) options.nnp = '0';
  if (extras.startFd) options['start-fd'] = String(seccomp ? INIT_SECCOMP_FD + 1 : INIT_SECCOMP_FD);
  if (extras.console) options.console = '1';
  if (extras.preserveFds) {
    options['preserve-fds'] = String(extras.preserveFds);
    options['preserve-from'] = String(INIT_SECCOMP_FD + (seccomp ? 1 : 0) + (extras.startFd ? 1 : 0));
  }
  return ['dynod-init', ...Object.entries(options).map(([k, v]) => `--${k}=${v}`), '--', ...plan.command];
}

export function cloneFlags(plan: DynoPlan): { cloneFlags: number; lateUnshare: number } {
  const map = { user: CLONE.newuser, pid: CLONE.newpid, mount: CLONE.newns, uts: CLONE.newuts, ipc: CLONE.newipc, net: CLONE.newnet, cgroup: 0 };
  const cloneFlags = plan.namespaces.reduce((acc, ns) => acc | map[ns], 0);
  // The cgroup namespace is unshared once the child sits in its cgroup, so that cgroup becomes its root.
  return { cloneFlags, lateUnshare: plan.namespaces.includes('cgroup') ? CLONE.newcgroup : 0 };
}

/** The id maps of a private user namespace: 0-65535 inside → idBase… on the host. */
export function idMap(plan: DynoPlan, idBase: number): string {
  return plan.userns === 'private' ? userNsMap(idBase) : '';
}

/** A private user namespace's uid_map and gid_map (a spare's too: the addon checks they are the start's). */
export function userNsMap(idBase: number): string {
  return `0 ${idBase} ${USERNS_SIZE}\n`;
}

export function compileSpawn(plan: DynoPlan, ctx: CompileContext, ops: NativeOp[] | SerializedOps = compileOps(plan, ctx)): NativeSpawnPlan {
  return {
    ...cloneFlags(plan),
    uidMap: idMap(plan, ctx.idBase),
    gidMap: idMap(plan, ctx.idBase),
    rlimits: [
      { resource: RLIMIT.nproc, soft: plan.rlimits.nproc, hard: plan.rlimits.nproc },
      { resource: RLIMIT.nofile, soft: plan.rlimits.nofile, hard: plan.rlimits.nofile },
    ],
    cgroupDir: ctx.cgroup.intoDir,
    cgroupProcs: ctx.cgroup.procsFiles,
    ops,
    stdio: ctx.stdio,
    initFd: ctx.initFd,
    passFds: ctx.seccompFd >= 0 ? [ctx.seccompFd] : [],
    argv: initArgv(plan, ctx.trace, ctx.seccompFd >= 0),
    envp: Object.entries(plan.env).map(([k, v]) => `${k}=${v}`),
    trace: ctx.trace,
    veth: ctx.network?.veth ?? null,
    netnsListen: ctx.network?.listen ?? [],
    detached: false,
    pidNsFd: -1,
    spare: ctx.spare ?? -1,
  };
}

/**
 * compileSpawn with the op list as JSON text, from a template kept per plan: every
 * start of a plan (and of every plan of an app) has the same ~150 ops but for its
 * hostname, its fds and its veth, and compiling and serialising them all again cost
 * a start ~0.1 ms.
 */
export function spawnRequest(plan: DynoPlan, ctx: CompileContext): NativeSpawnPlan {
  const template = opsTemplate(plan, ctx);
  return compileSpawn(plan, ctx, template ? { opsJson: fillTemplate(template, ctx) } : compileOps(plan, ctx));
}

type OpsContext = Pick<CompileContext, 'hostname' | 'appMountFd' | 'rootfsMountFd' | 'network'>;
/** JSON of ops that are the same for every start, and the ops made per start. */
type OpsTemplate = Array<string | ((ctx: OpsContext) => NativeOp)>;

// What compileOps is given in place of a start's own values, to find the ops that hold
// them. The hostname's holds a NUL, which JSON always escapes (and no plan's text has:
// see opsTemplate), and fds are never this high (fs.nr_open is at most 2^30).
const PROBE_HOSTNAME = '\0hostname\0';
const PROBE_APP_FD = 2 ** 30 + 1;
const PROBE_ROOTFS_FD = 2 ** 30 + 2;
const PROBE_MARKS = ['\\u0000', String(PROBE_APP_FD), String(PROBE_ROOTFS_FD)];

/** 'once': started once, no template yet (a one-shot `dynod run` never needs one). */
const templates = new WeakMap<DynoPlan['mounts'], Map<string, OpsTemplate | null | 'once'>>();

/** The template for this plan and the kind of start ctx is; null when the ops cannot have one. */
function opsTemplate(plan: DynoPlan, ctx: OpsContext): OpsTemplate | null {
  // Frozen: a list nobody can change since its template was made (every plan dynod builds).
  if (!Object.isFrozen(plan.mounts)) return null;
  const appFd = ctx.appMountFd >= 0;
  const rootfsFd = (ctx.rootfsMountFd ?? -1) >= 0;
  const key = `${plan.user.uid}:${plan.user.gid}:${plan.network.mode}:${appFd}:${rootfsFd}:${!!ctx.network?.config}`;
  let byKind = templates.get(plan.mounts);
  if (!byKind) templates.set(plan.mounts, (byKind = new Map()));
  let template = byKind.get(key);
  // Made at the second start of its kind: making it costs a cold process more than it saves once.
  if (template === undefined) {
    byKind.set(key, 'once');
    return null;
  }
  if (template === 'once') {
    template = makeTemplate(plan, { hostname: PROBE_HOSTNAME, appMountFd: appFd ? PROBE_APP_FD : -1, rootfsMountFd: rootfsFd ? PROBE_ROOTFS_FD : -1, network: ctx.network });
    byKind.set(key, template);
  }
  return template;
}

function makeTemplate(plan: DynoPlan, probe: OpsContext): OpsTemplate | null {
  const out: OpsTemplate = [];
  for (const op of compileOps(plan, probe)) {
    if (op.op === 'hostname') out.push((c) => ({ ...op, name: c.hostname }));
    else if (op.op === 'move-mount') out.push((c) => ({ ...op, fd: op.fd === PROBE_APP_FD ? c.appMountFd : c.rootfsMountFd! }));
    else if (op.op === 'net-config') out.push((c) => netConfigOp(c.network!.config!));
    else if (op.op === 'write' && op.content.includes(PROBE_HOSTNAME)) out.push((c) => ({ ...op, content: op.content.replaceAll(PROBE_HOSTNAME, c.hostname) }));
    else {
      const json = JSON.stringify(op);
      // a probe value anywhere else (or a NUL in the plan's own text): no template, just compileOps
      if (PROBE_MARKS.some((m) => json.includes(m))) return null;
      const last = out.length - 1;
      if (typeof out[last] === 'string') out[last] += `,${json}`;
      else out.push(json);
    }
  }
  return out;
}

function fillTemplate(template: OpsTemplate, ctx: OpsContext): string {
  let text = '[';
  for (let i = 0; i < template.length; i++) {
    const part = template[i]!;
    if (i > 0) text += ',';
    text += typeof part === 'string' ? part : JSON.stringify(part(ctx));
  }
  return text + ']';
}
