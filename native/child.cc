// Child side of a dyno start (see child.h for the rules this file lives by).
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <net/if.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>  // ST_* bit values, which statfs(2) f_flags shares
#include <sched.h>
#include <grp.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"

namespace dynod {
namespace {

const ChildPlan *g_plan;
int g_chan_fd = -1;

uint64_t now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void send_record(uint32_t kind, int err, const char *step, const char *syscall_name, const char *detail) {
  Record r;
  char *p = (char *)&r;
  for (size_t i = 0; i < sizeof r; i++) p[i] = 0;
  r.kind = kind;
  r.err = err;
  r.t_ns = now_ns();
  copy_str(r.step, sizeof r.step, step);
  copy_str(r.syscall, sizeof r.syscall, syscall_name);
  copy_str(r.detail, sizeof r.detail, detail);
  ssize_t n;
  do n = send(g_chan_fd, &r, sizeof r, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
}

void trace(const char *phase) {
  if (g_plan->trace) send_record(kRecTrace, 0, phase, "", "");
}

[[noreturn]] void fail(const char *step, const char *syscall_name, const char *detail = "") {
  send_record(kRecError, errno, step, syscall_name, detail);
  _exit(125);
}

int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

// The kernel refuses a remount that would clear a flag it locked on a mount that
// came from a more privileged namespace (nosuid, nodev, noexec, atime flags), so
// keep whatever the mount already has and add what was asked.
unsigned long locked_flags(const char *path) {
  // statfs, not statvfs: glibc's statvfs may fall back to reading /proc/mounts.
  struct statfs s;
  if (statfs(path, &s) != 0) return 0;
  unsigned long keep = 0;
  if (s.f_flags & ST_NOSUID) keep |= MS_NOSUID;
  if (s.f_flags & ST_NODEV) keep |= MS_NODEV;
  if (s.f_flags & ST_NOEXEC) keep |= MS_NOEXEC;
  if (s.f_flags & ST_NOATIME) keep |= MS_NOATIME;
  if (s.f_flags & ST_NODIRATIME) keep |= MS_NODIRATIME;
  if (s.f_flags & ST_RELATIME) keep |= MS_RELATIME;
  return keep;
}

void loopback_up(const ChildOp &op) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) fail(op.step, "socket");
  struct ifreq ifr;
  char *p = (char *)&ifr;
  for (size_t i = 0; i < sizeof ifr; i++) p[i] = 0;
  copy_str(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) fail(op.step, "ioctl", "SIOCGIFFLAGS");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) fail(op.step, "ioctl", "SIOCSIFFLAGS");
  close(s);
}

void await_byte(const char *phase) {
  char go = 0;
  ssize_t n;
  do n = read(g_plan->sync_fd, &go, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) _exit(125);  // the parent gave up (or died): it reports why
  trace(phase);
}

void run_op(const ChildOp &op) {
  switch (op.kind) {
    case kOpMount:
      if (mount(op.a, op.b, op.c, op.flags, op.d) != 0 && !(op.optional && errno == ENOENT)) fail(op.step, "mount", op.b);
      break;
    case kOpRemount:
      if (mount(nullptr, op.b, nullptr, MS_REMOUNT | MS_BIND | op.flags | locked_flags(op.b), nullptr) != 0 &&
          !(op.optional && errno == ENOENT))
        fail(op.step, "mount", op.b);
      break;
    case kOpMkdir:
      if (mkdir(op.b, op.mode) != 0 && errno != EEXIST) fail(op.step, "mkdir", op.b);
      if (op.uid >= 0 && chown(op.b, (uid_t)op.uid, (gid_t)op.gid) != 0) fail(op.step, "chown", op.b);
      break;
    case kOpSymlink:
      if (symlink(op.a, op.b) != 0) fail(op.step, "symlink", op.b);
      break;
    case kOpWrite: {
      // Replace, never write through: in a --rootfs, /etc/resolv.conf may be a
      // symlink that points anywhere (unlinking it only whites it out in the upper layer).
      if (unlink(op.b) != 0 && errno != ENOENT) fail(op.step, "unlink", op.b);
      int fd = open(op.b, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, op.mode);
      if (fd < 0) fail(op.step, "open", op.b);
      if (write_all(fd, op.a, op.len) != 0) fail(op.step, "write", op.b);
      if (fchmod(fd, op.mode) != 0) fail(op.step, "fchmod", op.b);  // umask must not narrow it
      close(fd);
      break;
    }
    case kOpPivot:
      if (op.a) {
        if (syscall(SYS_pivot_root, op.b, op.a) != 0) fail(op.step, "pivot_root", op.b);
        if (chdir("/") != 0) fail(op.step, "chdir", "/");
      } else {
        // pivot_root(".", ".") stacks the old root on top of the new one; detaching
        // "." then drops it without needing a directory for it in the new root.
        if (chdir(op.b) != 0) fail(op.step, "chdir", op.b);
        if (syscall(SYS_pivot_root, ".", ".") != 0) fail(op.step, "pivot_root", op.b);
        if (mount(nullptr, ".", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail(op.step, "mount", "old root");
        if (umount2(".", MNT_DETACH) != 0) fail(op.step, "umount2", "old root");
        if (chdir("/") != 0) fail(op.step, "chdir", "/");
      }
      break;
    case kOpChdir:
      if (chdir(op.b) != 0) fail(op.step, "chdir", op.b);
      break;
    case kOpUmount:
      if (umount2(op.b, (int)op.flags) != 0) fail(op.step, "umount2", op.b);
      break;
    case kOpHostname: {
      size_t n = 0;
      while (op.a[n]) n++;
      if (sethostname(op.a, n) != 0) fail(op.step, "sethostname", op.a);
      break;
    }
    case kOpLoopback:
      loopback_up(op);
      break;
    case kOpMoveMount:
      if (syscall(SYS_move_mount, op.fd, "", AT_FDCWD, op.b, MOVE_MOUNT_F_EMPTY_PATH) != 0) fail(op.step, "move_mount", op.b);
      break;
    case kOpSetattr: {
      struct mount_attr attr;
      char *p = (char *)&attr;
      for (size_t i = 0; i < sizeof attr; i++) p[i] = 0;
      attr.attr_set = op.flags;
      if (syscall(SYS_mount_setattr, AT_FDCWD, op.b, op.mode ? AT_RECURSIVE : 0, &attr, sizeof attr) != 0)
        fail(op.step, "mount_setattr", op.b);
      break;
    }
    case kOpAwaitCgroup:
      // The parent migrates us (v1) while we build the root; only what follows
      // (the cgroup namespace, whose root is the cgroup we sit in, and everything
      // the command does) needs us inside.
      await_byte("cgroup joined");
      if (g_plan->late_unshare && unshare((int)g_plan->late_unshare) != 0) fail(op.step, "unshare", "cgroup namespace");
      break;
    default:
      errno = EINVAL;
      fail(op.step, "plan", "unknown op");
  }
}

// Parent fds may be any numbers, including 0-2 or the same fd twice: lift them
// above stdio first so no dup2 clobbers a source that is still needed.
void install_stdio(const ChildPlan &plan) {
  int lifted[3];
  for (int i = 0; i < 3; i++) {
    // A directory (or an O_PATH fd) as stdio would be a way out: /proc/self/fd/N
    // resolves in the host's tree (the CVE-2024-21626 pattern, through stdio).
    struct stat st;
    if (fstat(plan.stdio[i], &st) != 0) fail("stdio", "fstat");
    int fl = fcntl(plan.stdio[i], F_GETFL);
    if (S_ISDIR(st.st_mode) || (fl >= 0 && (fl & O_PATH))) {
      errno = EISDIR;
      fail("stdio", "fstat", i == 0 ? "stdin is a directory or an O_PATH fd" : i == 1 ? "stdout is a directory or an O_PATH fd" : "stderr is a directory or an O_PATH fd");
    }
    lifted[i] = fcntl(plan.stdio[i], F_DUPFD_CLOEXEC, 3);
    if (lifted[i] < 0) fail("stdio", "fcntl", "F_DUPFD_CLOEXEC");
  }
  for (int i = 0; i < 3; i++)
    if (dup2(lifted[i], i) < 0) fail("stdio", "dup2");
  // Node makes the pipes and sockets it uses for its own stdio O_NONBLOCK, and the dyno
  // shares those open file descriptions: programs expect blocking stdio and would
  // otherwise lose output to EAGAIN whenever the reader is slower than they are.
  for (int i = 0; i < 3; i++) {
    int fl = fcntl(i, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK) && fcntl(i, F_SETFL, fl & ~O_NONBLOCK) != 0) fail("stdio", "fcntl", "F_SETFL");
  }
}

}  // namespace

void child_main(const ChildPlan &plan) {
  g_plan = &plan;
  g_chan_fd = plan.chan_fd;
  // Node's handlers would write into libuv's signal pipe, which this child shares
  // with the parent; all signals stay blocked (the parent blocked them around
  // clone) until dynod-init sets its own mask.
  struct sigaction dfl;
  char *p = (char *)&dfl;
  for (size_t i = 0; i < sizeof dfl; i++) p[i] = 0;
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);

  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail("parent death signal", "prctl");
  await_byte("child released");
  if (plan.become_root) {
    // Raw syscalls: glibc's wrappers broadcast the change to every thread it knows of
    // (its setxid protocol), and this child of a multithreaded Node only has copies of
    // glibc's thread list and locks: it waits forever on a futex when another thread
    // was being created, or held the stack-cache lock, at the moment of the clone.
    if (syscall(SYS_setgroups, 0, nullptr) != 0) fail("user namespace", "setgroups");
    if (syscall(SYS_setresgid, 0, 0, 0) != 0) fail("user namespace", "setresgid");
    if (syscall(SYS_setresuid, 0, 0, 0) != 0) fail("user namespace", "setresuid");
    // A change of credentials clears the parent-death signal: arm it again, or a
    // SIGKILL of dynod would leave the dyno running.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail("parent death signal", "prctl");
  }

  if (setsid() < 0) fail("new session", "setsid");
  install_stdio(plan);
  for (size_t i = 0; i < plan.nops; i++) run_op(plan.ops[i]);
  trace("root ready");

  // No fd of the Node process may reach the dyno; the record socket survives into
  // dynod-init as fd 3 (and the pass fds as 4, 5, ...); dynod-init closes them
  // before the command runs.
  // Lift everything above the target numbers first, so no dup2 clobbers a source.
  int lifted[8];
  if (plan.npass > 8) {
    errno = E2BIG;
    fail("close fds", "dup2", "too many fds for dynod-init");
  }
  int lifted_chan = fcntl(plan.chan_fd, F_DUPFD_CLOEXEC, 16);
  if (lifted_chan < 0) fail("close fds", "fcntl", "F_DUPFD_CLOEXEC");
  for (size_t i = 0; i < plan.npass; i++) {
    lifted[i] = fcntl(plan.pass_fds[i], F_DUPFD_CLOEXEC, 16);
    if (lifted[i] < 0) fail("close fds", "fcntl", "F_DUPFD_CLOEXEC");
  }
  if (dup2(lifted_chan, 3) != 3) fail("close fds", "dup2");
  g_chan_fd = 3;
  for (size_t i = 0; i < plan.npass; i++)
    if (dup2(lifted[i], 4 + (int)i) != 4 + (int)i) fail("close fds", "dup2");
  if (syscall(SYS_close_range, 4 + (unsigned)plan.npass, ~0U, CLOSE_RANGE_CLOEXEC) != 0) fail("close fds", "close_range");
  trace("exec init");
  syscall(SYS_execveat, plan.init_fd, "", plan.argv, plan.envp, AT_EMPTY_PATH);
  fail("exec dynod-init", "execveat");
}

}  // namespace dynod
