// Cgroups.
//
// Parent side: on v2 the child is born in its cgroup (clone3 CLONE_INTO_CGROUP
// with the directory fd from open_cgroup_dir); otherwise (v1, or a kernel or
// seccomp profile without clone3) the parent writes the child's pid into each
// hierarchy's cgroup.procs while the child builds its root, then tells it so.
//
// Child side: wait for that word, then unshare the cgroup namespace, whose root
// is the cgroup the child sits in at that moment.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "step.h"

namespace dynod {

// ---- parent side ----

// An O_PATH fd of a v2 cgroup directory for CLONE_INTO_CGROUP, or -1 with err filled.
int open_cgroup_dir(const std::string &dir, StepError &err);

// Writes pid into every cgroup.procs file. Blocking: a v1 migration waits for an
// RCU grace period (5-15 ms), so the addon runs it on the libuv threadpool.
bool join_cgroup_procs(const std::vector<std::string> &procs_files, pid_t pid, StepError &err);

// ---- child side (async-signal-safe) ----

// Waits until the parent has joined us to our cgroup, then unshares late_unshare
// (CLONE_NEWCGROUP, or 0).
void child_await_cgroup(const char *step, unsigned late_unshare);

}  // namespace dynod
