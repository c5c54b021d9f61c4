#include "spare.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process.h"
#include "sys.h"
#include "userns.h"

namespace dynod {
namespace {

constexpr char kSpareClone = 1;
constexpr size_t kSpareStack = 16 * 1024;

#if defined(__x86_64__)
// A system call that leaves errno alone: H shares the TLS of the thread that made it,
// whose errno is not H's to write.
long raw_syscall(long n, long a = 0, long b = 0, long c = 0) {
  long r;
  asm volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}

// H: parked in the spare namespaces until a start gives it a clone to make. Raw system
// calls only, on its own stack; it never returns into ours.
int spare_main(void *arg) {
  Spare *s = static_cast<Spare *>(arg);
  // Dies with dynod: a SIGKILL of dynod must not leave it (or its namespaces) behind.
  raw_syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
  if (raw_syscall(SYS_getppid) != s->creator) raw_syscall(SYS_exit, 0);
  // what ps shows for it (a copy of Node's name would hide what it is)
  static const char name[] = "dynod-spare";
  raw_syscall(SYS_prctl, PR_SET_NAME, (long)name);
  // Loopback up now rather than in the dyno's setup, where it cost ~0.1 ms (the kernel's
  // opening of lo, IPv6's ::1 with it); the dyno's own loopback step then finds it up.
  long sock = raw_syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock >= 0) {
    struct ifreq ifr;
    char *p = reinterpret_cast<char *>(&ifr);
    for (size_t i = 0; i < sizeof ifr; i++) p[i] = 0;
    ifr.ifr_name[0] = 'l';
    ifr.ifr_name[1] = 'o';
    if (raw_syscall(SYS_ioctl, sock, SIOCGIFFLAGS, (long)&ifr) == 0) {
      ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
      raw_syscall(SYS_ioctl, sock, SIOCSIFFLAGS, (long)&ifr);
    }
    raw_syscall(SYS_close, sock);
  }
  char ready = 1;  // spare_make returns once it is named and parked
  raw_syscall(SYS_write, s->done_w, (long)&ready, 1);
  for (;;) {
    char b = 0;
    long n = raw_syscall(SYS_read, s->go_r, (long)&b, 1);
    if (n == -EINTR) continue;
    if (n != 1 || b != kSpareClone) raw_syscall(SYS_exit, 0);  // EOF cannot come (one fd table): spare_free kills it
    long r = dynod_clone3_on_stack(s->args, sizeof *s->args, s->fn, s->fn_arg);
    s->result = r;
    raw_syscall(SYS_write, s->done_w, (long)&b, 1);
    if (r >= 0) raw_syscall(SYS_exit, 0);
  }
}
#endif

void close_fd(int &fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

}  // namespace

Spare *spare_make(const std::string &uid_map, const std::string &gid_map, StepError &err) {
  const char *step = "spare namespaces";
  if (!shared_spawn_available()) {
    fail_step(err, step, "clone", "spares serve only clones that share dynod's memory (x86-64, not DYNOD_SPAWN_FORK=1)", ENOSYS);
    return nullptr;
  }
#if defined(__x86_64__)
  auto *s = new Spare;
  s->uid_map = uid_map;
  s->gid_map = gid_map;
  int go[2], done[2];
  if (pipe2(go, O_CLOEXEC) != 0) {
    fail_step(err, step, "pipe2");
    delete s;
    return nullptr;
  }
  s->go_r = go[0];
  s->go_w = go[1];
  if (pipe2(done, O_CLOEXEC) != 0) {
    fail_step(err, step, "pipe2");
    spare_free(s);
    return nullptr;
  }
  s->done_r = done[0];
  s->done_w = done[1];
  s->stack = mmap(nullptr, kSpareStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (s->stack == MAP_FAILED) {
    s->stack = nullptr;
    fail_step(err, step, "mmap", "helper stack");
    spare_free(s);
    return nullptr;
  }
  s->creator = getpid();
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &saved);  // H keeps them all blocked: no handler of Node's runs on it
  // CLONE_FILES: the fds a start opens later (its cgroup, stdio, channel) are H's as well
  // when it clones the dyno, which gets a copy of this table as from our own clone.
  int pidfd = -1;  // CLONE_PIDFD: stored before clone returns, so a made H always has one
  int pid = clone(spare_main, static_cast<char *>(s->stack) + kSpareStack, CLONE_VM | CLONE_FILES | CLONE_NEWUSER | CLONE_NEWNET | CLONE_PIDFD | SIGCHLD, s, &pidfd);
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (pid < 0) {
    fail_step(err, step, "clone", "CLONE_NEWUSER|CLONE_NEWNET", clone_errno);
    spare_free(s);
    return nullptr;
  }
  s->pid = pid;
  s->pidfd = pidfd;
  if (!write_id_maps(pid, uid_map, gid_map, step, err)) {
    spare_free(s);
    return nullptr;
  }
  struct pollfd p[2] = {{s->done_r, POLLIN, 0}, {s->pidfd, POLLIN, 0}};
  int n;
  do n = poll(p, 2, 10'000);
  while (n < 0 && errno == EINTR);
  char ready = 0;
  if (n <= 0 || !(p[0].revents & POLLIN) || read(s->done_r, &ready, 1) != 1) {
    fail_step(err, step, "read", "the helper did not start", n == 0 ? ETIMEDOUT : ECHILD);
    spare_free(s);
    return nullptr;
  }
  return s;
#else
  (void)uid_map;
  (void)gid_map;
  return nullptr;  // not reached: no shared clone here
#endif
}

namespace {

// H has ended (killed, or stopped and then killed by us): its pidfd is readable.
void wait_ended(int pidfd) {
  siginfo_t info;
  while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {}
}

}  // namespace

long spare_clone(Spare *s, const struct clone_args *given, int (*fn)(void *), void *fn_arg) {
  // H's own copy: the caller's arguments stay as given (its retry, or its own clone after
  // a spare that is gone, starts from them).
  s->own = *given;
  s->own.flags &= ~(uint64_t)(CLONE_NEWUSER | CLONE_NEWNET);
  s->own.flags |= CLONE_PARENT;
  s->own.exit_signal = 0;  // clone3 refuses one with CLONE_PARENT: the child's is H's (SIGCHLD)
  s->args = &s->own;
  s->fn = fn;
  s->fn_arg = fn_arg;
  s->result = -ECHILD;
  // CLONE_PIDFD: the kernel stores the child's pidfd here before the child runs, so once H
  // has ended this says whether H made a child.
  int *slot = reinterpret_cast<int *>(static_cast<uintptr_t>(given->pidfd));
  char b = kSpareClone;
  if (write(s->go_w, &b, 1) != 1) return kSpareGone;
  // H's byte, or H's end: the pipe's write end is ours too (one fd table), so no EOF comes.
  // A minute without either (H stopped) ends H.
  struct pollfd p[2] = {{s->done_r, POLLIN, 0}, {s->pidfd, POLLIN, 0}};
  bool answered = false;
  for (;;) {
    int n = poll(p, 2, 60'000);
    if (n < 0 && errno == EINTR) continue;
    if (n > 0 && (p[0].revents & POLLIN)) {
      answered = true;
      break;
    }
    if (n > 0 && p[1].revents) break;
    syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, nullptr, 0);  // poll failed or timed out
    wait_ended(s->pidfd);
    break;
  }
  if (answered) {
    ssize_t n;
    do n = read(s->done_r, &b, 1);
    while (n < 0 && errno == EINTR);
    if (n == 1) return s->result;
    wait_ended(s->pidfd);
  }
  if (*slot < 0) return kSpareGone;  // no child: the clone is the caller's to make
  // H ended in the middle of the clone: the child may still run on the caller's stack,
  // which the caller frees on failure. It goes first.
  syscall(SYS_pidfd_send_signal, *slot, SIGKILL, nullptr, 0);
  siginfo_t info;
  while (waitid((idtype_t)P_PIDFD, (id_t)*slot, &info, WEXITED) < 0 && errno == EINTR) {}
  close(*slot);
  *slot = -1;
  return -ECHILD;
}

void spare_free(Spare *s) {
  if (!s) return;
  if (s->pidfd >= 0) {
    // H has nothing to clean up: SIGKILL, and reap it by its pidfd (never a pid that
    // could have been reused).
    syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, nullptr, 0);
    siginfo_t info;
    while (waitid((idtype_t)P_PIDFD, (id_t)s->pidfd, &info, WEXITED) < 0 && errno == EINTR) {}
  }
  // Only now is H off its stack (and done with *s).
  close_fd(s->pidfd);
  close_fd(s->go_r);
  close_fd(s->go_w);
  close_fd(s->done_r);
  close_fd(s->done_w);
  if (s->stack) munmap(s->stack, kSpareStack);
  delete s;
}

}  // namespace dynod
