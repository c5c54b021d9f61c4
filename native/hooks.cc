#include "hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sys.h"

namespace dynod {

namespace {

char g_state[65536];
size_t g_state_len;

long now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

// "exit status N" / "killed by signal N" without snprintf
void describe(int status, char *out, size_t size) {
  const char *what = WIFSIGNALED(status) ? "killed by signal " : "exit status ";
  int n = WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status);
  char digits[12];
  int k = 0;
  do digits[k++] = (char)('0' + n % 10);
  while ((n /= 10) && k < 11);
  size_t i = 0;
  for (; *what && i + 1 < size; what++) out[i++] = *what;
  while (k > 0 && i + 1 < size) out[i++] = digits[--k];
  out[i] = 0;
}

}  // namespace

void child_await_state(const ChildOp &op) {
  close(op.fd2);
  g_state_len = 0;
  for (;;) {
    ssize_t n = read(op.fd, g_state + g_state_len, sizeof g_state - g_state_len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) child_fail(op.step, "read", "state");
    if (n == 0) break;
    g_state_len += (size_t)n;
    if (g_state_len == sizeof g_state) {
      errno = EFBIG;
      child_fail(op.step, "read", "state over 64 KiB");
    }
  }
  close(op.fd);
  // nothing came: the parent gave up (a prestart or createRuntime hook failed)
  if (g_state_len == 0) {
    errno = ECANCELED;
    child_fail(op.step, "read", "no state from dynod-oci");
  }
}

void child_run_hook(const ChildOp &op) {
  int in[2];
  if (pipe2(in, O_CLOEXEC) != 0) child_fail(op.step, "pipe2");
  // the state fits a pipe's buffer (64 KiB): written before the hook runs
  if (!write_all(in[1], g_state, g_state_len)) child_fail(op.step, "write", "state");
  close(in[1]);
  // a raw clone: glibc's fork would take its locks, which another thread of the
  // process we were cloned from may have held
  long pid = syscall(SYS_clone, (unsigned long)SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) child_fail(op.step, "clone");
  if (pid == 0) {
    if (dup2(in[0], 0) != 0) _exit(126);
    // nothing of dynod-oci's but stdio reaches the hook, and its signals are its own
    syscall(SYS_close_range, 3U, ~0U, 0U);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (chroot(op.target) != 0 || chdir("/") != 0) _exit(126);
    execve(op.path, op.argv, op.envp);
    _exit(errno == ENOENT ? 127 : 126);
  }
  close(in[0]);
  long deadline = op.timeout_ms ? now_ms() + op.timeout_ms : 0;
  int status = 0;
  for (;;) {
    long r = wait4((pid_t)pid, &status, WNOHANG, nullptr);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) child_fail(op.step, "wait4");
    if (deadline && now_ms() > deadline) {
      kill((pid_t)pid, SIGKILL);
      while (wait4((pid_t)pid, &status, 0, nullptr) < 0 && errno == EINTR) {}
      errno = ETIMEDOUT;
      child_fail(op.step, "wait4", op.path);
    }
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, nullptr);
  }
  if (status != 0) {
    char why[48];
    describe(status, why, sizeof why);
    errno = 0;
    child_fail(op.step, why, op.path);
  }
}

}  // namespace dynod
