// Network namespaces.
//
// Child side: bring the loopback interface of a new network namespace up.
// Parent side: sockets inside a dyno's network namespace: one to connect to the
// dyno's $PORT (--publish), and the listeners dynod serves there (the DNS
// forwarder, --allow-host-port).
#pragma once
#include <stdint.h>

#include <string>
#include <vector>

#include "step.h"

namespace dynod {

// ---- parent side ----

// A socket created inside the network namespace of the process behind pidfd, or -1
// with err filled. Never throws. kTcpClient: non-blocking TCP, which the caller
// connects to the dyno's $PORT on 127.0.0.1; kSockDiag: NETLINK_SOCK_DIAG, for
// diag_listening (a web dyno's readiness polls ask it, with no thread and no setns).
enum class NetnsSocketKind { kTcpClient, kSockDiag };
int netns_socket(int pidfd, NetnsSocketKind kind, StepError &err);
// 1 when a TCP socket listens on port in diag_fd's network namespace, 0 when none, -1 with err.
int diag_listening(int diag_fd, int port, StepError &err);

struct NetnsListen {
  int family;           // AF_INET or AF_INET6
  int type;             // SOCK_STREAM (bound and listening) or SOCK_DGRAM (bound)
  std::string address;  // numeric, e.g. 127.0.0.11
  uint16_t port;
};

// Brings lo up in the network namespace of pidfd and binds non-blocking sockets
// there, one per spec in order, into fds; false with err filled and nothing left
// open. Never throws.
bool netns_listeners(int pidfd, const std::vector<NetnsListen> &specs, std::vector<int> &fds, StepError &err);

// ---- child side (async-signal-safe) ----

void child_loopback_up(const char *step);

}  // namespace dynod
