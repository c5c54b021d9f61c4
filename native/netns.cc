#include "netns.h"

#include <errno.h>
#include <sched.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <thread>

namespace dynod {

int netns_socket(int pidfd, StepError &err) {
  // setns() changes only the calling thread, and a socket belongs to the namespace
  // it was created in: a short-lived thread keeps the Node thread where it is.
  int fd = -1, e = 0;
  const char *sc = "";
  std::thread t([&] {
    if (setns(pidfd, CLONE_NEWNET) != 0) {
      e = errno;
      sc = "setns";
      return;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      e = errno;
      sc = "socket";
    }
  });
  t.join();
  if (fd < 0) {
    err.err = e;
    err.step = "publish: enter dyno network";
    err.syscall = sc;
  }
  return fd;
}

}  // namespace dynod
