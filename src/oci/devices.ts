// /dev of an OCI container, as runc makes it: the spec's default devices and
// linux.devices (mknod, or bound from the host's in a new user namespace, where
// mknod is not allowed), /dev/ptmx to the devpts instance, the /proc/self/fd links;
// nothing of it when the config binds a /dev of the host's. Plus the device cgroup
// rules runc appends to the config's, which podman and containerd rely on.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { at, type JsonReader } from './json';
import type { DeviceRule } from './resources';
import type { Creation, RootfsView } from './rootfs-view';
import type { OciDevice, OciMount } from './spec';
import { isBindOptions } from './mount-options';

/** The spec's default devices, in runc's order (libcontainer/specconv AllowedDevices). */
export const DEFAULT_DEVICES: readonly OciDevice[] = [
  ['/dev/null', 1, 3], ['/dev/random', 1, 8], ['/dev/full', 1, 7], ['/dev/tty', 5, 0], ['/dev/zero', 1, 5], ['/dev/urandom', 1, 9],
].map(([p, major, minor]) => ({ type: 'c', path: p as string, major: major as number, minor: minor as number, fileMode: 0o666, uid: 0, gid: 0 }));

/**
 * runc's AllowedDevices rules, appended after the config's: mknod of any device, the
 * default devices (but those linux.devices redefines), the ptys.
 */
export function defaultDeviceRules(devices: readonly OciDevice[]): DeviceRule[] {
  const rule = (type: 'c' | 'b', major: number | null, minor: number | null, access: string): DeviceRule => ({ allow: true, type, major, minor, access });
  return [
    rule('c', null, null, 'm'),
    rule('b', null, null, 'm'),
    ...DEFAULT_DEVICES.filter((d) => !devices.some((s) => s.path === d.path)).map((d) => rule('c', d.major, d.minor, 'rwm')),
    rule('c', 136, null, 'rwm'),
    rule('c', 5, 2, 'rwm'),
  ];
}

export interface PlanDevice extends OciDevice {
  /** resolved inside the rootfs (the last component is not followed for mknod, which replaces what is there) */
  target: string;
  create: Creation[];
  /** mknod, or a bind of the host's node at the same path (in a new user namespace; FIFOs are always made) */
  how: 'mknod' | 'bind';
}

export interface PlanLink {
  target: string;
  create: Creation[];
  /** the link's content */
  linkTo: string;
}

export interface PlanDev {
  devices: PlanDevice[];
  links: PlanLink[];
  /** with a terminal: where the pty is bound as /dev/console (made as an empty file when missing) */
  console: { target: string; create: Creation[] } | null;
}

const LINKS: Array<[string, string]> = [['/dev/fd', '/proc/self/fd'], ['/dev/stdin', '/proc/self/fd/0'], ['/dev/stdout', '/proc/self/fd/1'], ['/dev/stderr', '/proc/self/fd/2']];

/** runc makes /dev's contents unless the config binds a /dev (the host's, say). */
export function devFromConfig(mounts: readonly OciMount[]): boolean {
  return mounts.some((m) => (isBindOptions(m.options) || m.type === 'bind' || m.type === 'rbind') && path.posix.normalize(m.destination) === '/dev');
}

function isHostDevice(p: string): boolean {
  try {
    const st = fs.statSync(p);
    return st.isCharacterDevice() || st.isBlockDevice();
  } catch {
    return false;
  }
}

export function planDev(
  linuxDevices: readonly OciDevice[],
  mounts: readonly OciMount[],
  terminal: boolean,
  ctx: { r: JsonReader; view: RootfsView; userns: boolean },
): PlanDev {
  const { r, view, userns } = ctx;
  const out: PlanDev = { devices: [], links: [], console: null };
  if (!devFromConfig(mounts)) {
    const all = [...DEFAULT_DEVICES.filter((d) => !linuxDevices.some((s) => s.path === d.path)), ...linuxDevices];
    for (const d of all) {
      const i = linuxDevices.indexOf(d);
      const where = i >= 0 ? at(at('linux.devices', i), 'path') : `default device ${d.path}`;
      if (userns && d.type !== 'p') {
        if (!isHostDevice(d.path)) r.fail(where, `${d.path} is not a device on the host (a new user namespace gets devices bound from the host's)`, 'a device path the host has');
        const target = view.resolve(d.path, where);
        out.devices.push({ ...d, target, create: view.create(target, 'file', where), how: 'bind' });
        view.mount(target, { kind: 'host', host: d.path });
      } else {
        const parent = view.resolve(path.posix.dirname(d.path), where);
        const target = path.posix.join(parent, path.posix.basename(d.path));
        if (view.lookup(target).type === 'dir') r.fail(where, `${target} is a directory in the rootfs`, 'a device path that is not a directory');
        out.devices.push({ ...d, target, create: view.create(parent, 'dir', where), how: 'mknod' });
        view.record(target, { type: 'device' });
      }
    }
    out.links.push(...ptmxLink(r, view), ...LINKS.flatMap(([p, to]) => link(view, p, to)));
  }
  if (terminal) {
    const target = view.resolve('/dev/console', 'process.terminal');
    out.console = { target, create: view.create(target, 'file', 'process.terminal') };
  }
  return out;
}

/** A symlink made where nothing is (runc ignores EEXIST). */
function link(view: RootfsView, p: string, to: string): PlanLink[] {
  const parent = view.resolve(path.posix.dirname(p), 'root.path');
  const target = path.posix.join(parent, path.posix.basename(p));
  if (view.lookup(target).type !== 'missing') return [];
  const create = view.create(parent, 'dir', 'root.path');
  view.record(target, { type: 'symlink', target: to });
  return [{ target, create, linkTo: to }];
}

/** /dev/ptmx: to pts/ptmx; a ptmx device node is as good (it opens its sibling pts instance). */
function ptmxLink(r: JsonReader, view: RootfsView): PlanLink[] {
  const target = path.posix.join(view.resolve('/dev', 'root.path'), 'ptmx');
  const node = view.lookup(target);
  if (node.type === 'missing') return link(view, '/dev/ptmx', 'pts/ptmx');
  if (node.type === 'device' || node.type === 'opaque' || (node.type === 'symlink' && node.target === 'pts/ptmx')) return [];
  return r.fail('root.path', `/dev/ptmx in the rootfs is a ${node.type}${node.type === 'symlink' ? ` to ${node.target}` : ''}`, 'no /dev/ptmx, a symlink to pts/ptmx, or the ptmx device (or a tmpfs mounted on /dev)');
}
