#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process.h"
#include "sys.h"

namespace dynod {
bool write_id_maps(pid_t pid, const std::string &uid_map, const std::string &gid_map, const char *step, StepError &err) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
  if (!write_text(path, uid_map.data(), uid_map.size())) return fail_step(err, step, "write", path);
  snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
  if (!write_text(path, gid_map.data(), gid_map.size())) return fail_step(err, step, "write", path);
  return true;
}

namespace {

// The helper only owns the namespace while the parent writes its maps and opens it.
// It shares the parent's memory (CLONE_VM): no copy of Node's page tables, whose cost
// grows with the embedder's heap (0.3 ms at 40 MB of RSS, 3.8 ms at 230 MB, per start).
// Sharing memory and the calling thread's TLS, it may only make system calls that
// cannot fail (errno is that thread's): closing its copy of the pipe's write end, and
// a read, with every signal blocked, that returns a byte or EOF; then exit, never
// returning into the parent's stack.
// The parent releases it with a byte, not with EOF: helpers of other threads (idmap
// mounts are made on the threadpool) and dynos cloned meanwhile hold copies of the
// write end, and two helpers each holding the other's would wait for EOF forever.
// EOF remains for a parent that dies before it writes.
int idmap_helper(void *arg) {
  const int *pipe_fds = static_cast<const int *>(arg);
  syscall(SYS_close, pipe_fds[1]);  // our copy of the write end: EOF must be able to come
  char b;
  syscall(SYS_read, pipe_fds[0], &b, 1);
  syscall(SYS_exit, 0);
  return 0;
}

constexpr size_t kHelperStack = 16 * 1024;

}  // namespace

int idmap_userns(const std::string &uid_map, const std::string &gid_map, StepError &err) {
  // A namespace lives as long as a process or an fd holds it: a child that only
  // waits gives us the time to write its maps and open the namespace.
  int pp[2];
  if (pipe2(pp, O_CLOEXEC) != 0) {
    fail_step(err, "idmap namespace", "pipe2");
    return -1;
  }
  void *stack = mmap(nullptr, kHelperStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    fail_step(err, "idmap namespace", "mmap", "helper stack");
    close(pp[0]);
    close(pp[1]);
    return -1;
  }
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &saved);
  // __WCLONE is not needed: the exit signal is SIGCHLD, as for a fork.
  int pid = clone(idmap_helper, static_cast<char *>(stack) + kHelperStack, CLONE_VM | CLONE_NEWUSER | SIGCHLD, pp);
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (pid < 0) {
    close(pp[0]);
    close(pp[1]);
    munmap(stack, kHelperStack);
    fail_step(err, "idmap namespace", "clone", "", clone_errno);
    return -1;
  }
  int fd = -1;
  if (write_id_maps((pid_t)pid, uid_map, gid_map, "idmap namespace", err)) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/user", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail_step(err, "idmap namespace", "open", path);
  }
  char go = 1;
  while (write(pp[1], &go, 1) < 0 && errno == EINTR) {}  // releases the helper
  close(pp[1]);
  int status;
  while (waitpid((pid_t)pid, &status, 0) < 0 && errno == EINTR) {}
  // Only now is the helper off its stack (and done with pp, which lives on ours).
  close(pp[0]);
  munmap(stack, kHelperStack);
  return fd;
}

int idmap_mount(const std::string &path, int userns_fd, StepError &err) {
  int tree = (int)syscall(SYS_open_tree, AT_FDCWD, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (tree < 0) {
    fail_step(err, "idmap /app", "open_tree", path);
    return -1;
  }
  struct mount_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = (uint64_t)userns_fd;
  if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
    fail_step(err, "idmap /app", "mount_setattr", path + " (its filesystem may not support idmapped mounts)");
    close(tree);
    return -1;
  }
  return tree;
}

void child_become_ns_root() {
  // Raw syscalls: glibc's wrappers broadcast the change to every thread it knows of
  // (its setxid protocol), and this child of a multithreaded Node only has copies of
  // glibc's thread list and locks: it waits forever on a futex when another thread
  // was being created, or held the stack-cache lock, at the moment of the clone.
  if (syscall(SYS_setgroups, 0, nullptr) != 0) child_fail("user namespace", "setgroups");
  if (syscall(SYS_setresgid, 0, 0, 0) != 0) child_fail("user namespace", "setresgid");
  if (syscall(SYS_setresuid, 0, 0, 0) != 0) child_fail("user namespace", "setresuid");
  // A change of credentials clears the parent-death signal: arm it again, or a
  // SIGKILL of dynod would leave the dyno running.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail("parent death signal", "prctl");
}

}  // namespace dynod
