// OciConfig + this host → ContainerPlan: everything create does, resolved, as plain
// JSON data (printable, and what compileContainer turns into the native spawn).
// Reads the host: the rootfs's tree (mount destinations resolved inside it), bind
// sources, joined namespaces. Writes nothing.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cpuQuotaFor, type CgroupView } from '../cgroup';
import { SIZES, findSize } from '../dyno/sizes';
import { JsonReader, at } from './json';
import { sysctlNamespace } from './linux-config';
import { defaultDeviceRules, planDev, type PlanDevice, type PlanLink } from './devices';
import { planMasks, planMounts, type PlanMask, type PlanMount, type PlanReadonly } from './mounts';
import type { ContainerResources } from './resources';
import { RootfsView, type Creation } from './rootfs-view';
import type { PlanSeccompFilter } from './seccomp';
import { RLIMIT_NAMES } from './config';
import type { NamespaceType, OciConfig, OciHooks, OciIdMapping, OciProcess } from './spec';

/** The annotation that gives a container a dyno size's limits where linux.resources sets none. */
export const SIZE_ANNOTATION = 'dynod.size';
const DEFAULT_UMASK = 0o022;

export interface PlanProcess {
  args: string[];
  /** KEY=VALUE, in order */
  env: string[];
  cwd: string;
  user: { uid: number; gid: number; additionalGids: number[]; umask: number };
  terminal: boolean;
  /** null: leave the terminal's size to the caller */
  consoleSize: { rows: number; cols: number } | null;
  /** names (CAP_...); bounding is what dynod-init keeps at all */
  capabilities: { bounding: string[]; effective: string[]; permitted: string[]; inheritable: string[]; ambient: string[] };
  /** the parent sets them (prlimit) while the child waits; -1: unlimited */
  rlimits: Array<{ type: string; resource: number; soft: number; hard: number }>;
  noNewPrivileges: boolean;
  /** the caller writes it into /proc/PID/oom_score_adj; null: inherited */
  oomScoreAdj: number | null;
}

export interface ContainerPlan {
  ociVersion: string;
  id: string;
  /** absolute */
  bundle: string;
  /** the real path of root.path */
  rootfs: string;
  readonly: boolean;
  hostname: string | null;
  domainname: string | null;
  namespaces: {
    /** made by the clone (cgroup: unshared once the child is in its cgroup) */
    new: NamespaceType[];
    /** joined by setns, in config order, from fds the caller opens (ContainerCompileContext.nsFds) */
    join: Array<{ type: NamespaceType; path: string }>;
  };
  uidMappings: OciIdMapping[];
  gidMappings: OciIdMapping[];
  process: PlanProcess;
  /** the dyno size the dynod.size annotation applied, if any */
  size: { name: string; label: string } | null;
  /** linux.resources, the size's limits where it set none, and runc's default device rules after the config's */
  resources: ContainerResources;
  cgroupsPath: string | null;
  /** how /sys/fs/cgroup is built (the cgroup code's view of this host) */
  cgroupView: CgroupView;
  /** compile it with compileFilter(nativeSeccompFilter(plan.seccomp)) */
  seccomp: PlanSeccompFilter | null;
  /** rules of linux.seccomp dropped as libseccomp drops them under runc and crun */
  seccompNotes: string[];
  sysctl: Record<string, string>;
  rootfsPropagation: 'rprivate' | 'rslave';
  mounts: PlanMount[];
  devices: PlanDevice[];
  devLinks: PlanLink[];
  console: { target: string; create: Creation[] } | null;
  readonlyPaths: PlanReadonly[];
  maskedPaths: PlanMask[];
  /** run by the caller, in the spec's order and failure rules */
  hooks: OciHooks;
  annotations: Record<string, string>;
}

export interface ContainerPlanContext {
  /** absolute */
  bundle: string;
  id: string;
  cgroupView: CgroupView;
  /** CPUs a dedicated size's quota is capped at; default: this host's */
  hostCpus?: number;
}

/** A process object as the plan (and `exec --process`) runs it. */
export function planProcess(p: OciProcess): PlanProcess {
  const caps = p.capabilities ?? { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] };
  return {
    args: [...p.args],
    env: [...p.env],
    cwd: p.cwd,
    user: { uid: p.user.uid, gid: p.user.gid, additionalGids: [...p.user.additionalGids], umask: p.user.umask ?? DEFAULT_UMASK },
    terminal: p.terminal,
    consoleSize: p.consoleSize ? { rows: p.consoleSize.height, cols: p.consoleSize.width } : null,
    capabilities: { bounding: [...caps.bounding], effective: [...caps.effective], permitted: [...caps.permitted], inheritable: [...caps.inheritable], ambient: [...caps.ambient] },
    rlimits: p.rlimits.map((l) => ({ type: l.type, resource: RLIMIT_NAMES[l.type]!, soft: l.soft, hard: l.hard })),
    noNewPrivileges: p.noNewPrivileges,
    oomScoreAdj: p.oomScoreAdj,
  };
}

/**
 * The dynod.size annotation: a dyno size's memory (RAM, and RAM plus swap where R15
 * would fire), CPU (share or dedicated vCPUs) and process limits, each only where
 * linux.resources sets none of that kind.
 */
export function applySize(r: JsonReader, annotations: Record<string, string>, resources: ContainerResources, hostCpus: number): ContainerPlan['size'] {
  const name = annotations[SIZE_ANNOTATION];
  if (name === undefined) return null;
  let size;
  try {
    size = findSize(name);
  } catch {
    return r.fail(at('annotations', SIZE_ANNOTATION), `unknown size ${JSON.stringify(name)}`, SIZES.map((s) => s.name).join(', '));
  }
  const MiB = 1024 * 1024;
  const { memory, cpu, pids } = resources;
  if (memory.limit === null && memory.swap === null) {
    memory.limit = size.memoryMiB * MiB;
    memory.swap = size.killMiB * MiB;
  }
  if (cpu.shares === null && cpu.quota === null) {
    // dynod's cgroup weight is the share × 100, its v1 cpu.shares weight × 1024 / 100
    if (size.cpuShare !== null) cpu.shares = size.cpuShare * 1024;
    if (size.vcpus !== null) {
      const q = cpuQuotaFor(Math.min(size.vcpus, hostCpus));
      cpu.quota = q.quotaUs;
      cpu.period = q.periodUs;
    }
  }
  if (pids.limit === null) pids.limit = size.processLimit;
  return { name: size.name, label: size.label };
}

const NS_FILES: Partial<Record<NamespaceType, string>> = { network: 'net', ipc: 'ipc', uts: 'uts' };

/** Joined namespaces must exist; a sysctl must not land in a namespace that is the host's. */
function checkJoined(r: JsonReader, config: OciConfig): void {
  const ids = (p: string) => {
    const st = fs.statSync(p);
    return `${st.dev}:${st.ino}`;
  };
  config.linux.namespaces.forEach((n, i) => {
    if (n.path === null) return;
    const where = at(at('linux.namespaces', i), 'path');
    let id: string;
    try {
      id = ids(n.path);
    } catch (e) {
      return r.fail(where, `${n.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'the path of a namespace to join, e.g. /proc/PID/ns/net or /run/netns/NAME');
    }
    const file = NS_FILES[n.type];
    const hostNs = file && Object.keys(config.linux.sysctl).find((k) => sysctlNamespace(k) === n.type);
    if (hostNs && id === ids(`/proc/self/ns/${file}`))
      r.fail(at('linux.sysctl', hostNs), `the ${n.type} namespace it would change (${n.path}) is the host's`, `a ${n.type} namespace of the container's own`);
  });
}

export function planContainer(config: OciConfig, ctx: ContainerPlanContext): ContainerPlan {
  const r = new JsonReader('config.json');
  let rootfs: string;
  try {
    rootfs = fs.realpathSync(config.root.path);
  } catch (e) {
    return r.fail('root.path', `${config.root.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'the root filesystem\'s directory');
  }
  if (!fs.statSync(rootfs).isDirectory()) r.fail('root.path', `${config.root.path} is not a directory`, 'the root filesystem\'s directory');
  checkJoined(r, config);
  const own = new Set(config.linux.namespaces.filter((n) => n.path === null).map((n) => n.type));
  const resources = structuredClone(config.linux.resources);
  const size = applySize(r, config.annotations, resources, ctx.hostCpus ?? os.availableParallelism());
  resources.devices.push(...defaultDeviceRules(config.linux.devices));

  const view = new RootfsView(rootfs, r);
  const mounts = planMounts(config.mounts, { r, view, own, cgroupView: ctx.cgroupView });
  const dev = planDev(config.linux.devices, config.mounts, config.process.terminal, { r, view, userns: own.has('user') });
  const masks = planMasks(config.linux.maskedPaths, config.linux.readonlyPaths, { r, view });
  return {
    ociVersion: config.ociVersion,
    id: ctx.id,
    bundle: path.resolve(ctx.bundle),
    rootfs,
    readonly: config.root.readonly,
    hostname: config.hostname,
    domainname: config.domainname,
    namespaces: {
      new: config.linux.namespaces.filter((n) => n.path === null).map((n) => n.type),
      join: config.linux.namespaces.flatMap((n) => (n.path === null ? [] : [{ type: n.type, path: n.path }])),
    },
    uidMappings: config.linux.uidMappings.map((m) => ({ ...m })),
    gidMappings: config.linux.gidMappings.map((m) => ({ ...m })),
    process: planProcess(config.process),
    size,
    resources,
    cgroupsPath: config.linux.cgroupsPath,
    cgroupView: structuredClone(ctx.cgroupView),
    seccomp: config.linux.seccomp && structuredClone(config.linux.seccomp),
    seccompNotes: [...config.linux.seccompNotes],
    sysctl: { ...config.linux.sysctl },
    rootfsPropagation: config.linux.rootfsPropagation ?? 'rprivate',
    mounts,
    devices: dev.devices,
    devLinks: dev.links,
    console: dev.console,
    readonlyPaths: masks.readonly,
    maskedPaths: masks.masked,
    hooks: structuredClone(config.hooks),
    annotations: { ...config.annotations },
  };
}
