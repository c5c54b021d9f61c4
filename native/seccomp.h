// Compiling a seccomp filter, in the parent (Node) and never in the dyno: the
// dyno's PID 1 only reads the finished BPF program from an fd and loads it as
// the very last step before exec (native/init.cc, load_seccomp).
//
// The description is already normalized by src/seccomp/profile.ts (a Docker JSON
// profile resolved against the dyno's capabilities, architecture and kernel);
// this file maps it onto libseccomp and rejects what it cannot express exactly.
#pragma once
#include <stdint.h>

#include <string>
#include <vector>

#include "step.h"

namespace dynod {

struct SeccompAction {
  std::string kind;  // allow, errno, kill_process, kill_thread, trap, log, trace
  uint32_t value = 0;  // the errno for "errno", the message for "trace"
};

struct SeccompArgCmp {
  uint32_t index = 0;  // 0..5
  std::string op;      // ne, lt, le, eq, ge, gt, masked_eq
  uint64_t value = 0;  // for masked_eq: the mask
  uint64_t value_two = 0;  // for masked_eq: what the masked argument must equal
};

struct SeccompRule {
  std::string syscall;
  SeccompAction action;
  std::vector<SeccompArgCmp> args;  // ANDed; at most one per index
};

struct SeccompFilter {
  SeccompAction default_action;
  SeccompAction bad_arch_action;  // any architecture not in `arches` (and x32 on x86_64)
  std::vector<std::string> arches;  // libseccomp names ("x86_64", "x86", ...); the native one is always in
  // Syscall numbers above the highest one the rules name return ENOSYS instead of
  // the default action (runc's lesson): a syscall newer than the profile must look
  // absent, so libc falls back to an older one.
  bool enosys_above_known = false;
  std::vector<SeccompRule> rules;
};

// Compiles the filter into a struct sock_filter[] inside a sealed memfd
// (MFD_CLOEXEC). Returns the fd, or -1 with err filled.
int compile_seccomp(const SeccompFilter &filter, StepError &err);

}  // namespace dynod
