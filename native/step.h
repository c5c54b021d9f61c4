// A failed step of the parent side, carried to JavaScript as data
// ({ step, syscall, errno, code, message, detail }; see addon.cc).
#pragma once
#include <errno.h>
#include <string>

namespace dynod {

struct StepError {
  std::string step, syscall, detail;
  int err = 0;
};

// Fills err from errno (or e) and returns false, for `return fail_step(...)`.
inline bool fail_step(StepError &err, const char *step, const char *sc, const std::string &detail = "", int e = 0) {
  err.err = e ? e : errno;
  err.step = step;
  err.syscall = sc;
  err.detail = detail;
  return false;
}

}  // namespace dynod
