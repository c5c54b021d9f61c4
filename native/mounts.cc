#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>  // ST_* bit values, which statfs(2) f_flags shares
#include <sys/syscall.h>
#include <unistd.h>

#include "process.h"
#include "sys.h"

namespace dynod {
namespace {

// The kernel refuses a remount that would clear a flag it locked on a mount that
// came from a more privileged namespace (nosuid, nodev, noexec, atime flags), so
// keep whatever the mount already has and add what was asked.
unsigned long locked_flags(const char *path) {
  // statfs, not statvfs: glibc's statvfs may fall back to reading /proc/mounts.
  struct statfs s;
  if (statfs(path, &s) != 0) return 0;
  unsigned long keep = 0;
  if (s.f_flags & ST_NOSUID) keep |= MS_NOSUID;
  if (s.f_flags & ST_NODEV) keep |= MS_NODEV;
  if (s.f_flags & ST_NOEXEC) keep |= MS_NOEXEC;
  if (s.f_flags & ST_NOATIME) keep |= MS_NOATIME;
  if (s.f_flags & ST_NODIRATIME) keep |= MS_NODIRATIME;
  if (s.f_flags & ST_RELATIME) keep |= MS_RELATIME;
  return keep;
}

// ---- tmpfs copy-up (OCI's tmpcopyup) ----
// The child of a multi-threaded process: syscalls only, fixed buffers, no malloc.

struct Dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

constexpr int kCopyDepth = 32;

void copy_owner_mode(int dir, const char *name, const struct stat &st, const char *step) {
  if (fchownat(dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) child_fail(step, "fchownat", name);
  if (!S_ISLNK(st.st_mode) && fchmodat(dir, name, st.st_mode & 07777, 0) != 0) child_fail(step, "fchmodat", name);
}

void copy_file(int src_dir, int dst_dir, const char *name, const struct stat &st, const char *step) {
  static char buf[65536];
  int in = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0) child_fail(step, "openat", name);
  int out = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 07777);
  if (out < 0) child_fail(step, "openat", name);
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) child_fail(step, "read", name);
    if (n == 0) break;
    if (!write_all(out, buf, (size_t)n)) child_fail(step, "write", name);
  }
  close(in);
  close(out);
}

void copy_tree(int src, int dst, int depth, const char *step) {
  if (depth > kCopyDepth) {
    errno = ELOOP;
    child_fail(step, "copy", "deeper than 32 directories");
  }
  alignas(8) char ents[4096];
  for (;;) {
    long n = syscall(SYS_getdents64, src, ents, sizeof ents);
    if (n < 0) child_fail(step, "getdents64");
    if (n == 0) break;
    for (long off = 0; off < n;) {
      const Dirent64 *d = reinterpret_cast<const Dirent64 *>(ents + off);
      off += d->d_reclen;
      const char *name = d->d_name;
      if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
      struct stat st;
      if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) != 0) child_fail(step, "fstatat", name);
      if (S_ISDIR(st.st_mode)) {
        if (mkdirat(dst, name, 0700) != 0) child_fail(step, "mkdirat", name);
        int s2 = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int d2 = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (s2 < 0 || d2 < 0) child_fail(step, "openat", name);
        copy_tree(s2, d2, depth + 1, step);
        close(s2);
        close(d2);
      } else if (S_ISREG(st.st_mode)) {
        copy_file(src, dst, name, st, step);
      } else if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t len = readlinkat(src, name, target, sizeof target - 1);
        if (len < 0) child_fail(step, "readlinkat", name);
        target[len] = 0;
        if (symlinkat(target, dst, name) != 0) child_fail(step, "symlinkat", name);
      } else {
        if (mknodat(dst, name, st.st_mode, st.st_rdev) != 0) child_fail(step, "mknodat", name);
      }
      copy_owner_mode(dst, name, st, step);
    }
  }
}

// The directory a tmpfs will cover stays reachable through an fd opened first.
void tmpfs_copy_up(const ChildOp &op) {
  int under = open(op.target, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (under < 0) child_fail(op.step, "open", op.target);
  struct stat st;
  if (fstat(under, &st) != 0) child_fail(op.step, "fstat", op.target);
  if (mount("tmpfs", op.target, "tmpfs", op.flags & ~MS_RDONLY, op.data) != 0) child_fail(op.step, "mount", op.target);
  int top = open(op.target, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (top < 0) child_fail(op.step, "open", op.target);
  copy_tree(under, top, 0, op.step);
  if (fchown(top, st.st_uid, st.st_gid) != 0 || fchmod(top, st.st_mode & 07777) != 0) child_fail(op.step, "fchown", op.target);
  close(under);
  close(top);
  // read-only after the copy, never before it
  if ((op.flags & MS_RDONLY) && mount(nullptr, op.target, nullptr, MS_REMOUNT | MS_BIND | (op.flags & ~MS_REMOUNT) | locked_flags(op.target), nullptr) != 0)
    child_fail(op.step, "mount", op.target);
}

}  // namespace

void child_mount_op(const ChildOp &op) {
  switch (op.kind) {
    case kOpMount:
      if (mount(op.source, op.target, op.fstype, op.flags, op.data) != 0 && !(op.optional && errno == ENOENT))
        child_fail(op.step, "mount", op.target);
      break;
    case kOpRemount:
      if (mount(nullptr, op.target, nullptr, MS_REMOUNT | MS_BIND | op.flags | locked_flags(op.target), nullptr) != 0 &&
          !(op.optional && errno == ENOENT))
        child_fail(op.step, "mount", op.target);
      break;
    case kOpMkdir:
      if (mkdir(op.path, op.mode) != 0 && errno != EEXIST) child_fail(op.step, "mkdir", op.path);
      if (op.uid >= 0 && chown(op.path, (uid_t)op.uid, (gid_t)op.gid) != 0) child_fail(op.step, "chown", op.path);
      break;
    case kOpSymlink:
      if (symlink(op.source, op.path) != 0) child_fail(op.step, "symlink", op.path);
      break;
    case kOpMknod:
      // The rootfs may hold anything at path (a symlink out of it included): replace it.
      if (unlink(op.path) != 0 && errno != ENOENT) child_fail(op.step, "unlink", op.path);
      if (mknod(op.path, (mode_t)op.mode, makedev(op.major, op.minor)) != 0) child_fail(op.step, "mknod", op.path);
      if (chmod(op.path, op.mode & 07777) != 0) child_fail(op.step, "chmod", op.path);  // the umask must not narrow it
      if (lchown(op.path, (uid_t)op.uid, (gid_t)op.gid) != 0) child_fail(op.step, "chown", op.path);
      break;
    case kOpTmpfsCopyUp:
      tmpfs_copy_up(op);
      break;
    case kOpSysctl: {
      int fd = open(op.path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0) child_fail(op.step, "open", op.path);
      if (!write_all(fd, op.content, op.content_len)) child_fail(op.step, "write", op.path);
      close(fd);
      break;
    }
    case kOpWrite: {
      // Replace, never write through: in a --rootfs, /etc/resolv.conf may be a
      // symlink that points anywhere (unlinking it only whites it out in the upper layer).
      if (unlink(op.path) != 0 && errno != ENOENT) child_fail(op.step, "unlink", op.path);
      int fd = open(op.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, op.mode);
      if (fd < 0) child_fail(op.step, "open", op.path);
      if (!write_all(fd, op.content, op.content_len)) child_fail(op.step, "write", op.path);
      if (fchmod(fd, op.mode) != 0) child_fail(op.step, "fchmod", op.path);  // umask must not narrow it
      close(fd);
      break;
    }
    case kOpPivot:
      if (op.source) {
        if (syscall(SYS_pivot_root, op.target, op.source) != 0) child_fail(op.step, "pivot_root", op.target);
        if (chdir("/") != 0) child_fail(op.step, "chdir", "/");
      } else {
        // pivot_root(".", ".") stacks the old root on top of the new one; detaching
        // "." then drops it without needing a directory for it in the new root.
        if (chdir(op.target) != 0) child_fail(op.step, "chdir", op.target);
        if (syscall(SYS_pivot_root, ".", ".") != 0) child_fail(op.step, "pivot_root", op.target);
        if (mount(nullptr, ".", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) child_fail(op.step, "mount", "old root");
        if (umount2(".", MNT_DETACH) != 0) child_fail(op.step, "umount2", "old root");
        if (chdir("/") != 0) child_fail(op.step, "chdir", "/");
      }
      break;
    case kOpMoveMount:
      if (syscall(SYS_move_mount, op.fd, "", AT_FDCWD, op.target, MOVE_MOUNT_F_EMPTY_PATH) != 0)
        child_fail(op.step, "move_mount", op.target);
      break;
    case kOpSetattr: {
      struct mount_attr attr;
      char *p = reinterpret_cast<char *>(&attr);
      for (size_t i = 0; i < sizeof attr; i++) p[i] = 0;
      attr.attr_set = op.attr_set;
      if (syscall(SYS_mount_setattr, AT_FDCWD, op.target, op.recursive ? AT_RECURSIVE : 0, &attr, sizeof attr) != 0)
        child_fail(op.step, "mount_setattr", op.target);
      break;
    }
    default:
      errno = EINVAL;
      child_fail(op.step, "plan", "not a mount op");
  }
}

}  // namespace dynod
