// The mount namespace, child side only: the ops that build a dyno's root
// (mount, bind-remount, mkdir, symlink, write, pivot_root, move_mount of a
// detached mount the parent made, mount_setattr). The parent side of an
// idmapped mount is in userns.h.
#pragma once

namespace dynod {

struct ChildOp;

// Runs one of kOpMount, kOpRemount, kOpMkdir, kOpSymlink, kOpWrite, kOpPivot,
// kOpMoveMount, kOpSetattr; a failure ends the child through child_fail.
// Async-signal-safe.
void child_mount_op(const ChildOp &op);

}  // namespace dynod
