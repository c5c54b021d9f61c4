// The record format shared by the three processes of a dyno start: the Node parent
// (addon), the cloned child (before it execs dynod-init) and dynod-init itself.
// Records travel over a SOCK_SEQPACKET socketpair, one record per message, so a
// reader never sees half a record; an fd (the pty master) may ride along as
// SCM_RIGHTS. Writers use only write()/sendmsg(): async-signal-safe.
#pragma once
#include <stdint.h>
#include <stddef.h>

namespace dynod {

enum RecordKind : uint32_t {
  kRecError = 1,  // a setup step failed; err holds errno
  kRecTrace = 2,  // a phase boundary, for DYNOD_TRACE
  kRecPty = 3,    // the dyno's pty master is attached as SCM_RIGHTS
};

struct Record {
  uint32_t kind;
  int32_t err;
  uint64_t t_ns;       // CLOCK_MONOTONIC at the time of the record
  char step[96];       // what we were doing, e.g. "mount /app (overlay)"
  char syscall[32];    // which syscall failed
  char detail[128];    // extra context, e.g. the command name
};

// strlcpy without libc: callable from the cloned child.
inline void copy_str(char *dst, size_t cap, const char *src) {
  size_t i = 0;
  if (src)
    for (; i + 1 < cap && src[i]; i++) dst[i] = src[i];
  dst[i] = 0;
}

}  // namespace dynod
