// Child side of a dyno start: what the process cloned from Node does between
// clone() and the exec of dynod-init. Everything it needs was prepared by the
// parent (spawn.cc) as plain C data, because a child of the multi-threaded Node
// process may only make async-signal-safe calls: no malloc, no locks, no C++
// runtime, only system calls on memory that already exists.
#pragma once
#include <stddef.h>

namespace dynod {

enum OpKind {
  kOpMount = 1,     // mount(a=source, b=target, c=fstype, flags, d=data)
  kOpRemount,       // bind-remount b=target with flags, keeping the flags the kernel locked
  kOpMkdir,         // mkdir(b=path, mode); EEXIST is fine
  kOpSymlink,       // symlink(a=target, b=path)
  kOpWrite,         // create b=path with mode, write a (len bytes)
  kOpPivot,         // pivot_root(b=new root, a=put_old or NULL for the "." trick)
  kOpChdir,         // chdir(b)
  kOpUmount,        // umount2(b, flags)
  kOpHostname,      // sethostname(a)
  kOpLoopback,      // bring "lo" up in the new network namespace
  kOpAwaitCgroup,   // wait until the parent has joined us to our cgroup, then unshare late namespaces
  kOpMoveMount,     // move_mount the detached mount fd (made by the parent) to b
  kOpSetattr,       // mount_setattr(b, attr_set = flags, AT_RECURSIVE when mode != 0)
};

struct ChildOp {
  int kind;
  const char *step;
  const char *a, *b, *c, *d;
  unsigned long flags;
  unsigned mode;
  size_t len;
  int fd;
  int uid, gid;  // mkdir: chown the directory to these when uid >= 0
  bool optional;  // ENOENT means "this kernel has no such path": skip the op
};

struct ChildPlan {
  int sync_fd;            // read end: byte 1 releases the child, byte 2 says it sits in its cgroup; EOF aborts
  int chan_fd;            // record socket (inherited by dynod-init)
  int stdio[3];           // parent fds that become 0, 1, 2
  int init_fd;            // sealed memfd holding dynod-init
  const int *pass_fds;    // handed to dynod-init as fds 4, 5, ... (e.g. the seccomp program)
  size_t npass;
  unsigned late_unshare;  // namespaces unshared after the cgroup join (cgroup ns)
  const ChildOp *ops;
  size_t nops;
  char *const *argv;      // dynod-init's argv
  char *const *envp;      // the dyno's environment
  bool trace;
  bool become_root;       // in a new user namespace: become its root (uid/gid 0) once mapped
};

[[noreturn]] void child_main(const ChildPlan &plan);

}  // namespace dynod
