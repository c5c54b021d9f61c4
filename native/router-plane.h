// The router's native data plane: the plain-HTTP hot path of src/router, on epoll
// threads of its own.
//
// JavaScript stays the control plane (which dynos are up, limits, timeouts, the
// error pages, the router line's format) and the slow path: a request the plane does
// not take whole (HTTP/1.0, an upgrade, Expect, a chunked or large body, a head the
// router would refuse, no dyno with room, a failed connect) is handed over before any
// byte of it reached a dyno: the client's fd and the bytes read from it go to
// JavaScript, whose router serves the connection from then on. A TLS connection (the
// plane terminates TLS with the OpenSSL Node is built with) cannot change hands: its
// plain bytes reach JavaScript through a socketpair the plane relays. What the plane
// takes, it finishes itself, with the router's H12/H13/H15/H17/H18/H27 and its stale-
// connection retry, and reports as a line record.
#pragma once
#include <stdint.h>
#include <sys/socket.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "step.h"

namespace dynod {

struct PlaneBackend {
  // JavaScript's identity of the dyno: the same id is the same dyno (its counters, its
  // connections); a new dyno of the same name has a new id
  uint64_t id = 0;
  std::string name;
  // the dyno's network namespace (a pidfd the plane owns), or -1: addr is reachable from here
  int pidfd = -1;
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
};

struct PlaneCode {
  std::string start, end;
  int status;
};

struct PlaneOptions {
  // bound, listening, non-blocking; the plane owns them. Loop i takes fds i, i + threads,
  // …: plane_listen's SO_REUSEPORT group of one per thread spreads connections by hash.
  std::vector<int> listen_fds;
  std::vector<int> listen_ports;  // each fd's port: X-Forwarded-Port
  std::vector<char> listen_tls;   // each fd's: 1 for the TLS listener
  // the TLS listener's certificate (its chain after it) and private key, PEM, and the
  // ciphers it offers (an OpenSSL cipher string, TLS_* names for TLS 1.3: Node's default)
  std::string tls_cert, tls_key, tls_ciphers;
  int threads = 1;
  int max_in_flight = 50;
  int connect_ms = 5000, first_byte_ms = 30000, idle_ms = 55000, quarantine_ms = 5000, client_idle_ms = 60000, pool_idle_ms = 90000;
  // the router's error responses, keyed "CODE keep head" (e.g. "H12 1 0"): JavaScript's own bytes
  std::map<std::string, std::string> pages;
  // per code the plane may end a request with (codes.ts): the router line's start
  // ("at=error code=H12 desc=\"…\""), its end (" sock=client") and the status logged
  std::map<std::string, PlaneCode> codes;
  // limits.ts's: a head beyond them is JavaScript's to refuse
  size_t header_name_max = 1000;
  int max_headers = 1000;
};

// What JavaScript gets from the plane (plane_drain).
struct PlaneEvent {
  // kPump: a slot freed while JavaScript has requests waiting for room
  enum Kind { kLine, kHandoff, kPump } kind = kLine;
  // kHandoff: the client's fd (JavaScript's from now on), or for TLS a socketpair end
  // carrying its plain bytes, and the bytes read from it; kLine: the router line
  // (src/router/log-line.ts's format)
  int fd = -1;
  std::string bytes;
  // kHandoff: the client's address, the listener's port, 1 for TLS
  std::string ip;
  int port = 0;
  bool tls = false;
  // kHandoff after a failed connect: the dyno tried (its PlaneBackend id, 0: none) and the
  // time spent connecting (ms)
  uint64_t tried_id = 0;
  double connect_ms = -1;
};

class Plane;

// Starts the threads; nullptr with err filled (nothing left open but opts' fds, which
// stay the caller's then). notify_fd: an eventfd the plane writes when events wait.
Plane *plane_start(const PlaneOptions &opts, int notify_fd, StepError &err);
// What the planes share of a dyno (a BigInt64Array over value for JavaScript's Atomics):
// [0] its requests in flight, [1] the end of its quarantine (CLOCK_MONOTONIC ms), [2] that
// quarantine's code (19: H19, 21: H21); keep
// holds it while JavaScript does. The wait flag is one int64 of the same kind.
struct PlaneCounter {
  int64_t *value;
  std::shared_ptr<void> keep;
};
// The dynos requests may go to from now on (the plane takes ownership of pidfds), and
// their counters in that order. A dyno no longer listed gets no new request; its idle
// connections close.
std::vector<PlaneCounter> plane_set_backends(Plane *p, std::vector<PlaneBackend> backends);
// The int64 JavaScript sets to 1 while requests wait for room (kPump events are sent then).
PlaneCounter plane_wait_flag(Plane *p);
void plane_drain(Plane *p, std::vector<PlaneEvent> &out);
// Requests the plane took, client connections it holds, pooled connections per dyno.
// (requests in flight and quarantines are in the shared counters)
struct PlaneBackendStats {
  uint64_t id;
  int idle;  // pooled connections
};
struct PlaneStats {
  uint64_t requests = 0;
  int clients = 0;
  std::vector<PlaneBackendStats> backends;  // the dynos listed now
};
PlaneStats plane_stats(Plane *p);
// Stops the threads and closes every connection and fd the plane holds; frees p. The
// router lines not delivered yet go to lines.
void plane_stop(Plane *p, std::vector<std::string> &lines);

// n bound, listening, non-blocking TCP sockets on host:port (numeric), one SO_REUSEPORT
// group; the port in *bound. False with err filled and nothing left open.
bool plane_listen(const std::string &host, int port, int n, const std::string &proto, std::vector<int> &fds, int *bound, StepError &err);

// Whether the TLS certificate and key (PEM) and ciphers make a server context: "" if so, else why not.
std::string plane_tls_check(const std::string &cert, const std::string &key, const std::string &ciphers);

}  // namespace dynod
