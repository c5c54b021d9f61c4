// The options of one config.json mount, read as runc reads them (libcontainer/specconv):
// flags set and cleared in order, propagation, recursive attributes (mount_setattr),
// and the rest as filesystem data. An option dynod-oci cannot apply exactly is refused.
import { MOUNT_ATTR, MS } from '../dyno/constants';
import type { JsonReader } from './json';

/** option → [clears the flag?, MS_* flag] */
const FLAGS: Record<string, [boolean, number]> = {
  async: [true, MS.synchronous], atime: [true, MS.noatime], defaults: [false, 0], dev: [true, MS.nodev],
  diratime: [true, MS.nodiratime], dirsync: [false, MS.dirsync], exec: [true, MS.noexec], iversion: [false, MS.iversion],
  lazytime: [false, MS.lazytime], loud: [true, MS.silent], mand: [false, MS.mandlock], noatime: [false, MS.noatime],
  nodev: [false, MS.nodev], nodiratime: [false, MS.nodiratime], noexec: [false, MS.noexec], noiversion: [true, MS.iversion],
  nolazytime: [true, MS.lazytime], nomand: [true, MS.mandlock], norelatime: [true, MS.relatime], nostrictatime: [true, MS.strictatime],
  nosuid: [false, MS.nosuid], nosymfollow: [false, MS.nosymfollow], relatime: [false, MS.relatime], ro: [false, MS.rdonly],
  rw: [true, MS.rdonly], silent: [false, MS.silent], strictatime: [false, MS.strictatime], suid: [true, MS.nosuid],
  sync: [false, MS.synchronous], symfollow: [true, MS.nosymfollow],
};

/** Flags of the superblock, not of the mount: a bind mount shares its source's superblock and cannot change them. */
const SUPERBLOCK_FLAGS = MS.synchronous | MS.dirsync | MS.iversion | MS.lazytime | MS.mandlock | MS.silent;

const PROPAGATION: Record<string, number> = {
  private: MS.private, rprivate: MS.private | MS.rec, slave: MS.slave, rslave: MS.slave | MS.rec,
  shared: MS.shared, rshared: MS.shared | MS.rec, unbindable: MS.unbindable, runbindable: MS.unbindable | MS.rec,
};

/** Recursive attributes the setattr op can set (it sets, never clears). */
const REC_ATTRS: Record<string, number> = {
  rro: MOUNT_ATTR.rdonly, rnosuid: MOUNT_ATTR.nosuid, rnodev: MOUNT_ATTR.nodev, rnoexec: MOUNT_ATTR.noexec,
  rnodiratime: MOUNT_ATTR.nodiratime, rnosymfollow: MOUNT_ATTR.nosymfollow,
};

const REFUSED: Record<string, string> = {
  remount: 'every mount of config.json is a new one',
  idmap: 'idmapped mounts are not implemented',
  ridmap: 'idmapped mounts are not implemented',
  rrw: 'recursive attributes can be set, not cleared', rsuid: 'recursive attributes can be set, not cleared',
  rdev: 'recursive attributes can be set, not cleared', rexec: 'recursive attributes can be set, not cleared',
  rdiratime: 'recursive attributes can be set, not cleared', rsymfollow: 'recursive attributes can be set, not cleared',
  ratime: 'recursive atime modes are not implemented', rnoatime: 'recursive atime modes are not implemented',
  rrelatime: 'recursive atime modes are not implemented', rnorelatime: 'recursive atime modes are not implemented',
  rstrictatime: 'recursive atime modes are not implemented', rnostrictatime: 'recursive atime modes are not implemented',
};

export interface MountOptions {
  /** bind or rbind given */
  bind: boolean;
  /** rbind */
  recursive: boolean;
  /** MS_* flags (ro, nosuid, ...), neither bind, rec nor propagation */
  flags: number;
  /** MS_PRIVATE, MS_SLAVE, ... (with MS_REC for the r forms), applied after the mount; 0: none */
  propagation: number;
  /** MOUNT_ATTR_* set on the mount and every mount below it (rro, rnosuid, ...) */
  recursiveAttrs: number;
  /** filesystem options (size=64m, mode=755, ...), for mount(2)'s data */
  data: string[];
  /** tmpcopyup: a tmpfs starts with a copy of what it covers */
  copyUp: boolean;
}

/** Whether the options make a mount a bind mount (runc: any type with bind or rbind is one). */
export function isBindOptions(options: readonly string[]): boolean {
  return options.includes('bind') || options.includes('rbind');
}

/** Reads a mount's options; bind: whether it is a bind mount (they take no filesystem data). */
export function parseMountOptions(options: readonly string[], bind: boolean, r: JsonReader, path: string): MountOptions {
  const out: MountOptions = { bind: false, recursive: false, flags: 0, propagation: 0, recursiveAttrs: 0, data: [], copyUp: false };
  options.forEach((o, i) => {
    const where = `${path}[${i}]`;
    if (o === 'bind' || o === 'rbind') {
      out.bind = true;
      out.recursive ||= o === 'rbind';
    } else if (Object.hasOwn(FLAGS, o)) {
      const [clear, flag] = FLAGS[o]!;
      if (bind && flag & SUPERBLOCK_FLAGS) r.unsupported(where, `${o} is a flag of the filesystem, which a bind mount shares with its source`);
      out.flags = clear ? out.flags & ~flag : out.flags | flag;
    } else if (Object.hasOwn(PROPAGATION, o)) {
      out.propagation = PROPAGATION[o]!;
    } else if (Object.hasOwn(REC_ATTRS, o)) {
      out.recursiveAttrs |= REC_ATTRS[o]!;
    } else if (o === 'tmpcopyup') {
      out.copyUp = true;
    } else if (Object.hasOwn(REFUSED, o)) {
      r.unsupported(where, `${o}: ${REFUSED[o]}`);
    } else if (bind) {
      r.fail(where, `${JSON.stringify(o)} is not a bind mount option (the kernel ignores data for bind mounts)`, 'ro, rw, nosuid, nodev, noexec, atime options, propagation (rprivate, rslave, ...), rro, rnosuid, rnodev, rnoexec');
    } else {
      if (o === '' || o.includes(',')) r.fail(where, `${JSON.stringify(o)} is not one mount option`, 'one option per entry, e.g. "size=64m"');
      out.data.push(o);
    }
  });
  return out;
}
