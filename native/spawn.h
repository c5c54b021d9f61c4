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

struct Rlimit {
  int resource;
  unsigned long long soft, hard;
};

struct SpawnRequest {
  unsigned clone_flags = 0;        // CLONE_NEW* for the first clone
  std::string uid_map, gid_map;    // written for a new user namespace while the child waits
  std::vector<Rlimit> rlimits;     // set by the parent (prlimit): the child cannot raise limits from its user namespace
  std::string cgroup_dir;          // v2: CLONE_INTO_CGROUP target ("" = none)
  std::vector<std::string> cgroup_procs;  // files to write the child's pid into
  ChildPlan child{};               // ops, argv, envp point into storage the caller keeps alive
};

struct SpawnResult {
  int pid = -1;
  int pidfd = -1;
  int chan_fd = -1;  // parent end of the record socket
  int sync_fd = -1;  // write end: the second byte tells the child it sits in its cgroup
  bool into_cgroup = false;
};

// Writes text to a kernel file (cgroup.procs, uid_map, …) in one write; false with errno set.
bool write_text(const char *file, const std::string &text);

// Clones and releases the child, which starts building its root at once. Returns
// false and fills err on failure; nothing is left running then.
bool spawn_dyno(SpawnRequest &req, SpawnResult &out, StepError &err);

// Joins the child to its cgroup (unless it was born there) and tells it so; on
// failure kills it. Blocking: a v1 migration waits for an RCU grace period
// (5-15 ms), so the addon runs this on the libuv threadpool. Closes sync_fd.
bool join_cgroup(const std::vector<std::string> &procs_files, const SpawnResult &child, StepError &err);

}  // namespace dynod
