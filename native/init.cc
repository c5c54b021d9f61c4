// dynod-init: PID 1 of every dyno. Built as a static executable and exec'd from a
// sealed memfd, so it works in any root filesystem and cannot be rewritten from
// inside a dyno.
//
//   dynod-init CHANFD UID GID UMASK CWD TTY ROWS COLS TRACE CAPS SECCOMPFD -- COMMAND [ARGS...]
//
// CAPS is the hex mask of capabilities the command keeps (0 for the dyno user).
// SECCOMPFD holds the compiled BPF program (struct sock_filter[]) loaded as the
// last step before exec, or is -1 for none.
//
// It starts the command as the dyno user, reaps every orphan, forwards the
// signals dynod receives to every process of the dyno, and exits with the
// command's status (128+N when a signal N killed it). Its environment is the
// dyno's environment. Failures before the command runs travel to dynod as records
// over CHANFD (see channel.h); dynod never has to guess from an exit code.
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"

using dynod::Record;

namespace {

int g_chan = -1;
bool g_trace = false;

uint64_t now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void send_record(uint32_t kind, int err, const char *step, const char *sc, const char *detail, int fd = -1) {
  if (g_chan < 0) return;
  Record r;
  memset(&r, 0, sizeof r);
  r.kind = kind;
  r.err = err;
  r.t_ns = now_ns();
  dynod::copy_str(r.step, sizeof r.step, step);
  dynod::copy_str(r.syscall, sizeof r.syscall, sc);
  dynod::copy_str(r.detail, sizeof r.detail, detail);
  struct iovec iov = {&r, sizeof r};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  if (fd >= 0) {
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  while (sendmsg(g_chan, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR) {}
}

void trace(const char *phase) {
  if (g_trace) send_record(dynod::kRecTrace, 0, phase, "", "");
}

[[noreturn]] void fail(const char *step, const char *sc, const char *detail = "", int code = 125) {
  send_record(dynod::kRecError, errno, step, sc, detail);
  _exit(code);
}

struct Args {
  uid_t uid;
  gid_t gid;
  mode_t umask_value;
  const char *cwd;
  bool tty;
  unsigned short rows, cols;
  unsigned long long caps;
  int seccomp_fd;
  char **command;
};

// Drop every capability from every set. Root keeps its uid but loses its power;
// the bounding set makes the loss permanent across exec.
void drop_capabilities(unsigned long long keep) {
  for (int cap = 0; cap <= 63; cap++) {
    if (keep & (1ull << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) fail("drop capabilities", "prctl", "PR_CAPBSET_DROP");
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    fail("drop capabilities", "prctl", "PR_CAP_AMBIENT_CLEAR_ALL");
}

void set_capability_sets(unsigned long long keep) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  for (int i = 0; i < 2; i++) {
    data[i].effective = data[i].permitted = (uint32_t)(keep >> (32 * i));
  }
  if (syscall(SYS_capset, &hdr, data) != 0) fail("drop capabilities", "capset");
}

// Loads the BPF program the parent compiled (a struct sock_filter array in an fd).
// No-new-privileges is already set, so no capability is needed.
void load_seccomp(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) fail("load seccomp filter", "fstat");
  size_t len = (size_t)st.st_size;
  if (len == 0 || len % sizeof(struct sock_filter) != 0 || len / sizeof(struct sock_filter) > BPF_MAXINSNS) {
    errno = EINVAL;
    fail("load seccomp filter", "fstat", "not a BPF program");
  }
  struct sock_filter *insns = static_cast<struct sock_filter *>(malloc(len));
  if (!insns) fail("load seccomp filter", "malloc");
  // pread: the parent reuses one fd for many dynos, so its file offset is shared.
  for (size_t off = 0; off < len;) {
    ssize_t n = pread(fd, reinterpret_cast<char *>(insns) + off, len - off, (off_t)off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("load seccomp filter", "pread");
    if (n == 0) {
      errno = EIO;
      fail("load seccomp filter", "pread", "short read");
    }
    off += (size_t)n;
  }
  close(fd);
  struct sock_fprog prog;
  prog.len = (unsigned short)(len / sizeof(struct sock_filter));
  prog.filter = insns;
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) fail("load seccomp filter", "seccomp");
  free(insns);
}

[[noreturn]] void exec_command(const Args &a, int slave) {
  if (setsid() < 0) fail("command session", "setsid");
  if (slave >= 0) {
    if (ioctl(slave, TIOCSCTTY, 0) != 0) fail("controlling terminal", "ioctl", "TIOCSCTTY");
    for (int i = 0; i < 3; i++)
      if (dup2(slave, i) < 0) fail("terminal stdio", "dup2");
    if (slave > 2) close(slave);
  }
  drop_capabilities(a.caps);
  if (a.uid != 0) {
    gid_t groups[1] = {a.gid};
    if (setgroups(1, groups) != 0) fail("switch user", "setgroups");
    if (setresgid(a.gid, a.gid, a.gid) != 0) fail("switch user", "setresgid");
    if (setresuid(a.uid, a.uid, a.uid) != 0) fail("switch user", "setresuid");
  } else {
    if (setgroups(0, nullptr) != 0) fail("switch user", "setgroups");
  }
  set_capability_sets(a.uid == 0 ? a.caps : 0);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("no new privileges", "prctl");
  umask(a.umask_value);
  if (chdir(a.cwd) != 0) fail("working directory", "chdir", a.cwd);
  // A cwd reached through a leaked fd would resolve outside the root (CVE-2024-21626).
  char buf[4096];
  if (!getcwd(buf, sizeof buf)) fail("working directory", "getcwd", a.cwd);

  // Reset what Node and dynod-init changed: dispositions (Node ignores SIGPIPE) and mask.
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  // Last, so the filter never has to allow our own setup (runtime-anchors.md 1.0 step 9).
  if (a.seccomp_fd >= 0) load_seccomp(a.seccomp_fd);
  trace("exec command");
  execvp(a.command[0], a.command);
  int e = errno;
  errno = e;
  fail("exec", "execve", a.command[0], (e == ENOENT || e == ENOTDIR) ? 127 : 126);
}

int open_terminal(const Args &a, int *slave_out) {
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) fail("terminal", "open", "/dev/ptmx");
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) != 0) fail("terminal", "ioctl", "TIOCSPTLCK");
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) fail("terminal", "ioctl", "TIOCGPTPEER");
  if (fchown(slave, a.uid, a.gid) != 0) fail("terminal", "fchown");
  struct winsize ws;
  memset(&ws, 0, sizeof ws);
  ws.ws_row = a.rows;
  ws.ws_col = a.cols;
  if (a.rows && a.cols && ioctl(slave, TIOCSWINSZ, &ws) != 0) fail("terminal", "ioctl", "TIOCSWINSZ");
  *slave_out = slave;
  return master;
}

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 125;
}

bool forwarded(int sig) {
  switch (sig) {
    case SIGTERM: case SIGINT: case SIGHUP: case SIGQUIT:
    case SIGUSR1: case SIGUSR2: case SIGWINCH:
      return true;
    default:
      return false;
  }
}

}  // namespace

int main(int argc, char **argv) {
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  if (argc < 14 || strcmp(argv[12], "--") != 0) {
    static const char usage[] = "dynod-init: internal helper of dynod, not meant to be run by hand\n";
    if (write(2, usage, sizeof usage - 1) < 0) {}
    return 125;
  }
  g_chan = atoi(argv[1]);
  Args a;
  a.uid = (uid_t)strtoul(argv[2], nullptr, 10);
  a.gid = (gid_t)strtoul(argv[3], nullptr, 10);
  a.umask_value = (mode_t)strtoul(argv[4], nullptr, 8);
  a.cwd = argv[5];
  a.tty = argv[6][0] == '1';
  a.rows = (unsigned short)atoi(argv[7]);
  a.cols = (unsigned short)atoi(argv[8]);
  g_trace = argv[9][0] == '1';
  a.caps = strtoull(argv[10], nullptr, 16);
  a.seccomp_fd = atoi(argv[11]);
  a.command = argv + 13;
  if (a.seccomp_fd >= 0) fcntl(a.seccomp_fd, F_SETFD, FD_CLOEXEC);
  fcntl(g_chan, F_SETFD, FD_CLOEXEC);
  trace("init started");

  int slave = -1;
  if (a.tty) {
    int master = open_terminal(a, &slave);
    send_record(dynod::kRecPty, 0, "terminal", "", "", master);
    close(master);
  }
  pid_t child = fork();
  if (child < 0) fail("start command", "fork");
  if (child == 0) exec_command(a, slave);
  if (slave >= 0) close(slave);
  // Closing our end lets dynod see EOF the moment the command's exec succeeds.
  close(g_chan);
  g_chan = -1;

  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&all, &si);
    if (sig < 0) continue;
    if (sig == SIGCHLD) {
      int status;
      pid_t p;
      while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
        // The dyno ends with its command; leaving PID 1 kills what is left.
        if (p == child) _exit(exit_code(status));
      }
    } else if (forwarded(sig)) {
      kill(-1, sig);  // from PID 1: every process of the namespace but ourselves
    }
  }
}
