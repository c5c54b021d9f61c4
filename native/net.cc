#include "net.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <system_error>
#include <thread>

#include "channel.h"
#include "process.h"

namespace dynod {

int netns_socket(int pidfd, StepError &err) {
  // setns() changes only the calling thread, and a socket belongs to the namespace
  // it was created in: a short-lived thread keeps the Node thread where it is. Its
  // result lives in shared state, so a thread we could not join may be detached.
  struct Result {
    int fd = -1, err = 0;
    const char *syscall = "";
  };
  const char *step = "publish: enter dyno network";
  std::shared_ptr<Result> r;
  std::thread t;
  try {
    r = std::make_shared<Result>();
    t = std::thread([r, pidfd] {
      if (setns(pidfd, CLONE_NEWNET) != 0) {
        r->err = errno;
        r->syscall = "setns";
        return;
      }
      r->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (r->fd < 0) {
        r->err = errno;
        r->syscall = "socket";
      }
    });
  } catch (const std::system_error &x) {  // pthread_create failed (EAGAIN)
    fail_step(err, step, "pthread_create", x.what(), x.code().value() ? x.code().value() : EAGAIN);
    return -1;
  } catch (const std::exception &x) {  // bad_alloc
    fail_step(err, step, "std::thread", x.what(), ENOMEM);
    return -1;
  }
  try {
    t.join();
  } catch (const std::system_error &x) {
    if (t.joinable()) t.detach();
    fail_step(err, step, "pthread_join", x.what(), x.code().value() ? x.code().value() : EINVAL);
    return -1;
  }
  if (r->fd < 0) fail_step(err, step, r->syscall, "", r->err);
  return r->fd;
}

void child_loopback_up(const char *step) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) child_fail(step, "socket");
  struct ifreq ifr;
  char *p = reinterpret_cast<char *>(&ifr);
  for (size_t i = 0; i < sizeof ifr; i++) p[i] = 0;
  copy_str(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) child_fail(step, "ioctl", "SIOCGIFFLAGS");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) child_fail(step, "ioctl", "SIOCSIFFLAGS");
  close(s);
}

}  // namespace dynod
