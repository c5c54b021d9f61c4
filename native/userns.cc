#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace dynod {

int idmap_userns(const std::string &uid_map, const std::string &gid_map, StepError &err) {
  // A namespace lives as long as a process or an fd holds it: a child that only
  // waits gives us the time to write its maps and open the namespace.
  int pp[2];
  if (pipe2(pp, O_CLOEXEC) != 0) {
    err = {"idmap namespace", "pipe2", "", errno};
    return -1;
  }
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &saved);
  long pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), 0, 0, 0, 0);
  if (pid == 0) {
    close(pp[1]);
    char b;
    while (read(pp[0], &b, 1) < 0 && errno == EINTR) {}
    _exit(0);
  }
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  close(pp[0]);
  if (pid < 0) {
    close(pp[1]);
    err = {"idmap namespace", "clone", "", clone_errno};
    return -1;
  }
  char path[64];
  int fd = -1;
  snprintf(path, sizeof path, "/proc/%ld/uid_map", pid);
  if (!write_text(path, uid_map)) {
    err = {"idmap namespace", "write", path, errno};
  } else {
    snprintf(path, sizeof path, "/proc/%ld/gid_map", pid);
    if (!write_text(path, gid_map)) {
      err = {"idmap namespace", "write", path, errno};
    } else {
      snprintf(path, sizeof path, "/proc/%ld/ns/user", pid);
      fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) err = {"idmap namespace", "open", path, errno};
    }
  }
  close(pp[1]);  // releases the child
  int status;
  while (waitpid((pid_t)pid, &status, 0) < 0 && errno == EINTR) {}
  return fd;
}

}  // namespace dynod
