// The process of a dyno start.
//
// Parent side (Node): clone3/clone the child into its namespaces (on cgroup v2
// straight into its cgroup), apply what needs the host's privileges while the
// child waits on the sync pipe, then release it; make the sealed copy of
// dynod-init it execs.
//
// Child side (from clone to the exec of dynod-init): child_main runs the ops
// below. A child of the multi-threaded Node process may only make
// async-signal-safe calls: no malloc, no locks, no C++ runtime, only system calls
// on memory the parent prepared as plain C data. The child-side functions of the
// other files (userns, cgroup, mounts, net) live by the same rule and report
// through child_fail.
#pragma once
#include <linux/sched.h>
#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "net.h"
#include "netlink.h"
#include "step.h"

namespace dynod {

enum OpKind {
  kOpMount = 1,     // mount(source, target, fstype, flags, data)
  kOpRemount,       // bind-remount target with flags, keeping the flags the kernel locked
  kOpMkdir,         // mkdir(path, mode); EEXIST is fine; chown to uid/gid when uid >= 0
  kOpSymlink,       // symlink(source, path)
  kOpWrite,         // create path with mode, write content (content_len bytes)
  kOpPivot,         // pivot_root(target, source = put_old), or the "." trick when source is null
  kOpHostname,      // sethostname(name)
  kOpLoopback,      // bring "lo" up in the new network namespace
  kOpJoinCgroup,    // join our cgroup (unless born in it), then unshare late namespaces
  kOpMoveMount,     // move_mount the detached mount fd (made by the parent) to target
  kOpSetattr,       // mount_setattr(target, attr_set = attr_set, AT_RECURSIVE when recursive)
  kOpJoinNamespaces,  // setns(fd = a running dyno's pidfd, flags = CLONE_NEW*) (dynod exec, enter.h)
  kOpNetConfig,     // the dyno's end of its veth (name): address addr4/32, up, default route via gw4 (netlink.h)
  kOpMknod,         // mknod(path, mode, makedev(major, minor)), replacing a file there; chown(uid, gid)
  kOpSysctl,        // write content into the existing file at path (no create, no symlink followed)
  kOpTmpfsCopyUp,   // mount a tmpfs (flags, data) on target holding a copy of what it covers (OCI tmpcopyup)
  kOpAwaitState,    // close fd2 (the parent's write end), read fd to EOF: the state JSON the hooks get (hooks.h)
  kOpHook,          // run path (argv, envp) chrooted to target, the state on stdin, killed after timeout_ms (hooks.h)
};

// One primitive step; which fields an op reads is said at its OpKind.
struct ChildOp {
  int kind;
  const char *step;     // for error records
  const char *source;   // may be null (mount, pivot)
  const char *target;
  const char *fstype;   // may be null
  const char *data;     // may be null
  const char *path;
  const char *content;
  size_t content_len;
  const char *name;
  unsigned long flags;  // MS_*; CLONE_NEW* for kOpJoinNamespaces
  unsigned long attr_set;  // MOUNT_ATTR_*
  unsigned mode;
  uint32_t addr4, gw4;  // IPv4 addresses in network byte order (net-config)
  int fd;
  int uid, gid;         // mkdir: -1 for no chown
  unsigned major, minor;  // mknod
  int fd2;              // await-state: the write end the child must not hold
  char *const *argv;    // hook
  char *const *envp;    // hook
  unsigned timeout_ms;  // hook: 0 for none
  bool recursive;
  bool optional;        // ENOENT means "this kernel has no such path": skip the op
};

constexpr size_t kMaxPassFds = 8;
constexpr size_t kMaxJoinFds = 16;  // v1 has at most 14 controllers, each may be its own hierarchy
// The release byte: born in its cgroup (or none to join), or to join it itself.
constexpr char kRelease = 1, kReleaseJoin = 3;

struct ChildPlan {
  int sync_fd;            // read end: one byte releases the child (kReleaseJoin: it joins its cgroup itself); EOF aborts
  int sync_w_fd;          // the parent's write end: the child closes its copy first thing
  int notify_fd = -1;     // a clone that shares our memory: one byte here wakes the parent's helper thread
  int chan_fd;            // record socket (dynod-init's fd 3)
  int stdio[3];           // parent fds that become 0, 1, 2
  int init_fd;            // sealed memfd holding dynod-init
  int pass_fds[kMaxPassFds];  // handed to dynod-init as fds 4, 5, ... (e.g. the seccomp program)
  size_t npass;
  int join_fds[kMaxJoinFds];  // cgroup files opened for writing by the parent (open_cgroup_joins)
  size_t njoin;
  unsigned late_unshare;  // namespaces unshared after the cgroup join (cgroup ns)
  const ChildOp *ops;
  size_t nops;
  char *const *argv;      // dynod-init's argv
  char *const *envp;      // the dyno's environment
  bool trace;
  bool become_root;       // in a new user namespace: become its root (uid/gid 0) once mapped
  bool detached;          // outlives the spawner (OCI): no parent-death signal once dynod-init runs
};

struct Rlimit {
  int resource;
  unsigned long long soft, hard;
};

struct Spare;

struct SpawnRequest {
  unsigned clone_flags = 0;        // CLONE_NEW* for the first clone
  Spare *spare = nullptr;          // a parked cloner in the dyno's user and network namespaces (spare.h), or null
  const char *clone_step = "create namespaces";  // names the clone in its error
  std::string uid_map, gid_map;    // written for a new user namespace while the child waits
  std::vector<Rlimit> rlimits;     // set by the parent (prlimit): the child cannot raise limits from its user namespace
  std::string cgroup_dir;          // v2: CLONE_INTO_CGROUP target ("" = none)
  std::vector<std::string> cgroup_procs;  // cgroup.procs of each hierarchy, joined by the child unless it was born in its cgroup
  int pid_ns_fd = -1;              // a PID namespace the child is born in (OCI: joined by path), or -1
  bool veth = false;               // create veth_spec's pair, its peer in the child's network namespace
  VethSpec veth_spec;
  std::vector<NetnsListen> netns_listen;  // sockets the parent opens in the child's network namespace
  ChildPlan child{};               // ops, argv, envp point into storage the caller keeps alive
};

struct SpawnResult {
  int pid = -1;
  int pidfd = -1;
  int chan_fd = -1;  // parent end of the record socket
  bool into_cgroup = false;
  bool via_spare = false;      // cloned by the request's spare (not by us: it was gone, or the clone was a fork)
  std::vector<int> netns_fds;  // one per SpawnRequest::netns_listen, in order
};

// ---- parent side ----

#if defined(__x86_64__)
// clone3 with args->stack set: the child returns from the syscall on that stack and
// calls fn(arg), never returning; the caller gets the pid or -errno. Raw: errno is
// left alone. (process.cc; spare.cc's helper makes a dyno's clone with it too.)
extern "C" long dynod_clone3_on_stack(struct clone_args *args, size_t size, int (*fn)(void *), void *arg);
#endif

// Whether dyno clones share our memory (x86-64, unless DYNOD_SPAWN_FORK=1): only
// those go through a spare (spare.h).
bool shared_spawn_available();

// Clones and releases the child, which starts building its root at once. Returns
// false and fills err on failure; nothing is left running then.
bool spawn_dyno(SpawnRequest &req, SpawnResult &out, StepError &err);

// A sealed in-memory copy (MFD_EXEC) of the dynod-init binary at path, or -1.
int sealed_init_copy(const std::string &path, StepError &err);

// ---- child side (async-signal-safe) ----

[[noreturn]] void child_main(ChildPlan &plan);

// Reports a failed step (errno) over the record channel and exits 125.
[[noreturn]] void child_fail(const char *step, const char *sc, const char *detail = "");
// A phase boundary record, when tracing.
void child_trace(const char *phase);
// Waits for the next byte on the sync pipe and returns it; EOF (the parent is gone
// or gave up) exits.
char child_await_byte(const char *phase);

}  // namespace dynod
