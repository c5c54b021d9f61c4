// The C library of dynod-init on x86-64: the ~50 calls it makes, as raw system calls.
// Why: dynod-init is exec'd once per dyno, and a static glibc spends ~0.6 ms of every
// exec in its start-up (init_cpu_features and the cache-size probe run dozens of
// CPUID instructions, each a VM exit on a virtual machine: 8 µs here). This start-up is
// _start → main, nothing else: no TLS, no stdio, no locale, no atexit.
// Semantics follow glibc where dynod-init depends on them (execvp's PATH search and
// its /bin/sh fallback for ENOEXEC, setenv, strerror's texts); the symbols are the ones
// glibc's headers name (open64, fstat64, ...), so init.cc is the same source for both
// builds. binding.gyp links it with -nostdlib on x86-64 only; elsewhere dynod-init
// stays a static glibc program.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <time.h>
#include <unistd.h>

#if !defined(__x86_64__)
#error "init-rt.c is the x86-64 runtime of dynod-init; other architectures link glibc"
#endif

static int errno_value;
int *__errno_location(void) { return &errno_value; }
char **environ;

static long raw6(long n, long a, long b, long c, long d, long e, long f) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
  return ret;
}

// the kernel's -errno convention → glibc's: -1 and errno
static long ret(long r) {
  if (r < 0 && r > -4096) {
    errno_value = (int)-r;
    return -1;
  }
  return r;
}

#define SC(n, a, b, c, d, e, f) ret(raw6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f)))

long syscall(long n, ...) {
  va_list ap;
  va_start(ap, n);
  long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
  long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
  va_end(ap);
  return SC(n, a, b, c, d, e, f);
}

void _exit(int status) {
  for (;;) raw6(SYS_exit_group, status, 0, 0, 0, 0, 0);
}

ssize_t read(int fd, void *buf, size_t n) { return SC(SYS_read, fd, buf, n, 0, 0, 0); }
ssize_t write(int fd, const void *buf, size_t n) { return SC(SYS_write, fd, buf, n, 0, 0, 0); }
ssize_t pread64(int fd, void *buf, size_t n, off64_t off) { return SC(SYS_pread64, fd, buf, n, off, 0, 0); }
int close(int fd) { return (int)SC(SYS_close, fd, 0, 0, 0, 0, 0); }
int dup2(int from, int to) { return (int)SC(SYS_dup2, from, to, 0, 0, 0, 0); }
int chdir(const char *path) { return (int)SC(SYS_chdir, path, 0, 0, 0, 0, 0); }
int fchown(int fd, uid_t uid, gid_t gid) { return (int)SC(SYS_fchown, fd, uid, gid, 0, 0, 0); }
mode_t umask(mode_t mask) { return (mode_t)raw6(SYS_umask, mask, 0, 0, 0, 0, 0); }
pid_t getpid(void) { return (pid_t)raw6(SYS_getpid, 0, 0, 0, 0, 0, 0); }
pid_t getppid(void) { return (pid_t)raw6(SYS_getppid, 0, 0, 0, 0, 0, 0); }
pid_t setsid(void) { return (pid_t)SC(SYS_setsid, 0, 0, 0, 0, 0, 0); }
int kill(pid_t pid, int sig) { return (int)SC(SYS_kill, pid, sig, 0, 0, 0, 0); }
int setgroups(size_t n, const gid_t *groups) { return (int)SC(SYS_setgroups, n, groups, 0, 0, 0, 0); }
// One thread: no need for glibc's broadcast of set*id to every thread.
int setresuid(uid_t r, uid_t e, uid_t s) { return (int)SC(SYS_setresuid, r, e, s, 0, 0, 0); }
int setresgid(gid_t r, gid_t e, gid_t s) { return (int)SC(SYS_setresgid, r, e, s, 0, 0, 0); }
int poll(struct pollfd *fds, nfds_t n, int timeout) { return (int)SC(SYS_poll, fds, n, timeout, 0, 0, 0); }
ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) { return SC(SYS_sendmsg, fd, msg, flags, 0, 0, 0); }
int clock_gettime(clockid_t clock, struct timespec *ts) { return (int)SC(SYS_clock_gettime, clock, ts, 0, 0, 0, 0); }
int mount(const char *src, const char *target, const char *type, unsigned long flags, const void *data) {
  return (int)SC(SYS_mount, src, target, type, flags, data, 0);
}
int stat64(const char *path, struct stat64 *st) { return (int)SC(SYS_newfstatat, AT_FDCWD, path, st, 0, 0, 0); }
int fstat64(int fd, struct stat64 *st) { return (int)SC(SYS_fstat, fd, st, 0, 0, 0, 0); }
pid_t waitpid(pid_t pid, int *status, int options) { return (pid_t)SC(SYS_wait4, pid, status, options, 0, 0, 0); }
// A fork of a one-threaded process: the raw clone, as fork(2) was.
pid_t fork(void) { return (pid_t)SC(SYS_clone, SIGCHLD, 0, 0, 0, 0, 0); }

char *getcwd(char *buf, size_t size) {
  return SC(SYS_getcwd, buf, size, 0, 0, 0, 0) < 0 ? NULL : buf;
}

int open64(const char *path, int flags, ...) {
  mode_t mode = 0;
  if (flags & (O_CREAT | __O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  return (int)SC(SYS_openat, AT_FDCWD, path, flags | O_LARGEFILE, mode, 0, 0);
}

int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  long arg = va_arg(ap, long);
  va_end(ap);
  return (int)SC(SYS_fcntl, fd, cmd, arg, 0, 0, 0);
}

int ioctl(int fd, unsigned long req, ...) {
  va_list ap;
  va_start(ap, req);
  long arg = va_arg(ap, long);
  va_end(ap);
  return (int)SC(SYS_ioctl, fd, req, arg, 0, 0, 0);
}

int prctl(int option, ...) {
  va_list ap;
  va_start(ap, option);
  long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long), d = va_arg(ap, long);
  va_end(ap);
  return (int)SC(SYS_prctl, option, a, b, c, d, 0);
}

// ------------------------------------------------------------------ signals
// The kernel's sigset is 64 bits; glibc's sigset_t is larger and begins with them.
#define KSIGSET 8

int sigemptyset(sigset_t *set) {
  memset(set, 0, sizeof *set);
  return 0;
}
int sigfillset(sigset_t *set) {
  memset(set, 0xff, sizeof *set);
  return 0;
}
int sigaddset(sigset_t *set, int sig) {
  if (sig <= 0 || sig > 64) {
    errno_value = EINVAL;
    return -1;
  }
  ((unsigned long *)set)[0] |= 1UL << (sig - 1);
  return 0;
}
int sigprocmask(int how, const sigset_t *set, sigset_t *old) { return (int)SC(SYS_rt_sigprocmask, how, set, old, KSIGSET, 0, 0); }
int signalfd(int fd, const sigset_t *mask, int flags) { return (int)SC(SYS_signalfd4, fd, mask, KSIGSET, flags, 0, 0); }
int sigwaitinfo(const sigset_t *set, siginfo_t *info) { return (int)SC(SYS_rt_sigtimedwait, set, info, NULL, KSIGSET, 0, 0); }

struct ksigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)(void);
  unsigned long mask;
};
#define DYNOD_SA_RESTORER 0x04000000UL
// A handler returns through rt_sigreturn, as glibc's __restore_rt.
void dynod_restore_rt(void);
__asm__(".text\n.type dynod_restore_rt,@function\ndynod_restore_rt:\n mov $15, %rax\n syscall\n hlt\n");

int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  struct ksigaction k, ko;
  if (act) {
    k.handler = act->sa_handler;
    k.flags = (unsigned long)act->sa_flags | DYNOD_SA_RESTORER;
    k.restorer = dynod_restore_rt;
    memcpy(&k.mask, &act->sa_mask, KSIGSET);
  }
  long r = SC(SYS_rt_sigaction, sig, act ? &k : NULL, old ? &ko : NULL, KSIGSET, 0, 0);
  if (r == 0 && old) {
    memset(old, 0, sizeof *old);
    old->sa_handler = ko.handler;
    old->sa_flags = (int)(ko.flags & ~DYNOD_SA_RESTORER);
    memcpy(&old->sa_mask, &ko.mask, KSIGSET);
  }
  return (int)r;
}

// ------------------------------------------------------------------ memory and strings
// rep movsb/stosb: a C loop here could be compiled back into a call to itself.
void *memcpy(void *dst, const void *src, size_t n) {
  void *d = dst;
  __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
  return dst;
}
void *memmove(void *dst, const void *src, size_t n) {
  if ((uintptr_t)dst - (uintptr_t)src >= n) return memcpy(dst, src, n);
  void *d = (char *)dst + n - 1;
  const void *s = (const char *)src + n - 1;
  __asm__ volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
  return dst;
}
void *memset(void *dst, int c, size_t n) {
  void *d = dst;
  __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
  return dst;
}
int memcmp(const void *a, const void *b, size_t n) {
  const unsigned char *x = a, *y = b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return x[i] - y[i];
  return 0;
}
size_t strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}
int strcmp(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return (unsigned char)*a - (unsigned char)*b;
}
int strncmp(const char *a, const char *b, size_t n) {
  for (; n > 0; n--, a++, b++) {
    if (*a != *b) return (unsigned char)*a - (unsigned char)*b;
    if (!*a) return 0;
  }
  return 0;
}
char *strchr(const char *s, int c) {
  for (;; s++) {
    if (*s == (char)c) return (char *)s;
    if (!*s) return NULL;
  }
}

// Allocations are few (the seccomp program, setenv): one mapping each.
void *malloc(size_t n) {
  size_t len = n + 16;
  long p = raw6(SYS_mmap, 0, (long)len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p < 0 && p > -4096) {
    errno_value = ENOMEM;
    return NULL;
  }
  *(size_t *)p = len;
  return (char *)p + 16;
}
void free(void *ptr) {
  if (!ptr) return;
  char *p = (char *)ptr - 16;
  raw6(SYS_munmap, (long)p, (long)*(size_t *)p, 0, 0, 0, 0);
}

// ------------------------------------------------------------------ environment
char *getenv(const char *name) {
  size_t n = strlen(name);
  if (!environ) return NULL;
  for (char **e = environ; *e; e++)
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
  return NULL;
}

int setenv(const char *name, const char *value, int overwrite) {
  size_t n = strlen(name), v = strlen(value);
  if (n == 0 || strchr(name, '=')) {
    errno_value = EINVAL;
    return -1;
  }
  size_t count = 0;
  char **slot = NULL;
  for (char **e = environ; e && *e; e++, count++)
    if (!slot && strncmp(*e, name, n) == 0 && (*e)[n] == '=') slot = e;
  if (slot && !overwrite) return 0;
  char *entry = malloc(n + v + 2);
  if (!entry) return -1;
  memcpy(entry, name, n);
  entry[n] = '=';
  memcpy(entry + n + 1, value, v + 1);
  if (slot) {
    *slot = entry;
    return 0;
  }
  char **grown = malloc((count + 2) * sizeof *grown);
  if (!grown) return -1;
  if (count) memcpy(grown, environ, count * sizeof *grown);
  grown[count] = entry;
  grown[count + 1] = NULL;
  environ = grown;
  return 0;
}

// ------------------------------------------------------------------ exec
// glibc's execvp: a name with a slash is run as it is; otherwise each PATH entry
// (without one, check_command's default in init.cc, so that what it found runs; an
// empty entry is the working directory) in turn, going on past ENOENT-like errors and EACCES (reported if
// nothing else ran); a file the kernel cannot run (ENOEXEC) is run by /bin/sh.
static void exec_with_sh(const char *file, char *const argv[]) {
  size_t argc = 0;
  while (argv[argc]) argc++;
  char *sh_argv[argc + 2];
  sh_argv[0] = (char *)"/bin/sh";
  sh_argv[1] = (char *)file;
  for (size_t i = 1; i <= argc; i++) sh_argv[i + 1] = argv[i];
  SC(SYS_execve, "/bin/sh", sh_argv, environ, 0, 0, 0);
}

static void exec_one(const char *file, char *const argv[]) {
  SC(SYS_execve, file, argv, environ, 0, 0, 0);
  if (errno_value == ENOEXEC) {
    exec_with_sh(file, argv);
    errno_value = ENOEXEC;
  }
}

int execvp(const char *file, char *const argv[]) {
  if (!*file) {
    errno_value = ENOENT;
    return -1;
  }
  if (strchr(file, '/')) {
    exec_one(file, argv);
    return -1;
  }
  const char *path = getenv("PATH");
  if (!path) path = "/usr/local/bin:/usr/bin:/bin";
  size_t flen = strlen(file);
  int eacces = 0;
  for (const char *p = path;; p++) {
    const char *end = strchr(p, ':');
    if (!end) end = p + strlen(p);
    size_t dlen = (size_t)(end - p);
    char buf[4096];
    if (dlen + 1 + flen < sizeof buf) {
      memcpy(buf, p, dlen);
      size_t at = dlen;
      if (dlen) buf[at++] = '/';
      memcpy(buf + at, file, flen + 1);
      exec_one(buf, argv);
      switch (errno_value) {
        case EACCES:
          eacces = 1;
          break;
        case ENOENT:
        case ESTALE:
        case ENOTDIR:
        case ENODEV:
        case ETIMEDOUT:
          break;
        default:
          return -1;
      }
    }
    if (!*end) break;
    p = end;
  }
  errno_value = eacces ? EACCES : ENOENT;
  return -1;
}

// ------------------------------------------------------------------ terminals
int ptsname_r(int fd, char *buf, size_t len) {
  unsigned n;
  if (SC(SYS_ioctl, fd, TIOCGPTN, &n, 0, 0, 0) < 0) return errno_value;
  char digits[12];
  size_t d = 0;
  do digits[d++] = (char)('0' + n % 10), n /= 10;
  while (n);
  const char prefix[] = "/dev/pts/";
  if (sizeof prefix + d > len) {
    errno_value = ERANGE;
    return ERANGE;
  }
  memcpy(buf, prefix, sizeof prefix - 1);
  size_t at = sizeof prefix - 1;
  while (d) buf[at++] = digits[--d];
  buf[at] = 0;
  return 0;
}

// ------------------------------------------------------------------ strerror
// glibc's texts (made by its strerror for 0..133), so messages read as before.
static const char *const error_texts[] = {
    "Success",
    "Operation not permitted",
    "No such file or directory",
    "No such process",
    "Interrupted system call",
    "Input/output error",
    "No such device or address",
    "Argument list too long",
    "Exec format error",
    "Bad file descriptor",
    "No child processes",
    "Resource temporarily unavailable",
    "Cannot allocate memory",
    "Permission denied",
    "Bad address",
    "Block device required",
    "Device or resource busy",
    "File exists",
    "Invalid cross-device link",
    "No such device",
    "Not a directory",
    "Is a directory",
    "Invalid argument",
    "Too many open files in system",
    "Too many open files",
    "Inappropriate ioctl for device",
    "Text file busy",
    "File too large",
    "No space left on device",
    "Illegal seek",
    "Read-only file system",
    "Too many links",
    "Broken pipe",
    "Numerical argument out of domain",
    "Numerical result out of range",
    "Resource deadlock avoided",
    "File name too long",
    "No locks available",
    "Function not implemented",
    "Directory not empty",
    "Too many levels of symbolic links",
    "Unknown error 41",
    "No message of desired type",
    "Identifier removed",
    "Channel number out of range",
    "Level 2 not synchronized",
    "Level 3 halted",
    "Level 3 reset",
    "Link number out of range",
    "Protocol driver not attached",
    "No CSI structure available",
    "Level 2 halted",
    "Invalid exchange",
    "Invalid request descriptor",
    "Exchange full",
    "No anode",
    "Invalid request code",
    "Invalid slot",
    "Unknown error 58",
    "Bad font file format",
    "Device not a stream",
    "No data available",
    "Timer expired",
    "Out of streams resources",
    "Machine is not on the network",
    "Package not installed",
    "Object is remote",
    "Link has been severed",
    "Advertise error",
    "Srmount error",
    "Communication error on send",
    "Protocol error",
    "Multihop attempted",
    "RFS specific error",
    "Bad message",
    "Value too large for defined data type",
    "Name not unique on network",
    "File descriptor in bad state",
    "Remote address changed",
    "Can not access a needed shared library",
    "Accessing a corrupted shared library",
    ".lib section in a.out corrupted",
    "Attempting to link in too many shared libraries",
    "Cannot exec a shared library directly",
    "Invalid or incomplete multibyte or wide character",
    "Interrupted system call should be restarted",
    "Streams pipe error",
    "Too many users",
    "Socket operation on non-socket",
    "Destination address required",
    "Message too long",
    "Protocol wrong type for socket",
    "Protocol not available",
    "Protocol not supported",
    "Socket type not supported",
    "Operation not supported",
    "Protocol family not supported",
    "Address family not supported by protocol",
    "Address already in use",
    "Cannot assign requested address",
    "Network is down",
    "Network is unreachable",
    "Network dropped connection on reset",
    "Software caused connection abort",
    "Connection reset by peer",
    "No buffer space available",
    "Transport endpoint is already connected",
    "Transport endpoint is not connected",
    "Cannot send after transport endpoint shutdown",
    "Too many references: cannot splice",
    "Connection timed out",
    "Connection refused",
    "Host is down",
    "No route to host",
    "Operation already in progress",
    "Operation now in progress",
    "Stale file handle",
    "Structure needs cleaning",
    "Not a XENIX named type file",
    "No XENIX semaphores available",
    "Is a named type file",
    "Remote I/O error",
    "Disk quota exceeded",
    "No medium found",
    "Wrong medium type",
    "Operation canceled",
    "Required key not available",
    "Key has expired",
    "Key has been revoked",
    "Key was rejected by service",
    "Owner died",
    "State not recoverable",
    "Operation not possible due to RF-kill",
    "Memory page has hardware error",
};

char *strerror(int e) {
  if (e >= 0 && (size_t)e < sizeof error_texts / sizeof *error_texts) return (char *)error_texts[e];
  return (char *)"Unknown error";
}

// ------------------------------------------------------------------ start
int main(int argc, char **argv);
extern void (*__init_array_start[])(int, char **, char **) __attribute__((weak));
extern void (*__init_array_end[])(int, char **, char **) __attribute__((weak));

__attribute__((used, noreturn)) void dynod_start_c(long *sp) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1);
  environ = argv + argc + 1;
  for (size_t i = 0; __init_array_start + i < __init_array_end; i++) __init_array_start[i](argc, argv, environ);
  _exit(main(argc, argv));
}

__asm__(".text\n.global _start\n.type _start,@function\n_start:\n xor %ebp, %ebp\n mov %rsp, %rdi\n and $-16, %rsp\n call dynod_start_c\n hlt\n");
