// Parent side of a dyno start: clone the child into its namespaces (and, on
// cgroup v2, straight into its cgroup), join it to its v1 cgroups while it waits,
// then release it.
#pragma once
#include <string>
#include <vector>

#include "child.h"

namespace dynod {

// A failed step, carried to JavaScript as data.
struct StepError {
  std::string step, syscall, detail;
  int err = 0;
};

struct SpawnRequest {
  unsigned clone_flags = 0;        // CLONE_NEW* for the first clone
  std::string cgroup_dir;          // v2: CLONE_INTO_CGROUP target ("" = none)
  std::vector<std::string> cgroup_procs;  // files to write the child's pid into
  ChildPlan child{};               // ops, argv, envp point into storage the caller keeps alive
};

struct SpawnResult {
  int pid = -1;
  int pidfd = -1;
  int chan_fd = -1;  // parent end of the record socket
  bool into_cgroup = false;
};

// Returns false and fills err on failure; nothing is left running then.
bool spawn_dyno(SpawnRequest &req, SpawnResult &out, StepError &err);

}  // namespace dynod
