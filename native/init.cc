// dynod-init: PID 1 of every dyno. Built as a static executable and exec'd from a
// sealed memfd, so it works in any root filesystem and cannot be rewritten from
// inside a dyno.
//
//   dynod-init --chan-fd=3 --uid=30000 --gid=30000 --umask=022 --cwd=/app --tty=0
//              --rows=24 --cols=80 --trace=0 --caps=0 --seccomp-fd=-1 -- COMMAND [ARGS...]
//
// Every option is required, given once, as --name=value, in any order:
//   --chan-fd     the record socket (see channel.h)
//   --uid --gid   the dyno user (decimal)
//   --umask       octal, at most 0777
//   --cwd         the command's working directory (absolute)
//   --tty         1: the command gets a new pty, whose master goes to dynod as a record
//   --rows --cols the pty's size (0 0: leave it)
//   --trace       1: send phase records
//   --caps        hex mask of the capabilities the command keeps (0 for the dyno user)
//   --seccomp-fd  fd of a compiled BPF program (struct sock_filter[]) loaded as the
//                 last step before exec, or -1 for none
// Optional, for OCI containers (dynod-oci):
//   --groups      supplementary gids, comma-separated ("" for none): set exactly
//   --caps-eff --caps-prm --caps-inh --caps-amb
//                 hex masks of the command's capability sets (all four together);
//                 --caps is then the bounding set
//   --nnp         0: no no-new-privileges (setuid binaries work); default 1
//   --start-fd    fd of a FIFO: once the command is found and everything is ready,
//                 end the record channel (the creator sees "created"), then wait for
//                 one byte on it before starting the command (OCI create → start)
//   --console     1: bind the terminal's slave onto /dev/console
//   --preserve-fds N --preserve-from K
//                 the command gets fds K..K+N-1 as 3..3+N-1 (OCI --preserve-fds, socket
//                 activation's LISTEN_FDS)
// An unknown, repeated, missing or malformed option is a usage error: exit 125
// with a message naming it (also sent as a record when --chan-fd was valid).
//
// As PID 1 (a dyno start) it starts the command as the dyno user, reaps every
// orphan, forwards the signals dynod receives to every process of the dyno, and
// exits with the command's status (128+N when a signal N killed it). Without a
// forwarded terminating signal (TERM, INT, HUP, QUIT) the dyno ends with its
// command; after one, every process gets its grace: init keeps reaping until none
// is left, and dynod SIGKILLs init when the grace is over.
//
// Not PID 1, it is the helper of a `dynod exec` session: its parent joined a
// running dyno's namespaces (enter.cc), whose PID namespace takes only children,
// so it forks the command into the dyno the same way, forwards those signals to
// the command's process group only (kill(-1) from outside the dyno's PID
// namespace would reach the host's processes), and exits with the command's
// status as soon as it has one; the command's orphans are the dyno's PID 1's. The
// command dies with the helper (parent-death signal).
//
// Its environment is the dyno's (or the session's) environment. Failures before the
// command runs travel to dynod as records over the channel; dynod never has to guess
// from an exit code.
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "sys.h"

using dynod::Record;

namespace {

int g_chan = -1;
bool g_trace = false;

void send_record(uint32_t kind, int err, const char *step, const char *sc, const char *detail, int fd = -1) {
  dynod::send_record(g_chan, kind, err, step, sc, detail, fd);
}

void trace(const char *phase) {
  if (g_trace) send_record(dynod::kRecTrace, 0, phase, "", "");
}

void say(const char *a, const char *b = "", const char *c = "");

[[noreturn]] void fail(const char *step, const char *sc, const char *detail = "", int code = 125) {
  int e = errno;
  // Once the channel has ended (a started OCI container), stderr is the only way out.
  if (g_chan < 0) {
    say(step, ": ", detail);
    say(sc, ": ", strerror(e));
  }
  send_record(dynod::kRecError, e, step, sc, detail);
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
  bool have_groups;
  size_t ngroups;
  gid_t groups[64];
  bool have_cap_sets;
  unsigned long long cap_eff, cap_prm, cap_inh, cap_amb;
  bool nnp;
  int start_fd;
  bool console;
  int preserve_n, preserve_from;
  char **command;
  bool pid1;  // the dyno's init, or an exec session's helper (or an OCI init in a joined PID namespace)
  pid_t init_pid;  // our own pid, as the command sees its parent when we share its PID namespace
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

void set_capability_sets(unsigned long long eff, unsigned long long prm, unsigned long long inh) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  for (int i = 0; i < 2; i++) {
    data[i].effective = (uint32_t)(eff >> (32 * i));
    data[i].permitted = (uint32_t)(prm >> (32 * i));
    data[i].inheritable = (uint32_t)(inh >> (32 * i));
  }
  if (syscall(SYS_capset, &hdr, data) != 0) fail("drop capabilities", "capset");
}

// The kernel raises an ambient capability only when it is permitted and inheritable;
// runc (and so every config written for it) treats the others as a warning, not a failure.
void raise_ambient(unsigned long long amb) {
  for (int cap = 0; cap <= 63; cap++)
    if (amb & (1ull << cap)) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
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

bool parse_unsigned(const char *s, int base, unsigned long long max, unsigned long long *out);

// HOME when the environment has none, as runc sets it: the user's entry in the
// container's /etc/passwd, else "/".
void set_home(uid_t uid) {
  static char buf[65536];
  const char *home = "/";
  int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    for (char *line = buf; line && *line;) {
      char *next = strchr(line, '\n');
      if (next) *next++ = 0;
      // name:password:uid:gid:gecos:home:shell
      char *f[7] = {line};
      int k = 1;
      for (char *c = line; *c && k < 7; c++)
        if (*c == ':') {
          *c = 0;
          f[k++] = c + 1;
        }
      unsigned long long id;
      if (k >= 6 && parse_unsigned(f[2], 10, 0xffffffffULL, &id) && id == uid && f[5][0]) {
        home = f[5];
        break;
      }
      line = next;
    }
  }
  setenv("HOME", home, 1);
}

[[noreturn]] void exec_command(const Args &a, int slave) {
  if (setsid() < 0) fail("command session", "setsid");
  if (slave >= 0) {
    if (ioctl(slave, TIOCSCTTY, 0) != 0) fail("controlling terminal", "ioctl", "TIOCSCTTY");
    for (int i = 0; i < 3; i++)
      if (dup2(slave, i) < 0) fail("terminal stdio", "dup2");
    if (slave > 2) close(slave);
  }
  // Without no-new-privileges, loading a filter takes CAP_SYS_ADMIN: load it while
  // init still has it (as runc does); the filter then sees the steps below.
  if (!a.nnp && a.seccomp_fd >= 0) load_seccomp(a.seccomp_fd);
  drop_capabilities(a.caps);
  if (a.have_groups) {
    if (setgroups(a.ngroups, a.groups) != 0) fail("switch user", "setgroups");
  } else if (a.uid != 0) {
    gid_t groups[1] = {a.gid};
    if (setgroups(1, groups) != 0) fail("switch user", "setgroups");
  } else {
    if (setgroups(0, nullptr) != 0) fail("switch user", "setgroups");
  }
  // A user other than root keeps its permitted set through the change of uid only so.
  if (a.have_cap_sets && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) fail("switch user", "prctl", "PR_SET_KEEPCAPS");
  if (setresgid(a.gid, a.gid, a.gid) != 0) fail("switch user", "setresgid");
  if (setresuid(a.uid, a.uid, a.uid) != 0) fail("switch user", "setresuid");
  if (a.have_cap_sets) {
    set_capability_sets(a.cap_eff, a.cap_prm, a.cap_inh);
    raise_ambient(a.cap_amb);
  } else {
    unsigned long long keep = a.uid == 0 ? a.caps : 0;
    set_capability_sets(keep, keep, 0);
  }
  if (!a.pid1) {
    // After the change of user, which clears it. Our parent is the helper of an exec
    // session, outside the dyno's PID namespace (getppid() says 0), or the init of an
    // OCI container born in a joined PID namespace (its pid there): anything else
    // means it is gone already and we were reparented.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail("parent death signal", "prctl");
    pid_t parent = getppid();
    if (parent != 0 && parent != a.init_pid) _exit(125);
  }
  if (a.nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("no new privileges", "prctl");
  umask(a.umask_value);
  if (chdir(a.cwd) != 0) fail("working directory", "chdir", a.cwd);
  // A cwd reached through a leaked fd would resolve outside the root (CVE-2024-21626).
  char buf[4096];
  if (!getcwd(buf, sizeof buf)) fail("working directory", "getcwd", a.cwd);

  // Reset what Node and dynod-init changed: dispositions (Node ignores SIGPIPE) and mask.
  dynod::reset_signal_dispositions();
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  if (!getenv("HOME")) set_home(a.uid);
  // Last, so the filter never has to allow our own setup (runtime-anchors.md 1.0 step 9).
  if (a.nnp && a.seccomp_fd >= 0) load_seccomp(a.seccomp_fd);
  trace("exec command");
  if (a.preserve_n > 0) {
    // fd 3 (the record channel) becomes the first preserved fd: failures from here on go to stderr
    g_chan = -1;
    // each source (from + i) lies above every target not yet written (3 + j, j >= i)
    for (int i = 0; i < a.preserve_n; i++)
      if (dup2(a.preserve_from + i, 3 + i) != 3 + i) fail("preserve fds", "dup2");
  }
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
  if (a.console) {
    // OCI: /dev/console is the container's terminal, bound over whatever the rootfs has.
    char name[64];
    if (ptsname_r(master, name, sizeof name) != 0) fail("console", "ptsname_r");
    int fd = open("/dev/console", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) fail("console", "open", "/dev/console");
    close(fd);
    if (mount(name, "/dev/console", nullptr, MS_BIND, nullptr) != 0) fail("console", "mount", "/dev/console");
  }
  *slave_out = slave;
  return master;
}

// The command as execvp would find it, from init's view (PATH of the command's
// environment, relative paths from its cwd): 127 when nothing is there, 126 when
// it cannot be run. OCI's create reports that before the container is started.
void check_command(const Args &a) {
  const char *cmd = a.command[0];
  char path[4096];
  auto runnable = [&](const char *p) {
    struct stat st;
    if (stat(p, &st) != 0) return -1;
    if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111)) return 0;
    return 1;
  };
  if (strchr(cmd, '/')) {
    if (cmd[0] == '/') dynod::copy_str(path, sizeof path, cmd);
    else {
      dynod::copy_str(path, sizeof path, a.cwd);
      size_t n = strlen(path);
      dynod::copy_str(path + n, sizeof path - n, "/");
      dynod::copy_str(path + n + 1, sizeof path - n - 1, cmd);
    }
    int r = runnable(path);
    if (r == 1) return;
    if (r == 0) errno = EACCES;
    int e = errno;
    errno = e;
    fail("exec", "execve", cmd, (e == ENOENT || e == ENOTDIR) ? 127 : 126);
  }
  const char *p = getenv("PATH");
  if (!p) p = "/usr/local/bin:/usr/bin:/bin";
  bool denied = false;
  while (*p) {
    const char *end = strchr(p, ':');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len + strlen(cmd) + 2 < sizeof path) {
      memcpy(path, len ? p : ".", len ? len : 1);
      size_t n = len ? len : 1;
      path[n] = '/';
      dynod::copy_str(path + n + 1, sizeof path - n - 1, cmd);
      int r = runnable(path);
      if (r == 1) return;
      if (r == 0) denied = true;
    }
    if (!end) break;
    p = end + 1;
  }
  errno = denied ? EACCES : ENOENT;
  fail("exec", "execve", cmd, denied ? 126 : 127);
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

// A forwarded signal that asks the dyno to end: from then on every process gets
// its grace, not only the command.
bool terminating(int sig) { return sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT; }

// ---- options ----

void say(const char *a, const char *b, const char *c) {
  const char *parts[] = {"dynod-init: ", a, b, c, "\n"};
  for (const char *s : parts)
    if (write(2, s, strlen(s)) < 0) return;
}

// A whole string of digits in base (no sign, no blanks), at most max.
bool parse_unsigned(const char *s, int base, unsigned long long max, unsigned long long *out) {
  if (!*s) return false;
  unsigned long long v = 0;
  for (; *s; s++) {
    int d;
    if (*s >= '0' && *s <= '9') d = *s - '0';
    else if (*s >= 'a' && *s <= 'f') d = *s - 'a' + 10;
    else if (*s >= 'A' && *s <= 'F') d = *s - 'A' + 10;
    else return false;
    if (d >= base || v > (max - (unsigned long long)d) / (unsigned long long)base) return false;
    v = v * (unsigned long long)base + (unsigned long long)d;
  }
  *out = v;
  return true;
}

struct Option {
  const char *name;
  const char *expect;  // for the message
  bool seen;
  const char *value;
};

enum { kChan, kUid, kGid, kUmask, kCwd, kTty, kRows, kCols, kTrace, kCaps, kSeccomp,
       kGroups, kCapEff, kCapPrm, kCapInh, kCapAmb, kNnp, kStartFd, kConsole, kPreserveFds, kPreserveFrom, kNumOptions };
constexpr int kNumRequired = kGroups;  // the options before it are required

[[noreturn]] void usage_error(int chan, const char *what, const char *arg, const char *why) {
  say(what, arg, why);
  say("usage: dynod-init --chan-fd=N --uid=N --gid=N --umask=OCTAL --cwd=PATH --tty=0|1 --rows=N --cols=N "
      "--trace=0|1 --caps=HEX --seccomp-fd=N|-1 [--groups=G,... --caps-eff=HEX --caps-prm=HEX --caps-inh=HEX "
      "--caps-amb=HEX --nnp=0|1 --start-fd=N --console=0|1] -- COMMAND [ARGS...] (an internal helper of dynod)");
  if (chan >= 0) {
    char detail[128];
    dynod::copy_str(detail, sizeof detail, arg);
    dynod::send_record(chan, dynod::kRecError, EINVAL, "dynod-init options", "argv", detail);
  }
  _exit(125);
}

Args parse_args(int argc, char **argv, int *chan_out) {
  Option o[kNumOptions] = {
      {"chan-fd", ": expected a decimal fd", false, nullptr},
      {"uid", ": expected a decimal id below 4294967295", false, nullptr},
      {"gid", ": expected a decimal id below 4294967295", false, nullptr},
      {"umask", ": expected an octal mask, at most 0777", false, nullptr},
      {"cwd", ": expected an absolute path", false, nullptr},
      {"tty", ": expected 0 or 1", false, nullptr},
      {"rows", ": expected a decimal number below 65536", false, nullptr},
      {"cols", ": expected a decimal number below 65536", false, nullptr},
      {"trace", ": expected 0 or 1", false, nullptr},
      {"caps", ": expected a hex mask of at most 64 bits", false, nullptr},
      {"seccomp-fd", ": expected a decimal fd or -1", false, nullptr},
      {"groups", ": expected decimal gids separated by commas (at most 64)", false, nullptr},
      {"caps-eff", ": expected a hex mask of at most 64 bits", false, nullptr},
      {"caps-prm", ": expected a hex mask of at most 64 bits", false, nullptr},
      {"caps-inh", ": expected a hex mask of at most 64 bits", false, nullptr},
      {"caps-amb", ": expected a hex mask of at most 64 bits", false, nullptr},
      {"nnp", ": expected 0 or 1", false, nullptr},
      {"start-fd", ": expected a decimal fd", false, nullptr},
      {"console", ": expected 0 or 1", false, nullptr},
      {"preserve-fds", ": expected a count of fds, at most 8", false, nullptr},
      {"preserve-from", ": expected a decimal fd above 3", false, nullptr},
  };
  int chan = -1;
  Args a;
  memset(&a, 0, sizeof a);
  a.nnp = true;
  a.start_fd = -1;
  unsigned long long v;
  char shown[160];
  auto bad = [&](int k) {
    size_t n = 0;
    dynod::copy_str(shown, sizeof shown, "--");
    dynod::copy_str(shown + 2, sizeof shown - 2, o[k].name);
    n = strlen(shown);
    dynod::copy_str(shown + n, sizeof shown - n, "=");
    dynod::copy_str(shown + n + 1, sizeof shown - n - 1, o[k].value);
    usage_error(chan, "bad option ", shown, o[k].expect);
  };
  auto number = [&](int k, int base, unsigned long long max) {
    if (!parse_unsigned(o[k].value, base, max, &v)) bad(k);
    return v;
  };
  auto flag = [&](int k) {
    if (strcmp(o[k].value, "0") != 0 && strcmp(o[k].value, "1") != 0) bad(k);
    return o[k].value[0] == '1';
  };
  // Each value is checked where it stands, so the first bad one is the one named.
  auto set = [&](int k) {
    switch (k) {
      case kChan: chan = (int)number(k, 10, 0x7fffffff); break;
      case kUid: a.uid = (uid_t)number(k, 10, 0xfffffffeULL); break;
      case kGid: a.gid = (gid_t)number(k, 10, 0xfffffffeULL); break;
      case kUmask: a.umask_value = (mode_t)number(k, 8, 0777); break;
      case kCwd:
        a.cwd = o[k].value;
        if (a.cwd[0] != '/') bad(k);
        break;
      case kTty: a.tty = flag(k); break;
      case kRows: a.rows = (unsigned short)number(k, 10, 0xffff); break;
      case kCols: a.cols = (unsigned short)number(k, 10, 0xffff); break;
      case kTrace: g_trace = flag(k); break;
      case kCaps: a.caps = number(k, 16, ~0ULL); break;
      case kSeccomp:
        a.seccomp_fd = strcmp(o[k].value, "-1") == 0 ? -1 : (int)number(k, 10, 0x7fffffff);
        break;
      case kGroups: {
        a.have_groups = true;
        const char *g = o[k].value;
        char one[16];
        while (*g) {
          const char *end = strchr(g, ',');
          size_t len = end ? (size_t)(end - g) : strlen(g);
          if (len == 0 || len >= sizeof one || a.ngroups >= sizeof a.groups / sizeof a.groups[0]) bad(k);
          memcpy(one, g, len);
          one[len] = 0;
          if (!parse_unsigned(one, 10, 0xfffffffeULL, &v)) bad(k);
          a.groups[a.ngroups++] = (gid_t)v;
          if (!end) break;
          g = end + 1;
          if (!*g) bad(k);
        }
        break;
      }
      case kCapEff: a.cap_eff = number(k, 16, ~0ULL); a.have_cap_sets = true; break;
      case kCapPrm: a.cap_prm = number(k, 16, ~0ULL); break;
      case kCapInh: a.cap_inh = number(k, 16, ~0ULL); break;
      case kCapAmb: a.cap_amb = number(k, 16, ~0ULL); break;
      case kNnp: a.nnp = flag(k); break;
      case kStartFd: a.start_fd = (int)number(k, 10, 0x7fffffff); break;
      case kConsole: a.console = flag(k); break;
      case kPreserveFds: a.preserve_n = (int)number(k, 10, 8); break;
      case kPreserveFrom:
        a.preserve_from = (int)number(k, 10, 0x7fffffff);
        if (a.preserve_from <= 3) bad(k);
        break;
    }
  };
  int i = 1;
  for (; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--") == 0) break;
    const char *eq = strchr(arg, '=');
    int found = -1;
    if (strncmp(arg, "--", 2) == 0 && eq) {
      size_t len = (size_t)(eq - arg - 2);
      for (int k = 0; k < kNumOptions; k++)
        if (strlen(o[k].name) == len && strncmp(arg + 2, o[k].name, len) == 0) found = k;
    }
    if (found < 0) usage_error(chan, "unknown option ", arg, "");
    if (o[found].seen) usage_error(chan, "option given twice: ", arg, "");
    o[found].seen = true;
    o[found].value = eq + 1;
    set(found);
  }
  for (int k = 0; k < kNumRequired; k++)
    if (!o[k].seen) usage_error(chan, "missing option --", o[k].name, "");
  if (o[kPreserveFds].seen != o[kPreserveFrom].seen) usage_error(chan, "options go together: ", "--preserve-fds --preserve-from", "");
  // The four sets go together: one alone would leave the others to chance.
  if (o[kCapEff].seen != o[kCapPrm].seen || o[kCapEff].seen != o[kCapInh].seen || o[kCapEff].seen != o[kCapAmb].seen)
    usage_error(chan, "options go together: ", "--caps-eff --caps-prm --caps-inh --caps-amb", "");
  if (i >= argc) usage_error(chan, "no command: ", "expected -- COMMAND [ARGS...]", "");
  if (i + 1 >= argc) usage_error(chan, "no command after --", "", "");
  a.command = argv + i + 1;
  *chan_out = chan;
  return a;
}

}  // namespace

int main(int argc, char **argv) {
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  // Nothing in the dyno may ptrace init or open its /proc/1/fd (the operator's
  // terminal in tty mode, the record socket): the command gets dumpable back at exec.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  int chan;
  Args a = parse_args(argc, argv, &chan);
  a.pid1 = getpid() == 1;
  a.init_pid = getpid();
  g_chan = chan;
  if (a.seccomp_fd >= 0) fcntl(a.seccomp_fd, F_SETFD, FD_CLOEXEC);
  if (a.start_fd >= 0) fcntl(a.start_fd, F_SETFD, FD_CLOEXEC);
  // only their copies at 3.. reach the command
  for (int i = 0; i < a.preserve_n; i++) fcntl(a.preserve_from + i, F_SETFD, FD_CLOEXEC);
  fcntl(g_chan, F_SETFD, FD_CLOEXEC);
  trace("init started");

  int slave = -1;
  if (a.tty) {
    int master = open_terminal(a, &slave);
    char name[64];
    if (ptsname_r(master, name, sizeof name) != 0) name[0] = 0;
    send_record(dynod::kRecPty, 0, "terminal", "", name, master);
    close(master);
    // The command's stdio is the terminal; ours must not keep the caller's: containerd's
    // shim reads the output of `create` until EOF, which our copies would hold off for
    // as long as the container lives.
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int i = 0; i < 3; i++) {
      if (null_fd >= 0) dup2(null_fd, i);
      else close(i);
    }
    if (null_fd > 2) close(null_fd);
  }
  if (a.start_fd >= 0) {
    check_command(a);
    // The creator sees the channel's end: the container is created. It waits here
    // for `start` to write a byte into the FIFO behind start_fd.
    close(g_chan);
    g_chan = -1;
    // Signals stay blocked (they are ours to forward later), so a signalfd says when a
    // created container is asked to end before it started: it ends then, as runc's.
    sigset_t ending;
    sigemptyset(&ending);
    sigaddset(&ending, SIGTERM);
    sigaddset(&ending, SIGINT);
    sigaddset(&ending, SIGHUP);
    sigaddset(&ending, SIGQUIT);
    int sfd = signalfd(-1, &ending, SFD_CLOEXEC);
    if (sfd < 0) fail("await start", "signalfd");
    for (;;) {
      struct pollfd p[2] = {{a.start_fd, POLLIN, 0}, {sfd, POLLIN, 0}};
      if (poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        fail("await start", "poll");
      }
      if (p[1].revents & POLLIN) {
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) _exit(128 + (int)si.ssi_signo);
      }
      if (p[0].revents & (POLLIN | POLLHUP)) break;
    }
    close(sfd);
    char go;
    ssize_t n;
    do n = read(a.start_fd, &go, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) fail("await start", "read", "exec FIFO");
    close(a.start_fd);
  }
  pid_t child = fork();
  if (child < 0) fail("start command", "fork");
  if (child == 0) exec_command(a, slave);
  if (slave >= 0) close(slave);
  // Closing our end lets dynod see EOF the moment the command's exec succeeds.
  if (g_chan >= 0) close(g_chan);
  g_chan = -1;

  bool ending = false;        // a terminating signal was forwarded
  int command_status = -1;    // exit_code() of the command once it has exited
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&all, &si);
    if (sig < 0) continue;
    if (sig == SIGCHLD) {
      for (;;) {
        int status;
        pid_t p = waitpid(-1, &status, WNOHANG);
        if (p > 0) {
          if (p != child) continue;
          command_status = exit_code(status);
          // Without a request to end, the dyno ends with its command; leaving PID 1
          // kills what is left. A session ends with its command in any case.
          if (!ending || !a.pid1) _exit(command_status);
          continue;
        }
        if (p < 0 && errno == EINTR) continue;
        // ECHILD: nothing left to reap (0: some still run).
        if (p < 0 && command_status >= 0) _exit(command_status);
        break;
      }
    } else if (forwarded(sig)) {
      if (!a.pid1) {
        kill(-child, sig);  // the command's process group (setsid made it its leader); not reaped yet
        continue;
      }
      if (terminating(sig)) ending = true;
      kill(-1, sig);  // from PID 1: every process of the namespace but ourselves
    }
  }
}
