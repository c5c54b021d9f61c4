// Linux ABI numbers the plan is compiled to (identical on x86_64 and aarch64).

export const CLONE = {
  newns: 0x00020000,
  newcgroup: 0x02000000,
  newuts: 0x04000000,
  newipc: 0x08000000,
  newuser: 0x10000000,
  newpid: 0x20000000,
  newnet: 0x40000000,
  /** clone3 and unshare only (in clone() it overlaps CSIGNAL) */
  newtime: 0x00000080,
} as const;

export const MS = {
  rdonly: 0x1,
  nosuid: 0x2,
  nodev: 0x4,
  noexec: 0x8,
  synchronous: 0x10,
  mandlock: 0x40,
  dirsync: 0x80,
  nosymfollow: 0x100,
  noatime: 0x400,
  nodiratime: 0x800,
  bind: 0x1000,
  rec: 0x4000,
  silent: 0x8000,
  unbindable: 0x20000,
  private: 0x40000,
  slave: 0x80000,
  shared: 0x100000,
  relatime: 0x200000,
  iversion: 0x800000,
  strictatime: 0x1000000,
  lazytime: 0x2000000,
} as const;

export const MOUNT_ATTR = { rdonly: 0x1, nosuid: 0x2, nodev: 0x4, noexec: 0x8, nodiratime: 0x80, nosymfollow: 0x200000 } as const;

/** ids per dyno user namespace: 0-65535 inside */
export const USERNS_SIZE = 65536;
/** host ids of dyno user namespaces start here (far above real users and /etc/subuid ranges), one range per live dyno */
export const USERNS_BASE = 0x40000000;
export const USERNS_RANGES = 16384;

/** asm-generic numbering (x86_64, aarch64, riscv64, ...; not mips, sparc or alpha) */
export const RLIMIT = {
  cpu: 0, fsize: 1, data: 2, stack: 3, core: 4, rss: 5, nproc: 6, nofile: 7,
  memlock: 8, as: 9, locks: 10, sigpending: 11, msgqueue: 12, nice: 13, rtprio: 14, rttime: 15,
} as const;

export type MountFlag = keyof typeof MS;

export function msFlags(flags: readonly MountFlag[]): number {
  return flags.reduce((acc, f) => acc | MS[f], 0);
}
