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

/**
 * One primitive step the cloned child performs, in order, before it execs dynod-init
 * (native/process.h). Every field is required unless marked optional; the addon
 * throws a TypeError naming any field that is missing, of the wrong type, or unknown.
 */
export type NativeOp =
  /** mount(source, target, fstype, flags = MS_*, data); optional: ENOENT skips it */
  | { op: 'mount'; step: string; source: string | null; target: string; fstype: string | null; flags: number; data: string | null; optional?: boolean }
  /** bind-remount target with flags (MS_*), keeping the flags the kernel locked */
  | { op: 'remount'; step: string; target: string; flags: number; optional?: boolean }
  /** mkdir(path, mode), EEXIST is fine; then chown(uid, gid) when both are given */
  | { op: 'mkdir'; step: string; path: string; mode: number; uid?: number; gid?: number }
  /** symlink(source, path): a link at path whose content is source */
  | { op: 'symlink'; step: string; source: string; path: string }
  /** replaces path with a new file holding content, with mode */
  | { op: 'write'; step: string; path: string; content: string; mode: number }
  /** pivot_root(target, source) then chdir /; source null: the "." trick, which detaches the old root */
  | { op: 'pivot'; step: string; target: string; source: string | null }
  | { op: 'hostname'; step: string; name: string }
  | { op: 'loopback'; step: string }
  /** joins the cgroup (cgroupProcs) unless the child was born in it, then unshares lateUnshare */
  | { op: 'join-cgroup'; step: string }
  /** move_mount of a detached mount fd (from idmapMount) onto target */
  | { op: 'move-mount'; step: string; target: string; fd: number }
  /** mount_setattr(target) setting attrSet (MOUNT_ATTR_*), on every mount below it when recursive */
  | { op: 'setattr'; step: string; target: string; attrSet: number; recursive: boolean }
  /** the dyno's end of its veth (name): address/32, no IPv6, up, the default route via gateway (on link) */
  | { op: 'net-config'; step: string; name: string; address: string; gateway: string }
  /** setns(fd, nstype): joins a namespace whose fd the parent opened (OCI linux.namespaces[].path); fd stays the parent's */
  | { op: 'setns'; step: string; fd: number; nstype: number }
  /** mknod(path, mode, makedev(major, minor)) (an existing file at path is replaced), then chown(uid, gid); mode carries S_IFCHR, S_IFBLK or S_IFIFO */
  | { op: 'mknod'; step: string; path: string; mode: number; major: number; minor: number; uid: number; gid: number }
  /** writes content into an existing file, never creating one nor following a symlink at path: a sysctl under /proc/sys */
  | { op: 'sysctl'; step: string; path: string; content: string }
  /** mounts a tmpfs (flags MS_*, data) on the directory target, holding a copy of what it covers (files, dirs, links, nodes; owners and modes): OCI's tmpcopyup */
  | { op: 'tmpfs-copyup'; step: string; target: string; flags: number; data: string | null }
  /** closes closeFd (the parent's write end), then reads fd to its end: the state JSON the hook ops give their hooks (empty: fails) */
  | { op: 'await-state'; step: string; fd: number; closeFd: number }
  /** runs path with argv and envp chrooted to root (the host's, at OLD), the state on stdin; fails on a non-zero status, or past timeoutMs (0: none) */
  | { op: 'hook'; step: string; path: string; argv: string[]; envp: string[]; root: string; timeoutMs: number };

/** A socket the parent binds (IP_FREEBIND) in the child's network namespace while it waits; tcp ones listen. */
export interface NativeNetnsListen {
  family: 4 | 6;
  type: 'tcp' | 'udp';
  address: string;
  port: number;
}

/** An op list as JSON text already (compile.ts keeps a plan's): spliced into the request as it is. */
export interface SerializedOps {
  readonly opsJson: string;
}

export interface NativeSpawnPlan {
  /** CLONE_NEW* flags for the clone itself */
  cloneFlags: number;
  /** uid_map/gid_map contents for a new user namespace ("" for none) */
  uidMap: string;
  gidMap: string;
  /** resource limits the parent sets on the child (prlimit) while it waits; -1 is unlimited */
  rlimits: { resource: number; soft: number; hard: number }[];
  /** namespaces unshared once the child sits in its cgroup (the cgroup namespace) */
  lateUnshare: number;
  /** cgroup v2 directory for CLONE_INTO_CGROUP; "" when none */
  cgroupDir: string;
  /** cgroup.procs of each hierarchy: the child joins them at its join-cgroup op unless born in its cgroup (v1, or v2 fallback) */
  cgroupProcs: string[];
  ops: NativeOp[] | SerializedOps;
  /** parent fds that become the dyno's 0, 1, 2 */
  stdio: [number, number, number];
  /** fd of the sealed dynod-init */
  initFd: number;
  /** parent fds handed to dynod-init as 4, 5, ... (the seccomp program); at most 8 */
  passFds: number[];
  /** dynod-init's argv (see native/init.cc and initArgv in src/dyno/compile.ts) */
  argv: string[];
  envp: string[];
  trace: boolean;
  /** a veth pair the parent makes while the child waits: peer inside the child's network namespace, host on the bridge (isolated port) */
  veth: { host: string; peer: string; bridge: string } | null;
  netnsListen: NativeNetnsListen[];
  /**
   * true: the process outlives the one that spawned it (an OCI container, reaped by the
   * caller's subreaper): no parent-death signal once dynod-init runs. false: it dies with
   * the thread that spawned it, as a dyno does.
   */
  detached: boolean;
  /** a PID namespace (fd) the child is born in, for /proc to show it (OCI: joined by path); -1: none */
  pidNsFd: number;
  /**
   * a spare (spareMake) made with these uidMap and gidMap: the child is cloned from inside
   * its user and network namespaces (cloneFlags must name them); -1: none. The spawn takes
   * it, whatever happens.
   */
  spare: number;
}

export interface NativeSpawnResult {
  pid: number;
  pidfd: number;
  /** parent end of the record socket */
  channel: number;
  /** true when clone3 placed the child in its cgroup at birth */
  intoCgroup: boolean;
  /** true when plan.spare made the clone (not when it was gone, did not fit, or the clone was a fork) */
  viaSpare: boolean;
  /** the sockets of plan.netnsListen, in order (the caller owns them) */
  netnsFds: number[];
}

/**
 * dynod exec: what names a running dyno and what the session gets. The child's
 * steps are fixed (native/enter.cc): wait for the cgroup join, join the namespaces
 * in one setns(pidfd), exec dynod-init, which forks the command into the dyno.
 */
export interface NativeEnterRequest {
  /** the dyno's PID 1 as the host sees it (2..4194304) */
  pid: number;
  /** PID 1's start time, /proc/<pid>/stat field 22: the addon refuses (ESRCH) a pid that now has another */
  startTime: number;
  /** CLONE_NEW* flags of the namespaces to join; must include CLONE_NEWPID and CLONE_NEWNS */
  namespaces: number;
  /** set by the parent (prlimit) before the child runs; -1 is unlimited */
  rlimits: { resource: number; soft: number; hard: number }[];
  /** v2: the dyno's cgroup directory, for CLONE_INTO_CGROUP; "" on v1 */
  cgroupDir: string;
  /** cgroup.procs files the helper joins unless it was born in its cgroup (v1, or v2 fallback) */
  cgroupProcs: string[];
  /** parent fds that become the helper's 0, 1, 2 (and the command's, without a terminal) */
  stdio: [number, number, number];
  /** fd of the sealed dynod-init */
  initFd: number;
  /** the compiled seccomp program, handed to dynod-init as fd 4; -1 for none */
  seccompFd: number;
  /** dynod-init's argv (initArgv in src/dyno/compile.ts) */
  argv: string[];
  envp: string[];
  /** true: the session's helper outlives the process that entered (dynod-oci exec --detach) */
  detached: boolean;
}

export interface NativeExit {
  code: number | null;
  signal: number | null;
  /** user + system CPU (µs) of the process and of every child it reaped (for a dyno's PID 1: the whole dyno); absent with error */
  cpuUsec?: number;
  /** set when the exit could not be collected (waitid failed, e.g. ECHILD); code and signal are null then */
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

/** One exception of a cgroup v2 device filter (see cgroupDeviceFilter). */
export interface NativeDeviceException {
  type: 'c' | 'b';
  major: number;
  minor: number;
  access: number;
}

export interface DynodAddon {
  /**
   * Clones the dyno's PID 1 and lets it build its root; it joins its cgroup itself at
   * the plan's join-cgroup op (a failure reaches the channel as its error record).
   * Throws a TypeError naming the field for a malformed plan, before anything is cloned.
   */
  spawn(plan: NativeSpawnPlan): NativeSpawnResult;
  /**
   * dynod exec: checks that PID 1 is the process the request names (a pidfd, then its
   * start time: an Error with code ESRCH, step "find dyno", when it is gone or its pid
   * reused), clones the session's helper, which joins the dyno's cgroup and then its
   * namespaces. The result's pid and pidfd are the helper's (outside the dyno's PID
   * namespace; the command is its child). Throws a TypeError naming the field for a
   * malformed request, before anything is cloned.
   */
  enter(request: NativeEnterRequest): NativeSpawnResult;
  /** once the process behind pidfd has exited: closes pidfd, then calls back (once) */
  watchExit(pidfd: number, cb: (exit: NativeExit) => void): void;
  /** calls back per record, then once with null at EOF; closes fd afterwards */
  watchChannel(fd: number, cb: (rec: NativeRecord | null) => void): void;
  /** false when the process is gone */
  signal(pidfd: number, signal: number): boolean;
  /** a pidfd (close-on-exec) for pid, or -1 when no such process exists */
  pidfdOpen(pid: number): number;
  pipe(): [number, number];
  /** true on the process's main thread (its thread id is the pid), false on a worker thread */
  mainThread(): boolean;
  /** A full compacting V8 collection, then malloc_trim(0): unused memory back to the kernel, for a process that owns its memory (~20 ms of pause); RSS bytes [before, after]. */
  trimMemory(): [number, number];
  /** count listening TCP sockets on host:port, one SO_REUSEPORT group (one per plane thread); throws an Error with NativeErrorData */
  planeListen(host: string, port: number, count: number, proto: 'http' | 'https'): { fds: number[]; port: number };
  /** '' when the PEM certificate (then its chain) and private key make the plane's TLS context, else OpenSSL's reason */
  planeTlsCheck(cert: string, key: string, ciphers: string): string;
  /**
   * The router's native data plane (native/router-plane.h) on its own threads, owning
   * the listen fds; onEvents gets router lines (strings), connections handed to
   * JavaScript (NativePlaneHandoff) and 0 (a slot freed), in order. Returns the plane's id.
   */
  planeStart(options: NativePlaneOptions, onEvents: (events: (string | NativePlaneHandoff | 0)[]) => void): number;
  /**
   * The dynos requests may go to (pidfds are duplicated: the caller keeps its own); what
   * both planes share of each, in order, a BigInt64Array[3] (Atomics): [0] requests in
   * flight, [1] the end of its quarantine (process.hrtime's clock, ms), [2] its code (19: H19, 21: H21).
   */
  planeBackends(plane: number, backends: NativePlaneBackend[]): BigInt64Array[];
  /** a BigInt64Array[1] set to 1n while JavaScript has requests waiting for room: the plane then sends 0 (a slot freed) among its events */
  planeWaitFlag(plane: number): BigInt64Array;
  planeStats(plane: number): NativePlaneStats;
  /** joins the threads and closes every fd the plane holds; the router lines not delivered yet */
  planeStop(plane: number): string[];
  /** a non-blocking TCP socket in the network namespace of pidfd's process; throws an Error with NativeErrorData on failure */
  netnsSocket(pidfd: number): number;
  /** a sock_diag (netlink) socket in the network namespace of pidfd's process, for tcpListening; throws an Error with NativeErrorData */
  netnsDiagSocket(pidfd: number): number;
  /** whether a TCP socket listens on port in diagFd's network namespace; throws an Error with NativeErrorData */
  tcpListening(diagFd: number, port: number): boolean;
  /** the bridge `name` with address/prefix, made and brought up unless it exists; its ifindex */
  netBridge(name: string, address: string, prefix: number): number;
  /** deletes a link (a veth takes its peer with it); false when there was none */
  netLinkDelete(name: string): boolean;
  /** the same on the threadpool (a delete waits out RCU grace periods): cb(error data or null, deleted) */
  netLinkDelete(name: string, cb: (err: NativeStepError | null, deleted: boolean) => void): void;
  /**
   * A detached idmapped copy of path's mount (for a move-mount op), through a user
   * namespace with these maps that the addon makes and closes (the mount keeps it).
   */
  idmapMount(path: string, uidMap: string, gidMap: string): number;
  /** the same on the threadpool: cb(err, fd) */
  idmapMount(path: string, uidMap: string, gidMap: string, cb: (err: NativeStepError | null, fd: number) => void): void;
  /**
   * A dyno's user namespace (these maps) and network namespace, made ahead, with a
   * helper parked in them that makes the clone of the spawn given its id (native/spare.h); the id.
   */
  spareMake(uidMap: string, gidMap: string): number;
  /** ends a spare no spawn took; false when there is none by that id */
  spareDiscard(id: number): boolean;
  /**
   * An OFD write lock on byte `index` of the file behind fd (unlock with lock=false):
   * host-wide, per open file description, released by the kernel when the fd closes.
   * False when another holder has it.
   */
  lockRange(fd: number, index: number, lock?: boolean): boolean;
  /** flock(fd, LOCK_EX or LOCK_SH | LOCK_NB): false when another holder has it */
  flock(fd: number, exclusive: boolean): boolean;
  /** ends the process at once with this status (0-255), as _exit(2): no exit handlers, no teardown */
  exitNow(status: number): never;
  /** turns off output post-processing (OPOST) on a terminal fd */
  rawOutput(fd: number): void;
  resizePty(fd: number, rows: number, cols: number): void;
  /** a sealed, executable memfd copy of the file at path (dynod-init) */
  sealedCopy(path: string): number;
  /** the BPF program in a sealed, non-executable memfd (close-on-exec), for dynod-init's fd 4 */
  compileSeccomp(filter: NativeSeccompFilter): number;
  /**
   * cgroup v2 device rules: an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) for "defaultAllow,
   * except these" with cgroup v1's semantics, attached to the cgroup directory dir with
   * BPF_F_ALLOW_MULTI; the device programs attached there before are detached afterwards
   * (their count is returned). major/minor -1: any; access: mknod 1 | read 2 | write 4.
   * Throws an Error with NativeErrorData (step "set device rules").
   */
  cgroupDeviceFilter(dir: string, defaultAllow: boolean, exceptions: NativeDeviceException[]): number;
  /**
   * OCI's console socket: connects to the AF_UNIX socket at path (stream or seqpacket)
   * and sends fd with SCM_RIGHTS, the message being name (the pty's path), as runc
   * does. Throws an Error with NativeErrorData.
   */
  sendFd(path: string, fd: number, name: string): void;
  /** mkfifo(path, mode): OCI's exec FIFO, which `start` writes to; throws an Error with NativeErrorData */
  mkfifo(path: string, mode: number): void;
}

export interface NativePlaneOptions {
  listen: number[];
  /** each listen fd's port (X-Forwarded-Port) */
  ports: number[];
  /** each listen fd's: true for the TLS listener (the plane terminates TLS) */
  tls: boolean[];
  /** the TLS listener's certificate (then its chain) and private key, PEM; '' without one */
  tlsCert: string;
  tlsKey: string;
  /** the ciphers offered: an OpenSSL cipher string, TLS_* names for TLS 1.3 (Node's tls.DEFAULT_CIPHERS) */
  tlsCiphers: string;
  threads: number;
  maxInFlight: number;
  /** limits.ts's: a longer header name, or more headers, and the request is JavaScript's */
  headerNameMax: number;
  maxHeaders: number;
  timeouts: { connect: number; firstByte: number; idle: number; quarantine: number; clientIdle: number; poolIdle: number };
  /** error responses by "CODE keep head" ("H12 1 0") */
  pages: Record<string, Buffer>;
  /** per code ("" for at=info): the router line's start and end, and the status logged */
  codes: Record<string, [string, string, number]>;
}

export interface NativePlaneHandoff {
  /** the client's socket; for TLS, a socketpair end the plane relays the client's plain bytes through */
  fd: number;
  /** what the plane read from the client (plain) */
  bytes: Buffer;
  /** the client's address (IPv4 without ::ffff:) */
  ip: string;
  /** the listener's port */
  port: number;
  tls: boolean;
  /** after a failed connect: the dyno the plane tried (NativePlaneBackend's id), quarantined now */
  triedId?: number;
  /** … and the ms spent connecting to it */
  connectMs?: number;
}

export interface NativePlaneBackend {
  /** the same id is the same dyno */
  id: number;
  name: string;
  /** the dyno's network namespace, or null: host:port is reachable from dynod's */
  pidfd: number | null;
  host: string;
  port: number;
}

export interface NativePlaneStats {
  requests: number;
  connections: number;
  /** pooled connections per dyno listed now, by NativePlaneBackend id (requests in flight and quarantines are in the shared counters) */
  backends: { id: number; idleConnections: number }[];
}
