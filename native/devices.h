// The device controller of cgroup v2: an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE)
// attached to a container's cgroup decides every open and mknod of a device node.
#pragma once
#include <stdint.h>

#include <string>
#include <vector>

#include "step.h"

namespace dynod {

// An exception to the default: a char ('c') or block ('b') device, major/minor -1 for
// any, access as BPF_DEVCG_ACC_* bits (mknod 1, read 2, write 4).
struct DeviceException {
  char type;
  int64_t major, minor;
  uint32_t access;
};

// Builds the program for "default_allow, except these" (v1 semantics: with a deny
// default an access is allowed when one exception covers all of it; with an allow
// default it is denied when any of it falls in an exception), loads it and attaches
// it to the cgroup directory `dir` with BPF_F_ALLOW_MULTI, then detaches the device
// programs that were attached there before (so an update never allows more in
// between). Returns how many it detached, or -1 with err filled.
int attach_device_filter(const std::string &dir, bool default_allow, const std::vector<DeviceException> &rules, StepError &err);

}  // namespace dynod
