// The N-API surface of dynod, and nothing else: check and convert plain
// JavaScript data to the C structures the kernel-facing files use, and deliver
// exits, records and cgroup joins to JavaScript through libuv's event loop
// (uv_poll on a pidfd and on the record socket: no thread per dyno, no SIGCHLD
// handler fighting libuv).
//
// Every input is type-checked: a wrong or missing field is a TypeError naming the
// function and the field's path ("spawn: plan.ops[3].target must be a string").
// Kernel failures cross the seam as data: { step, syscall, errno, code, message, detail }.
#include <napi.h>
#include <malloc.h>
#include <v8.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <unordered_map>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cgroup.h"
#include "channel.h"
#include "console.h"
#include "devices.h"
#include "enter.h"
#include "json.h"
#include "net.h"
#include "netlink.h"
#include "spare.h"
#include "process.h"
#include "router-plane.h"
#include "seccomp.h"
#include "sys.h"
#include "userns.h"

namespace dynod {
namespace {

// ------------------------------------------------------------ errors as data

const char *errno_name(int e) {
  const char *n = strerrorname_np(e);
  return n ? n : "EUNKNOWN";
}

// { step, syscall, errno, code, message, detail } on obj.
template <typename T>
void set_error_data(Napi::Env env, T &obj, const std::string &step, const std::string &sc, int e, const std::string &detail) {
  obj.Set("step", step);
  obj.Set("syscall", sc);
  obj.Set("errno", Napi::Number::New(env, e));
  obj.Set("code", e ? errno_name(e) : "");
  obj.Set("message", e ? strerror(e) : "");
  obj.Set("detail", detail);
}

Napi::Object error_data(Napi::Env env, const StepError &err) {
  Napi::Object o = Napi::Object::New(env);
  set_error_data(env, o, err.step, err.syscall, err.err, err.detail);
  return o;
}

// A thrown Error carrying the same data (its message is the full sentence).
Napi::Error step_error(Napi::Env env, const StepError &err) {
  std::string msg = err.step + ": " + err.syscall + ": " + errno_name(err.err) + " (" + strerror(err.err) + ")";
  if (!err.detail.empty()) msg += " [" + err.detail + "]";
  Napi::Error e = Napi::Error::New(env, msg);
  set_error_data(env, e, err.step, err.syscall, err.err, err.detail);
  e.Set("message", msg);
  return e;
}

// ---------------------------------------------------------- checked input

// Where a value sits in the input ("plan.ops[3].target"): a chain of the keys and
// indexes on the way there, each on its caller's stack, spelled out only for a
// message (a spawn reads ~900 values; building each name eagerly was ~0.1 ms).
class Path {
 public:
  Path(const char *root) : key_(root) {}
  Path(const std::string &root) : key_(root.c_str()) {}
  Path(const Path &parent, const char *key) : parent_(&parent), key_(key) {}
  Path(const Path &parent, uint32_t i) : parent_(&parent), index_(i) {}
  std::string str() const {
    std::string s = parent_ ? parent_->str() : std::string();
    if (!key_) return s + "[" + std::to_string(index_) + "]";
    return parent_ ? s + "." + key_ : s + key_;
  }
  operator std::string() const { return str(); }

 private:
  const Path *parent_ = nullptr;
  const char *key_ = nullptr;  // nullptr: an index
  uint32_t index_ = 0;
};

// A path's parts live as long as the full expression that makes it: pass it down, or
// keep it as a std::string.
Path at(const Path &path, const char *key) { return Path(path, key); }
Path at(const Path &path, uint32_t i) { return Path(path, i); }

// Type checks for one entry point; path names the value for the message.
struct Check {
  Napi::Env env;
  const char *fn;

  [[noreturn]] void fail(const Path &path, const std::string &what) const {
    throw Napi::TypeError::New(env, std::string(fn) + ": " + path.str() + " must be " + what);
  }
  // o[name]; the same spelling as for a JSON request below.
  template <size_t N>
  Napi::Value get(const Napi::Object &o, const char (&name)[N]) const {
    return o.Get(name);
  }
  Napi::Object object(const Napi::Value &v, const Path &path) const {
    if (!v.IsObject() || v.IsArray() || v.IsFunction()) fail(path, "an object");
    return v.As<Napi::Object>();
  }
  Napi::Array array(const Napi::Value &v, const Path &path) const {
    if (!v.IsArray()) fail(path, "an array");
    return v.As<Napi::Array>();
  }
  Napi::Function function(const Napi::Value &v, const Path &path) const {
    if (!v.IsFunction()) fail(path, "a function");
    return v.As<Napi::Function>();
  }
  bool boolean(const Napi::Value &v, const Path &path) const {
    if (!v.IsBoolean()) fail(path, "a boolean");
    return v.As<Napi::Boolean>().Value();
  }
  // A string; a C string (the default) may not hold NUL, which would cut it short.
  std::string string(const Napi::Value &v, const Path &path, bool c_string = true) const {
    if (!v.IsString()) fail(path, "a string");
    std::string s = v.As<Napi::String>().Utf8Value();
    if (c_string && s.find('\0') != std::string::npos) fail(path, "a string without NUL characters");
    return s;
  }
  int64_t integer(const Napi::Value &v, const Path &path, int64_t min, int64_t max) const {
    return in_range(v.IsNumber(), v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0, path, min, max);
  }
  int64_t in_range(bool number, double d, const Path &path, int64_t min, int64_t max) const {
    if (!number || d != d || d < (double)min || d > (double)max || d != (double)(int64_t)d)
      fail(path, "an integer in " + std::to_string(min) + ".." + std::to_string(max));
    return (int64_t)d;
  }
  int fd(const Napi::Value &v, const Path &path) const { return (int)integer(v, path, 0, INT_MAX); }
  uint32_t u32(const Napi::Value &v, const Path &path) const { return (uint32_t)integer(v, path, 0, UINT32_MAX); }
  uint64_t u64(const Napi::Value &v, const Path &path) const {
    bool lossless = false;
    uint64_t x = 0;
    if (v.IsBigInt()) x = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) fail(path, "a bigint in 0..2^64-1");
    return x;
  }
  // Every own property of o is one of keys.
  template <typename... Keys>
  void only(const Napi::Object &o, const Path &path, const Keys &...keys) const {
    Napi::Array names = o.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); i++) {
      std::string k = names.Get(i).ToString().Utf8Value();
      if (((k != keys) && ...)) unknown(path, k);
    }
  }
  [[noreturn]] void unknown(const Path &path, const std::string &key) const {
    throw Napi::TypeError::New(env, std::string(fn) + ": " + path.str() + " has an unknown field \"" + key + "\"");
  }
  void args(const Napi::CallbackInfo &info, size_t n, const char *signature) const {
    if (info.Length() < n) throw Napi::TypeError::New(env, std::string("Usage: ") + signature);
  }

  // The same checks on the JSON form of a request (json.h), with the same messages.
  // doc receives the parsed text of v, which src/native.ts makes with JSON.stringify.
  const Json &request(const Napi::Value &v, const Path &path, Json &doc) const {
    if (!v.IsString()) fail(path, "the JSON text of an object (src/native.ts makes it)");
    std::string text = v.As<Napi::String>().Utf8Value();
    JsonParser parser(text.data(), text.size());
    if (!parser.parse(doc)) fail(path, "the JSON text of an object (not JSON at byte " + std::to_string(parser.offset()) + ")");
    return object(doc, path);
  }
  template <size_t N>
  const Json &get(const Json &o, const char (&name)[N]) const { return o.get(name); }
  const Json &object(const Json &v, const Path &path) const {
    if (v.kind != Json::kObject) fail(path, "an object");
    return v;
  }
  const Json &array(const Json &v, const Path &path) const {
    if (v.kind != Json::kArray) fail(path, "an array");
    return v;
  }
  bool boolean(const Json &v, const Path &path) const {
    if (v.kind != Json::kBool) fail(path, "a boolean");
    return v.boolean;
  }
  // A reference into the request's document, which outlives every use of it.
  const std::string &string(const Json &v, const Path &path, bool c_string = true) const {
    if (v.kind != Json::kString) fail(path, "a string");
    if (c_string && v.string.find('\0') != std::string::npos) fail(path, "a string without NUL characters");
    return v.string;
  }
  int64_t integer(const Json &v, const Path &path, int64_t min, int64_t max) const {
    return in_range(v.kind == Json::kNumber, v.number, path, min, max);
  }
  int fd(const Json &v, const Path &path) const { return (int)integer(v, path, 0, INT_MAX); }
  uint32_t u32(const Json &v, const Path &path) const { return (uint32_t)integer(v, path, 0, UINT32_MAX); }
  template <typename... Keys>
  void only(const Json &o, const Path &path, const Keys &...keys) const {
    for (const auto &f : o.fields)
      if (!(is(f.first, keys) || ...)) unknown(path, f.first);
  }
};

// Arrays the ChildPlan points into; lives until spawn returns (the child has its own
// copy of this memory from the clone on). Its strings are the request document's.
struct PlanStorage {
  std::vector<ChildOp> ops;
  std::vector<char *> argv, envp;
  std::deque<std::vector<char *>> lists;  // per-op argv/envp (hook); a deque keeps them in place

  template <size_t N>
  const char *str(const Check &c, const Json &o, const Path &path, const char (&key)[N]) {
    return c.string(c.get(o, key), at(path, key)).c_str();
  }
  template <size_t N>
  const char *str_or_null(const Check &c, const Json &o, const Path &path, const char (&key)[N]) {
    const Json &v = c.get(o, key);
    if (v.kind == Json::kNull) return nullptr;
    if (v.kind != Json::kString) c.fail(at(path, key), "a string or null");
    return c.string(v, at(path, key)).c_str();
  }
  void list(const Check &c, const Json &v, const Path &path, std::vector<char *> &out) {
    const Json &arr = c.array(v, path);
    for (uint32_t i = 0; i < arr.items.size(); i++) out.push_back(const_cast<char *>(c.string(arr.items[i], at(path, i)).c_str()));
    out.push_back(nullptr);
  }
};

int op_kind(const std::string &name) {
  static const struct { const char *name; int kind; } kinds[] = {
      {"mount", kOpMount},       {"remount", kOpRemount},          {"mkdir", kOpMkdir},
      {"symlink", kOpSymlink},   {"write", kOpWrite},              {"pivot", kOpPivot},
      {"hostname", kOpHostname}, {"loopback", kOpLoopback},        {"join-cgroup", kOpJoinCgroup},
      {"move-mount", kOpMoveMount}, {"setattr", kOpSetattr},    {"net-config", kOpNetConfig},
      {"setns", kOpJoinNamespaces}, {"mknod", kOpMknod},        {"sysctl", kOpSysctl},
      {"tmpfs-copyup", kOpTmpfsCopyUp}, {"await-state", kOpAwaitState}, {"hook", kOpHook},
  };
  for (const auto &k : kinds)
    if (name == k.name) return k.kind;
  return 0;
}

// A dotted IPv4 address, in network byte order.
template <typename V>
uint32_t ipv4(const Check &c, const V &v, const Path &path) {
  std::string s = c.string(v, path);
  in_addr a;
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) c.fail(path, "an IPv4 address (a.b.c.d)");
  return a.s_addr;
}

// An interface name the kernel takes: 1..15 bytes, no "/", ":" or whitespace.
template <typename V>
std::string ifname(const Check &c, const V &v, const Path &path) {
  std::string s = c.string(v, path);
  if (s.empty() || s.size() >= IFNAMSIZ || s.find_first_of("/: \t\n") != std::string::npos || s == "." || s == "..")
    c.fail(path, "an interface name of 1-15 characters without \"/\", \":\" or spaces");
  return s;
}

void convert_op(const Check &c, PlanStorage &st, const Json &v, const Path &path) {
  const Json &o = c.object(v, path);
  ChildOp op;
  memset(&op, 0, sizeof op);
  op.fd = op.uid = op.gid = -1;
  std::string name = c.string(c.get(o, "op"), at(path, "op"));
  op.kind = op_kind(name);
  if (!op.kind) c.fail(at(path, "op"), "one of mount, remount, mkdir, symlink, write, pivot, hostname, loopback, join-cgroup, move-mount, setattr, net-config, setns, mknod, sysctl, tmpfs-copyup, await-state, hook (not \"" + name + "\")");
  op.step = st.str(c, o, path, "step");
  auto optional = [&] {
    const Json &x = c.get(o, "optional");
    op.optional = x.kind != Json::kMissing && c.boolean(x, at(path, "optional"));
  };
  auto mode = [&] { op.mode = (unsigned)c.integer(c.get(o, "mode"), at(path, "mode"), 0, 07777); };
  switch (op.kind) {
    case kOpMount:
      c.only(o, path, "op", "step", "source", "target", "fstype", "flags", "data", "optional");
      op.source = st.str_or_null(c, o, path, "source");
      op.target = st.str(c, o, path, "target");
      op.fstype = st.str_or_null(c, o, path, "fstype");
      op.flags = c.u32(c.get(o, "flags"), at(path, "flags"));
      op.data = st.str_or_null(c, o, path, "data");
      optional();
      break;
    case kOpAwaitState:
      c.only(o, path, "op", "step", "fd", "closeFd");
      op.fd = c.fd(c.get(o, "fd"), at(path, "fd"));
      op.fd2 = c.fd(c.get(o, "closeFd"), at(path, "closeFd"));
      break;
    case kOpHook: {
      c.only(o, path, "op", "step", "path", "argv", "envp", "root", "timeoutMs");
      op.path = st.str(c, o, path, "path");
      st.lists.emplace_back();
      st.list(c, c.get(o, "argv"), at(path, "argv"), st.lists.back());
      if (st.lists.back().size() < 2) c.fail(at(path, "argv"), "a non-empty array of strings");
      op.argv = st.lists.back().data();
      st.lists.emplace_back();
      st.list(c, c.get(o, "envp"), at(path, "envp"), st.lists.back());
      op.envp = st.lists.back().data();
      op.target = st.str(c, o, path, "root");
      op.timeout_ms = (unsigned)c.integer(c.get(o, "timeoutMs"), at(path, "timeoutMs"), 0, 86400000);
      break;
    }
    case kOpTmpfsCopyUp:
      c.only(o, path, "op", "step", "target", "flags", "data");
      op.target = st.str(c, o, path, "target");
      op.flags = c.u32(c.get(o, "flags"), at(path, "flags"));
      op.data = st.str_or_null(c, o, path, "data");
      break;
    case kOpRemount:
      c.only(o, path, "op", "step", "target", "flags", "optional");
      op.target = st.str(c, o, path, "target");
      op.flags = c.u32(c.get(o, "flags"), at(path, "flags"));
      optional();
      break;
    case kOpMkdir: {
      c.only(o, path, "op", "step", "path", "mode", "uid", "gid");
      op.path = st.str(c, o, path, "path");
      mode();
      const Json &uid = c.get(o, "uid"), &gid = c.get(o, "gid");
      if ((uid.kind == Json::kMissing) != (gid.kind == Json::kMissing))
        c.fail(uid.kind == Json::kMissing ? at(path, "uid") : at(path, "gid"), "given when the other of uid and gid is");
      if (uid.kind != Json::kMissing) {
        op.uid = (int)c.integer(uid, at(path, "uid"), 0, INT_MAX);
        op.gid = (int)c.integer(gid, at(path, "gid"), 0, INT_MAX);
      }
      break;
    }
    case kOpSymlink:
      c.only(o, path, "op", "step", "source", "path");
      op.source = st.str(c, o, path, "source");
      op.path = st.str(c, o, path, "path");
      break;
    case kOpWrite: {
      c.only(o, path, "op", "step", "path", "content", "mode");
      op.path = st.str(c, o, path, "path");
      const std::string &content = c.string(c.get(o, "content"), at(path, "content"), false);
      op.content = content.data();
      op.content_len = content.size();
      mode();
      break;
    }
    case kOpPivot:
      c.only(o, path, "op", "step", "target", "source");
      op.target = st.str(c, o, path, "target");
      op.source = st.str_or_null(c, o, path, "source");
      break;
    case kOpHostname:
      c.only(o, path, "op", "step", "name");
      op.name = st.str(c, o, path, "name");
      break;
    case kOpLoopback:
    case kOpJoinCgroup:
      c.only(o, path, "op", "step");
      break;
    case kOpMoveMount:
      c.only(o, path, "op", "step", "target", "fd");
      op.target = st.str(c, o, path, "target");
      op.fd = c.fd(c.get(o, "fd"), at(path, "fd"));
      break;
    case kOpNetConfig: {
      c.only(o, path, "op", "step", "name", "address", "gateway");
      op.name = st.str(c, o, path, "name");
      op.addr4 = ipv4(c, c.get(o, "address"), at(path, "address"));
      op.gw4 = ipv4(c, c.get(o, "gateway"), at(path, "gateway"));
      break;
    }
    case kOpJoinNamespaces: {
      c.only(o, path, "op", "step", "fd", "nstype");
      op.fd = c.fd(c.get(o, "fd"), at(path, "fd"));
      op.flags = c.u32(c.get(o, "nstype"), at(path, "nstype"));
      const unsigned one_ns = CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWPID | CLONE_NEWUSER;
      if (op.flags == 0 || (op.flags & (op.flags - 1)) != 0 || (op.flags & ~one_ns) != 0)
        c.fail(at(path, "nstype"), "one CLONE_NEW* flag (net, ipc, uts, mount, cgroup, pid, user)");
      break;
    }
    case kOpMknod: {
      c.only(o, path, "op", "step", "path", "mode", "major", "minor", "uid", "gid");
      op.path = st.str(c, o, path, "path");
      op.mode = (unsigned)c.integer(c.get(o, "mode"), at(path, "mode"), 0, 0177777);
      unsigned type = op.mode & S_IFMT;
      if (type != S_IFCHR && type != S_IFBLK && type != S_IFIFO) c.fail(at(path, "mode"), "a mode with S_IFCHR, S_IFBLK or S_IFIFO");
      op.major = (unsigned)c.integer(c.get(o, "major"), at(path, "major"), 0, 4095);
      op.minor = (unsigned)c.integer(c.get(o, "minor"), at(path, "minor"), 0, 1048575);
      op.uid = (int)c.integer(c.get(o, "uid"), at(path, "uid"), 0, INT_MAX);
      op.gid = (int)c.integer(c.get(o, "gid"), at(path, "gid"), 0, INT_MAX);
      break;
    }
    case kOpSysctl: {
      c.only(o, path, "op", "step", "path", "content");
      op.path = st.str(c, o, path, "path");
      const std::string &content = c.string(c.get(o, "content"), at(path, "content"), false);
      op.content = content.data();
      op.content_len = content.size();
      break;
    }
    case kOpSetattr:
      c.only(o, path, "op", "step", "target", "attrSet", "recursive");
      op.target = st.str(c, o, path, "target");
      op.attr_set = c.u32(c.get(o, "attrSet"), at(path, "attrSet"));
      op.recursive = c.boolean(c.get(o, "recursive"), at(path, "recursive"));
      break;
  }
  st.ops.push_back(op);
}

// -------------------------------------------------- delivery to JavaScript

// A JavaScript exception in a callback must surface as 'uncaughtException', not
// unwind through libuv.
void call_back(Napi::Env env, Napi::FunctionReference &cb, Napi::AsyncContext &ctx, std::initializer_list<napi_value> args) {
  try {
    cb.MakeCallback(env.Global(), args, ctx);
  } catch (const Napi::Error &e) {
    napi_fatal_exception(env, e.Value());
  }
}

// run() on the threadpool, then cb(err, result()) on the loop; err is run()'s StepError
// when it returned false. For steps that wait on the kernel (RCU grace periods, helper
// processes) while the event loop has other work.
struct StepWork {
  uv_work_t work;
  std::function<bool(StepError &)> run;
  std::function<Napi::Value(Napi::Env)> result;
  StepError err;
  bool ok = false;
  Napi::FunctionReference cb;
  std::unique_ptr<Napi::AsyncContext> ctx;
  Napi::Env env;
  explicit StepWork(Napi::Env e) : env(e) {}
};

void queue_step(Napi::Env env, Napi::Function cb, const char *name, std::function<bool(StepError &)> run, std::function<Napi::Value(Napi::Env)> result) {
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  auto *w = new StepWork(env);
  w->run = std::move(run);
  w->result = std::move(result);
  w->cb = Napi::Persistent(cb);
  w->ctx = std::make_unique<Napi::AsyncContext>(env, name);
  w->work.data = w;
  uv_queue_work(
      loop, &w->work,
      [](uv_work_t *r) {
        auto *w = static_cast<StepWork *>(r->data);
        w->ok = w->run(w->err);
      },
      [](uv_work_t *r, int) {
        auto *w = static_cast<StepWork *>(r->data);
        {
          Napi::HandleScope scope(w->env);
          Napi::Value err = w->ok ? w->env.Null() : Napi::Value(error_data(w->env, w->err));
          call_back(w->env, w->cb, *w->ctx, {err, w->result(w->env)});
        }
        delete w;
      });
}

// The fields spawn and enter share, from o (named p in messages) into req.
void convert_rlimits(const Check &c, const Json &o, const Path &p, SpawnRequest &req) {
  const Json &rls = c.array(c.get(o, "rlimits"), at(p, "rlimits"));
  for (uint32_t i = 0; i < rls.items.size(); i++) {
    std::string rp = at(at(p, "rlimits"), i);
    const Json &r = c.object(rls.items[i], rp);
    const int64_t max = (int64_t)1 << 53;
    int64_t soft = c.integer(c.get(r, "soft"), at(rp, "soft"), -1, max), hard = c.integer(c.get(r, "hard"), at(rp, "hard"), -1, max);
    req.rlimits.push_back({(int)c.integer(c.get(r, "resource"), at(rp, "resource"), 0, RLIM_NLIMITS - 1),
                           soft < 0 ? RLIM_INFINITY : (unsigned long long)soft, hard < 0 ? RLIM_INFINITY : (unsigned long long)hard});
  }
}

void convert_cgroup_procs(const Check &c, const Json &o, const Path &p, SpawnRequest &req) {
  const Json &procs = c.array(c.get(o, "cgroupProcs"), at(p, "cgroupProcs"));
  for (uint32_t i = 0; i < procs.items.size(); i++) req.cgroup_procs.push_back(c.string(procs.items[i], at(at(p, "cgroupProcs"), i)));
}

void convert_stdio(const Check &c, const Json &o, const Path &p, SpawnRequest &req) {
  const Json &stdio = c.array(c.get(o, "stdio"), at(p, "stdio"));
  if (stdio.items.size() != 3) c.fail(at(p, "stdio"), "an array of 3 fds");
  for (uint32_t i = 0; i < 3; i++) req.child.stdio[i] = c.fd(stdio.items[i], at(at(p, "stdio"), i));
}

// plan.veth ({ host, peer, bridge } or null) and plan.netnsListen.
void convert_network(const Check &c, const Json &o, const Path &p, SpawnRequest &req) {
  const Json &veth = c.get(o, "veth");
  if (veth.kind != Json::kNull) {
    std::string vp = at(p, "veth");
    const Json &v = c.object(veth, vp);
    c.only(v, vp, "host", "peer", "bridge");
    req.veth = true;
    req.veth_spec = {ifname(c, c.get(v, "host"), at(vp, "host")), ifname(c, c.get(v, "peer"), at(vp, "peer")), ifname(c, c.get(v, "bridge"), at(vp, "bridge"))};
  }
  const Json &ls = c.array(c.get(o, "netnsListen"), at(p, "netnsListen"));
  for (uint32_t i = 0; i < ls.items.size(); i++) {
    std::string lp = at(at(p, "netnsListen"), i);
    const Json &l = c.object(ls.items[i], lp);
    c.only(l, lp, "family", "type", "address", "port");
    NetnsListen n;
    int64_t fam = c.integer(c.get(l, "family"), at(lp, "family"), 4, 6);
    if (fam == 5) c.fail(at(lp, "family"), "4 or 6");
    n.family = fam == 6 ? AF_INET6 : AF_INET;
    std::string type = c.string(c.get(l, "type"), at(lp, "type"));
    if (type != "tcp" && type != "udp") c.fail(at(lp, "type"), "\"tcp\" or \"udp\"");
    n.type = type == "tcp" ? SOCK_STREAM : SOCK_DGRAM;
    n.address = c.string(c.get(l, "address"), at(lp, "address"));
    unsigned char buf[16];
    if (inet_pton(n.family, n.address.c_str(), buf) != 1) c.fail(at(lp, "address"), fam == 6 ? "an IPv6 address" : "an IPv4 address");
    n.port = (uint16_t)c.integer(c.get(l, "port"), at(lp, "port"), 1, 65535);
    req.netns_listen.push_back(n);
  }
}

Napi::Object spawn_result(Napi::Env env, const SpawnResult &out) {
  Napi::Object res = Napi::Object::New(env);
  res.Set("pid", out.pid);
  res.Set("pidfd", out.pidfd);
  res.Set("channel", out.chan_fd);
  res.Set("intoCgroup", out.into_cgroup);
  res.Set("viaSpare", out.via_spare);
  Napi::Array fds = Napi::Array::New(env, out.netns_fds.size());
  for (uint32_t i = 0; i < out.netns_fds.size(); i++) fds.Set(i, out.netns_fds[i]);
  res.Set("netnsFds", fds);
  return res;
}

// Spares made and not yet handed to a spawn, by id: JavaScript holds the id only.
std::unordered_map<uint32_t, Spare *> g_spares;
uint32_t g_next_spare = 1;

Napi::Value Spawn(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Check c{env, "spawn"};
  c.args(info, 1, "spawn(plan)");
  Json doc;
  const Json &plan = c.request(info[0], "plan", doc);
  const std::string p = "plan";
  PlanStorage st;
  SpawnRequest req;
  req.clone_flags = c.u32(c.get(plan, "cloneFlags"), at(p, "cloneFlags"));
  req.child.late_unshare = c.u32(c.get(plan, "lateUnshare"), at(p, "lateUnshare"));
  req.cgroup_dir = c.string(c.get(plan, "cgroupDir"), at(p, "cgroupDir"));
  req.uid_map = c.string(c.get(plan, "uidMap"), at(p, "uidMap"));
  req.gid_map = c.string(c.get(plan, "gidMap"), at(p, "gidMap"));
  req.child.become_root = !req.uid_map.empty();
  convert_rlimits(c, plan, p, req);
  convert_cgroup_procs(c, plan, p, req);
  const Json &ops = c.array(c.get(plan, "ops"), at(p, "ops"));
  for (uint32_t i = 0; i < ops.items.size(); i++) convert_op(c, st, ops.items[i], at(at(p, "ops"), i));
  bool joins = false;
  for (const ChildOp &op : st.ops) joins = joins || op.kind == kOpJoinCgroup;
  if (!req.cgroup_procs.empty() && !joins) c.fail(at(p, "ops"), "a list with a join-cgroup op when cgroupProcs is not empty (the child joins its cgroup there)");
  convert_stdio(c, plan, p, req);
  req.child.init_fd = c.fd(c.get(plan, "initFd"), at(p, "initFd"));
  convert_network(c, plan, p, req);
  const Json &pass = c.array(c.get(plan, "passFds"), at(p, "passFds"));
  if (pass.items.size() > kMaxPassFds) c.fail(at(p, "passFds"), "an array of at most " + std::to_string(kMaxPassFds) + " fds");
  for (uint32_t i = 0; i < pass.items.size(); i++) req.child.pass_fds[i] = c.fd(pass.items[i], at(at(p, "passFds"), i));
  req.child.npass = pass.items.size();
  st.list(c, c.get(plan, "argv"), at(p, "argv"), st.argv);
  if (st.argv.size() < 2) c.fail(at(p, "argv"), "a non-empty array of strings");
  st.list(c, c.get(plan, "envp"), at(p, "envp"), st.envp);
  req.child.trace = c.boolean(c.get(plan, "trace"), at(p, "trace"));
  req.child.detached = c.boolean(c.get(plan, "detached"), at(p, "detached"));
  req.pid_ns_fd = (int)c.integer(c.get(plan, "pidNsFd"), at(p, "pidNsFd"), -1, INT_MAX);
  if (req.pid_ns_fd >= 0 && (req.clone_flags & CLONE_NEWPID)) c.fail(at(p, "pidNsFd"), "-1 when cloneFlags has CLONE_NEWPID (a new PID namespace or a joined one, not both)");
  // The spare is this spawn's from here, whatever happens: freed when the spawn is over.
  struct SpareGuard {
    Spare *s = nullptr;
    ~SpareGuard() { spare_free(s); }
  } spare;
  int64_t spare_id = c.integer(c.get(plan, "spare"), at(p, "spare"), -1, UINT32_MAX);
  if (spare_id >= 0) {
    auto it = g_spares.find((uint32_t)spare_id);
    if (it == g_spares.end()) c.fail(at(p, "spare"), "-1 or the id of a spare (spareMake) that no spawn took yet");
    spare.s = it->second;
    g_spares.erase(it);
    // A spare that cannot stand for this clone's user and network namespaces (other maps,
    // or none asked for) is ended, and the clone made as without one.
    bool fits = spare.s->uid_map == req.uid_map && spare.s->gid_map == req.gid_map &&
                (req.clone_flags & (CLONE_NEWUSER | CLONE_NEWNET)) == (CLONE_NEWUSER | CLONE_NEWNET);
    if (fits) req.spare = spare.s;
  }
  req.child.ops = st.ops.data();
  req.child.nops = st.ops.size();
  req.child.argv = st.argv.data();
  req.child.envp = st.envp.data();

  SpawnResult out;
  StepError err;
  if (!spawn_dyno(req, out, err)) throw step_error(env, err);
  return spawn_result(env, out);
}

// enter(request): dynod exec. The child's steps are fixed (enter.cc): no op
// list crosses the seam, only what names the dyno and what the session gets.
Napi::Value Enter(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Check c{env, "enter"};
  c.args(info, 1, "enter(request)");
  const std::string p = "request";
  Json doc;
  const Json &o = c.request(info[0], p, doc);
  c.only(o, p, "pid", "startTime", "namespaces", "rlimits", "cgroupDir", "cgroupProcs", "stdio", "initFd", "seccompFd", "argv", "envp", "detached");
  EnterRequest req;
  req.pid = (int)c.integer(c.get(o, "pid"), at(p, "pid"), 2, 4194304);
  req.start_time = (unsigned long long)c.integer(c.get(o, "startTime"), at(p, "startTime"), 0, ((int64_t)1 << 53) - 1);
  req.namespaces = c.u32(c.get(o, "namespaces"), at(p, "namespaces"));
  if (req.namespaces == 0 || (req.namespaces & ~kEnterableNamespaces) != 0 || !(req.namespaces & CLONE_NEWPID) || !(req.namespaces & CLONE_NEWNS))
    c.fail(at(p, "namespaces"), "CLONE_NEW* flags (user, mount, pid, net, uts, ipc, cgroup) that include CLONE_NEWPID and CLONE_NEWNS");
  SpawnRequest &s = req.spawn;
  convert_rlimits(c, o, p, s);
  s.cgroup_dir = c.string(c.get(o, "cgroupDir"), at(p, "cgroupDir"));
  convert_cgroup_procs(c, o, p, s);
  if (s.cgroup_dir.empty() && s.cgroup_procs.empty()) c.fail(at(p, "cgroupDir"), "a directory when cgroupProcs is empty (the session must join the dyno's cgroup)");
  convert_stdio(c, o, p, s);
  s.child.init_fd = c.fd(c.get(o, "initFd"), at(p, "initFd"));
  int64_t seccomp_fd = c.integer(c.get(o, "seccompFd"), at(p, "seccompFd"), -1, INT_MAX);
  if (seccomp_fd >= 0) s.child.pass_fds[s.child.npass++] = (int)seccomp_fd;
  PlanStorage st;
  st.list(c, c.get(o, "argv"), at(p, "argv"), st.argv);
  if (st.argv.size() < 2) c.fail(at(p, "argv"), "a non-empty array of strings");
  st.list(c, c.get(o, "envp"), at(p, "envp"), st.envp);
  s.child.argv = st.argv.data();
  s.child.envp = st.envp.data();
  s.child.trace = false;
  s.child.detached = c.boolean(c.get(o, "detached"), at(p, "detached"));

  SpawnResult out;
  StepError err;
  if (!enter_dyno(req, out, err)) throw step_error(env, err);
  return spawn_result(env, out);
}

// One uv_poll per watched fd; deleted in uv_close's callback.
struct Watch {
  uv_poll_t poll;
  int fd;
  siginfo_t exit;  // watchExit: what waitid said (exit_errno when it failed)
  int exit_errno = 0;
  int64_t exit_cpu_usec = 0;  // watchExit: user+system CPU of the process and every child it reaped
  void (*last)(Watch *) = nullptr;  // close_watch's final call
  Napi::FunctionReference cb;
  std::unique_ptr<Napi::AsyncContext> ctx;
  Napi::Env env;
  explicit Watch(Napi::Env e) : env(e) {}
  void deliver(std::initializer_list<napi_value> args) { call_back(env, cb, *ctx, args); }
};

// Stops and frees the watch, closing its fd; then, when given, last(w) calls back a
// final time (with the fd closed) before w goes.
void close_watch(Watch *w, void (*last)(Watch *) = nullptr) {
  uv_poll_stop(&w->poll);
  w->last = last;
  uv_close(reinterpret_cast<uv_handle_t *>(&w->poll), [](uv_handle_t *h) {
    Watch *w = static_cast<Watch *>(h->data);
    close(w->fd);
    if (w->last) {
      Napi::HandleScope scope(w->env);
      w->last(w);
    }
    delete w;
  });
}

Watch *start_watch(const Napi::CallbackInfo &info, const char *name, uv_poll_cb on_ready) {
  Napi::Env env = info.Env();
  Check c{env, name};
  c.args(info, 2, (std::string(name) + "(fd, callback)").c_str());
  int fd = c.fd(info[0], "fd");
  Napi::Function cb = c.function(info[1], "callback");
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  Watch *w = new Watch(env);
  w->fd = fd;
  w->cb = Napi::Persistent(cb);
  w->ctx = std::make_unique<Napi::AsyncContext>(env, name);
  w->poll.data = w;
  if (uv_poll_init(loop, &w->poll, w->fd) != 0) {
    delete w;
    throw Napi::Error::New(env, std::string(name) + ": uv_poll_init failed");
  }
  uv_poll_start(&w->poll, UV_READABLE, on_ready);
  return w;
}

// The exit, as watchExit's callback gets it.
void deliver_exit(Watch *w) {
  Napi::Object st = Napi::Object::New(w->env);
  if (w->exit_errno != 0) {
    // e.g. ECHILD when something else in the process reaped it (waitpid(-1), SIGCHLD ignored)
    st.Set("code", w->env.Null());
    st.Set("signal", w->env.Null());
    st.Set("error", error_data(w->env, StepError{"wait for dyno", "waitid", "", w->exit_errno}));
  } else if (w->exit.si_code == CLD_EXITED) {
    st.Set("code", w->exit.si_status);
    st.Set("signal", w->env.Null());
  } else {
    st.Set("code", w->env.Null());
    st.Set("signal", w->exit.si_status);
  }
  if (w->exit_errno == 0) st.Set("cpuUsec", Napi::Number::New(w->env, (double)w->exit_cpu_usec));
  w->deliver({st});
}

// The pidfd turns readable when the dyno's PID 1 has exited. The exit reaches
// JavaScript once the pidfd is closed: when the dyno's end is known, nothing of it
// is open in this process any more.
void on_exit_ready(uv_poll_t *h, int, int) {
  Watch *w = static_cast<Watch *>(h->data);
  memset(&w->exit, 0, sizeof w->exit);
  // the raw waitid: its rusage is the process's own and its reaped children's (a dyno's
  // PID 1 reaps every process of the dyno), the CPU a cgroup counts when nothing else can
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  int rc = (int)syscall(SYS_waitid, P_PIDFD, w->fd, &w->exit, WEXITED | WNOHANG, &ru);
  int e = errno;
  w->exit_cpu_usec = ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
  if (rc != 0 && (e == EINTR || e == EAGAIN)) return;
  if (rc == 0 && w->exit.si_pid == 0) return;  // not yet
  w->exit_errno = rc != 0 ? e : 0;
  close_watch(w, deliver_exit);
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
      w->deliver({w->env.Null()});
      close_watch(w);
      return;
    }
    Napi::Object rec = Napi::Object::New(w->env);
    const char *kind = r.kind == kRecError ? "error" : r.kind == kRecTrace ? "trace" : r.kind == kRecPty ? "pty" : "unknown";
    rec.Set("kind", kind);
    r.step[sizeof r.step - 1] = r.syscall[sizeof r.syscall - 1] = r.detail[sizeof r.detail - 1] = 0;
    set_error_data(w->env, rec, r.step, r.syscall, r.err, r.detail);
    rec.Set("tNs", Napi::Number::New(w->env, (double)r.t_ns));
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
      rec.Set("fd", fd);
    }
    w->deliver({rec});
  }
}

Napi::Value WatchChannel(const Napi::CallbackInfo &info) {
  start_watch(info, "watchChannel", on_channel_ready);
  return info.Env().Undefined();
}

// ------------------------------------------------------- the other calls

// Returns false when the process is already gone.
Napi::Value Signal(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Check c{env, "signal"};
  c.args(info, 2, "signal(pidfd, signal)");
  int pidfd = c.fd(info[0], "pidfd");
  int sig = (int)c.integer(info[1], "signal", 0, 64);
  if (syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) == 0) return Napi::Boolean::New(env, true);
  if (errno == ESRCH) return Napi::Boolean::New(env, false);
  throw step_error(env, StepError{"signal dyno", "pidfd_send_signal", "", errno});
}

// A pidfd for a pid read from a file (cgroup.procs): -1 when no such process exists.
// Signalling through it can only reach that process, never one that reused its pid.
Napi::Value PidfdOpen(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Check c{env, "pidfdOpen"};
  c.args(info, 1, "pidfdOpen(pid)");
  int pid = (int)c.integer(info[0], "pid", 1, 4194304);
  int fd = (int)syscall(SYS_pidfd_open, pid, 0);  // pidfds are always close-on-exec
  if (fd >= 0) return Napi::Number::New(env, fd);
  if (errno == ESRCH) return Napi::Number::New(env, -1);
  throw step_error(env, StepError{"remove cgroup", "pidfd_open", std::to_string(pid), errno});
}

// The process's main thread has the process's pid as its thread id; a worker's differs.
// (worker_threads.isMainThread would cost every CLI start ~1.8 ms to load.)
Napi::Value MainThread(const Napi::CallbackInfo &info) {
  return Napi::Boolean::New(info.Env(), syscall(SYS_gettid) == getpid());
}

// Gives back to the kernel what a burst of work left unused: a full, compacting V8
// collection (LowMemoryNotification: it also frees V8's own malloc'd zones and
// uncommits heap pages), then malloc_trim, which returns malloc's free pages (glibc
// keeps them otherwise). Without the collection first, a trim right after a start of 60
// dynos found nothing to return: V8 frees its share seconds later, on its own clock.
// ~20-25 ms of pause; for a process that owns its memory (dynod start, once a start or
// scale has settled), never called by the library on an embedder's behalf.
// Returns RSS bytes [before, after].
Napi::Value TrimMemory(const Napi::CallbackInfo &info) {
  auto rss = [] {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "re");
    if (f) {
      if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
      fclose(f);
    }
    return (double)resident * (double)sysconf(_SC_PAGESIZE);
  };
  double before = rss();
  if (v8::Isolate *isolate = v8::Isolate::GetCurrent()) isolate->LowMemoryNotification();
  malloc_trim(0);
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, before);
  a.Set(1u, rss());
  return a;
}

Napi::Value Pipe(const Napi::CallbackInfo &info) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) throw step_error(info.Env(), StepError{"stdio pipe", "pipe2", "", errno});
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, p[0]);
  a.Set(1u, p[1]);
  return a;
}

// netnsSocket(pidfd) and netnsDiagSocket(pidfd): a socket of that kind made in pidfd's
// network namespace (net.h).
Napi::Value socket_in_netns(const Napi::CallbackInfo &info, const char *fn, const char *signature, NetnsSocketKind kind) {
  Check c{info.Env(), fn};
  c.args(info, 1, signature);
  int pidfd = c.fd(info[0], "pidfd");
  StepError err;
  int fd = netns_socket(pidfd, kind, err);
  if (fd < 0) throw step_error(info.Env(), err);
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value NetnsSocket(const Napi::CallbackInfo &info) { return socket_in_netns(info, "netnsSocket", "netnsSocket(pidfd)", NetnsSocketKind::kTcpClient); }
Napi::Value NetnsDiagSocket(const Napi::CallbackInfo &info) { return socket_in_netns(info, "netnsDiagSocket", "netnsDiagSocket(pidfd)", NetnsSocketKind::kSockDiag); }

// tcpListening(diagFd, port): whether a TCP socket listens on port in diagFd's network namespace.
Napi::Value TcpListening(const Napi::CallbackInfo &info) {
  Check c{info.Env(), "tcpListening"};
  c.args(info, 2, "tcpListening(diagFd, port)");
  int fd = c.fd(info[0], "diagFd");
  int port = (int)c.integer(info[1], "port", 1, 65535);
  StepError err;
  int r = diag_listening(fd, port, err);
  if (r < 0) throw step_error(info.Env(), err);
  return Napi::Boolean::New(info.Env(), r == 1);
}

// netBridge(name, address, prefix): the bridge dynods share, made unless it exists; its ifindex.
Napi::Value NetBridge(const Napi::CallbackInfo &info) {
  Check c{info.Env(), "netBridge"};
  c.args(info, 3, "netBridge(name, address, prefix)");
  std::string name = ifname(c, info[0], "name");
  uint32_t addr = ipv4(c, info[1], "address");
  int prefix = (int)c.integer(info[2], "prefix", 1, 30);
  StepError err;
  int index = bridge_ensure(name, addr, prefix, err);
  if (index < 0) throw step_error(info.Env(), err);
  return Napi::Number::New(info.Env(), index);
}

// netLinkDelete(name[, cb]): true when a link of that name was deleted, false when there
// was none. With cb, on the threadpool: deleting a link waits for the kernel's RCU grace
// periods (15-20 ms for a veth), which the event loop need not sit through; cb(err, deleted).
Napi::Value NetLinkDelete(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Check c{env, "netLinkDelete"};
  c.args(info, 1, "netLinkDelete(name[, cb])");
  std::string name = ifname(c, info[0], "name");
  if (info.Length() < 2 || info[1].IsUndefined()) {
    StepError err;
    bool deleted = false;
    if (!link_delete(name, &deleted, err)) throw step_error(env, err);
    return Napi::Boolean::New(env, deleted);
  }
  auto deleted = std::make_shared<bool>(false);
  queue_step(
      env, c.function(info[1], "cb"), "netLinkDelete", [name, deleted](StepError &err) { return link_delete(name, deleted.get(), err); },
      [deleted](Napi::Env e) { return Napi::Boolean::New(e, *deleted); });
  return env.Undefined();
}

// spareMake(uidMap, gidMap): a spare (spare.h) for a dyno with these maps; its id.
Napi::Value SpareMake(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Check c{env, "spareMake"};
  c.args(info, 2, "spareMake(uidMap, gidMap)");
  std::string uid_map = c.string(info[0], "uidMap"), gid_map = c.string(info[1], "gidMap");
  if (uid_map.empty()) c.fail("uidMap", "the maps of the dyno's user namespace (not empty)");
  if (gid_map.empty()) c.fail("gidMap", "the maps of the dyno's user namespace (not empty)");
  StepError err;
  Spare *s = spare_make(uid_map, gid_map, err);
  if (!s) throw step_error(env, err);
  uint32_t id = g_next_spare++;
  g_spares[id] = s;
  return Napi::Number::New(env, id);
}

// spareDiscard(id): ends a spare no spawn took; false when there is none by that id.
Napi::Value SpareDiscard(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Check c{env, "spareDiscard"};
  c.args(info, 1, "spareDiscard(id)");
  auto it = g_spares.find((uint32_t)c.integer(info[0], "id", 1, UINT32_MAX));
  if (it == g_spares.end()) return Napi::Boolean::New(env, false);
  spare_free(it->second);
  g_spares.erase(it);
  return Napi::Boolean::New(env, true);
}

// A detached, idmapped copy of a directory's mount, made here with the host's
// privileges and attached by the child with move_mount. The user namespace that
// carries the maps lives only as long as this call: the mount keeps its own
// reference, so nothing of it is left to close (or to leak) in JavaScript.
int idmap_copy(const std::string &path, const std::string &uid_map, const std::string &gid_map, StepError &err) {
  int userns = idmap_userns(uid_map, gid_map, err);
  if (userns < 0) return -1;
  int fd = idmap_mount(path, userns, err);
  close(userns);
  return fd;
}

// idmapMount(path, uidMap, gidMap[, cb]): the mount's fd. With cb, on the threadpool:
// the helper process, its maps and the mount take 0.15-0.6 ms, which a start spends
// on its other steps meanwhile; cb(err, fd).
Napi::Value IdmapMount(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Check c{env, "idmapMount"};
  c.args(info, 3, "idmapMount(path, uidMap, gidMap[, cb])");
  std::string path = c.string(info[0], "path");
  std::string uid_map = c.string(info[1], "uidMap"), gid_map = c.string(info[2], "gidMap");
  if (info.Length() < 4 || info[3].IsUndefined()) {
    StepError err;
    int fd = idmap_copy(path, uid_map, gid_map, err);
    if (fd < 0) throw step_error(env, err);
    return Napi::Number::New(env, fd);
  }
  auto fd = std::make_shared<int>(-1);
  queue_step(
      env, c.function(info[3], "cb"), "idmapMount",
      [path, uid_map, gid_map, fd](StepError &err) { return (*fd = idmap_copy(path, uid_map, gid_map, err)) >= 0; },
      [fd](Napi::Env e) { return Napi::Number::New(e, *fd); });
  return env.Undefined();
}

// exitNow(status): _exit(2), for a CLI whose work is done (its event loop empty, its
// output written: stdout and stderr are synchronous on Linux). Node's own exit joins
// the threadpool and V8's workers, then runs every static destructor (OpenSSL's,
// V8's): ~2 ms of every short command that nobody waits for.
Napi::Value ExitNow(const Napi::CallbackInfo &info) {
  Check c{info.Env(), "exitNow"};
  c.args(info, 1, "exitNow(status)");
  int status = (int)c.integer(info[0], "status", 0, 255);
  _exit(status);
}

// libuv's raw mode keeps ONLCR, so a dyno's "\r\n" would reach the terminal as
// "\r\r\n": while attached, the host terminal passes output through untouched.
// (setRawMode(false) restores the saved settings.)
Napi::Value RawOutput(const Napi::CallbackInfo &info) {
  Check c{info.Env(), "rawOutput"};
  c.args(info, 1, "rawOutput(fd)");
  int fd = c.fd(info[0], "fd");
  struct termios t;
  if (tcgetattr(fd, &t) != 0) throw step_error(info.Env(), StepError{"terminal", "tcgetattr", "", errno});
  t.c_oflag &= ~(tcflag_t)OPOST;
  if (tcsetattr(fd, TCSANOW, &t) != 0) throw step_error(info.Env(), StepError{"terminal", "tcsetattr", "", errno});
  return info.Env().Undefined();
}

// A write lock on one byte of a file (an OFD lock: owned by the open file
// description, so two engines in one process exclude each other too, and the kernel
// drops it when the last fd closes or its holder dies). False when someone holds it.
Napi::Value LockRange(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Check c{env, "lockRange"};
  c.args(info, 2, "lockRange(fd: number, index: number, lock?: boolean)");
  int fd = c.fd(info[0], "fd");
  int64_t index = c.integer(info[1], "index", 0, ((int64_t)1 << 53) - 1);
  bool lock = info.Length() < 3 || info[2].IsUndefined() || c.boolean(info[2], "lock");
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = lock ? F_WRLCK : F_UNLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = index;
  fl.l_len = 1;
  if (fcntl(fd, F_OFD_SETLK, &fl) == 0) return Napi::Boolean::New(env, true);
  if (errno == EAGAIN || errno == EACCES) return Napi::Boolean::New(env, false);
  throw step_error(env, StepError{"reserve ids", "fcntl", "F_OFD_SETLK", errno});
}

// flock(2) on an fd (a cgroup directory's, say): true when taken, false when
// another holder has it.
Napi::Value Flock(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Check c{env, "flock"};
  c.args(info, 2, "flock(fd: number, exclusive: boolean)");
  int fd = c.fd(info[0], "fd");
  int op = (c.boolean(info[1], "exclusive") ? LOCK_EX : LOCK_SH) | LOCK_NB;
  if (flock(fd, op) == 0) return Napi::Boolean::New(env, true);
  if (errno == EWOULDBLOCK) return Napi::Boolean::New(env, false);
  throw step_error(env, StepError{"lock", "flock", "", errno});
}

Napi::Value ResizePty(const Napi::CallbackInfo &info) {
  Check c{info.Env(), "resizePty"};
  c.args(info, 3, "resizePty(fd, rows, cols)");
  int fd = c.fd(info[0], "fd");
  struct winsize ws;
  memset(&ws, 0, sizeof ws);
  ws.ws_row = (unsigned short)c.integer(info[1], "rows", 0, 65535);
  ws.ws_col = (unsigned short)c.integer(info[2], "cols", 0, 65535);
  if (ioctl(fd, TIOCSWINSZ, &ws) != 0) throw step_error(info.Env(), StepError{"resize terminal", "ioctl", "TIOCSWINSZ", errno});
  return info.Env().Undefined();
}

Napi::Value Mkfifo(const Napi::CallbackInfo &info) {
  Check c{info.Env(), "mkfifo"};
  c.args(info, 2, "mkfifo(path, mode)");
  std::string path = c.string(info[0], "path");
  if (mkfifo(path.c_str(), (mode_t)c.integer(info[1], "mode", 0, 0777)) != 0) throw step_error(info.Env(), StepError{"make FIFO", "mkfifo", path, errno});
  return info.Env().Undefined();
}

Napi::Value SendFd(const Napi::CallbackInfo &info) {
  Check c{info.Env(), "sendFd"};
  c.args(info, 3, "sendFd(path, fd, name)");
  StepError err;
  if (!send_console_fd(c.string(info[0], "path"), c.fd(info[1], "fd"), c.string(info[2], "name"), err)) throw step_error(info.Env(), err);
  return info.Env().Undefined();
}

Napi::Value SealedCopy(const Napi::CallbackInfo &info) {
  Check c{info.Env(), "sealedCopy"};
  c.args(info, 1, "sealedCopy(path)");
  StepError err;
  int fd = sealed_init_copy(c.string(info[0], "path"), err);
  if (fd < 0) throw step_error(info.Env(), err);
  return Napi::Number::New(info.Env(), fd);
}

// compileSeccomp(filter): the normalized filter of src/seccomp/profile.ts, compiled
// to a sealed memfd holding the BPF program; dynod-init loads it before exec.
SeccompAction seccomp_action(const Check &c, const Napi::Value &v, const Path &path) {
  Napi::Object o = c.object(v, path);
  SeccompAction a;
  a.kind = c.string(c.get(o, "kind"), at(path, "kind"));
  a.value = c.u32(c.get(o, "value"), at(path, "value"));
  return a;
}

Napi::Value CompileSeccomp(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Check c{env, "compileSeccomp"};
  c.args(info, 1, "compileSeccomp(filter)");
  const std::string p = "filter";
  Napi::Object o = c.object(info[0], p);
  SeccompFilter f;
  f.default_action = seccomp_action(c, c.get(o, "defaultAction"), at(p, "defaultAction"));
  f.bad_arch_action = seccomp_action(c, c.get(o, "badArchAction"), at(p, "badArchAction"));
  f.enosys_above_known = c.boolean(c.get(o, "enosysAboveKnown"), at(p, "enosysAboveKnown"));
  Napi::Array arches = c.array(c.get(o, "arches"), at(p, "arches"));
  for (uint32_t i = 0; i < arches.Length(); i++) f.arches.push_back(c.string(arches.Get(i), at(at(p, "arches"), i)));
  Napi::Array rules = c.array(c.get(o, "rules"), at(p, "rules"));
  for (uint32_t i = 0; i < rules.Length(); i++) {
    std::string rp = at(at(p, "rules"), i);
    Napi::Object r = c.object(rules.Get(i), rp);
    SeccompRule rule;
    rule.syscall = c.string(c.get(r, "syscall"), at(rp, "syscall"));
    rule.action = seccomp_action(c, c.get(r, "action"), at(rp, "action"));
    Napi::Array args = c.array(c.get(r, "args"), at(rp, "args"));
    for (uint32_t j = 0; j < args.Length(); j++) {
      std::string ap = at(at(rp, "args"), j);
      Napi::Object a = c.object(args.Get(j), ap);
      SeccompArgCmp cmp;
      cmp.index = (uint32_t)c.integer(c.get(a, "index"), at(ap, "index"), 0, 5);
      cmp.op = c.string(c.get(a, "op"), at(ap, "op"));
      cmp.value = c.u64(c.get(a, "value"), at(ap, "value"));
      cmp.value_two = c.u64(c.get(a, "valueTwo"), at(ap, "valueTwo"));
      rule.args.push_back(cmp);
    }
    f.rules.push_back(std::move(rule));
  }
  StepError err;
  int fd = compile_seccomp(f, err);
  if (fd < 0) throw step_error(env, err);
  return Napi::Number::New(env, fd);
}

// cgroupDeviceFilter(dir, defaultAllow, exceptions): cgroup v2's device rules for a
// container, as an eBPF program attached to dir (replacing earlier ones); returns
// how many earlier programs it detached.
Napi::Value CgroupDeviceFilter(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Check c{env, "cgroupDeviceFilter"};
  c.args(info, 3, "cgroupDeviceFilter(dir, defaultAllow, exceptions)");
  std::string dir = c.string(info[0], "dir");
  bool default_allow = c.boolean(info[1], "defaultAllow");
  Napi::Array list = c.array(info[2], "exceptions");
  std::vector<DeviceException> rules;
  for (uint32_t i = 0; i < list.Length(); i++) {
    std::string p = at("exceptions", i);
    Napi::Object o = c.object(list.Get(i), p);
    c.only(o, p, "type", "major", "minor", "access");
    std::string type = c.string(c.get(o, "type"), at(p, "type"));
    if (type != "c" && type != "b") c.fail(at(p, "type"), "\"c\" or \"b\"");
    rules.push_back(DeviceException{type[0], c.integer(c.get(o, "major"), at(p, "major"), -1, INT32_MAX),
                                    c.integer(c.get(o, "minor"), at(p, "minor"), -1, INT32_MAX), (uint32_t)c.integer(c.get(o, "access"), at(p, "access"), 1, 7)});
  }
  StepError err;
  int detached = attach_device_filter(dir, default_allow, rules, err);
  if (detached < 0) throw step_error(env, err);
  return Napi::Number::New(env, detached);
}

}  // namespace


// ------------------------------------------------------- the router's data plane

// planeListen(host, port, count, proto): count listening sockets for the plane, one
// SO_REUSEPORT group on one port; { fds, port }. proto ("http" or "https") names the
// listener in an error.
Napi::Value PlaneListen(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Check c{env, "planeListen"};
  c.args(info, 4, "planeListen(host, port, count, proto)");
  std::string host = c.string(info[0], "host");
  int port = (int)c.integer(info[1], "port", 0, 65535);
  int n = (int)c.integer(info[2], "count", 1, 64);
  std::string proto = c.string(info[3], "proto");
  if (proto != "http" && proto != "https") c.fail("proto", "\"http\" or \"https\"");
  StepError err;
  int bound = 0;
  std::vector<int> fds;
  if (!plane_listen(host, port, n, proto, fds, &bound, err)) throw step_error(env, err);
  Napi::Object o = Napi::Object::New(env);
  Napi::Array a = Napi::Array::New(env, fds.size());
  for (uint32_t i = 0; i < fds.size(); i++) a.Set(i, fds[i]);
  o.Set("fds", a);
  o.Set("port", bound);
  return o;
}

// planeTlsCheck(cert, key, ciphers): "" when the PEM certificate (and chain), private key
// and cipher string make the plane's TLS context, else OpenSSL's reason
Napi::Value PlaneTlsCheck(const Napi::CallbackInfo &info) {
  Check c{info.Env(), "planeTlsCheck"};
  c.args(info, 3, "planeTlsCheck(cert, key, ciphers)");
  return Napi::String::New(info.Env(), plane_tls_check(c.string(info[0], "cert"), c.string(info[1], "key"), c.string(info[2], "ciphers")));
}

struct PlaneHandle {
  Plane *plane = nullptr;
  int efd = -1;
  uv_poll_t poll;
  Napi::FunctionReference cb;
  std::unique_ptr<Napi::AsyncContext> ctx;
  Napi::Env env;
  explicit PlaneHandle(Napi::Env e) : env(e) {}
};
std::unordered_map<uint32_t, PlaneHandle *> planes;
uint32_t next_plane = 1;

PlaneHandle *plane_handle(const Check &c, const Napi::Value &v) {
  uint32_t id = c.u32(v, "plane");
  auto it = planes.find(id);
  if (it == planes.end()) c.fail("plane", "a plane planeStart returned and planeStop has not ended");
  return it->second;
}

// [line, …, { fd, bytes, ip, port, tls[, triedId, connectMs] }, …, 0 (a slot freed), …] in the order they happened
Napi::Value plane_events(Napi::Env env, std::vector<PlaneEvent> &evs) {
  Napi::Array out = Napi::Array::New(env, evs.size());
  uint32_t i = 0;
  for (auto &e : evs) {
    if (e.kind == PlaneEvent::kHandoff) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("fd", e.fd);
      o.Set("bytes", Napi::Buffer<char>::Copy(env, e.bytes.data(), e.bytes.size()));
      o.Set("ip", e.ip);
      o.Set("port", e.port);
      o.Set("tls", e.tls);
      if (e.tried_id != 0) {
        o.Set("triedId", Napi::Number::New(env, (double)e.tried_id));
        o.Set("connectMs", Napi::Number::New(env, e.connect_ms));
      }
      out.Set(i++, o);
    } else if (e.kind == PlaneEvent::kPump) {
      out.Set(i++, Napi::Number::New(env, 0));
    } else {
      out.Set(i++, Napi::String::New(env, e.bytes));
    }
  }
  return out;
}

void on_plane_events(uv_poll_t *h, int, int) {
  auto *ph = static_cast<PlaneHandle *>(h->data);
  uint64_t v;
  ssize_t rc = read(ph->efd, &v, sizeof v);
  (void)rc;
  std::vector<PlaneEvent> evs;
  plane_drain(ph->plane, evs);
  if (evs.empty()) return;
  Napi::HandleScope scope(ph->env);
  call_back(ph->env, ph->cb, *ph->ctx, {plane_events(ph->env, evs)});
}

PlaneBackend plane_backend(const Check &c, const Napi::Value &v, const Path &p) {
  Napi::Object o = c.object(v, p);
  c.only(o, p, "id", "name", "pidfd", "host", "port");
  PlaneBackend b;
  b.id = (uint64_t)c.integer(o.Get("id"), at(p, "id"), 1, (int64_t)1 << 53);
  b.name = c.string(o.Get("name"), at(p, "name"));
  std::string host = c.string(o.Get("host"), at(p, "host"));
  int port = (int)c.integer(o.Get("port"), at(p, "port"), 1, 65535);
  Napi::Value pidfd = o.Get("pidfd");
  if (!pidfd.IsNull()) {
    int fd = c.fd(pidfd, at(p, "pidfd"));
    // the plane keeps its own: the dyno closes its pidfd when it ends
    b.pidfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (b.pidfd < 0) c.fail(at(p, "pidfd"), "an open fd (" + std::string(strerror(errno)) + ")");
  }
  auto *a4 = reinterpret_cast<sockaddr_in *>(&b.addr);
  auto *a6 = reinterpret_cast<sockaddr_in6 *>(&b.addr);
  if (inet_pton(AF_INET, host.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    b.addr_len = sizeof *a4;
  } else if (inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    b.addr_len = sizeof *a6;
  } else {
    if (b.pidfd >= 0) close(b.pidfd);
    c.fail(at(p, "host"), "a numeric IP address");
  }
  return b;
}

// planeStart({ listen: [fd], ports: [port], tls: [bool], tlsCert, tlsKey, tlsCiphers, threads, maxInFlight,
//   headerNameMax, maxHeaders, timeouts, pages: {key: Buffer}, codes: {code: [start, end, status]} },
//   onEvents): tls[i] marks listen[i] as the TLS listener (tlsCert and tlsKey: PEM, "" without one)
Napi::Value PlaneStart(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Check c{env, "planeStart"};
  c.args(info, 2, "planeStart(options, onEvents)");
  Path p("options");
  Napi::Object o = c.object(info[0], p);
  c.only(o, p, "listen", "ports", "tls", "tlsCert", "tlsKey", "tlsCiphers", "threads", "maxInFlight", "headerNameMax", "maxHeaders", "timeouts", "pages", "codes");
  Napi::Function cb = c.function(info[1], "onEvents");
  PlaneOptions opts;
  Napi::Array fds = c.array(o.Get("listen"), at(p, "listen"));
  for (uint32_t i = 0; i < fds.Length(); i++) opts.listen_fds.push_back(c.fd(fds.Get(i), at(at(p, "listen"), i)));
  Napi::Array ports = c.array(o.Get("ports"), at(p, "ports"));
  if (ports.Length() != fds.Length()) c.fail(at(p, "ports"), "an array of one port per listen fd");
  for (uint32_t i = 0; i < ports.Length(); i++) opts.listen_ports.push_back((int)c.integer(ports.Get(i), at(at(p, "ports"), i), 0, 65535));
  Napi::Array tls = c.array(o.Get("tls"), at(p, "tls"));
  if (tls.Length() != fds.Length()) c.fail(at(p, "tls"), "an array of one boolean per listen fd");
  bool any_tls = false;
  for (uint32_t i = 0; i < tls.Length(); i++) {
    opts.listen_tls.push_back(c.boolean(tls.Get(i), at(at(p, "tls"), i)) ? 1 : 0);
    any_tls = any_tls || opts.listen_tls.back();
  }
  opts.tls_cert = c.string(o.Get("tlsCert"), at(p, "tlsCert"));
  opts.tls_key = c.string(o.Get("tlsKey"), at(p, "tlsKey"));
  opts.tls_ciphers = c.string(o.Get("tlsCiphers"), at(p, "tlsCiphers"));
  if (any_tls && (opts.tls_cert.empty() || opts.tls_key.empty())) c.fail(at(p, opts.tls_cert.empty() ? "tlsCert" : "tlsKey"), "PEM text for the TLS listener");
  opts.threads = (int)c.integer(o.Get("threads"), at(p, "threads"), 1, 64);
  opts.max_in_flight = (int)c.integer(o.Get("maxInFlight"), at(p, "maxInFlight"), 1, INT_MAX);
  opts.header_name_max = (size_t)c.integer(o.Get("headerNameMax"), at(p, "headerNameMax"), 1, INT_MAX);
  opts.max_headers = (int)c.integer(o.Get("maxHeaders"), at(p, "maxHeaders"), 1, INT_MAX);
  Path tp(p, "timeouts");
  Napi::Object t = c.object(o.Get("timeouts"), tp);
  c.only(t, tp, "connect", "firstByte", "idle", "quarantine", "clientIdle", "poolIdle");
  opts.connect_ms = (int)c.integer(t.Get("connect"), at(tp, "connect"), 1, INT_MAX);
  opts.first_byte_ms = (int)c.integer(t.Get("firstByte"), at(tp, "firstByte"), 1, INT_MAX);
  opts.idle_ms = (int)c.integer(t.Get("idle"), at(tp, "idle"), 1, INT_MAX);
  opts.quarantine_ms = (int)c.integer(t.Get("quarantine"), at(tp, "quarantine"), 1, INT_MAX);
  opts.client_idle_ms = (int)c.integer(t.Get("clientIdle"), at(tp, "clientIdle"), 1, INT_MAX);
  opts.pool_idle_ms = (int)c.integer(t.Get("poolIdle"), at(tp, "poolIdle"), 1, INT_MAX);
  Path pp(p, "pages");
  Napi::Object pages = c.object(o.Get("pages"), pp);
  Napi::Array keys = pages.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); i++) {
    std::string k = keys.Get(i).ToString().Utf8Value();
    Napi::Value v = pages.Get(k);
    if (!v.IsBuffer()) c.fail(pp, "an object of Buffers");
    auto buf = v.As<Napi::Buffer<char>>();
    opts.pages[k] = std::string(buf.Data(), buf.Length());
  }
  Path cp(p, "codes");
  Napi::Object codes = c.object(o.Get("codes"), cp);
  Napi::Array ckeys = codes.GetPropertyNames();
  for (uint32_t i = 0; i < ckeys.Length(); i++) {
    std::string k = ckeys.Get(i).ToString().Utf8Value();
    Path kp(cp, k.c_str());
    Napi::Array a = c.array(codes.Get(k), kp);
    if (a.Length() != 3) c.fail(kp, "[start, end, status]: the line's start and end, the status logged");
    opts.codes[k] = {c.string(a.Get(0u), at(kp, 0u)), c.string(a.Get(1u), at(kp, 1u)), (int)c.integer(a.Get(2u), at(kp, 2u), 0, 999)};
  }
  auto *ph = new PlaneHandle(env);
  ph->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (ph->efd < 0) {
    delete ph;
    throw step_error(env, StepError{"router plane", "eventfd", "", errno});
  }
  StepError err;
  ph->plane = plane_start(opts, ph->efd, err);
  if (!ph->plane) {
    close(ph->efd);
    delete ph;
    throw step_error(env, err);
  }
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  ph->cb = Napi::Persistent(cb);
  ph->ctx = std::make_unique<Napi::AsyncContext>(env, "planeEvents");
  ph->poll.data = ph;
  uv_poll_init(loop, &ph->poll, ph->efd);
  uv_poll_start(&ph->poll, UV_READABLE, on_plane_events);
  uint32_t id = next_plane++;
  planes[id] = ph;
  return Napi::Number::New(env, id);
}

// A BigInt64Array over n int64s of the plane's, which it keeps alive until V8 collects the array.
Napi::Value counter_buffer(Napi::Env env, const PlaneCounter &pc, size_t n) {
  auto *keep = new std::shared_ptr<void>(pc.keep);
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, pc.value, n * sizeof(int64_t), [](Napi::Env, void *, std::shared_ptr<void> *k) { delete k; }, keep);
  return Napi::TypedArrayOf<int64_t>::New(env, n, ab, 0, napi_bigint64_array);
}

// planeBackends(plane, [{ id, name, pidfd | null, host, port }]): each dyno's shared
// BigInt64Array[3] (requests in flight, quarantine end, its code), in order
Napi::Value PlaneBackends(const Napi::CallbackInfo &info) {
  Check c{info.Env(), "planeBackends"};
  c.args(info, 2, "planeBackends(plane, backends)");
  PlaneHandle *ph = plane_handle(c, info[0]);
  Napi::Array a = c.array(info[1], "backends");
  std::vector<PlaneBackend> list;
  try {
    for (uint32_t i = 0; i < a.Length(); i++) list.push_back(plane_backend(c, a.Get(i), at(Path("backends"), i)));
  } catch (...) {
    for (auto &b : list)
      if (b.pidfd >= 0) close(b.pidfd);
    throw;
  }
  std::vector<PlaneCounter> counters = plane_set_backends(ph->plane, std::move(list));
  Napi::Array out = Napi::Array::New(info.Env(), counters.size());
  for (uint32_t i = 0; i < counters.size(); i++) out.Set(i, counter_buffer(info.Env(), counters[i], 3));
  return out;
}

// planeWaitFlag(plane): the BigInt64Array[1] JavaScript sets to 1n while requests wait for room
Napi::Value PlaneWaitFlag(const Napi::CallbackInfo &info) {
  Check c{info.Env(), "planeWaitFlag"};
  c.args(info, 1, "planeWaitFlag(plane)");
  PlaneHandle *ph = plane_handle(c, info[0]);
  return counter_buffer(info.Env(), plane_wait_flag(ph->plane), 1);
}

Napi::Value PlaneStatsOf(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Check c{env, "planeStats"};
  c.args(info, 1, "planeStats(plane)");
  PlaneHandle *ph = plane_handle(c, info[0]);
  struct PlaneStats s = plane_stats(ph->plane);
  Napi::Object o = Napi::Object::New(env);
  o.Set("requests", (double)s.requests);
  o.Set("connections", s.clients);
  Napi::Array bs = Napi::Array::New(env, s.backends.size());
  for (uint32_t i = 0; i < s.backends.size(); i++) {
    Napi::Object b = Napi::Object::New(env);
    b.Set("id", (double)s.backends[i].id);
    b.Set("idleConnections", s.backends[i].idle);
    bs.Set(i, b);
  }
  o.Set("backends", bs);
  return o;
}

// planeStop(plane): threads joined, every fd of the plane closed; returns the router
// lines not delivered yet (handed-over fds not delivered are closed).
Napi::Value PlaneStop(const Napi::CallbackInfo &info) {
  Check c{info.Env(), "planeStop"};
  c.args(info, 1, "planeStop(plane)");
  PlaneHandle *ph = plane_handle(c, info[0]);
  planes.erase(c.u32(info[0], "plane"));
  std::vector<std::string> lines;
  plane_stop(ph->plane, lines);
  ph->plane = nullptr;
  uv_poll_stop(&ph->poll);
  uv_close(reinterpret_cast<uv_handle_t *>(&ph->poll), [](uv_handle_t *h) {
    auto *ph = static_cast<PlaneHandle *>(h->data);
    close(ph->efd);
    delete ph;
  });
  Napi::Array out = Napi::Array::New(info.Env(), lines.size());
  for (uint32_t i = 0; i < lines.size(); i++) out.Set(i, Napi::String::New(info.Env(), lines[i]));
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("spawn", Napi::Function::New(env, Spawn));
  exports.Set("enter", Napi::Function::New(env, Enter));
  exports.Set("watchExit", Napi::Function::New(env, WatchExit));
  exports.Set("watchChannel", Napi::Function::New(env, WatchChannel));
  exports.Set("signal", Napi::Function::New(env, Signal));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen));
  exports.Set("pipe", Napi::Function::New(env, Pipe));
  exports.Set("trimMemory", Napi::Function::New(env, TrimMemory));
  exports.Set("mainThread", Napi::Function::New(env, MainThread));
  exports.Set("netnsSocket", Napi::Function::New(env, NetnsSocket));
  exports.Set("netnsDiagSocket", Napi::Function::New(env, NetnsDiagSocket));
  exports.Set("tcpListening", Napi::Function::New(env, TcpListening));
  exports.Set("netBridge", Napi::Function::New(env, NetBridge));
  exports.Set("netLinkDelete", Napi::Function::New(env, NetLinkDelete));
  exports.Set("idmapMount", Napi::Function::New(env, IdmapMount));
  exports.Set("spareMake", Napi::Function::New(env, SpareMake));
  exports.Set("spareDiscard", Napi::Function::New(env, SpareDiscard));
  exports.Set("lockRange", Napi::Function::New(env, LockRange));
  exports.Set("flock", Napi::Function::New(env, Flock));
  exports.Set("rawOutput", Napi::Function::New(env, RawOutput));
  exports.Set("exitNow", Napi::Function::New(env, ExitNow));
  exports.Set("resizePty", Napi::Function::New(env, ResizePty));
  exports.Set("sealedCopy", Napi::Function::New(env, SealedCopy));
  exports.Set("compileSeccomp", Napi::Function::New(env, CompileSeccomp));
  exports.Set("sendFd", Napi::Function::New(env, SendFd));
  exports.Set("mkfifo", Napi::Function::New(env, Mkfifo));
  exports.Set("cgroupDeviceFilter", Napi::Function::New(env, CgroupDeviceFilter));
  exports.Set("planeListen", Napi::Function::New(env, PlaneListen));
  exports.Set("planeTlsCheck", Napi::Function::New(env, PlaneTlsCheck));
  exports.Set("planeStart", Napi::Function::New(env, PlaneStart));
  exports.Set("planeBackends", Napi::Function::New(env, PlaneBackends));
  exports.Set("planeStats", Napi::Function::New(env, PlaneStatsOf));
  exports.Set("planeStop", Napi::Function::New(env, PlaneStop));
  exports.Set("planeWaitFlag", Napi::Function::New(env, PlaneWaitFlag));
  return exports;
}

}  // namespace dynod

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return dynod::Init(env, exports); }
NODE_API_MODULE(dynod_addon, InitAddon)
