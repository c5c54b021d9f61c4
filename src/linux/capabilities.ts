import { UsageError } from '../errors';

/** Linux capability names by number (linux/capability.h): the one table dynod has. */
export const CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

export type Capability = (typeof CAPABILITIES)[number];

/**
 * What `--user root` keeps inside the dyno's user namespace: Docker's default set without
 * CAP_NET_RAW, as podman ships it. With raw and packet sockets a dyno on dynod's bridge
 * could answer ARP for another dyno's address and send with its source (the bridge cannot
 * tell), so one dyno could take another's traffic.
 */
export const ROOT_CAPABILITIES: readonly Capability[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_MKNOD', 'CAP_AUDIT_WRITE', 'CAP_SETFCAP',
];

/** Names → the mask dynod-init keeps (bit N = capability N); an unknown name is a UsageError. */
export function capabilityMask(names: readonly string[]): bigint {
  return names.reduce((m, n) => {
    const c = (CAPABILITIES as readonly string[]).indexOf(n);
    if (c < 0) throw new UsageError(`capability ${JSON.stringify(n)}: unknown; accepted: ${CAPABILITIES.join(', ')}`);
    return m | (1n << BigInt(c));
  }, 0n);
}

/** The names of the capabilities in a mask. */
export function capabilityNames(mask: bigint): Capability[] {
  return CAPABILITIES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}
