#include "console.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace dynod {

namespace {

int connect_unix(const std::string &path, int type) {
  int s = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path.data(), path.size());
  if (connect(s, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0) return s;
  int e = errno;
  close(s);
  errno = e;
  return -1;
}

}  // namespace

bool send_console_fd(const std::string &path, int fd, const std::string &name, StepError &err) {
  const char *step = "console socket";
  if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path))
    return fail_step(err, step, "connect", path + ": a socket path of 1-107 bytes", ENAMETOOLONG);
  // The listener's type is not ours to know: conmon listens with SOCK_SEQPACKET,
  // other callers with SOCK_STREAM; connect says which one it is (EPROTOTYPE).
  int s = connect_unix(path, SOCK_SEQPACKET);
  if (s < 0 && errno == EPROTOTYPE) s = connect_unix(path, SOCK_STREAM);
  if (s < 0) return fail_step(err, step, "connect", path);
  char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  iovec iov = {const_cast<char *>(name.data()), name.size()};
  msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &fd, sizeof(int));
  ssize_t n;
  do n = sendmsg(s, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  int e = errno;
  close(s);
  if (n < 0) return fail_step(err, step, "sendmsg", path, e);
  return true;
}

}  // namespace dynod
