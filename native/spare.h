// Spare namespaces: the next dyno's user and network namespaces, made ahead, with a
// parked cloner inside them.
//
// Making a network namespace is most of what a dyno's clone costs the kernel (~0.4 ms
// here: its loopback device, sysctl tables, per-protocol state). A long-lived engine
// makes the next dyno's between starts: a helper process (H) is cloned into a new user
// namespace (the dyno's id maps written by us) and a new network namespace, sharing our
// memory and fd table, and waits. A start hands it its clone3 arguments: H clones the
// dyno's PID 1 with CLONE_PARENT (our child, like any dyno) into new PID, mount, UTS and
// IPC namespaces, which H's user namespace then owns, as if PID 1 had made them all
// itself. H exits after that clone; the namespaces are the dyno's.
//
// Parent side only: H runs raw system calls on its own stack (see spare.cc).
#pragma once
#include <errno.h>
#include <linux/sched.h>
#include <sys/types.h>

#include <string>

#include "step.h"

namespace dynod {

struct Spare {
  pid_t pid = -1;                // H: our child until reaped (its maps are written by pid)
  int pidfd = -1;                // H's (CLONE_PIDFD): to see it die, and to end and reap it
  pid_t creator = -1;            // our pid: H ends at once if its parent is not this
  int go_r = -1, go_w = -1;      // a byte for H: clone `args`
  int done_r = -1, done_w = -1;  // H's byte after each clone: `result` is set
  void *stack = nullptr;
  std::string uid_map, gid_map;  // what H's user namespace maps
  // A start's clone, set before the byte; H reads them (shared memory).
  struct clone_args own;         // the caller's arguments as H clones with them
  struct clone_args *args = nullptr;
  int (*fn)(void *) = nullptr;
  void *fn_arg = nullptr;
  long result = 0;
};

// A new spare, or null with err filled (ENOSYS where the shared clone does not exist).
Spare *spare_make(const std::string &uid_map, const std::string &gid_map, StepError &err);

// A start's clone3 through the spare: H runs dynod_clone3_on_stack with a copy of `given`
// (CLONE_PARENT added, CLONE_NEWUSER and CLONE_NEWNET taken out: those are H's). The
// pid, or -errno. After a failed clone the spare may clone again; after a successful
// one it is spent. kSpareGone: H was gone (killed) and made no child, so the clone is
// the caller's to make. H gone in the middle of a clone: its child is killed and reaped,
// and -ECHILD returned.
constexpr long kSpareGone = -100000;  // no errno
long spare_clone(Spare *s, const struct clone_args *given, int (*fn)(void *), void *fn_arg);

// Ends H if it still waits, reaps it, and frees the spare.
void spare_free(Spare *s);

}  // namespace dynod
