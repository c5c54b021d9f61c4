// Reaching into a dyno's network namespace from the host (for --publish).
#pragma once
#include "spawn.h"

namespace dynod {
// A non-blocking TCP socket created inside the network namespace of the process
// behind pidfd; the caller connects it to the dyno's $PORT on 127.0.0.1.
int netns_socket(int pidfd, StepError &err);
}
