// Network namespaces.
//
// Child side: bring the loopback interface of a new network namespace up.
// Parent side: a socket inside a dyno's network namespace (for --publish).
#pragma once
#include "step.h"

namespace dynod {

// ---- parent side ----

// A non-blocking TCP socket created inside the network namespace of the process
// behind pidfd (the caller connects it to the dyno's $PORT on 127.0.0.1), or -1
// with err filled. Never throws.
int netns_socket(int pidfd, StepError &err);

// ---- child side (async-signal-safe) ----

void child_loopback_up(const char *step);

}  // namespace dynod
