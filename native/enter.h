// Entering a running dyno (dynod exec).
//
// Parent side: find the dyno's PID 1 by pid and start time, holding it by a pidfd
// from the moment it is checked, then start a child the way a dyno start does
// (spawn_dyno: born in the dyno's cgroup on v2, written into cgroup.procs on v1,
// rlimits set by the parent, failures as records) but in no new namespace: its
// ops wait for the cgroup join, then join every namespace of PID 1 in one
// setns(pidfd, flags). It then execs dynod-init, which, not being PID 1 of the
// namespace it forks into, runs as the session's helper (see init.cc).
//
// Child side: the setns op (async-signal-safe, reports through child_fail).
#pragma once
#include <sched.h>

#include "process.h"
#include "step.h"

namespace dynod {

// Every namespace a dyno can have of its own; what enter_dyno may be asked to join.
constexpr unsigned kEnterableNamespaces =
    CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP;

struct EnterRequest {
  int pid = -1;                      // the dyno's PID 1 as the host sees it
  unsigned long long start_time = 0; // its /proc/<pid>/stat field 22: a reused pid has another
  unsigned namespaces = 0;           // CLONE_NEW* flags joined in one setns
  SpawnRequest spawn;                // rlimits, cgroup, stdio, dynod-init, pass fds, argv, envp; no clone flags, maps or ops
};

// ---- parent side ----

// A pidfd of pid while it is the process that started at start_time, or -1 with err
// filled: ESRCH when no such process runs (gone, a zombie, or the pid reused).
int open_dyno_pidfd(int pid, unsigned long long start_time, StepError &err);

// Starts the helper inside the dyno (see above). Returns false with err filled when
// the target is not the expected process or the clone fails; nothing is left then.
bool enter_dyno(EnterRequest &req, SpawnResult &out, StepError &err);

// ---- child side (async-signal-safe) ----

// setns(op.fd, op.flags), then, having joined a user namespace, become its root so that
// dynod-init keeps its capabilities there across the exec.
void child_join_namespaces(const ChildOp &op);

}  // namespace dynod
