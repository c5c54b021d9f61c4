// The escape battery's attacks (issue 4): what each probe of fixtures/escape-probe.c
// tries and which of its results count as the attack failing. Shared by the battery
// against dynod (escape.test.ts) and the one inside containers of an OCI runtime
// (test/integration/oci-podman.test.ts), so both judge an attack the same way.
import * as path from 'node:path';

export const PROBE_SRC = path.join(__dirname, 'fixtures', 'escape-probe.c');
export const X64 = process.arch === 'x64';
export const DYNO_UID = 30000;

/** Probe lines by name: the first word is the probe, the rest its result. */
export function parse(stdout: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const i = line.indexOf(' ');
    if (i > 0 && !m.has(line.slice(0, i))) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

export type Who = 'dyno' | 'root';
/** true when the attack FAILED (what we want) */
export type Verdict = (result: string, line: string) => boolean;

export const isErrno = (r: string) => /^E[A-Z0-9]+$/.test(r);
/** any errno but the ones that mean "the permission check let it through" */
export const refused = (...bypass: string[]): Verdict => (r) => isErrno(r) && !bypass.includes(r);
export const oneOf = (...want: string[]): Verdict => (r) => want.includes(r);
export const nothingRead: Verdict = (r) => r === 'READ:0' || isErrno(r);
export const emptyDir: Verdict = (r) => r === 'COUNT:0' || isErrno(r);
export const notFound: Verdict = (r) => r === 'NOTFOUND' || isErrno(r);
export const stayedDyno: Verdict = (r, line) => isErrno(r) || new RegExp(`^EUID:${DYNO_UID} CAPEFF:0$`).test(line);
export const killedBySigsys: Verdict = (r) => r === 'KILLED:SYS';

// ---- the attacks of the main probe runs ----------------------------------------

export interface Attack {
  probe: string;
  attack: string;
  verdict: Verdict;
  expect: string;
  who?: Who[];
}

export const MOUNTS: Attack[] = [
  { probe: 'mount_tmpfs', attack: 'mount a tmpfs', verdict: refused(), expect: 'EPERM' },
  { probe: 'mount_proc', attack: 'mount a proc', verdict: refused(), expect: 'EPERM' },
  { probe: 'mount_sysfs', attack: 'mount a sysfs', verdict: refused(), expect: 'EPERM' },
  { probe: 'remount_root_rw', attack: 'remount / read-write', verdict: refused(), expect: 'EPERM' },
  { probe: 'remount_usr_rw', attack: "remount the host's /usr read-write", verdict: refused(), expect: 'EPERM' },
  { probe: 'remount_app', attack: 'remount /app', verdict: refused(), expect: 'EPERM' },
  { probe: 'remount_proc_sys_rw', attack: 'remount /proc/sys read-write', verdict: refused(), expect: 'EPERM' },
  { probe: 'remount_sys_rw', attack: 'remount /sys read-write', verdict: refused(), expect: 'EPERM' },
  { probe: 'bind_app', attack: 'bind /app elsewhere', verdict: refused(), expect: 'EPERM' },
  { probe: 'bind_proc_over_mask', attack: 'bind /proc/sys over itself (unmask)', verdict: refused(), expect: 'EPERM' },
  { probe: 'umount_mask', attack: 'unmount the /proc/keys mask', verdict: refused(), expect: 'EPERM' },
  { probe: 'umount_proc_sys', attack: 'unmount the read-only /proc/sys', verdict: refused(), expect: 'EPERM' },
  { probe: 'open_tree_app', attack: 'open_tree(OPEN_TREE_CLONE) /app', verdict: refused(), expect: 'EPERM' },
  { probe: 'fsopen_tmpfs', attack: 'fsopen a tmpfs (new mount API)', verdict: refused(), expect: 'EPERM' },
  { probe: 'mount_setattr_rw', attack: 'mount_setattr: clear read-only on /usr', verdict: refused(), expect: 'EPERM' },
  { probe: 'pivot_root', attack: 'pivot_root out', verdict: refused('EINVAL', 'EBUSY'), expect: 'EPERM' },
  { probe: 'chroot', attack: 'chroot out (chroot, climb, chroot .)', verdict: refused(), expect: 'EPERM' },
];

export const NAMESPACES: Attack[] = [
  { probe: 'uid_map_write', attack: 'write /proc/self/uid_map (map to the host root)', verdict: refused(), expect: 'EPERM' },
  { probe: 'unshare_user', attack: 'unshare(CLONE_NEWUSER)', verdict: refused(), expect: 'EPERM' },
  { probe: 'unshare_mnt', attack: 'unshare(CLONE_NEWNS)', verdict: refused(), expect: 'EPERM' },
  { probe: 'unshare_all', attack: 'unshare every namespace', verdict: refused(), expect: 'EPERM' },
  { probe: 'clone_newuser', attack: 'clone(CLONE_NEWUSER)', verdict: refused(), expect: 'EPERM' },
  { probe: 'clone_newuser_high_bits', attack: 'clone(CLONE_NEWUSER | 1 << 32) (high bits to fool the filter)', verdict: refused(), expect: 'EPERM' },
  { probe: 'clone3_newuser', attack: 'clone3(CLONE_NEWUSER)', verdict: refused(), expect: 'ENOSYS' },
  { probe: 'setns_pid1', attack: 'setns into /proc/1/ns/*', verdict: refused(), expect: 'EACCES/EPERM' },
  { probe: 'setns_self', attack: 'setns into /proc/self/ns/*', verdict: refused(), expect: 'EPERM' },
  { probe: 'setns_hostpid', attack: 'setns into /proc/<host pid>/ns/*', verdict: refused(), expect: 'ENOENT' },
  { probe: 'setns_pidfd1', attack: 'setns through a pidfd of PID 1', verdict: refused(), expect: 'EPERM' },
  { probe: 'pidfd_hostpid', attack: 'pidfd_open(<host pid>)', verdict: refused(), expect: 'ESRCH' },
];

export const PROC: Attack[] = [
  { probe: 'pid1_environ', attack: "read PID 1's environ (dynod's secret)", verdict: (r, l) => isErrno(r) || (r.startsWith('READ:') && !l.includes('secret=FOUND')), expect: 'EACCES' },
  { probe: 'pid1_root', attack: "reach the host's files through /proc/1/root", verdict: refused(), expect: 'EACCES/ENOENT' },
  { probe: 'pid1_cwd', attack: 'reach the host through /proc/1/cwd/..', verdict: refused(), expect: 'EACCES/ENOENT' },
  { probe: 'self_root', attack: 'reach the host through /proc/self/root/..', verdict: refused(), expect: 'ENOENT' },
  { probe: 'dotdot', attack: 'reach the host through /../../..', verdict: refused(), expect: 'ENOENT' },
  { probe: 'marker_direct', attack: 'open a host-only file by its path', verdict: refused(), expect: 'ENOENT' },
  { probe: 'secret_environ', attack: "find dynod's environment in any /proc/*/environ", verdict: notFound, expect: 'NOTFOUND' },
  { probe: 'find_tag', attack: 'see a host process (the sentinel) in /proc', verdict: notFound, expect: 'NOTFOUND' },
  { probe: 'kcore', attack: 'read /proc/kcore', verdict: nothingRead, expect: 'masked: 0 bytes or absent' },
  { probe: 'keys', attack: 'read /proc/keys', verdict: nothingRead, expect: 'masked: 0 bytes' },
  { probe: 'timer_list', attack: 'read /proc/timer_list', verdict: nothingRead, expect: 'masked: 0 bytes' },
  { probe: 'sched_debug', attack: 'read /proc/sched_debug', verdict: nothingRead, expect: 'masked: 0 bytes or absent' },
  { probe: 'interrupts', attack: 'read /proc/interrupts', verdict: nothingRead, expect: 'masked: 0 bytes' },
  { probe: 'sys_firmware', attack: 'list /sys/firmware', verdict: emptyDir, expect: 'masked: empty' },
  { probe: 'proc_acpi', attack: 'list /proc/acpi', verdict: emptyDir, expect: 'masked: empty' },
  { probe: 'kmsg', attack: "open /proc/kmsg (the host's kernel log)", verdict: refused(), expect: 'EACCES/EPERM' },
  { probe: 'syslog_read', attack: "syslog(READ_ALL) the host's kernel log", verdict: refused(), expect: 'EPERM' },
  { probe: 'kpageflags', attack: 'read /proc/kpageflags (physical page flags)', verdict: nothingRead, expect: 'EACCES' },
  { probe: 'core_pattern', attack: 'open /proc/sys/kernel/core_pattern for writing', verdict: refused(), expect: 'EROFS/EACCES' },
  { probe: 'sysctl_hostname', attack: 'open /proc/sys/kernel/hostname for writing', verdict: refused(), expect: 'EROFS/EACCES' },
  { probe: 'sysctl_modprobe', attack: 'open /proc/sys/kernel/modprobe for writing', verdict: refused(), expect: 'EROFS/EACCES/ENOENT' },
  { probe: 'drop_caches', attack: 'open /proc/sys/vm/drop_caches for writing', verdict: refused(), expect: 'EROFS/EACCES' },
  { probe: 'sysrq_trigger', attack: 'open /proc/sysrq-trigger for writing', verdict: refused(), expect: 'EROFS/EACCES/ENOENT' },
  { probe: 'sys_uevent_helper', attack: 'open /sys/kernel/uevent_helper for writing', verdict: refused(), expect: 'EROFS/ENOENT' },
  { probe: 'sys_thp', attack: 'open /sys/kernel/mm/transparent_hugepage/enabled for writing', verdict: refused(), expect: 'EROFS' },
  { probe: 'sys_create', attack: 'create a file in /sys/kernel', verdict: refused(), expect: 'EROFS' },
  { probe: 'cgroup_procs', attack: 'move into the root of a cgroup hierarchy', verdict: refused(), expect: 'EROFS/EACCES' },
  { probe: 'cgroup_limits', attack: "open the dyno's own pids.max / memory limit for writing", verdict: refused(), expect: 'EROFS/EACCES' },
  { probe: 'release_agent', attack: 'open a cgroup release_agent for writing (CVE-2022-0492)', verdict: refused(), expect: 'ENOENT/EROFS' },
  { probe: 'sys_special', attack: "see the host's debugfs, tracefs, bpffs, securityfs, pstore under /sys", verdict: emptyDir, expect: 'COUNT:0' },
  { probe: 'cgroup_tree', attack: "see other cgroups (the host's, other dynos') under /sys/fs/cgroup", verdict: emptyDir, expect: 'COUNT:0' },
];

export const DEVICES: Attack[] = [
  { probe: 'dev_mem', attack: 'open /dev/mem', verdict: refused(), expect: 'ENOENT' },
  { probe: 'dev_kmem', attack: 'open /dev/kmem', verdict: refused(), expect: 'ENOENT' },
  { probe: 'dev_port', attack: 'open /dev/port', verdict: refused(), expect: 'ENOENT' },
  { probe: 'dev_kmsg', attack: 'open /dev/kmsg', verdict: refused(), expect: 'ENOENT' },
  { probe: 'pts_list', attack: "see the host's terminals in /dev/pts", verdict: emptyDir, expect: 'COUNT:0 (a private devpts)' },
  { probe: 'raw_disk', attack: 'open a raw disk or host device (/dev/vda, sda, nvme0n1, loop0, kvm, fuse, console, net/tun...)', verdict: refused(), expect: 'ENOENT' },
  { probe: 'mknod_blk_tmp', attack: "mknod the host's root disk in /tmp and open it", verdict: refused(), expect: 'EPERM (or nodev: EACCES)' },
  { probe: 'mknod_blk_app', attack: "mknod the host's root disk in /app and open it", verdict: refused(), expect: 'EPERM (or nodev: EACCES)' },
  { probe: 'mknod_blk_dev', attack: "mknod the host's root disk in /dev and open it", verdict: refused(), expect: 'EPERM/EACCES' },
  { probe: 'mknod_blk_shm', attack: "mknod the host's root disk in /dev/shm and open it", verdict: refused(), expect: 'EPERM (or nodev: EACCES)' },
  { probe: 'mknod_mem_tmp', attack: 'mknod /dev/mem (1:1) in /tmp and open it', verdict: refused(), expect: 'EPERM (or nodev: EACCES)' },
];

export const SYSCALLS: Attack[] = [
  { probe: 'init_module', attack: 'init_module', verdict: refused('EFAULT', 'EINVAL', 'ENOEXEC'), expect: 'EPERM' },
  { probe: 'finit_module', attack: 'finit_module', verdict: refused('EFAULT', 'EINVAL', 'ENOEXEC', 'EBADF'), expect: 'EPERM' },
  { probe: 'delete_module', attack: 'delete_module', verdict: refused('ENOENT', 'EWOULDBLOCK'), expect: 'EPERM' },
  { probe: 'kexec_load', attack: 'kexec_load', verdict: refused('EINVAL'), expect: 'EPERM' },
  { probe: 'kexec_file_load', attack: 'kexec_file_load', verdict: refused('EINVAL', 'EBADF'), expect: 'EPERM' },
  { probe: 'reboot', attack: 'reboot', verdict: refused('EINVAL'), expect: 'EPERM (EINVAL would mean the permission check passed)' },
  { probe: 'swapon', attack: 'swapon', verdict: refused('ENOENT'), expect: 'EPERM' },
  { probe: 'acct', attack: 'acct', verdict: refused('ENOENT'), expect: 'EPERM' },
  { probe: 'iopl', attack: 'iopl(3)', verdict: refused(), expect: 'EPERM' },
  { probe: 'ioperm', attack: 'ioperm(0x80)', verdict: refused(), expect: 'EPERM' },
  { probe: 'bpf', attack: 'bpf(BPF_MAP_CREATE)', verdict: refused(), expect: 'EPERM' },
  { probe: 'perf_event_open', attack: 'perf_event_open (own process)', verdict: refused(), expect: 'EPERM' },
  { probe: 'perf_event_kernel', attack: 'perf_event_open (system-wide, CPU 0)', verdict: refused(), expect: 'EPERM' },
  { probe: 'userfaultfd', attack: 'userfaultfd', verdict: refused(), expect: 'EPERM' },
  { probe: 'keyctl', attack: 'keyctl(GET_KEYRING_ID)', verdict: refused(), expect: 'EPERM' },
  { probe: 'keyctl_join', attack: 'keyctl(JOIN_SESSION_KEYRING)', verdict: refused(), expect: 'EPERM' },
  { probe: 'add_key', attack: 'add_key', verdict: refused(), expect: 'EPERM' },
  { probe: 'request_key', attack: 'request_key', verdict: refused(), expect: 'EPERM' },
  { probe: 'socket_vsock', attack: 'socket(AF_VSOCK)', verdict: refused(), expect: 'EPERM' },
  { probe: 'socket_alg', attack: 'socket(AF_ALG)', verdict: refused(), expect: 'EPERM' },
  ...(X64
    ? [
        { probe: 'x32', attack: 'an x32-ABI syscall', verdict: killedBySigsys, expect: 'KILLED:SYS' },
        { probe: 'int80', attack: 'an i386 int 0x80 syscall', verdict: killedBySigsys, expect: 'KILLED:SYS' },
      ]
    : []),
  { probe: 'sethostname', attack: 'sethostname', verdict: refused(), expect: 'EPERM' },
  { probe: 'setdomainname', attack: 'setdomainname', verdict: refused(), expect: 'EPERM' },
  { probe: 'settimeofday', attack: 'settimeofday', verdict: refused(), expect: 'EPERM' },
  { probe: 'clock_settime', attack: 'clock_settime(CLOCK_REALTIME)', verdict: refused(), expect: 'EPERM' },
  { probe: 'adjtimex', attack: 'adjtimex (slew the clock)', verdict: refused(), expect: 'EPERM' },
  { probe: 'rlimit_nofile', attack: 'raise the hard RLIMIT_NOFILE above 10000', verdict: refused(), expect: 'EPERM' },
  { probe: 'rlimit_nproc', attack: 'raise the hard RLIMIT_NPROC', verdict: refused(), expect: 'EPERM' },
  { probe: 'io_uring', attack: 'io_uring_setup (a clean error, no crash)', verdict: refused(), expect: 'EPERM' },
  { probe: 'open_by_handle', attack: 'open_by_handle_at ("shocker")', verdict: refused(), expect: 'EPERM' },
  { probe: 'afpacket_host_nic', attack: "sniff the host's interface (AF_PACKET)", verdict: refused(), expect: 'EPERM/ENODEV' },
];

export const PROCESSES: Attack[] = [
  { probe: 'ptrace_pid1', attack: 'ptrace PID 1 (dynod-init)', verdict: refused(), expect: 'EPERM' },
  { probe: 'ptrace_hostpid', attack: 'ptrace a host process', verdict: refused(), expect: 'EPERM' },
  { probe: 'ptrace_child', attack: 'ptrace a process of the dyno', verdict: refused(), expect: 'EPERM' },
  { probe: 'ptrace_traceme', attack: 'ptrace(TRACEME)', verdict: refused(), expect: 'EPERM' },
  { probe: 'process_vm_readv', attack: "process_vm_readv a host process's memory", verdict: refused(), expect: 'EPERM' },
  { probe: 'kill_hostpid', attack: 'kill(<host sentinel, root>, SIGKILL)', verdict: refused(), expect: 'ESRCH' },
  { probe: 'kill_hostpid2', attack: `kill(<host sentinel, uid ${DYNO_UID}>, SIGKILL)`, verdict: refused(), expect: 'ESRCH' },
  { probe: 'proc1_exe_write', attack: 'open /proc/1/exe for writing (CVE-2019-5736)', verdict: refused(), expect: 'EACCES/ETXTBSY' },
];

export const FILES: Attack[] = [
  { probe: 'write_root', attack: 'create a file in /', verdict: refused(), expect: 'EROFS' },
  { probe: 'write_etc', attack: 'create a file in /etc', verdict: refused(), expect: 'EROFS' },
  { probe: 'write_etc_passwd', attack: 'open /etc/passwd for writing', verdict: refused(), expect: 'EACCES/EROFS' },
  { probe: 'write_usr', attack: "create a file in the host's /usr", verdict: refused(), expect: 'EROFS' },
  { probe: 'write_usr_bin', attack: 'open /usr/bin/env for writing', verdict: refused(), expect: 'EACCES/EROFS' },
  { probe: 'write_lib', attack: "create a file in the host's /usr/lib", verdict: refused(), expect: 'EROFS' },
  { probe: 'write_proc', attack: 'create a file in /proc', verdict: refused(), expect: 'ENOENT/EACCES' },
  { probe: 'fd_cwd', attack: 'chdir into every /proc/*/fd/*, cwd, root and fchdir(fd), climb .. (CVE-2024-21626)', verdict: notFound, expect: 'NOTFOUND' },
  { probe: 'leaked_fds', attack: 'use an fd above 2 that dynod left open', verdict: oneOf('NONE'), expect: 'NONE' },
  { probe: 'tiocsti', attack: 'TIOCSTI on stdio or /dev/tty (no terminal)', verdict: refused(), expect: 'ENOTTY/ENXIO' },
  { probe: 'host_nics', attack: "see the host's network interface (/sys/class/net, /proc/net/dev)", verdict: notFound, expect: 'NOTFOUND' },
  { probe: 'host_loopback', attack: "connect to a port on the host's loopback", verdict: refused(), expect: 'ECONNREFUSED' },
  { probe: 'host_ip', attack: "connect to the host's address", verdict: refused(), expect: 'ECONNREFUSED' },
  { probe: 'host_abstract', attack: "connect to the host's abstract unix socket", verdict: refused(), expect: 'ECONNREFUSED' },
  { probe: 'host_shm', attack: "attach the host's System V shared memory", verdict: refused(), expect: 'ENOENT' },
];

export const DYNO_ONLY: Attack[] = [
  { probe: 'suid_exec', attack: 'exec a setuid-root file of the app dir', verdict: stayedDyno, expect: `EUID:${DYNO_UID} CAPEFF:0` },
  { probe: 'fcap_exec', attack: 'exec a file with file capabilities (cap_sys_admin...) of the app dir', verdict: stayedDyno, expect: `EUID:${DYNO_UID} CAPEFF:0` },
  { probe: 'chmod_suid_app', attack: 'chmod 6755 a file in /app and exec it', verdict: stayedDyno, expect: `EUID:${DYNO_UID} CAPEFF:0` },
];

export const ROOT_ONLY: Attack[] = [
  { probe: 'suid_root_tmp', attack: 'root: make a setuid-root file in /tmp, become the dyno user, exec it', verdict: stayedDyno, expect: `EUID:${DYNO_UID} CAPEFF:0` },
  { probe: 'suid_root_app', attack: 'root: make a setuid-root file in /app, become the dyno user, exec it', verdict: stayedDyno, expect: `EUID:${DYNO_UID} CAPEFF:0` },
  { probe: 'suid_root_shm', attack: 'root: make a setuid-root file in /dev/shm, become the dyno user, exec it', verdict: stayedDyno, expect: 'EACCES (noexec)' },
];

export const COMMON = [...MOUNTS, ...NAMESPACES, ...PROC, ...DEVICES, ...SYSCALLS, ...PROCESSES, ...FILES];
