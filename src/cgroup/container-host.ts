// Where an OCI container's cgroup goes: the hierarchies this process sees (from
// /proc/self/cgroup and mountinfo, as for dynos) and OCI's cgroupsPath resolved in
// each, as runc's cgroupfs driver resolves it. Pure but for detectCgroupHost().
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cgroupDir, op, parseCgroupMounts, parseProcCgroup, readProcSelf, type CgroupMembership, type CgroupMount } from './hierarchy';
import { DynodError, UsageError } from '../errors';

/** One hierarchy: v1 has one per mounted controller set, v2 exactly one. */
export interface HostHierarchy {
  /** e.g. /sys/fs/cgroup/cpu,cpuacct (v2: the cgroup2 mount) */
  mountPoint: string;
  /** controllers of a v1 hierarchy, e.g. ["cpu", "cpuacct"]; [] on v2 */
  controllers: string[];
  /** the mount data naming a v1 hierarchy ("cpu,cpuacct"), for the container's view */
  options: string;
  /** this process's cgroup directory in it */
  ownDir: string;
}

export interface CgroupHost {
  version: 1 | 2;
  hierarchies: HostHierarchy[];
}

/** The v1 controllers a container's cgroup spans (cpuset only when the config sets it). */
export const CONTAINER_V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids', 'freezer', 'devices', 'cpuset'] as const;

/**
 * The host's cgroups as `mounts` and `membership` show them: v1 when a v1
 * hierarchy holds the memory controller (hybrid hosts included: their cgroup2
 * mount holds no controllers), else v2.
 */
export function cgroupHostFrom(membership: CgroupMembership[], mounts: CgroupMount[], known: Set<string>): CgroupHost {
  const v1 = mounts.filter((m) => m.fstype === 'cgroup');
  if (v1.some((m) => m.options.includes('memory'))) {
    const hierarchies: HostHierarchy[] = [];
    for (const mount of v1) {
      const controllers = mount.options.filter((o) => (CONTAINER_V1_CONTROLLERS as readonly string[]).includes(o));
      if (controllers.length === 0) continue; // name=systemd, blkio, net_cls...: not the container's
      // the same hierarchy may be mounted twice (bind mounts): the first one will do
      if (hierarchies.some((h) => h.controllers.includes(controllers[0]!))) continue;
      const member = membership.find((m) => m.controllers.some((c) => controllers.includes(c)));
      if (!member) continue;
      hierarchies.push({ mountPoint: mount.mountPoint, controllers, options: mount.options.filter((o) => known.has(o)).join(','), ownDir: cgroupDir(mount, member.path) });
    }
    return { version: 1, hierarchies };
  }
  const v2 = mounts.find((m) => m.fstype === 'cgroup2');
  const member = membership.find((m) => m.id === 0);
  if (!v2 || !member) throw new DynodError('cgroups: neither a cgroup v1 memory hierarchy nor a cgroup2 mount is there (mount cgroup2 at /sys/fs/cgroup)', { step: 'cgroups' });
  return { version: 2, hierarchies: [{ mountPoint: v2.mountPoint, controllers: [], options: '', ownDir: cgroupDir(v2, member.path) }] };
}

/** The host's cgroups, read from /proc. */
export function detectCgroupHost(): CgroupHost {
  const { cgroup, mountinfo } = op('cgroups', 'read', '/proc/self/cgroup', readProcSelf);
  const known = new Set(
    op('cgroups', 'read', '/proc/cgroups', () => fs.readFileSync('/proc/cgroups', 'utf8'))
      .split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split('\t')[0]!),
  );
  return cgroupHostFrom(parseProcCgroup(cgroup), parseCgroupMounts(mountinfo), known);
}

/** A container's directory in one hierarchy. */
export interface ContainerDir {
  hierarchy: HostHierarchy;
  dir: string;
}

/** Container ids as runc accepts them; they name a directory. */
const ID_RE = /^[A-Za-z0-9_+.-]+$/;

/** The parent directory name of containers created without a cgroupsPath: `<own cgroup>/dynod-oci/<id>`. */
export const DEFAULT_PARENT = 'dynod-oci';

/**
 * OCI's cgroupsPath, checked: null → "dynod-oci/<id>" (relative). systemd's
 * "slice:prefix:name" form is refused: dynod-oci drives cgroupfs only.
 */
export function checkCgroupsPath(cgroupsPath: string | null, id: string): string {
  if (!ID_RE.test(id) || id === '.' || id === '..') throw new UsageError(`container id ${JSON.stringify(id)}: use letters, digits, "_", "+", "-" and "."`);
  if (cgroupsPath === null) return `${DEFAULT_PARENT}/${id}`;
  if (/^[^/:]*:[^/:]*:[^/:]*$/.test(cgroupsPath))
    throw new UsageError(`linux.cgroupsPath ${JSON.stringify(cgroupsPath)}: the systemd cgroup driver ("slice:prefix:name") is not supported by dynod-oci; use the cgroupfs driver (a path such as /machine/${id})`);
  const parts = cgroupsPath.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0) throw new UsageError(`linux.cgroupsPath ${JSON.stringify(cgroupsPath)}: names no cgroup below the root (accepted: /parent/name, or a path relative to this process's cgroup)`);
  if (parts.includes('..') || cgroupsPath.includes('\0'))
    throw new UsageError(`linux.cgroupsPath ${JSON.stringify(cgroupsPath)}: ".." is not accepted (a cgroupsPath names a cgroup below a hierarchy's root or this process's cgroup)`);
  return (cgroupsPath.startsWith('/') ? '/' : '') + parts.join('/');
}

/**
 * The container's directory in each hierarchy, as runc's cgroupfs driver finds it:
 * an absolute path below the hierarchy's root as this process sees it (its mount
 * point), a relative one below this process's own cgroup there.
 */
export function containerDirs(host: CgroupHost, checkedPath: string, controllers: readonly string[]): ContainerDir[] {
  const wanted = host.version === 2 ? host.hierarchies : host.hierarchies.filter((h) => h.controllers.some((c) => controllers.includes(c)));
  return wanted.map((hierarchy) => ({
    hierarchy,
    dir: checkedPath.startsWith('/') ? path.join(hierarchy.mountPoint, checkedPath) : path.join(hierarchy.ownDir, checkedPath),
  }));
}

/** The hierarchy a directory lies in (its mount point is the longest prefix), for reopening by directories. */
export function hierarchyOf(host: CgroupHost, dir: string): HostHierarchy | undefined {
  let best: HostHierarchy | undefined;
  for (const h of host.hierarchies)
    if ((dir === h.mountPoint || dir.startsWith(`${h.mountPoint}/`)) && (!best || h.mountPoint.length > best.mountPoint.length)) best = h;
  return best;
}
