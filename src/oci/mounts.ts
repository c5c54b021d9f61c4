// config.json's mounts, maskedPaths and readonlyPaths as resolved steps of the plan:
// each destination resolved inside the rootfs as the tree will be when it is
// mounted (RootfsView), what is missing to be made first, the flags split as the
// native ops take them. Host paths are real paths read now; compile only prefixes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CgroupView } from '../cgroup';
import { MOUNT_ATTR, MS } from '../dyno/constants';
import { at, type JsonReader } from './json';
import { isBindOptions, parseMountOptions } from './mount-options';
import type { Creation, RootfsView } from './rootfs-view';
import type { NamespaceType, OciMount } from './spec';

export type PlanCgroupMount =
  /** cgroup2 mounted afresh (over a tmpfs when /sys is the host's, whose cgroup2 mount would make it EBUSY) */
  | { mode: 'cgroup2'; overTmpfs: boolean }
  /** a new user namespace without a cgroup namespace may not mount cgroup2: the container's own cgroup is bound */
  | { mode: 'cgroup2-bind' }
  /** v1 with a cgroup namespace: a tmpfs, and each hierarchy of the view mounted afresh in it */
  | { mode: 'v1'; hierarchies: Array<{ dir: string; options: string }> }
  /** v1 without one: each hierarchy's directory of the container bound in (runc's way; a fresh mount would show the host's tree) */
  | { mode: 'v1-bind'; hierarchies: Array<{ dir: string; options: string }> };

export interface PlanMount {
  /** its index in config.json's mounts */
  index: number;
  /** as config.json gives it */
  destination: string;
  /** resolved inside the rootfs: no component is a symlink */
  target: string;
  /** made before the mount, in order */
  create: Creation[];
  kind: 'bind' | 'tmpfs' | 'proc' | 'sysfs' | 'devpts' | 'mqueue' | 'cgroup';
  /** bind: the real host path; otherwise the source mount(2) gets ("tmpfs", "proc", ...) */
  source: string;
  /** bind: the source is not a directory */
  sourceIsFile: boolean;
  /** bind: rbind */
  recursive: boolean;
  /** MS_* flags: of mount(2) for a new filesystem, of the remount that follows for a bind (0: no remount) */
  flags: number;
  data: string | null;
  /** MS_PRIVATE, MS_SLAVE, ... (| MS_REC) applied after; 0: none */
  propagation: number;
  /** MOUNT_ATTR_* set on the whole tree after (rro, ...; a host /sys bound read-only) */
  recursiveAttrs: number;
  /** a new read-only tmpfs is mounted writable and made read-only at the end, so mounts and devices can be made in it */
  deferReadonly: boolean;
  /** tmpfs: starts with a copy of the directory it covers (tmpcopyup) */
  copyUp: boolean;
  cgroup: PlanCgroupMount | null;
  /** why it is mounted otherwise than its type says */
  note: string | null;
}

/** Files below /proc a mount may cover (runc's list: what lxcfs emulates). */
const PROC_FILES = ['/proc/cpuinfo', '/proc/diskstats', '/proc/meminfo', '/proc/stat', '/proc/swaps', '/proc/uptime', '/proc/loadavg', '/proc/slabinfo', '/proc/sys/kernel/ns_last_pid', '/proc/sys/crypto/fips_enabled'];

const RO_ATTRS: Array<[number, number]> = [[MS.rdonly, MOUNT_ATTR.rdonly], [MS.nosuid, MOUNT_ATTR.nosuid], [MS.nodev, MOUNT_ATTR.nodev], [MS.noexec, MOUNT_ATTR.noexec]];

export interface MountContext {
  r: JsonReader;
  view: RootfsView;
  /** namespaces the container gets of its own */
  own: ReadonlySet<NamespaceType>;
  cgroupView: CgroupView;
}

/** A host path a bind mount takes: its real path (resolved on the host, as runc opens it) and whether it is a file. */
function hostSource(r: JsonReader, source: string, where: string): { real: string; isFile: boolean } {
  try {
    const real = fs.realpathSync(source);
    return { real, isFile: !fs.statSync(real).isDirectory() };
  } catch (e) {
    return r.fail(where, `${source}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} on the host`, 'an existing host path');
  }
}

export function planMounts(mounts: readonly OciMount[], ctx: MountContext): PlanMount[] {
  const { r, view, own } = ctx;
  const userns = own.has('user');
  let sysFromHost = false;
  return mounts.map((m, index): PlanMount => {
    const p = at('mounts', index);
    const bind = isBindOptions(m.options) || m.type === 'bind' || m.type === 'rbind';
    const o = parseMountOptions(m.options, bind, r, at(p, 'options'));
    const where = at(p, 'destination');
    const target = view.resolve(m.destination, where);
    const base = {
      index, destination: m.destination, target, flags: o.flags, data: o.data.length ? o.data.join(',') : null,
      propagation: o.propagation, recursiveAttrs: o.recursiveAttrs, deferReadonly: false, copyUp: false, cgroup: null, note: null,
      sourceIsFile: false, recursive: false,
    };
    const insideProc = target.startsWith('/proc/') && !PROC_FILES.includes(target);
    if (insideProc) r.unsupported(where, `${target} is inside /proc; mounts there may cover only ${PROC_FILES.join(', ')}`);

    const hostBind = (source: string, sourceWhere: string, recursive: boolean, note: string | null, attrs = o.recursiveAttrs, flags = o.flags): PlanMount => {
      const { real, isFile } = hostSource(r, source, sourceWhere);
      const create = view.create(target, isFile ? 'file' : 'dir', where);
      view.mount(target, { kind: 'host', host: real });
      return { ...base, kind: 'bind', source: real, sourceIsFile: isFile, recursive, create, flags, recursiveAttrs: attrs, note };
    };
    if (bind) return hostBind(m.source!, at(p, 'source'), o.recursive, null);

    const type = m.type === 'cgroup2' ? 'cgroup' : (m.type as PlanMount['kind']);
    if ((type === 'proc' || type === 'sysfs') && target !== path.posix.normalize(m.destination))
      r.unsupported(where, `${m.destination} resolves to ${target} in the rootfs (a symlink in the image); ${type} is mounted only where it is asked`);
    if (type === 'sysfs' && userns && !own.has('network')) {
      // sysfs belongs to the owner of the network namespace: without one of its own, the host's /sys, read-only all the way down
      sysFromHost = true;
      const attrs = RO_ATTRS.reduce((a, [ms, attr]) => (o.flags & ms ? a | attr : a), o.recursiveAttrs);
      return hostBind('/sys', where, true, 'sysfs: the host\'s /sys, bound (a new user namespace may mount sysfs only with a network namespace of its own)', attrs, 0);
    }
    if (type === 'mqueue' && userns && !own.has('ipc')) {
      // mqueue belongs to the owner of the ipc namespace: without one of its own, the host's
      if (!fs.existsSync('/dev/mqueue')) r.unsupported(at(p, 'type'), 'mqueue in a new user namespace needs an ipc namespace of the container\'s own, or a /dev/mqueue on the host to bind');
      return hostBind('/dev/mqueue', where, false, 'mqueue: the host\'s /dev/mqueue, bound (a new user namespace may mount mqueue only with an ipc namespace of its own)');
    }

    if (o.copyUp && type !== 'tmpfs') r.unsupported(at(p, 'options'), `tmpcopyup: only a tmpfs can copy what it covers (this mount is ${type})`);
    const create = view.create(target, 'dir', where);
    const kernelHost: Record<string, string | null> = { proc: '/proc', sysfs: '/sys', cgroup: '/sys/fs/cgroup', devpts: null, mqueue: null };
    // a copied-up tmpfs shows what it covers: paths below it resolve as before
    if (!(type === 'tmpfs' && o.copyUp)) view.mount(target, type === 'tmpfs' ? { kind: 'empty' } : { kind: 'kernel', host: kernelHost[type]! });
    const out: PlanMount = { ...base, kind: type, source: m.source || type, create };
    if (type === 'tmpfs') {
      out.copyUp = o.copyUp;
      // the copy-up op makes it read-only itself, once the copy is in
      out.deferReadonly = !o.copyUp && (o.flags & MS.rdonly) !== 0;
    }
    if (type === 'cgroup') out.cgroup = cgroupMode(ctx, sysFromHost);
    return out;
  });
}

function cgroupMode(ctx: MountContext, sysFromHost: boolean): PlanCgroupMount {
  const view = ctx.cgroupView;
  const cgroupns = ctx.own.has('cgroup');
  if (view.version === 2) return ctx.own.has('user') && !cgroupns ? { mode: 'cgroup2-bind' } : { mode: 'cgroup2', overTmpfs: sysFromHost };
  return { mode: cgroupns ? 'v1' : 'v1-bind', hierarchies: view.hierarchies.map((h) => ({ ...h })) };
}

export interface PlanMask {
  path: string;
  target: string;
  /** files are covered with /dev/null, directories with an empty read-only tmpfs */
  kind: 'file' | 'dir';
}

export interface PlanReadonly {
  path: string;
  target: string;
}

/**
 * linux.maskedPaths and linux.readonlyPaths, resolved; paths the container will not
 * have are left out (runc skips them too). Whether a kernel path is a file or a
 * directory is read from the host's /proc and /sys: the container sees the same kernel.
 */
export function planMasks(masked: readonly string[], readonly: readonly string[], ctx: Pick<MountContext, 'r' | 'view'>): { masked: PlanMask[]; readonly: PlanReadonly[] } {
  const { r, view } = ctx;
  const ro = readonly.flatMap((p, i): PlanReadonly[] => {
    const target = view.resolve(p, at('linux.readonlyPaths', i));
    return view.lookup(target).type === 'missing' ? [] : [{ path: p, target }];
  });
  const mask = masked.flatMap((p, i): PlanMask[] => {
    const where = at('linux.maskedPaths', i);
    const target = view.resolve(p, where);
    const node = view.lookup(target);
    if (node.type === 'missing') return [];
    if (node.type === 'opaque') r.unsupported(where, `${p}: in a filesystem whose entries dynod-oci cannot tell files from directories`);
    return [{ path: p, target, kind: node.type === 'dir' ? 'dir' : 'file' }];
  });
  return { masked: mask, readonly: ro };
}
