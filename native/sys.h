// Small system helpers used on more than one side of a dyno start. Everything
// here is async-signal-safe (raw system calls on caller memory), so the cloned
// child and the static dynod-init may use it as well as the addon.
#pragma once
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
// Linux 6.3; older headers lack them (older kernels refuse them with EINVAL).
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

namespace dynod {

// write(2) until done; false with errno set (EIO for a write of 0 bytes).
inline bool write_all(int fd, const void *buf, size_t len) {
  const char *b = static_cast<const char *>(buf);
  while (len > 0) {
    ssize_t n = write(fd, b, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) {
      errno = EIO;
      return false;
    }
    b += n;
    len -= (size_t)n;
  }
  return true;
}

// One write(2) of a whole kernel file (uid_map, cgroup.procs: the kernel takes
// them in a single write); false with errno set.
inline bool write_text(const char *file, const char *text, size_t len) {
  int fd = open(file, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t w = write(fd, text, len);
  int saved = w < 0 ? errno : EIO;
  close(fd);
  if (w == (ssize_t)len) return true;
  errno = saved;
  return false;
}

// Every signal back to its default disposition (what Node and dynod-init set up
// must not reach the dyno). The mask is left alone.
inline void reset_signal_dispositions() {
  struct sigaction dfl;
  char *p = reinterpret_cast<char *>(&dfl);
  for (size_t i = 0; i < sizeof dfl; i++) p[i] = 0;
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
}

// memfd_create(name, flags | exec_flag), or without exec_flag (MFD_EXEC or
// MFD_NOEXEC_SEAL) on a kernel older than 6.3, which refuses it with EINVAL.
inline int memfd_create_exec(const char *name, unsigned flags, unsigned exec_flag) {
  int fd = (int)syscall(SYS_memfd_create, name, flags | exec_flag);
  if (fd < 0 && errno == EINVAL) fd = (int)syscall(SYS_memfd_create, name, flags);
  return fd;
}

}  // namespace dynod
