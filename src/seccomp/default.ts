// dynod's default seccomp profile, in Docker's JSON format (so `dynod run
// --seccomp FILE` users can start from it). It is Docker's default profile for a
// container without CAP_SYS_ADMIN, made stricter where a dyno has no business:
//
//  - An allow-list. Everything it does not allow gets EPERM (defaultErrnoRet 1),
//    what a program sees when it lacks the privilege, which programs handle.
//  - Syscalls newer than this profile get ENOSYS instead: the compiler adds a
//    stub in front of the filter that answers ENOSYS for any syscall number above
//    the highest one named here (runc's lesson: a libc that meets EPERM for a
//    syscall the profile never heard of reports an error instead of falling back
//    to the older syscall). EPERM for the syscalls the profile knows and denies,
//    ENOSYS for those it cannot know about. That is why DENIED names every
//    recent syscall dynod refuses, up to the newest it knows (listns, 470).
//  - clone3 also returns ENOSYS, not EPERM: seccomp cannot look into its flags
//    (they sit in a struct in memory), so glibc must fall back to clone, whose
//    flags argument the filter checks for CLONE_NEW*.
//  - Only the native architecture passes: no archMap, so i386 (int 0x80) and x32
//    syscalls on x86_64, or arm ones on aarch64, kill the process (the compiler's
//    bad-architecture action), rather than meet a second, unreviewed syscall table.
//
// Stricter than Docker's: ptrace, process_vm_readv/writev (Docker allows them on
// kernels >= 4.8), adjtimex/clock_adjtime, io_uring (older Docker profiles
// allowed it), socket(AF_ALG), modify_ldt, and chroot even for --user root
// (Docker grants it with CAP_SYS_CHROOT). Nothing is granted by capability:
// --user root gets the same filter as the dyno user.
//
// Argument checks compare all 64 bits of a register, while the kernel reads an
// int argument from the low 32 only. So a rule never allows "anything but X":
// socket's allowed families are listed as ranges that exclude any high bit,
// otherwise socket(0x100000026) would open AF_ALG (38).
/** The profile's shape (moby's types.Seccomp), with bigint allowed for 64-bit argument values. */
export interface DockerSeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: Array<{ architecture: string; subArchitectures: string[] | null }>;
  syscalls: Array<{
    names?: string[];
    name?: string;
    action: string;
    errnoRet?: number;
    args?: Array<{ index: number; value: number | bigint | string; valueTwo?: number | bigint | string; op: string }>;
    comment?: string;
    includes?: { arches?: string[]; caps?: string[]; minKernel?: string };
    excludes?: { arches?: string[]; caps?: string[]; minKernel?: string };
  }>;
}

/** Allowed unconditionally. Names of other architectures (chown32, _llseek...) are ignored on this one. */
export const ALLOWED = [
  // files and directories
  'access', 'chdir', 'chmod', 'chown', 'chown32', 'close', 'close_range', 'copy_file_range', 'creat', 'dup', 'dup2',
  'dup3', 'faccessat', 'faccessat2', 'fadvise64', 'fadvise64_64', 'fallocate', 'fchdir', 'fchmod', 'fchmodat',
  'fchmodat2', 'fchown', 'fchown32', 'fchownat', 'fcntl', 'fcntl64', 'fdatasync', 'flock', 'fstat', 'fstat64',
  'fstatat64', 'fstatfs', 'fstatfs64', 'fsync', 'ftruncate', 'ftruncate64', 'futimesat', 'getcwd', 'getdents',
  'getdents64', 'lchown', 'lchown32', 'link', 'linkat', '_llseek', 'lseek', 'lstat', 'lstat64', 'mkdir', 'mkdirat',
  'mknod', 'mknodat', 'name_to_handle_at', 'newfstatat', 'open', 'openat', 'openat2', 'pread64', 'preadv', 'preadv2',
  'pwrite64', 'pwritev', 'pwritev2', 'read', 'readahead', 'readlink', 'readlinkat', 'readv', 'rename', 'renameat',
  'renameat2', 'rmdir', 'sendfile', 'sendfile64', 'splice', 'stat', 'stat64', 'statfs', 'statfs64', 'statx',
  'symlink', 'symlinkat', 'sync', 'sync_file_range', 'syncfs', 'tee', 'truncate', 'truncate64', 'umask', 'unlink',
  'unlinkat', 'utime', 'utimensat', 'utimensat_time64', 'utimes', 'vmsplice', 'write', 'writev', 'cachestat',
  'file_getattr', 'file_setattr', 'statmount', 'listmount',
  // extended attributes
  'fgetxattr', 'flistxattr', 'fremovexattr', 'fsetxattr', 'getxattr', 'lgetxattr', 'listxattr', 'llistxattr',
  'lremovexattr', 'lsetxattr', 'removexattr', 'setxattr', 'getxattrat', 'setxattrat', 'listxattrat', 'removexattrat',
  // polling, events, timers
  'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_pwait', 'epoll_pwait2', 'epoll_wait',
  'epoll_wait_old', 'eventfd', 'eventfd2', 'fanotify_mark', 'inotify_add_watch', 'inotify_init', 'inotify_init1',
  'inotify_rm_watch', '_newselect', 'pause', 'poll', 'ppoll', 'ppoll_time64', 'pselect6', 'pselect6_time64',
  'select', 'signalfd', 'signalfd4', 'timerfd_create', 'timerfd_gettime', 'timerfd_gettime64', 'timerfd_settime',
  'timerfd_settime64', 'io_cancel', 'io_destroy', 'io_getevents', 'io_pgetevents', 'io_pgetevents_time64',
  'io_setup', 'io_submit', 'ioctl',
  // time (reading it, and sleeping)
  'alarm', 'clock_getres', 'clock_getres_time64', 'clock_gettime', 'clock_gettime64', 'clock_nanosleep',
  'clock_nanosleep_time64', 'getitimer', 'gettimeofday', 'nanosleep', 'setitimer', 'time', 'timer_create',
  'timer_delete', 'timer_getoverrun', 'timer_gettime', 'timer_gettime64', 'timer_settime', 'timer_settime64', 'times',
  // memory
  'brk', 'madvise', 'membarrier', 'memfd_create', 'memfd_secret', 'mincore', 'mlock', 'mlock2', 'mlockall', 'mmap',
  'mmap2', 'mprotect', 'mremap', 'msync', 'munlock', 'munlockall', 'munmap', 'pkey_alloc', 'pkey_free',
  'pkey_mprotect', 'remap_file_pages', 'map_shadow_stack', 'mseal',
  // processes, threads, signals (clone: see below)
  'capget', 'capset', 'execve', 'execveat', 'exit', 'exit_group', 'fork', 'vfork', 'futex', 'futex_time64',
  'futex_waitv', 'futex_wake', 'futex_wait', 'futex_requeue', 'get_robust_list', 'set_robust_list', 'getcpu',
  'getpgid', 'getpgrp', 'getpid', 'getppid', 'getpriority', 'getrlimit', 'getrusage', 'getsid', 'gettid',
  'get_thread_area', 'set_thread_area', 'set_tid_address', 'ioprio_get', 'ioprio_set', 'kill', 'tgkill', 'tkill',
  'pidfd_open', 'pidfd_send_signal', 'prctl', 'prlimit64', 'restart_syscall', 'rseq', 'rt_sigaction',
  'rt_sigpending', 'rt_sigprocmask', 'rt_sigqueueinfo', 'rt_sigreturn', 'rt_sigsuspend', 'rt_sigtimedwait',
  'rt_sigtimedwait_time64', 'rt_tgsigqueueinfo', 'sched_getaffinity', 'sched_getattr', 'sched_getparam',
  'sched_get_priority_max', 'sched_get_priority_min', 'sched_getscheduler', 'sched_rr_get_interval',
  'sched_rr_get_interval_time64', 'sched_setaffinity', 'sched_setattr', 'sched_setparam', 'sched_setscheduler',
  'sched_yield', 'setpgid', 'setpriority', 'setrlimit', 'setsid', 'sigaltstack', 'sigprocmask', 'sigreturn',
  'ugetrlimit', 'wait4', 'waitid', 'waitpid', 'process_mrelease', 'seccomp', 'landlock_add_rule',
  'landlock_create_ruleset', 'landlock_restrict_self', 'arch_prctl',
  // identity
  'getegid', 'getegid32', 'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getgroups', 'getgroups32', 'getresgid',
  'getresgid32', 'getresuid', 'getresuid32', 'getuid', 'getuid32', 'setfsgid', 'setfsgid32', 'setfsuid',
  'setfsuid32', 'setgid', 'setgid32', 'setgroups', 'setgroups32', 'setregid', 'setregid32', 'setresgid',
  'setresgid32', 'setresuid', 'setresuid32', 'setreuid', 'setreuid32', 'setuid', 'setuid32',
  'lsm_get_self_attr', 'lsm_list_modules',
  // sockets (socket itself: see below) and System V / POSIX IPC
  'accept', 'accept4', 'bind', 'connect', 'getpeername', 'getsockname', 'getsockopt', 'listen', 'recv', 'recvfrom',
  'recvmmsg', 'recvmmsg_time64', 'recvmsg', 'send', 'sendmmsg', 'sendmsg', 'sendto', 'setsockopt', 'shutdown',
  'socketpair', 'pipe', 'pipe2', 'mq_getsetattr', 'mq_notify', 'mq_open', 'mq_timedreceive',
  'mq_timedreceive_time64', 'mq_timedsend', 'mq_timedsend_time64', 'mq_unlink', 'msgctl', 'msgget', 'msgrcv',
  'msgsnd', 'semctl', 'semget', 'semop', 'semtimedop', 'semtimedop_time64', 'shmat', 'shmctl', 'shmdt', 'shmget',
  // the system, read-only
  'getrandom', 'sysinfo', 'uname',
  // other architectures' own (ignored where they do not exist)
  'arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls',
  'riscv_flush_icache', 's390_pci_mmio_read', 's390_pci_mmio_write', 's390_runtime_instr',
] as const;

/**
 * Named and refused with EPERM. The default action would refuse them anyway; naming
 * them documents the decision and keeps them below the ENOSYS horizon.
 */
export const DENIED = [
  // mounts and the filesystem tree
  'mount', 'umount', 'umount2', 'pivot_root', 'chroot', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'move_mount',
  'open_tree', 'open_tree_attr', 'mount_setattr',
  // namespaces
  'unshare', 'setns', 'listns',
  // kernel keyring
  'keyctl', 'add_key', 'request_key',
  // kernel programs, tracing and profiling
  'bpf', 'perf_event_open', 'lookup_dcookie', 'fanotify_init',
  // another process's memory
  'ptrace', 'process_vm_readv', 'process_vm_writev', 'process_madvise', 'kcmp', 'pidfd_getfd',
  // page faults handled in user space (a kernel exploitation aid)
  'userfaultfd',
  // kernel, modules, machine
  'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'create_module', 'query_module',
  'get_kernel_syms', 'reboot', 'swapon', 'swapoff', 'acct', 'syslog', 'quotactl', 'quotactl_fd', 'nfsservctl',
  'sethostname', 'setdomainname', 'vhangup', 'uselib', 'ustat', 'sysfs', '_sysctl',
  // the clock
  'settimeofday', 'stime', 'clock_settime', 'clock_settime64', 'clock_adjtime', 'clock_adjtime64', 'adjtimex',
  // raw hardware access and x86 oddities
  'iopl', 'ioperm', 'modify_ldt', 'vm86', 'vm86old', 'pciconfig_read', 'pciconfig_write', 'pciconfig_iobase',
  // file handles bypass path permissions (the "shocker" escape)
  'open_by_handle_at',
  // NUMA policy (Docker: CAP_SYS_NICE)
  'get_mempolicy', 'set_mempolicy', 'set_mempolicy_home_node', 'mbind', 'migrate_pages', 'move_pages',
  // io_uring: its operations bypass this filter; a program gets EPERM and uses plain syscalls
  'io_uring_setup', 'io_uring_enter', 'io_uring_register',
  // the LSM's view of the process
  'lsm_set_self_attr',
] as const;

/** CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET */
export const CLONE_NEW_MASK = 0x7e020000;
const AF_ALG = 38;
const AF_VSOCK = 40;
/** The personality values Docker allows: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and the query 0xffffffff. */
export const PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

const allow = 'SCMP_ACT_ALLOW';

export const DEFAULT_PROFILE: DockerSeccompProfile = {
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: 1,
  syscalls: [
    { names: [...ALLOWED], action: allow },
    // clone without any CLONE_NEW* flag (s390 has flags as its second argument).
    {
      names: ['clone'], action: allow, args: [{ index: 0, value: CLONE_NEW_MASK, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      excludes: { arches: ['s390', 's390x'] },
    },
    {
      names: ['clone'], action: allow, args: [{ index: 1, value: CLONE_NEW_MASK, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      includes: { arches: ['s390', 's390x'] },
    },
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, comment: 'ENOSYS: glibc falls back to clone' },
    // personality: only Docker's safe values (an exact 64-bit match, so no high bits).
    ...PERSONALITIES.map((v) => ({ names: ['personality'], action: allow, args: [{ index: 0, value: v, op: 'SCMP_CMP_EQ' }] })),
    // socket: every family but AF_ALG (38) and AF_VSOCK (40), as ranges with no high bit set:
    // [0, 38), 39, 41, [42, 44), [44, 48), [48, 64). AF_MAX is 46 in Linux 6.x.
    { names: ['socket'], action: allow, args: [{ index: 0, value: AF_ALG, op: 'SCMP_CMP_LT' }] },
    { names: ['socket'], action: allow, args: [{ index: 0, value: AF_ALG + 1, op: 'SCMP_CMP_EQ' }] },
    { names: ['socket'], action: allow, args: [{ index: 0, value: AF_VSOCK + 1, op: 'SCMP_CMP_EQ' }] },
    ...[[~1n, 42], [~3n, 44], [~15n, 48]].map(([mask, v]) => ({
      names: ['socket'], action: allow,
      args: [{ index: 0, value: BigInt.asUintN(64, mask as bigint), valueTwo: v as number, op: 'SCMP_CMP_MASKED_EQ' }],
    })),
    { names: [...DENIED], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
  ],
};

