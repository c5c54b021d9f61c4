#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace dynod {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() { if (fd >= 0) close(fd); }
  int release() { int f = fd; fd = -1; return f; }
};

void set_err(StepError &err, const char *step, const char *sc, const std::string &detail = "") {
  err.err = errno;
  err.step = step;
  err.syscall = sc;
  err.detail = detail;
}

// clone3 when the kernel has it (pidfd + CLONE_INTO_CGROUP in one step), else clone.
// Both return twice like fork: the child runs on a copy of this stack.
long do_clone(unsigned flags, int cgroup_fd, int *pidfd, bool *into_cgroup) {
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = flags | CLONE_PIDFD | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0);
  args.pidfd = (uint64_t)(uintptr_t)pidfd;
  args.exit_signal = SIGCHLD;
  args.cgroup = cgroup_fd >= 0 ? (uint64_t)cgroup_fd : 0;
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid >= 0) {
    *into_cgroup = cgroup_fd >= 0;
    return pid;
  }
  if (cgroup_fd >= 0 && errno != ENOSYS) {
    // e.g. EBUSY/EOPNOTSUPP on a cgroup that cannot take processes directly:
    // retry without, the parent then writes cgroup.procs while the child waits.
    args.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
    args.cgroup = 0;
    pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid >= 0 || errno != ENOSYS) return pid;
  }
  *into_cgroup = false;
  return syscall(SYS_clone, (unsigned long)(flags | CLONE_PIDFD | SIGCHLD), 0, pidfd, 0, 0);
}

void kill_and_reap(int pidfd) {
  syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
  siginfo_t info;
  while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED) < 0 && errno == EINTR) {}
}


}  // namespace

bool write_text(const char *file, const std::string &text) {
  int fd = open(file, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t w = write(fd, text.data(), text.size());
  int saved = errno;
  close(fd);
  errno = saved;
  return w == (ssize_t)text.size();
}

bool spawn_dyno(SpawnRequest &req, SpawnResult &out, StepError &err) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    set_err(err, "record channel", "socketpair");
    return false;
  }
  Fd chan_parent{sv[0]}, chan_child{sv[1]};
  int pp[2];
  if (pipe2(pp, O_CLOEXEC) != 0) {
    set_err(err, "sync pipe", "pipe2");
    return false;
  }
  Fd sync_r{pp[0]}, sync_w{pp[1]};
  Fd cgroup;
  if (!req.cgroup_dir.empty()) {
    cgroup.fd = open(req.cgroup_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cgroup.fd < 0) {
      set_err(err, "open cgroup", "open", req.cgroup_dir);
      return false;
    }
  }
  req.child.sync_fd = sync_r.fd;
  req.child.chan_fd = chan_child.fd;

  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &saved);
  int pidfd = -1;
  bool into = false;
  long pid = do_clone(req.clone_flags, cgroup.fd, &pidfd, &into);
  if (pid == 0) child_main(req.child);
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (pid < 0) {
    errno = clone_errno;
    set_err(err, "create namespaces", "clone3");
    return false;
  }
  Fd pidfd_guard{pidfd};

  // Maps and limits need the host's privileges, which the child in its own user
  // namespace does not have: the parent applies them while the child waits.
  if (!req.uid_map.empty()) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/uid_map", pid);
    if (!write_text(path, req.uid_map)) {
      set_err(err, "user namespace", "write", path);
      kill_and_reap(pidfd);
      return false;
    }
    snprintf(path, sizeof path, "/proc/%ld/gid_map", pid);
    if (!write_text(path, req.gid_map)) {
      set_err(err, "user namespace", "write", path);
      kill_and_reap(pidfd);
      return false;
    }
  }
  for (const auto &rl : req.rlimits) {
    struct rlimit r;
    r.rlim_cur = rl.soft;
    r.rlim_max = rl.hard;
    if (prlimit((pid_t)pid, (__rlimit_resource)rl.resource, &r, nullptr) != 0) {
      set_err(err, "set rlimits", "prlimit", std::to_string(rl.resource));
      kill_and_reap(pidfd);
      return false;
    }
  }

  char go = 1;
  if (write(sync_w.fd, &go, 1) != 1) {
    set_err(err, "release child", "write");
    kill_and_reap(pidfd);
    return false;
  }
  out.pid = (int)pid;
  out.pidfd = pidfd_guard.release();
  out.chan_fd = chan_parent.release();
  out.sync_fd = sync_w.release();
  out.into_cgroup = into;
  return true;
}

bool join_cgroup(const std::vector<std::string> &procs_files, const SpawnResult &child, StepError &err) {
  Fd sync_w{child.sync_fd};
  if (!child.into_cgroup) {
    for (const auto &file : procs_files) {
      if (!write_text(file.c_str(), std::to_string(child.pid))) {
        set_err(err, "join cgroup", "write", file);
        syscall(SYS_pidfd_send_signal, child.pidfd, SIGKILL, nullptr, 0);
        return false;
      }
    }
  }
  char go = 2;
  if (write(sync_w.fd, &go, 1) != 1) {
    set_err(err, "join cgroup", "write", "sync pipe");
    syscall(SYS_pidfd_send_signal, child.pidfd, SIGKILL, nullptr, 0);
    return false;
  }
  return true;
}

}  // namespace dynod
