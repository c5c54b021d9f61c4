// The N-API surface of dynod, and nothing else: convert plain JavaScript data to
// the C structures the kernel-facing files use, and deliver exits and records to
// JavaScript through libuv's event loop (uv_poll on a pidfd and on the record
// socket: no thread per dyno, no SIGCHLD handler fighting libuv).
// Errors cross the seam as data: { step, syscall, errno, code, message }.
#include <napi.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/mount.h>
#include <stddef.h>
#include <algorithm>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "channel.h"
#include "netns.h"
#include "seccomp.h"
#include "spawn.h"
#include "userns.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace dynod {
namespace {

const char *errno_name(int e) {
  const char *n = strerrorname_np(e);
  return n ? n : "EUNKNOWN";
}

Napi::Error step_error(Napi::Env env, const std::string &step, const std::string &sc, int e, const std::string &detail) {
  std::string msg = step + ": " + sc + ": " + errno_name(e) + " (" + strerror(e) + ")";
  if (!detail.empty()) msg += " [" + detail + "]";
  Napi::Error err = Napi::Error::New(env, msg);
  err.Set("step", step);
  err.Set("syscall", sc);
  err.Set("errno", Napi::Number::New(env, e));
  err.Set("code", errno_name(e));
  err.Set("detail", detail);
  return err;
}

std::string str_field(const Napi::Object &o, const char *key) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

double num_field(const Napi::Object &o, const char *key, double dflt = 0) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : dflt;
}

struct PlanStorage {
  std::deque<std::string> strings;
  std::vector<ChildOp> ops;
  std::vector<char *> argv, envp;
  std::vector<int> pass_fds;

  const char *keep(const Napi::Object &o, const char *key, bool nullable = true) {
    Napi::Value v = o.Get(key);
    if (!v.IsString()) return nullable ? nullptr : "";
    strings.push_back(v.As<Napi::String>().Utf8Value());
    return strings.back().c_str();
  }
  void keep_list(const Napi::Array &arr, std::vector<char *> &out) {
    for (uint32_t i = 0; i < arr.Length(); i++) {
      strings.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
      out.push_back(const_cast<char *>(strings.back().c_str()));
    }
    out.push_back(nullptr);
  }
};

int op_kind(const std::string &name) {
  static const struct { const char *name; int kind; } kinds[] = {
      {"mount", kOpMount},       {"remount", kOpRemount}, {"mkdir", kOpMkdir},
      {"symlink", kOpSymlink},   {"write", kOpWrite},     {"pivot", kOpPivot},
      {"chdir", kOpChdir},       {"umount", kOpUmount},   {"hostname", kOpHostname},
      {"loopback", kOpLoopback}, 
      {"await-cgroup", kOpAwaitCgroup}, {"move-mount", kOpMoveMount}, {"setattr", kOpSetattr},
  };
  for (const auto &k : kinds)
    if (name == k.name) return k.kind;
  return 0;
}

void convert_op(Napi::Env env, PlanStorage &st, const Napi::Object &o) {
  ChildOp op;
  memset(&op, 0, sizeof op);
  std::string name = str_field(o, "op");
  op.kind = op_kind(name);
  if (!op.kind) throw Napi::TypeError::New(env, "plan: unknown op \"" + name + "\"");
  op.step = st.keep(o, "step", false);
  op.a = st.keep(o, "source");
  if (!op.a) op.a = st.keep(o, "content");
  if (!op.a) op.a = st.keep(o, "name");
  op.b = st.keep(o, "target");
  if (!op.b) op.b = st.keep(o, "path");
  op.c = st.keep(o, "fstype");
  op.d = st.keep(o, "data");
  op.flags = (unsigned long)num_field(o, "flags");
  op.mode = (unsigned)num_field(o, "mode", 0755);
  op.len = op.kind == kOpWrite && op.a ? strlen(op.a) : 0;
  op.fd = (int)num_field(o, "fd", -1);
  op.optional = o.Get("optional").ToBoolean();
  op.uid = (int)num_field(o, "uid", -1);
  op.gid = (int)num_field(o, "gid", -1);
  st.ops.push_back(op);
}

// The cgroup join of one dyno, on the libuv threadpool (see join_cgroup).
struct JoinWork {
  uv_work_t req;
  std::vector<std::string> procs;
  SpawnResult child;  // pidfd is our own dup: the exit watcher may close the original
  StepError err;
  bool ok = false;
  Napi::FunctionReference cb;
  std::unique_ptr<Napi::AsyncContext> ctx;
  Napi::Env env;
  explicit JoinWork(Napi::Env e) : env(e) {}
};

void queue_join(Napi::Env env, std::vector<std::string> procs, const SpawnResult &child, Napi::Function cb) {
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  auto *w = new JoinWork(env);
  w->req.data = w;
  w->procs = std::move(procs);
  w->child = child;
  w->child.pidfd = fcntl(child.pidfd, F_DUPFD_CLOEXEC, 3);
  w->cb = Napi::Persistent(cb);
  w->ctx = std::make_unique<Napi::AsyncContext>(env, "joinCgroup");
  uv_queue_work(
      loop, &w->req, [](uv_work_t *r) {
        auto *w = static_cast<JoinWork *>(r->data);
        w->ok = join_cgroup(w->procs, w->child, w->err);
      },
      [](uv_work_t *r, int) {
        auto *w = static_cast<JoinWork *>(r->data);
        close(w->child.pidfd);
        Napi::HandleScope scope(w->env);
        Napi::Value arg = w->env.Null();
        if (!w->ok) {
          Napi::Object e = Napi::Object::New(w->env);
          e.Set("step", w->err.step);
          e.Set("syscall", w->err.syscall);
          e.Set("errno", w->err.err);
          e.Set("code", errno_name(w->err.err));
          e.Set("message", strerror(w->err.err));
          e.Set("detail", w->err.detail);
          arg = e;
        }
        try {
          w->cb.MakeCallback(w->env.Global(), {arg}, *w->ctx);
        } catch (const Napi::Error &e) {
          napi_fatal_exception(w->env, e.Value());
        }
        delete w;
      });
}

Napi::Value Spawn(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction())
    throw Napi::TypeError::New(env, "Usage: spawn(plan, onJoined)");
  Napi::Object plan = info[0].As<Napi::Object>();
  PlanStorage st;
  SpawnRequest req;
  req.clone_flags = (unsigned)num_field(plan, "cloneFlags");
  req.child.late_unshare = (unsigned)num_field(plan, "lateUnshare");
  req.cgroup_dir = str_field(plan, "cgroupDir");
  req.uid_map = str_field(plan, "uidMap");
  req.gid_map = str_field(plan, "gidMap");
  req.child.become_root = !req.uid_map.empty();
  Napi::Value rls = plan.Get("rlimits");
  if (rls.IsArray()) {
    Napi::Array arr = rls.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) {
      Napi::Object r = arr.Get(i).As<Napi::Object>();
      double soft = num_field(r, "soft", -1), hard = num_field(r, "hard", -1);
      req.rlimits.push_back({(int)num_field(r, "resource"), soft < 0 ? RLIM_INFINITY : (unsigned long long)soft,
                             hard < 0 ? RLIM_INFINITY : (unsigned long long)hard});
    }
  }
  Napi::Array procs = plan.Get("cgroupProcs").As<Napi::Array>();
  for (uint32_t i = 0; i < procs.Length(); i++) req.cgroup_procs.push_back(procs.Get(i).As<Napi::String>().Utf8Value());
  Napi::Array ops = plan.Get("ops").As<Napi::Array>();
  for (uint32_t i = 0; i < ops.Length(); i++) convert_op(env, st, ops.Get(i).As<Napi::Object>());
  Napi::Array stdio = plan.Get("stdio").As<Napi::Array>();
  for (int i = 0; i < 3; i++) req.child.stdio[i] = stdio.Get(i).As<Napi::Number>().Int32Value();
  req.child.init_fd = (int)num_field(plan, "initFd", -1);
  Napi::Value pass = plan.Get("passFds");
  if (pass.IsArray()) {
    Napi::Array arr = pass.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) st.pass_fds.push_back(arr.Get(i).As<Napi::Number>().Int32Value());
  }
  req.child.pass_fds = st.pass_fds.data();
  req.child.npass = st.pass_fds.size();
  st.keep_list(plan.Get("argv").As<Napi::Array>(), st.argv);
  st.keep_list(plan.Get("envp").As<Napi::Array>(), st.envp);
  req.child.ops = st.ops.data();
  req.child.nops = st.ops.size();
  req.child.argv = st.argv.data();
  req.child.envp = st.envp.data();
  req.child.trace = plan.Get("trace").ToBoolean();

  SpawnResult out;
  StepError err;
  if (!spawn_dyno(req, out, err)) throw step_error(env, err.step, err.syscall, err.err, err.detail);
  queue_join(env, std::move(req.cgroup_procs), out, info[1].As<Napi::Function>());
  Napi::Object res = Napi::Object::New(env);
  res.Set("pid", out.pid);
  res.Set("pidfd", out.pidfd);
  res.Set("channel", out.chan_fd);
  res.Set("intoCgroup", out.into_cgroup);
  return res;
}

// One uv_poll per watched fd; deleted in uv_close's callback.
struct Watch {
  uv_poll_t poll;
  int fd;
  Napi::FunctionReference cb;
  std::unique_ptr<Napi::AsyncContext> ctx;
  Napi::Env env;
  explicit Watch(Napi::Env e) : env(e) {}
};

void close_watch(Watch *w) {
  uv_poll_stop(&w->poll);
  uv_close(reinterpret_cast<uv_handle_t *>(&w->poll), [](uv_handle_t *h) {
    Watch *w = static_cast<Watch *>(h->data);
    close(w->fd);
    delete w;
  });
}

Watch *start_watch(const Napi::CallbackInfo &info, const char *name, uv_poll_cb on_ready) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction())
    throw Napi::TypeError::New(env, std::string("Usage: ") + name + "(fd, callback)");
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  Watch *w = new Watch(env);
  w->fd = info[0].As<Napi::Number>().Int32Value();
  w->cb = Napi::Persistent(info[1].As<Napi::Function>());
  w->ctx = std::make_unique<Napi::AsyncContext>(env, name);
  w->poll.data = w;
  if (uv_poll_init(loop, &w->poll, w->fd) != 0) {
    delete w;
    throw Napi::Error::New(env, std::string(name) + ": uv_poll_init failed");
  }
  uv_poll_start(&w->poll, UV_READABLE, on_ready);
  return w;
}

// A JavaScript exception in a callback must surface as 'uncaughtException', not
// unwind through libuv.
void deliver(Watch *w, std::initializer_list<napi_value> args) {
  Napi::HandleScope scope(w->env);
  try {
    w->cb.MakeCallback(w->env.Global(), args, *w->ctx);
  } catch (const Napi::Error &e) {
    napi_fatal_exception(w->env, e.Value());
  }
}

// The pidfd turns readable when the dyno's PID 1 has exited.
void on_exit_ready(uv_poll_t *h, int, int) {
  Watch *w = static_cast<Watch *>(h->data);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  if (waitid((idtype_t)P_PIDFD, (id_t)w->fd, &si, WEXITED | WNOHANG) != 0) {
    if (errno == EINTR || errno == EAGAIN) return;
  } else if (si.si_pid == 0) {
    return;  // not yet
  }
  Napi::HandleScope scope(w->env);
  Napi::Object st = Napi::Object::New(w->env);
  if (si.si_code == CLD_EXITED) {
    st.Set("code", si.si_status);
    st.Set("signal", w->env.Null());
  } else {
    st.Set("code", w->env.Null());
    st.Set("signal", si.si_status);
  }
  uv_poll_stop(&w->poll);
  deliver(w, {st});
  close_watch(w);
}

Napi::Value WatchExit(const Napi::CallbackInfo &info) {
  start_watch(info, "watchExit", on_exit_ready);
  return info.Env().Undefined();
}

void on_channel_ready(uv_poll_t *h, int, int) {
  Watch *w = static_cast<Watch *>(h->data);
  for (;;) {
    Record r;
    memset(&r, 0, sizeof r);
    struct iovec iov = {&r, sizeof r};
    alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    ssize_t n = recvmsg(w->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    Napi::HandleScope scope(w->env);
    if (n <= 0) {  // EOF: every writer is gone (the command exec'd, or the dyno died)
      uv_poll_stop(&w->poll);
      deliver(w, {w->env.Null()});
      close_watch(w);
      return;
    }
    Napi::Object rec = Napi::Object::New(w->env);
    static const char *kinds[] = {"", "error", "trace", "pty"};
    rec.Set("kind", r.kind < 4 ? kinds[r.kind] : "unknown");
    r.step[sizeof r.step - 1] = r.syscall[sizeof r.syscall - 1] = r.detail[sizeof r.detail - 1] = 0;
    rec.Set("step", r.step);
    rec.Set("syscall", r.syscall);
    rec.Set("errno", r.err);
    rec.Set("code", r.err ? errno_name(r.err) : "");
    rec.Set("message", r.err ? strerror(r.err) : "");
    rec.Set("detail", r.detail);
    rec.Set("tNs", Napi::Number::New(w->env, (double)r.t_ns));
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
      rec.Set("fd", fd);
    }
    deliver(w, {rec});
  }
}

Napi::Value WatchChannel(const Napi::CallbackInfo &info) {
  start_watch(info, "watchChannel", on_channel_ready);
  return info.Env().Undefined();
}

// Returns false when the process is already gone.
Napi::Value Signal(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int pidfd = info[0].As<Napi::Number>().Int32Value();
  int sig = info[1].As<Napi::Number>().Int32Value();
  if (syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) == 0) return Napi::Boolean::New(env, true);
  if (errno == ESRCH) return Napi::Boolean::New(env, false);
  throw step_error(env, "signal dyno", "pidfd_send_signal", errno, "");
}

Napi::Value Pipe(const Napi::CallbackInfo &info) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) throw step_error(info.Env(), "stdio pipe", "pipe2", errno, "");
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, p[0]);
  a.Set(1u, p[1]);
  return a;
}

Napi::Value NetnsSocket(const Napi::CallbackInfo &info) {
  int pidfd = info[0].As<Napi::Number>().Int32Value();
  StepError err;
  int fd = netns_socket(pidfd, err);
  if (fd < 0) throw step_error(info.Env(), err.step, err.syscall, err.err, err.detail);
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value IdmapUserns(const Napi::CallbackInfo &info) {
  StepError err;
  int fd = idmap_userns(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value(), err);
  if (fd < 0) throw step_error(info.Env(), err.step, err.syscall, err.err, err.detail);
  return Napi::Number::New(info.Env(), fd);
}

// libuv's raw mode keeps ONLCR, so a dyno's "\r\n" would reach the terminal as
// "\r\r\n": while attached, the host terminal passes output through untouched.
// (setRawMode(false) restores the saved settings.)
Napi::Value RawOutput(const Napi::CallbackInfo &info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct termios t;
  if (tcgetattr(fd, &t) != 0) throw step_error(info.Env(), "terminal", "tcgetattr", errno, "");
  t.c_oflag &= ~(tcflag_t)OPOST;
  if (tcsetattr(fd, TCSANOW, &t) != 0) throw step_error(info.Env(), "terminal", "tcsetattr", errno, "");
  return info.Env().Undefined();
}

// A detached, idmapped copy of a directory's mount (open_tree + mount_setattr):
// made here with the host's privileges, attached by the child with move_mount.
Napi::Value IdmapMount(const Napi::CallbackInfo &info) {
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int userns = info[1].As<Napi::Number>().Int32Value();
  int tree = (int)syscall(SYS_open_tree, AT_FDCWD, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (tree < 0) throw step_error(info.Env(), "idmap /app", "open_tree", errno, path);
  struct mount_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = (uint64_t)userns;
  if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
    int e = errno;
    close(tree);
    throw step_error(info.Env(), "idmap /app", "mount_setattr", e, path + " (its filesystem may not support idmapped mounts)");
  }
  return Napi::Number::New(info.Env(), tree);
}

// Holds an abstract unix socket name for as long as the fd is open: an exclusive,
// host-wide reservation that the kernel releases when its holder dies, leaving
// nothing behind. Returns -1 when someone else holds the name.
Napi::Value LockName(const Napi::CallbackInfo &info) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw step_error(info.Env(), "reserve ids", "socket", errno, name);
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  size_t n = std::min(name.size(), sizeof addr.sun_path - 2);
  memcpy(addr.sun_path + 1, name.data(), n);
  if (bind(fd, (struct sockaddr *)&addr, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) != 0) {
    int e = errno;
    close(fd);
    if (e == EADDRINUSE) return Napi::Number::New(info.Env(), -1);
    throw step_error(info.Env(), "reserve ids", "bind", e, name);
  }
  return Napi::Number::New(info.Env(), fd);
}

// A write lock on one byte of a file (an OFD lock: owned by the open file
// description, so two engines in one process exclude each other too, and the kernel
// drops it when the last fd closes or its holder dies). False when someone holds it.
Napi::Value LockRange(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "lockRange(fd: number, index: number)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int64_t index = info[1].As<Napi::Number>().Int64Value();
  bool lock = info.Length() < 3 || info[2].ToBoolean();
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = lock ? F_WRLCK : F_UNLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = index;
  fl.l_len = 1;
  if (fcntl(fd, F_OFD_SETLK, &fl) == 0) return Napi::Boolean::New(env, true);
  if (errno == EAGAIN || errno == EACCES) return Napi::Boolean::New(env, false);
  throw step_error(env, "reserve ids", "fcntl", errno, "F_OFD_SETLK");
}

// flock(2) on an fd (a cgroup directory's, say): true when taken, false when
// another holder has it and wait is false.
Napi::Value Flock(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsBoolean())
    throw Napi::TypeError::New(env, "flock(fd: number, exclusive: boolean)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int op = (info[1].As<Napi::Boolean>().Value() ? LOCK_EX : LOCK_SH) | LOCK_NB;
  if (flock(fd, op) == 0) return Napi::Boolean::New(env, true);
  if (errno == EWOULDBLOCK) return Napi::Boolean::New(env, false);
  throw step_error(env, "lock", "flock", errno, "");
}

Napi::Value ResizePty(const Napi::CallbackInfo &info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct winsize ws;
  memset(&ws, 0, sizeof ws);
  ws.ws_row = (unsigned short)info[1].As<Napi::Number>().Uint32Value();
  ws.ws_col = (unsigned short)info[2].As<Napi::Number>().Uint32Value();
  if (ioctl(fd, TIOCSWINSZ, &ws) != 0) throw step_error(info.Env(), "resize terminal", "ioctl", errno, "TIOCSWINSZ");
  return info.Env().Undefined();
}

// A sealed in-memory copy of dynod-init: exec'ing it from a memfd means no path of
// the host has to be visible in the dyno, and nothing in the dyno can rewrite the
// binary through /proc/self/exe (the CVE-2019-5736 class).
Napi::Value SealedCopy(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int src = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (src < 0) throw step_error(env, "load dynod-init", "open", errno, path);
  int mfd = (int)syscall(SYS_memfd_create, "dynod-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0) {
    int e = errno;
    close(src);
    throw step_error(env, "load dynod-init", "memfd_create", e, path);
  }
  char buf[65536];
  for (;;) {
    ssize_t n = read(src, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0 || write(mfd, buf, (size_t)n) != n) {
      int e = errno;
      close(src);
      close(mfd);
      throw step_error(env, "load dynod-init", "copy", e, path);
    }
  }
  close(src);
  if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0) {
    int e = errno;
    close(mfd);
    throw step_error(env, "load dynod-init", "fcntl", e, "F_ADD_SEALS");
  }
  return Napi::Number::New(env, mfd);
}

// compileSeccomp(filter): the normalized filter of src/seccomp/profile.ts, compiled
// to a sealed memfd holding the BPF program; dynod-init loads it before exec.
SeccompAction seccomp_action(const Napi::Object &o) {
  SeccompAction a;
  a.kind = str_field(o, "kind");
  a.value = (uint32_t)num_field(o, "value");
  return a;
}

uint64_t seccomp_u64(Napi::Env env, const Napi::Value &v, const char *what) {
  if (v.IsNumber()) return (uint64_t)v.As<Napi::Number>().Int64Value();
  bool lossless = false;
  if (v.IsBigInt()) {
    uint64_t x = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (lossless) return x;
  }
  throw Napi::TypeError::New(env, std::string("compileSeccomp: ") + what + " must be a bigint in 0..2^64-1");
}

Napi::Value CompileSeccomp(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "Usage: compileSeccomp(filter)");
  Napi::Object o = info[0].As<Napi::Object>();
  SeccompFilter f;
  f.default_action = seccomp_action(o.Get("defaultAction").As<Napi::Object>());
  f.bad_arch_action = seccomp_action(o.Get("badArchAction").As<Napi::Object>());
  f.enosys_above_known = o.Get("enosysAboveKnown").ToBoolean();
  Napi::Array arches = o.Get("arches").As<Napi::Array>();
  for (uint32_t i = 0; i < arches.Length(); i++) f.arches.push_back(arches.Get(i).As<Napi::String>().Utf8Value());
  Napi::Array rules = o.Get("rules").As<Napi::Array>();
  for (uint32_t i = 0; i < rules.Length(); i++) {
    Napi::Object r = rules.Get(i).As<Napi::Object>();
    SeccompRule rule;
    rule.syscall = str_field(r, "syscall");
    rule.action = seccomp_action(r.Get("action").As<Napi::Object>());
    Napi::Array args = r.Get("args").As<Napi::Array>();
    for (uint32_t j = 0; j < args.Length(); j++) {
      Napi::Object a = args.Get(j).As<Napi::Object>();
      SeccompArgCmp c;
      c.index = (uint32_t)num_field(a, "index");
      c.op = str_field(a, "op");
      c.value = seccomp_u64(env, a.Get("value"), "value");
      c.value_two = seccomp_u64(env, a.Get("valueTwo"), "valueTwo");
      rule.args.push_back(c);
    }
    f.rules.push_back(std::move(rule));
  }
  StepError err;
  int fd = compile_seccomp(f, err);
  if (fd < 0) throw step_error(env, err.step, err.syscall, err.err, err.detail);
  return Napi::Number::New(env, fd);
}

}  // namespace
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("spawn", Napi::Function::New(env, Spawn));
  exports.Set("watchExit", Napi::Function::New(env, WatchExit));
  exports.Set("watchChannel", Napi::Function::New(env, WatchChannel));
  exports.Set("signal", Napi::Function::New(env, Signal));
  exports.Set("pipe", Napi::Function::New(env, Pipe));
  exports.Set("netnsSocket", Napi::Function::New(env, NetnsSocket));
  exports.Set("idmapUserns", Napi::Function::New(env, IdmapUserns));
  exports.Set("idmapMount", Napi::Function::New(env, IdmapMount));
  exports.Set("lockName", Napi::Function::New(env, LockName));
  exports.Set("lockRange", Napi::Function::New(env, LockRange));
  exports.Set("flock", Napi::Function::New(env, Flock));
  exports.Set("rawOutput", Napi::Function::New(env, RawOutput));
  exports.Set("resizePty", Napi::Function::New(env, ResizePty));
  exports.Set("sealedCopy", Napi::Function::New(env, SealedCopy));
  exports.Set("compileSeccomp", Napi::Function::New(env, CompileSeccomp));
  return exports;
}

}  // namespace dynod

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return dynod::Init(env, exports); }
NODE_API_MODULE(dynod_addon, InitAddon)
