#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include "process.h"
#include "sys.h"

namespace dynod {

// ---------------------------------------------------------------- parent side

int open_cgroup_dir(const std::string &dir, StepError &err) {
  int fd = open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail_step(err, "open cgroup", "open", dir);
  return fd;
}

bool open_cgroup_joins(const std::vector<std::string> &procs_files, int *fds, size_t *n, StepError &err) {
  *n = 0;
  if (procs_files.size() > kMaxJoinFds) return fail_step(err, "join cgroup", "open", std::to_string(procs_files.size()) + " hierarchies (at most " + std::to_string(kMaxJoinFds) + ")", E2BIG);
  for (const auto &file : procs_files) {
    size_t slash = file.rfind('/');
    std::string tasks = (slash == std::string::npos ? std::string() : file.substr(0, slash + 1)) + "tasks";
    int fd = open(tasks.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) fd = open(file.c_str(), O_WRONLY | O_CLOEXEC);  // v2: no tasks file
    if (fd < 0) {
      fail_step(err, "join cgroup", "open", file);
      while (*n > 0) close(fds[--*n]);
      return false;
    }
    fds[(*n)++] = fd;
  }
  return true;
}

// ----------------------------------------------------------------- child side

void child_join_cgroup(const char *step, bool join, const int *fds, size_t n, unsigned late_unshare) {
  // Only what follows (the cgroup namespace, whose root is the cgroup we sit in,
  // and everything the command does) needs us inside; the root is built already.
  for (size_t i = 0; i < n; i++) {
    if (join && write(fds[i], "0", 1) != 1) child_fail(step, "write", "tasks (0: this process)");
    close(fds[i]);
  }
  child_trace("cgroup joined");
  if (late_unshare && unshare((int)late_unshare) != 0) child_fail(step, "unshare", "cgroup namespace");
}

}  // namespace dynod
