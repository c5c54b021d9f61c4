// The exact surface of the C++ addon (native/addon.cc). Everything crossing the
// seam is plain data; failures are thrown as Error objects carrying NativeErrorData.

/** A failed step as the addon reports it. */
export interface NativeErrorData {
  step: string;
  syscall: string;
  errno: number;
  /** errno name, e.g. "EINVAL" */
  code: string;
  detail: string;
}

/** A failed step with its errno's text, as the cgroup join and the exit watcher report it. */
export type NativeStepError = NativeErrorData & { message: string };

/** One primitive step the cloned child performs, in order, before it execs dynod-init. */
export type NativeOp =
  | { op: 'mount'; step: string; source: string | null; target: string; fstype: string | null; flags: number; data: string | null; optional?: boolean }
  | { op: 'remount'; step: string; target: string; flags: number; optional?: boolean }
  | { op: 'mkdir'; step: string; path: string; mode: number; uid?: number; gid?: number }
  | { op: 'symlink'; step: string; source: string; path: string }
  | { op: 'write'; step: string; path: string; content: string; mode: number }
  | { op: 'pivot'; step: string; target: string; source: string | null }
  | { op: 'chdir'; step: string; path: string }
  | { op: 'umount'; step: string; target: string; flags: number }
  | { op: 'hostname'; step: string; name: string }
  | { op: 'loopback'; step: string }
  | { op: 'await-cgroup'; step: string }
  | { op: 'move-mount'; step: string; target: string; fd: number }
  | { op: 'setattr'; step: string; target: string; flags: number; mode: number };

export interface NativeSpawnPlan {
  /** CLONE_NEW* flags for the clone itself */
  cloneFlags: number;
  /** uid_map/gid_map contents for a new user namespace ("" for none) */
  uidMap: string;
  gidMap: string;
  /** resource limits the parent sets on the child (prlimit) while it waits */
  rlimits: { resource: number; soft: number; hard: number }[];
  /** namespaces unshared once the child sits in its cgroup (the cgroup namespace) */
  lateUnshare: number;
  /** cgroup v2 directory for CLONE_INTO_CGROUP; "" when none */
  cgroupDir: string;
  /** files the parent writes the child's pid into while the child waits (v1, or v2 fallback) */
  cgroupProcs: string[];
  ops: NativeOp[];
  /** parent fds that become the dyno's 0, 1, 2 */
  stdio: [number, number, number];
  /** fd of the sealed dynod-init */
  initFd: number;
  /** parent fds handed to dynod-init as 4, 5, ... (the seccomp program) */
  passFds: number[];
  argv: string[];
  envp: string[];
  trace: boolean;
}

export interface NativeSpawnResult {
  pid: number;
  pidfd: number;
  /** parent end of the record socket */
  channel: number;
  /** true when clone3 placed the child in its cgroup at birth */
  intoCgroup: boolean;
}

export interface NativeExit {
  code: number | null;
  signal: number | null;
  /** set when the exit status could not be read (waitid failed) */
  error?: NativeStepError;
}

export interface NativeRecord {
  kind: 'error' | 'trace' | 'pty' | 'unknown';
  step: string;
  syscall: string;
  errno: number;
  code: string;
  message: string;
  detail: string;
  /** CLOCK_MONOTONIC nanoseconds */
  tNs: number;
  /** an fd that came with the record (the pty master) */
  fd?: number;
}

/** What a seccomp rule (or the filter's default) does to a matching syscall. */
export interface NativeSeccompAction {
  kind: 'allow' | 'errno' | 'kill_process' | 'kill_thread' | 'trap' | 'log' | 'trace';
  /** the errno (0..4095) for 'errno', the tracer's message (0..65535) for 'trace'; 0 otherwise */
  value: number;
}

/** One comparison of a syscall argument (libseccomp's scmp_arg_cmp). */
export interface NativeSeccompArgCmp {
  /** 0..5 */
  index: number;
  op: 'ne' | 'lt' | 'le' | 'eq' | 'ge' | 'gt' | 'masked_eq';
  /** the operand; for masked_eq, the mask */
  value: bigint;
  /** for masked_eq, what the masked argument must equal; ignored otherwise */
  valueTwo: bigint;
}

export interface NativeSeccompRule {
  syscall: string;
  action: NativeSeccompAction;
  /** ANDed; at most one comparison per index */
  args: NativeSeccompArgCmp[];
}

/** A normalized seccomp filter (see src/seccomp/profile.ts and native/seccomp.h). */
export interface NativeSeccompFilter {
  defaultAction: NativeSeccompAction;
  /** for syscalls of any architecture not listed (and x32 on x86_64 unless listed) */
  badArchAction: NativeSeccompAction;
  /** libseccomp architecture names, native first: "x86_64", "x86", "x32", "aarch64", "arm", ... */
  arches: string[];
  /** syscall numbers above the highest one the rules name return ENOSYS */
  enosysAboveKnown: boolean;
  rules: NativeSeccompRule[];
}

export interface DynodAddon {
  /**
   * Clones the dyno's PID 1 and lets it build its root; joins it to its cgroup on
   * the threadpool and calls onJoined (null, or the failure; the child is killed then).
   */
  spawn(plan: NativeSpawnPlan, onJoined: (err: NativeStepError | null) => void): NativeSpawnResult;
  /** calls back once, when the process behind pidfd exits; closes pidfd afterwards */
  watchExit(pidfd: number, cb: (exit: NativeExit) => void): void;
  /** calls back per record, then once with null at EOF; closes fd afterwards */
  watchChannel(fd: number, cb: (rec: NativeRecord | null) => void): void;
  /** false when the process is gone */
  signal(pidfd: number, signal: number): boolean;
  pipe(): [number, number];
  netnsSocket(pidfd: number): number;
  /** a detached idmapped copy of path's mount, for a move-mount op */
  idmapMount(path: string, usernsFd: number): number;
  /** reserves an abstract unix socket name while the fd is open; -1 when taken */
  lockName(name: string): number;
  /**
   * An OFD write lock on byte `index` of the file behind fd (unlock with lock=false):
   * host-wide, per open file description, released by the kernel when the fd closes.
   * False when another holder has it.
   */
  lockRange(fd: number, index: number, lock?: boolean): boolean;
  /** flock(fd, LOCK_EX or LOCK_SH | LOCK_NB): false when another holder has it */
  flock(fd: number, exclusive: boolean): boolean;
  /** fd of a user namespace with these maps, for an idmapped mount */
  idmapUserns(uidMap: string, gidMap: string): number;
  /** turns off output post-processing (OPOST) on a terminal fd */
  rawOutput(fd: number): void;
  resizePty(fd: number, rows: number, cols: number): void;
  sealedCopy(path: string): number;
  /** the BPF program in a sealed memfd (close-on-exec), for dynod-init's fd 4 */
  compileSeccomp(filter: NativeSeccompFilter): number;
}
