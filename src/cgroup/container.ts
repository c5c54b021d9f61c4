// An OCI container's cgroup (dynod-oci): made where config.json's cgroupsPath says,
// as runc's cgroupfs driver would, limited by linux.resources, and reopened by later
// verbs (dynod-oci is one process per verb) from what the state recorded.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ContainerResources } from '../oci/resources';
import type { DynoCgroup } from './types';
import { CONTAINER_V1_CONTROLLERS, checkCgroupsPath, containerDirs, detectCgroupHost, hierarchyOf, type CgroupHost, type ContainerDir } from './container-host';
import { ContainerV1 } from './container-v1';
import { ContainerV2 } from './container-v2';
import { DynodError, UsageError } from '../errors';

/** As a dyno's cgroup (version, intoDir, procsFiles, view, stats, oomKills, pids), plus what OCI's verbs need. */
export interface ContainerCgroup extends Pick<DynoCgroup, 'version' | 'intoDir' | 'procsFiles' | 'view' | 'stats' | 'oomKills' | 'pids'> {
  /** the cgroup path (below the hierarchy's root), e.g. "/libpod_parent/libpod-<id>"; on v1 that of the memory hierarchy when they differ */
  readonly path: string;
  /** every directory of this container, one per hierarchy: what openContainerCgroup takes back */
  readonly dirs: string[];
  /** false once no directory of it is left */
  exists(): boolean;
  /** v2 cgroup.freeze, v1 freezer.state; resolves once frozen */
  freeze(): Promise<void>;
  thaw(): void;
  frozen(): boolean;
  /** writes the fields that are set (non-null); device rules are replaced when any are given */
  update(r: ContainerResources): void;
  /** kill(2) of every process (`kill --all`), through pidfds so a reused pid is never hit */
  signalAll(sig: number): void;
  /** SIGKILL what is left, wait, rmdir every directory (deepest first); idempotent */
  remove(): Promise<void>;
}

export interface CreateOptions {
  /** an existing cgroup that holds no process is taken instead of failing with EEXIST */
  reuse?: boolean;
  /** the host's cgroups (tests point this elsewhere); detected from /proc by default */
  host?: CgroupHost;
}

/**
 * Makes the container's cgroup and writes its limits. `cgroupsPath` is config.json's
 * linux.cgroupsPath: absolute, below each hierarchy's root as this process sees it;
 * relative, below this process's own cgroup; null, `<own cgroup>/dynod-oci/<id>`.
 * On v1 a directory is made in each of the memory, cpu, cpuacct, pids, freezer and
 * devices hierarchies mounted (cpuset too when the config sets cpus or mems).
 */
export function createContainerCgroup(cgroupsPath: string | null, id: string, r: ContainerResources, opts: CreateOptions = {}): ContainerCgroup {
  const host = opts.host ?? detectCgroupHost();
  const checked = checkCgroupsPath(cgroupsPath, id);
  const reuse = opts.reuse ?? false;
  return host.version === 1 ? ContainerV1.create(host, checked, r, reuse) : ContainerV2.create(host, checked, r, reuse);
}

/**
 * A container cgroup made earlier, by its directories (`dirs`: exact, whatever the
 * path was) or by its absolute cgroup path (`path` of an absolute cgroupsPath). A
 * cgroup that is gone opens as one with no directories (remove() is then a no-op).
 */
export function openContainerCgroup(ref: string | readonly string[], host: CgroupHost = detectCgroupHost()): ContainerCgroup {
  let parts: ContainerDir[];
  let cgPath: string;
  if (typeof ref === 'string') {
    if (!ref.startsWith('/')) throw new UsageError(`cgroup path ${JSON.stringify(ref)}: reopen a container's cgroup by its absolute path or by its directories`);
    cgPath = checkCgroupsPath(ref, 'x');
    parts = containerDirs(host, cgPath, CONTAINER_V1_CONTROLLERS).filter((p) => host.version === 2 || fs.existsSync(p.dir));
  } else {
    parts = ref.map((dir) => {
      const hierarchy = hierarchyOf(host, dir);
      if (!hierarchy) throw new DynodError(`open cgroup: ${dir} lies in no cgroup hierarchy mounted here`, { step: 'open cgroup', detail: dir });
      return { hierarchy, dir };
    });
    const primary = parts.find((p) => p.hierarchy.controllers.includes('memory')) ?? parts[0];
    cgPath = primary ? `/${path.relative(primary.hierarchy.mountPoint, primary.dir)}` : '/';
  }
  if (host.version === 2) {
    if (parts.length !== 1) throw new DynodError(`open cgroup: a cgroup v2 container has one directory (given ${parts.length})`, { step: 'open cgroup' });
    return new ContainerV2(cgPath, parts[0]!.dir);
  }
  return new ContainerV1(cgPath, parts);
}

export type { CgroupHost } from './container-host';
