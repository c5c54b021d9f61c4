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
