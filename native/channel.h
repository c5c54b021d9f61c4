// The record format shared by the three processes of a dyno start: the Node parent
// (addon), the cloned child (before it execs dynod-init) and dynod-init itself.
// Records travel over a SOCK_SEQPACKET socketpair, one record per message, so a
// reader never sees half a record; an fd (the pty master) may ride along as
// SCM_RIGHTS. Writers use only clock_gettime() and sendmsg(): async-signal-safe,
// callable from the cloned child.
#pragma once
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

namespace dynod {

enum RecordKind : uint32_t {
  kRecError = 1,  // a setup step failed; err holds errno
  kRecTrace = 2,  // a phase boundary, for DYNOD_TRACE
  kRecPty = 3,    // the dyno's pty master is attached as SCM_RIGHTS
};

struct Record {
  uint32_t kind;
  int32_t err;
  uint64_t t_ns;       // CLOCK_MONOTONIC at the time of the record
  char step[96];       // what we were doing, e.g. "mount /app (overlay)"
  char syscall[32];    // which syscall failed
  char detail[128];    // extra context, e.g. the command name
};

// strlcpy without libc: callable from the cloned child.
inline void copy_str(char *dst, size_t cap, const char *src) {
  size_t i = 0;
  if (src)
    for (; i + 1 < cap && src[i]; i++) dst[i] = src[i];
  dst[i] = 0;
}

inline uint64_t now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// Sends one record (and fd, when >= 0, as SCM_RIGHTS) on chan. Best effort: a
// reader that is gone is not an error here. Preserves errno.
inline void send_record(int chan, uint32_t kind, int err, const char *step, const char *sc, const char *detail, int fd = -1) {
  if (chan < 0) return;
  int saved = errno;
  Record r;
  char *p = reinterpret_cast<char *>(&r);
  for (size_t i = 0; i < sizeof r; i++) p[i] = 0;
  r.kind = kind;
  r.err = err;
  r.t_ns = now_ns();
  copy_str(r.step, sizeof r.step, step);
  copy_str(r.syscall, sizeof r.syscall, sc);
  copy_str(r.detail, sizeof r.detail, detail);
  struct iovec iov = {&r, sizeof r};
  struct msghdr msg;
  p = reinterpret_cast<char *>(&msg);
  for (size_t i = 0; i < sizeof msg; i++) p[i] = 0;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  if (fd >= 0) {
    for (size_t i = 0; i < sizeof cbuf; i++) cbuf[i] = 0;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    const char *src = reinterpret_cast<const char *>(&fd);
    char *dst = reinterpret_cast<char *>(CMSG_DATA(c));
    for (size_t i = 0; i < sizeof fd; i++) dst[i] = src[i];
  }
  while (sendmsg(chan, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR) {}
  errno = saved;
}

}  // namespace dynod
