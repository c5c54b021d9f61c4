// User namespaces.
//
// Parent side: write a child's uid/gid maps (the child in its new namespace has
// no say over them); make a user namespace that exists only to describe an
// idmapping; make a detached idmapped mount (open_tree + mount_setattr) that the
// child attaches with move_mount.
//
// Child side: become the namespace's root once the parent has written the maps.
#pragma once
#include <sys/types.h>

#include <string>

#include "step.h"

namespace dynod {

// ---- parent side ----

// Writes /proc/PID/uid_map and gid_map ("inside outside count" lines).
bool write_id_maps(pid_t pid, const std::string &uid_map, const std::string &gid_map, const char *step, StepError &err);

// An fd of a new user namespace with these maps, or -1 with err filled.
int idmap_userns(const std::string &uid_map, const std::string &gid_map, StepError &err);

// A detached, idmapped copy of path's mount through the user namespace behind
// userns_fd (close-on-exec), or -1 with err filled.
int idmap_mount(const std::string &path, int userns_fd, StepError &err);

// ---- child side (async-signal-safe) ----

// uid/gid 0 in the new user namespace, no supplementary groups; re-arms the
// parent-death signal, which the change of credentials cleared.
void child_become_ns_root();

}  // namespace dynod
