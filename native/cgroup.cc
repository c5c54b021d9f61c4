#include "cgroup.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include "process.h"
#include "sys.h"

namespace dynod {

int open_cgroup_dir(const std::string &dir, StepError &err) {
  int fd = open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail_step(err, "open cgroup", "open", dir);
  return fd;
}

bool join_cgroup_procs(const std::vector<std::string> &procs_files, pid_t pid, StepError &err) {
  std::string text = std::to_string(pid);
  for (const auto &file : procs_files)
    if (!write_text(file.c_str(), text.data(), text.size())) return fail_step(err, "join cgroup", "write", file);
  return true;
}

void child_await_cgroup(const char *step, unsigned late_unshare) {
  // The parent migrates us (v1) while we build the root; only what follows
  // (the cgroup namespace, whose root is the cgroup we sit in, and everything
  // the command does) needs us inside.
  child_await_byte("cgroup joined");
  if (late_unshare && unshare((int)late_unshare) != 0) child_fail(step, "unshare", "cgroup namespace");
}

}  // namespace dynod
