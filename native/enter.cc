#include "enter.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "userns.h"

namespace dynod {

// ---------------------------------------------------------------- parent side
namespace {

// State (field 3) and start time (field 22, clock ticks after boot) from
// /proc/<pid>/stat; false with errno set when it cannot be read or parsed.
bool read_stat(int pid, char *state, unsigned long long *start) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1024];
  ssize_t n;
  do n = read(fd, buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  int e = errno;
  close(fd);
  if (n < 0) {
    errno = e;
    return false;
  }
  buf[n] = 0;
  // The command name (field 2) may hold spaces and parentheses: field 3 follows the last ')'.
  const char *p = strrchr(buf, ')');
  if (!p || p[1] != ' ' || !p[2]) {
    errno = EINVAL;
    return false;
  }
  p += 2;
  *state = *p;
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p) {
      errno = EINVAL;
      return false;
    }
    p++;
  }
  char *end;
  errno = 0;
  *start = strtoull(p, &end, 10);
  if (errno || end == p || (*end != ' ' && *end != '\n' && *end)) {
    errno = EINVAL;
    return false;
  }
  return true;
}

}  // namespace

int open_dyno_pidfd(int pid, unsigned long long start_time, StepError &err) {
  const char *step = "find dyno";
  const std::string who = "pid " + std::to_string(pid);
  int fd = (int)syscall(SYS_pidfd_open, pid, 0);  // close-on-exec always
  if (fd < 0) return fail_step(err, step, "pidfd_open", who), -1;
  // Read after the pidfd is open: when pid still has the start time the target names,
  // the pidfd holds that process, whatever happens to the pid from now on.
  char state = 0;
  unsigned long long start = 0;
  if (!read_stat(pid, &state, &start)) {
    int e = errno == ENOENT ? ESRCH : errno;  // gone since pidfd_open
    close(fd);
    return fail_step(err, step, "read", "/proc/" + std::to_string(pid) + "/stat", e), -1;
  }
  if (start != start_time) {
    close(fd);
    return fail_step(err, step, "pidfd_open", who + " is another process (started at tick " + std::to_string(start) + ", not " + std::to_string(start_time) + ")", ESRCH), -1;
  }
  if (state == 'Z' || state == 'X') {
    close(fd);
    return fail_step(err, step, "pidfd_open", who + " has exited", ESRCH), -1;
  }
  return fd;
}

bool enter_dyno(EnterRequest &req, SpawnResult &out, StepError &err) {
  if (req.namespaces == 0 || (req.namespaces & ~kEnterableNamespaces) != 0)
    return fail_step(err, "enter dyno", "setns", "namespaces: not a set of CLONE_NEW* flags", EINVAL);
  int pidfd = open_dyno_pidfd(req.pid, req.start_time, err);
  if (pidfd < 0) return false;
  // The child joins the dyno's cgroup first (so the cgroup namespace it joins shows
  // that cgroup as its root, and everything it forks is counted there), then the
  // namespaces: the user namespace first, by the kernel's own order.
  ChildOp ops[2];
  memset(ops, 0, sizeof ops);
  for (ChildOp &op : ops) op.fd = op.uid = op.gid = -1;
  ops[0].kind = kOpJoinCgroup;
  ops[0].step = "join cgroup";
  ops[1].kind = kOpJoinNamespaces;
  ops[1].step = "enter dyno namespaces";
  ops[1].fd = pidfd;
  ops[1].flags = req.namespaces;
  SpawnRequest &s = req.spawn;
  s.clone_flags = 0;
  s.clone_step = "start exec session";
  s.uid_map.clear();
  s.gid_map.clear();
  s.child.late_unshare = 0;
  s.child.become_root = false;
  s.child.ops = ops;
  s.child.nops = 2;
  bool ok = spawn_dyno(s, out, err);
  s.child.ops = nullptr;  // they live on this stack
  s.child.nops = 0;
  close(pidfd);  // the child has its own copy
  return ok;
}

// ----------------------------------------------------------------- child side

void child_join_namespaces(const ChildOp &op) {
  // One call with a pidfd (Linux 5.8): all of PID 1's namespaces or none. The PID
  // namespace applies to our children only: dynod-init forks the command into it.
  if (syscall(SYS_setns, op.fd, (int)op.flags) != 0) child_fail(op.step, "setns");
  // Joining a user namespace leaves host uid 0, which it does not map; exec would
  // then drop every capability. As its root (the dyno's PID 1 is too) dynod-init
  // keeps them there, to switch to the dyno's user.
  if (op.flags & CLONE_NEWUSER) child_become_ns_root();
}

}  // namespace dynod
