// User namespaces that exist only to describe an idmapping for a mount
// (mount_setattr MOUNT_ATTR_IDMAP): parent side only.
#pragma once
#include <string>
#include "spawn.h"

namespace dynod {
// An fd of a new user namespace with the given uid_map/gid_map contents
// ("inside outside count" lines), or -1 with err filled.
int idmap_userns(const std::string &uid_map, const std::string &gid_map, StepError &err);
}
