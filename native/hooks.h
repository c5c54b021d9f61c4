#pragma once
#include "process.h"

namespace dynod {

// OCI's createContainer hooks, run by the child between its mounts and pivot_root:
// in the container's namespaces, chrooted to the host's root (which the child sees
// at OLD), so their path resolves in the runtime's namespace as the runtime spec
// says. The state JSON comes from the parent once its prestart and createRuntime
// hooks are done, which also orders those before these.
// Child side, async-signal-safe: syscalls only, no malloc.
void child_await_state(const ChildOp &op);
void child_run_hook(const ChildOp &op);

}  // namespace dynod
