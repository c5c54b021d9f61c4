// Cgroups.
//
// Parent side: on v2 the child is born in its cgroup (clone3 CLONE_INTO_CGROUP
// with the directory fd from open_cgroup_dir); otherwise (v1, or a kernel or
// seccomp profile without clone3) it joins it itself, through files the parent
// opens before the clone (open_cgroup_joins).
//
// Why the child and not the parent: a write of another pid to cgroup.procs takes
// the cgroup threadgroup lock for writing, and after a quiet moment that waits for
// an RCU grace period (5-18 ms measured here). A single-threaded process writing
// "0" to v1's tasks file moves only itself, which needs no such lock (Linux 6.0+):
// 0.3 ms. Older kernels take the lock either way, so this is never slower.
//
// Child side: join, then unshare the cgroup namespace, whose root is the cgroup
// the child sits in at that moment.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "step.h"

namespace dynod {

// ---- parent side ----

// An O_PATH fd of a v2 cgroup directory for CLONE_INTO_CGROUP, or -1 with err filled.
int open_cgroup_dir(const std::string &dir, StepError &err);

// Opens, for writing, what the child writes "0" into to join each hierarchy: the
// tasks file beside each cgroup.procs where there is one (v1), else cgroup.procs
// itself (v2 after a refused CLONE_INTO_CGROUP). Fills fds[0..*n) (close-on-exec),
// or closes what it opened and fills err.
bool open_cgroup_joins(const std::vector<std::string> &procs_files, int *fds, size_t *n, StepError &err);

// ---- child side (async-signal-safe) ----

// Joins our cgroup through fds (when join: not born in it), closes them, then
// unshares late_unshare (CLONE_NEWCGROUP, or 0).
void child_join_cgroup(const char *step, bool join, const int *fds, size_t n, unsigned late_unshare);

}  // namespace dynod
