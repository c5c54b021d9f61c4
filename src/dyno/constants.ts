// Linux ABI numbers the plan is compiled to (identical on x86_64 and aarch64).

export const CLONE = {
  newns: 0x00020000,
  newcgroup: 0x02000000,
  newuts: 0x04000000,
  newipc: 0x08000000,
  newuser: 0x10000000,
  newpid: 0x20000000,
  newnet: 0x40000000,
} as const;

export const MS = {
  rdonly: 0x1,
  nosuid: 0x2,
  nodev: 0x4,
  noexec: 0x8,
  bind: 0x1000,
  rec: 0x4000,
  private: 0x40000,
} as const;

export const MOUNT_ATTR = { rdonly: 0x1, nosuid: 0x2, nodev: 0x4, noexec: 0x8 } as const;

/** ids per dyno user namespace: 0-65535 inside */
export const USERNS_SIZE = 65536;
/** host ids of dyno user namespaces start here (far above real users and /etc/subuid ranges), one range per live dyno */
export const USERNS_BASE = 0x40000000;
export const USERNS_RANGES = 16384;

export const RLIMIT = { nproc: 6, nofile: 7 } as const;

export type MountFlag = keyof typeof MS;

export function msFlags(flags: readonly MountFlag[]): number {
  return flags.reduce((acc, f) => acc | MS[f], 0);
}
