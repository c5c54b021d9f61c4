#include "process.h"

#include "hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <system_error>
#include <thread>

#include "cgroup.h"
#include "channel.h"
#include "enter.h"
#include "mounts.h"
#include "net.h"
#include "netlink.h"
#include "sys.h"
#include "spare.h"
#include "userns.h"

namespace dynod {

// ---------------------------------------------------------------- parent side
namespace {

struct Fd {
  int fd = -1;
  ~Fd() { if (fd >= 0) close(fd); }
  int release() { int f = fd; fd = -1; return f; }
};

// clone3 into cgroup_fd's cgroup when one is given; a cgroup that cannot take a
// process directly (EBUSY, EOPNOTSUPP, ...) gets the child outside it, to join it
// itself (join-cgroup). call makes one clone3 and returns the pid or -errno; *into
// says where the child is born, set before each attempt (a helper thread reads it).
template <typename Clone3>
long clone3_into_cgroup(struct clone_args &args, int cgroup_fd, bool *into, Clone3 call) {
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = (uint64_t)cgroup_fd;
  }
  *into = cgroup_fd >= 0;
  long r = call(args);
  if (r >= 0 || cgroup_fd < 0 || r == -ENOSYS) return r;
  args.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
  args.cgroup = 0;
  *into = false;
  return call(args);
}

// clone3 when the kernel has it (pidfd + CLONE_INTO_CGROUP in one step), else clone.
// Both return twice like fork: the child runs on a copy of this stack.
long do_clone(unsigned flags, int cgroup_fd, int *pidfd, bool *into_cgroup) {
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = flags | CLONE_PIDFD;
  args.pidfd = (uint64_t)(uintptr_t)pidfd;
  args.exit_signal = SIGCHLD;
  long pid = clone3_into_cgroup(args, cgroup_fd, into_cgroup, [](struct clone_args &a) {
    long p = syscall(SYS_clone3, &a, sizeof a);
    return p < 0 ? -(long)errno : p;
  });
  if (pid >= 0) return pid;
  if (pid != -ENOSYS) {
    errno = (int)-pid;
    return -1;
  }
  *into_cgroup = false;
  return syscall(SYS_clone, (unsigned long)(flags | CLONE_PIDFD | SIGCHLD), 0, pidfd, 0, 0);
}

void kill_and_reap(int pidfd) {
  syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
  siginfo_t info;
  while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED) < 0 && errno == EINTR) {}
}

// Maps and limits need the host's privileges, which the child in its own user
// namespace does not have, and the dyno's network is made from the host: the parent
// applies them while the child waits, then releases it. On failure the caller kills it.
bool prepare_and_release(const SpawnRequest &req, pid_t pid, int pidfd, bool into, int sync_w, std::vector<int> &netns_fds, StepError &err) {
  // A spare's user namespace has its maps already (the same: checked at the seam).
  if (!req.spare && !req.uid_map.empty() && !write_id_maps(pid, req.uid_map, req.gid_map, "user namespace", err)) return false;
  for (const auto &rl : req.rlimits) {
    struct rlimit r;
    r.rlim_cur = rl.soft;
    r.rlim_max = rl.hard;
    if (prlimit(pid, (__rlimit_resource)rl.resource, &r, nullptr) == 0) continue;
    // Past dynod's own hard RLIMIT_NPROC only CAP_SYS_RESOURCE may go, which a root in a
    // sandbox may lack: the dyno gets that hard limit, and its pids controller still
    // holds it to its size.
    struct rlimit own;
    if (errno == EPERM && rl.resource == RLIMIT_NPROC && getrlimit(RLIMIT_NPROC, &own) == 0 && r.rlim_max > own.rlim_max) {
      r.rlim_cur = std::min(r.rlim_cur, own.rlim_max);
      r.rlim_max = own.rlim_max;
      if (prlimit(pid, (__rlimit_resource)rl.resource, &r, nullptr) == 0) continue;
    }
    return fail_step(err, "set rlimits", "prlimit", std::to_string(rl.resource));
  }
  // Its end of the veth is there before it configures it, and dynod's sockets in its
  // namespace exist before its command can run.
  if (req.veth && !veth_create(req.veth_spec, (int)pid, err)) return false;
  if (!req.netns_listen.empty() && !netns_listeners(pidfd, req.netns_listen, netns_fds, err)) return false;
  char go = into || req.child.njoin == 0 ? kRelease : kReleaseJoin;
  if (write(sync_w, &go, 1) != 1) {
    for (int fd : netns_fds) close(fd);
    netns_fds.clear();
    return fail_step(err, "release child", "write");
  }
  return true;
}

// ------------------------------------------- the clone that shares our memory
//
// A fork copies the page tables of the whole Node process, and every page either
// side writes afterwards until the child's exec: ~1.8 ms per dyno at 60 MB of RSS,
// +15 ms at 1 GB (an embedder's heap). posix_spawn's way avoids it: the child runs in
// our memory (CLONE_VM) on a stack of its own, while this thread waits (CLONE_VFORK)
// until it execs dynod-init or dies. It may write only its own stack, statics no one
// else reads, and this (waiting) thread's errno. What the parent must do while the
// child waits (maps, limits, network) is done by a helper thread, which the child
// wakes once it runs: the kernel has stored its pid and pidfd by then.
#if defined(__x86_64__)
#define DYNOD_SPAWN_SHARED 1
// dynod_clone3_on_stack (process.h)
asm(R"(
  .text
  .globl dynod_clone3_on_stack
  .type dynod_clone3_on_stack, @function
dynod_clone3_on_stack:
  mov %rdx, %r9
  mov %rcx, %r8
  mov $435, %eax
  syscall
  test %rax, %rax
  jnz 1f
  xor %ebp, %ebp
  mov %r8, %rdi
  call *%r9
  mov %eax, %edi
  mov $60, %eax
  syscall
  hlt
1:
  ret
  .size dynod_clone3_on_stack, .-dynod_clone3_on_stack
)");
#endif

constexpr size_t kChildStack = 1024 * 1024;  // touched pages only; tmpfs-copyup recurses ~8 KiB a level

// The child's entry: a private copy of the plan (child_main lifts fds into it, and the
// parent's stays the parent's), then tell the helper thread we run.
int shared_child(void *arg) {
  ChildPlan plan = *static_cast<const ChildPlan *>(arg);
  char one = 1;
  if (syscall(SYS_write, plan.notify_fd, &one, 1) != 1) _exit(125);
  syscall(SYS_close, plan.notify_fd);
  plan.notify_fd = -1;
  child_main(plan);
}

// What the helper thread shares with the spawning one.
struct SharedSpawn {
  const SpawnRequest *req;
  pid_t pid = 0;       // CLONE_PARENT_SETTID: stored before the child runs
  int pidfd = -1;      // CLONE_PIDFD: likewise
  bool into = false;   // set by the spawning thread before each clone attempt
  int sync_w = -1;
  int notify_r = -1;
  bool released = false;
  std::vector<int> netns_fds;
  StepError err;
};

void helper_main(SharedSpawn *s) {
  char b;
  ssize_t n;
  do n = read(s->notify_r, &b, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) return;  // the child died before it ran, or no clone happened
  if (prepare_and_release(*s->req, s->pid, s->pidfd, s->into, s->sync_w, s->netns_fds, s->err)) s->released = true;
  else syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, nullptr, 0);  // ends the wait of the spawning thread
}

bool use_shared_spawn(const SpawnRequest &req) {
  // The create hooks of OCI run in JavaScript while the child waits before its exec:
  // this thread must not be waiting for that exec then. And a thread whose children
  // go to another PID namespace (pid_ns_fd) cannot start the helper thread (EINVAL).
  if (!shared_spawn_available() || req.pid_ns_fd >= 0) return false;
  for (size_t i = 0; i < req.child.nops; i++)
    if (req.child.ops[i].kind == kOpAwaitState || req.child.ops[i].kind == kOpHook) return false;
  return true;
}

}  // namespace

bool shared_spawn_available() {
#ifdef DYNOD_SPAWN_SHARED
  static const bool forced_fork = [] {  // DYNOD_SPAWN_FORK=1: for measuring the difference
    const char *v = getenv("DYNOD_SPAWN_FORK");
    return v != nullptr && strcmp(v, "1") == 0;
  }();
  return !forced_fork;
#else
  return false;
#endif
}

#ifdef DYNOD_SPAWN_SHARED
namespace {

// spawn_dyno's clone when use_shared_spawn: see "the clone that shares our memory".
bool spawn_shared(SpawnRequest &req, int cgroup_fd, int chan_parent, int sync_w, SpawnResult &out, StepError &err) {
  int np[2];
  if (pipe2(np, O_CLOEXEC) != 0) return fail_step(err, "start helper", "pipe2");
  Fd notify_r{np[0]}, notify_w{np[1]};
  void *stack = mmap(nullptr, kChildStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return fail_step(err, "start helper", "mmap", "child stack");
  SharedSpawn s;
  s.req = &req;
  s.sync_w = sync_w;
  s.notify_r = notify_r.fd;
  req.child.notify_fd = notify_w.fd;
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &saved);  // the helper inherits the mask: no signal of Node's lands on it
  std::thread helper;
  try {
    helper = std::thread(helper_main, &s);
  } catch (const std::system_error &x) {
    pthread_sigmask(SIG_SETMASK, &saved, nullptr);
    munmap(stack, kChildStack);
    return fail_step(err, "start helper", "pthread_create", x.what(), x.code().value() ? x.code().value() : EAGAIN);
  }
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = req.clone_flags | CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE_PARENT_SETTID;
  args.pidfd = (uint64_t)(uintptr_t)&s.pidfd;
  args.parent_tid = (uint64_t)(uintptr_t)&s.pid;
  args.exit_signal = SIGCHLD;
  args.stack = (uint64_t)(uintptr_t)stack;
  args.stack_size = kChildStack;
  long pid = clone3_into_cgroup(args, cgroup_fd, &s.into, [&req](struct clone_args &a) {
    // Through a spare, its helper makes this clone from inside the dyno's user and
    // network namespaces; a helper that is gone (killed) leaves the clone to us.
    if (req.spare) {
      long r = spare_clone(req.spare, &a, shared_child, &req.child);
      if (r != kSpareGone) return r;
      req.spare = nullptr;  // before the child runs: the helper thread then writes its maps
    }
    return dynod_clone3_on_stack(&a, sizeof a, shared_child, &req.child);
  });
  // Here the child has exec'd dynod-init, or died.
  req.child.notify_fd = -1;
  close(notify_w.release());  // the helper sees EOF if the child never woke it
  helper.join();
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  munmap(stack, kChildStack);
  if (pid < 0) {
    // a child a spare's helper made before it ended is gone, but the helper thread may have
    // prepared it
    for (int fd : s.netns_fds) close(fd);
    return fail_step(err, req.clone_step, "clone3", "", (int)-pid);
  }
  Fd pidfd_guard{s.pidfd};
  if (!s.released) {
    if (s.err.step.empty()) fail_step(err, "release child", "read", "the child ended before its parent could prepare it", ECHILD);
    else err = s.err;
    kill_and_reap(s.pidfd);
    return false;
  }
  out.pid = (int)pid;
  out.pidfd = pidfd_guard.release();
  out.chan_fd = chan_parent;
  out.into_cgroup = s.into;
  out.via_spare = req.spare != nullptr;
  out.netns_fds = std::move(s.netns_fds);
  return true;
}

}  // namespace
#endif

bool spawn_dyno(SpawnRequest &req, SpawnResult &out, StepError &err) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return fail_step(err, "record channel", "socketpair");
  Fd chan_parent{sv[0]}, chan_child{sv[1]};
  int pp[2];
  if (pipe2(pp, O_CLOEXEC) != 0) return fail_step(err, "sync pipe", "pipe2");
  Fd sync_r{pp[0]}, sync_w{pp[1]};
  Fd cgroup;
  if (!req.cgroup_dir.empty() && (cgroup.fd = open_cgroup_dir(req.cgroup_dir, err)) < 0) return false;
  if (!open_cgroup_joins(req.cgroup_procs, req.child.join_fds, &req.child.njoin, err)) return false;
  struct JoinFds {
    ChildPlan &c;
    ~JoinFds() {
      while (c.njoin > 0) close(c.join_fds[--c.njoin]);
    }
  } join_fds{req.child};
  req.child.sync_fd = sync_r.fd;
  req.child.sync_w_fd = sync_w.fd;
  req.child.chan_fd = chan_child.fd;

  // A PID namespace to join: only a process born in it has its /proc show that
  // namespace, so this thread's children go there for the one clone (setns of a PID
  // namespace changes pid_for_children only), and come back at once.
  Fd own_pid_ns;
  if (req.pid_ns_fd >= 0) {
    own_pid_ns.fd = open("/proc/thread-self/ns/pid_for_children", O_RDONLY | O_CLOEXEC);
    if (own_pid_ns.fd < 0) return fail_step(err, "join pid namespace", "open", "/proc/thread-self/ns/pid_for_children");
    if (setns(req.pid_ns_fd, CLONE_NEWPID) != 0) return fail_step(err, "join pid namespace", "setns");
  }
  if (use_shared_spawn(req)) {
    bool ok = spawn_shared(req, cgroup.fd, chan_parent.fd, sync_w.fd, out, err);
    if (own_pid_ns.fd >= 0 && setns(own_pid_ns.fd, CLONE_NEWPID) != 0) abort();
    if (ok) chan_parent.release();
    return ok;
  }
  req.spare = nullptr;  // only the shared clone goes through a spare: this one makes its own namespaces
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &saved);
  int pidfd = -1;
  bool into = false;
  long pid = do_clone(req.clone_flags, cgroup.fd, &pidfd, &into);
  if (pid == 0) child_main(req.child);
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  // Every later child of this thread would be born in the container's namespace.
  if (own_pid_ns.fd >= 0 && setns(own_pid_ns.fd, CLONE_NEWPID) != 0) abort();
  if (pid < 0) return fail_step(err, req.clone_step, "clone3", "", clone_errno);
  Fd pidfd_guard{pidfd};
  std::vector<int> netns_fds;
  if (!prepare_and_release(req, (pid_t)pid, pidfd, into, sync_w.fd, netns_fds, err)) {
    kill_and_reap(pidfd);  // its namespaces, and a veth peer in one, go with it
    return false;
  }
  out.pid = (int)pid;
  out.pidfd = pidfd_guard.release();
  out.chan_fd = chan_parent.release();
  out.into_cgroup = into;
  out.netns_fds = std::move(netns_fds);
  return true;
}

int sealed_init_copy(const std::string &path, StepError &err) {
  // Exec'ing dynod-init from a sealed memfd means no path of the host has to be
  // visible in the dyno, and nothing in the dyno can rewrite the binary through
  // /proc/self/exe (the CVE-2019-5736 class). MFD_EXEC: with vm.memfd_noexec=1
  // a memfd is otherwise born non-executable (Linux 6.3+).
  Fd src{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (src.fd < 0) return fail_step(err, "load dynod-init", "open", path), -1;
  Fd mfd{memfd_create_exec("dynod-init", MFD_CLOEXEC | MFD_ALLOW_SEALING, MFD_EXEC)};
  if (mfd.fd < 0) return fail_step(err, "load dynod-init", "memfd_create", path), -1;
  char buf[65536];
  for (;;) {
    ssize_t n = read(src.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_step(err, "load dynod-init", "read", path), -1;
    if (n == 0) break;
    if (!write_all(mfd.fd, buf, (size_t)n)) return fail_step(err, "load dynod-init", "write", path), -1;
  }
  if (fcntl(mfd.fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0)
    return fail_step(err, "load dynod-init", "fcntl", "F_ADD_SEALS"), -1;
  return mfd.release();
}

// ----------------------------------------------------------------- child side
namespace {

// Every fd the child was handed is moved at or above this floor at entry, so no
// later dup2 onto 0-2 (stdio), 3 (records) or 4.. (pass fds) can clobber one.
constexpr int kFdFloor = 16;
static_assert(4 + (int)kMaxPassFds <= kFdFloor, "pass fds must stay below the floor");

const ChildPlan *g_plan;
int g_chan_fd = -1;
bool g_join_cgroup = false;  // not born in our cgroup: join it ourselves (kReleaseJoin)

int lift(int fd, const char *what) {
  int n = fcntl(fd, F_DUPFD_CLOEXEC, kFdFloor);
  if (n < 0) child_fail("lift fds", "fcntl", what);
  return n;
}

// The sources of 0, 1 and 2 are already lifted: no dup2 clobbers another.
void install_stdio(const ChildPlan &plan) {
  static const char *const names[] = {"stdin is a directory or an O_PATH fd", "stdout is a directory or an O_PATH fd",
                                      "stderr is a directory or an O_PATH fd"};
  for (int i = 0; i < 3; i++) {
    // A directory (or an O_PATH fd) as stdio would be a way out: /proc/self/fd/N
    // resolves in the host's tree (the CVE-2024-21626 pattern, through stdio).
    struct stat st;
    if (fstat(plan.stdio[i], &st) != 0) child_fail("stdio", "fstat");
    int fl = fcntl(plan.stdio[i], F_GETFL);
    if (S_ISDIR(st.st_mode) || (fl >= 0 && (fl & O_PATH))) {
      errno = EISDIR;
      child_fail("stdio", "fstat", names[i]);
    }
  }
  // The open file descriptions are used as they are (blocking or not): they may be
  // shared with the embedder, whose flags are not ours to change.
  for (int i = 0; i < 3; i++)
    if (dup2(plan.stdio[i], i) < 0) child_fail("stdio", "dup2");
}

void run_op(const ChildPlan &plan, const ChildOp &op) {
  switch (op.kind) {
    case kOpHostname: {
      size_t n = 0;
      while (op.name[n]) n++;
      if (sethostname(op.name, n) != 0) child_fail(op.step, "sethostname", op.name);
      break;
    }
    case kOpLoopback:
      child_loopback_up(op.step);
      break;
    case kOpNetConfig:
      child_net_config(op);
      break;
    case kOpJoinCgroup:
      child_join_cgroup(op.step, g_join_cgroup, plan.join_fds, plan.njoin, plan.late_unshare);
      break;
    case kOpJoinNamespaces:
      child_join_namespaces(op);
      break;
    case kOpAwaitState:
      child_await_state(op);
      break;
    case kOpHook:
      child_run_hook(op);
      break;
    default:
      child_mount_op(op);
  }
}

}  // namespace

void child_fail(const char *step, const char *sc, const char *detail) {
  send_record(g_chan_fd, kRecError, errno, step, sc, detail);
  _exit(125);
}

void child_trace(const char *phase) {
  if (g_plan->trace) send_record(g_chan_fd, kRecTrace, 0, phase, "", "");
}

char child_await_byte(const char *phase) {
  char go = 0;
  ssize_t n;
  do n = read(g_plan->sync_fd, &go, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) _exit(125);  // EOF: the parent gave up (it reports why) or died
  child_trace(phase);
  return go;
}

void child_main(ChildPlan &plan) {
  // Our copy of the sync pipe's write end would keep EOF from ever coming: with
  // it closed, a parent that dies before it releases us ends us too.
  close(plan.sync_w_fd);
  g_plan = &plan;
  g_chan_fd = plan.chan_fd;
  // The plan is this child's own copy (a fork's, or shared_child's): point it at the lifted fds.
  g_chan_fd = plan.chan_fd = lift(plan.chan_fd, "record channel");
  plan.sync_fd = lift(plan.sync_fd, "sync pipe");
  plan.init_fd = lift(plan.init_fd, "dynod-init");
  for (size_t i = 0; i < plan.npass; i++) plan.pass_fds[i] = lift(plan.pass_fds[i], "pass fd");
  for (size_t i = 0; i < plan.njoin; i++) plan.join_fds[i] = lift(plan.join_fds[i], "cgroup");
  for (int i = 0; i < 3; i++) plan.stdio[i] = lift(plan.stdio[i], "stdio");

  // Node's handlers would write into libuv's signal pipe, which this child shares
  // with the parent; all signals stay blocked (the parent blocked them around
  // clone) until dynod-init sets its own mask.
  reset_signal_dispositions();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail("parent death signal", "prctl");
  g_join_cgroup = child_await_byte("child released") == kReleaseJoin;
  if (plan.become_root) child_become_ns_root();

  if (setsid() < 0) child_fail("new session", "setsid");
  install_stdio(plan);
  for (size_t i = 0; i < plan.nops; i++) run_op(plan, plan.ops[i]);
  child_trace("root ready");

  // No fd of the Node process may reach the dyno; the record socket survives into
  // dynod-init as fd 3 (and the pass fds as 4, 5, ...); dynod-init closes them
  // before the command runs. Every source is at or above kFdFloor.
  if (dup2(plan.chan_fd, 3) != 3) child_fail("close fds", "dup2", "record channel");
  g_chan_fd = 3;
  for (size_t i = 0; i < plan.npass; i++)
    if (dup2(plan.pass_fds[i], 4 + (int)i) != 4 + (int)i) child_fail("close fds", "dup2", "pass fd");
  if (syscall(SYS_close_range, 4 + (unsigned)plan.npass, ~0U, CLOSE_RANGE_CLOEXEC) != 0) child_fail("close fds", "close_range");
  child_trace("exec init");
  // A container is reaped by its caller's subreaper once the spawner exits; until
  // here a spawner that died mid-build took the half-built child with it.
  if (plan.detached && prctl(PR_SET_PDEATHSIG, 0) != 0) child_fail("parent death signal", "prctl");
  syscall(SYS_execveat, plan.init_fd, "", plan.argv, plan.envp, AT_EMPTY_PATH);
  child_fail("exec dynod-init", "execveat");
}

}  // namespace dynod
