import * as fs from 'node:fs';
import { CgroupV1 } from './v1';
import { CgroupV2, V2_CONTROLLERS } from './v2';
import { cgroupDir, op, parseCgroupMounts, parseProcCgroup, readProcSelf, tryRead } from './hierarchy';
import type { CgroupBackend } from './types';
import { DynodError } from '../errors';

export type { CgroupBackend, CgroupSpec, CgroupStats, DynoCgroup, CgroupView } from './types';
export type { Limits } from './limits';
export { cpuQuotaFor, CPU_PERIOD_US } from './limits';

let cached: CgroupBackend | undefined;

/**
 * v2 when a cgroup2 mount offers the controllers dynod needs, else v1. Hybrid
 * hosts (v1 controllers plus an empty cgroup2 at /sys/fs/cgroup/unified) get v1.
 */
export function detectCgroups(): CgroupBackend {
  if (cached) return cached;
  const { cgroup, mountinfo } = op('cgroups', 'read', '/proc/self/cgroup', readProcSelf);
  const membership = parseProcCgroup(cgroup);
  const mounts = parseCgroupMounts(mountinfo);
  const v2mount = mounts.find((m) => m.fstype === 'cgroup2');
  const v2member = membership.find((m) => m.id === 0);
  if (v2mount && v2member) {
    const controllers = (tryRead(`${cgroupDir(v2mount, v2member.path)}/cgroup.controllers`, 'cgroups') ?? '').trim().split(/\s+/).filter(Boolean);
    if (V2_CONTROLLERS.every((c) => controllers.includes(c))) {
      cached = new CgroupV2(v2mount.mountPoint, cgroupDir(v2mount, v2member.path).slice(v2mount.mountPoint.length) || '/');
      return cached;
    }
    // A v2-only host: falling back to v1 would only complain that v1 is not mounted.
    if (!mounts.some((m) => m.fstype === 'cgroup')) {
      const missing = V2_CONTROLLERS.filter((c) => !controllers.includes(c));
      const list = missing.length > 1 ? `${missing.slice(0, -1).join(', ')} and ${missing[missing.length - 1]}` : missing[0];
      throw new DynodError(
        `cgroup v2: ${cgroupDir(v2mount, v2member.path)} lacks the ${list} controller${missing.length > 1 ? 's' : ''} (available there: ${controllers.join(' ') || 'none'}); enable ${missing.length > 1 ? 'them' : 'it'} in the parent's cgroup.subtree_control, or start dynod in a cgroup that has ${missing.length > 1 ? 'them' : 'it'} (e.g. systemd-run -p Delegate=yes)`,
        { step: 'cgroups' },
      );
    }
  }
  const known = new Set(
    op('cgroups', 'read', '/proc/cgroups', () => fs.readFileSync('/proc/cgroups', 'utf8')).split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split('\t')[0]!),
  );
  cached = new CgroupV1(membership, mounts, known);
  return cached;
}
