#pragma once
#include <string>

#include "step.h"

namespace dynod {

// OCI's --console-socket: hands a container's pty master to whoever listens at path
// (conmon, containerd's shim), as runc does: one message whose bytes are the pty's
// name and whose SCM_RIGHTS carry the fd. Stream and seqpacket sockets both work.
bool send_console_fd(const std::string &path, int fd, const std::string &name, StepError &err);

}  // namespace dynod
