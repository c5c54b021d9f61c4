// See seccomp.h. libseccomp builds the decision tree; dynod adds two things of
// its own in front of it:
//  - syscall names newer than the installed libseccomp (a fixed table of the
//    numbers every architecture shares since Linux 5.1), so a native-only
//    profile (dynod's default) means the same on Debian 12's libseccomp 2.5.4 as
//    on a newer one; a multi-architecture profile leaves such names to the
//    default action, or to ENOSYS above the highest number libseccomp knows;
//  - the ENOSYS stub (runc's patchbpf idea): for each architecture of the filter,
//    a syscall number above the highest one the profile names returns ENOSYS.
//    BPF jumps are relative and only go forward, so instructions prepended to
//    libseccomp's program leave its jumps intact.
#include "seccomp.h"
#include "libseccomp.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <dlfcn.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>

namespace dynod {
namespace {

// Added to the common syscall table after the last libseccomp release Debian 12
// ships; the same number on every architecture except alpha, ia64 and mips (whose
// filters never use this table).
const struct {
  const char *name;
  int nr;
} kNewerSyscalls[] = {
    {"futex_waitv", 449},   {"set_mempolicy_home_node", 450}, {"cachestat", 451},
    {"fchmodat2", 452},     {"map_shadow_stack", 453},        {"futex_wake", 454},
    {"futex_wait", 455},    {"futex_requeue", 456},           {"statmount", 457},
    {"listmount", 458},     {"lsm_get_self_attr", 459},       {"lsm_set_self_attr", 460},
    {"lsm_list_modules", 461}, {"mseal", 462},                {"setxattrat", 463},
    {"getxattrat", 464},    {"listxattrat", 465},             {"removexattrat", 466},
    {"open_tree_attr", 467}, {"file_getattr", 468},           {"file_setattr", 469},
    {"listns", 470},
};

int newer_syscall(const std::string &name) {
  for (const auto &s : kNewerSyscalls)
    if (name == s.name) return s.nr;
  return scmp::NR_ERROR;
}

bool shares_newer_numbers(uint32_t arch) {
  switch (arch) {
    case scmp::ARCH_X86_64: case scmp::ARCH_X86: case scmp::ARCH_AARCH64: case scmp::ARCH_ARM:
    case scmp::ARCH_RISCV64: case scmp::ARCH_S390X: case scmp::ARCH_S390: case scmp::ARCH_PPC64LE:
    case scmp::ARCH_PPC64: case scmp::ARCH_PPC:
      return true;
    default:
      return false;
  }
}

bool to_action(const SeccompAction &a, uint32_t *out) {
  if (a.kind == "allow") *out = scmp::ACT_ALLOW;
  else if (a.kind == "log") *out = scmp::ACT_LOG;
  else if (a.kind == "kill_process") *out = scmp::ACT_KILL_PROCESS;
  else if (a.kind == "kill_thread") *out = scmp::ACT_KILL_THREAD;
  else if (a.kind == "trap") *out = scmp::ACT_TRAP;
  else if (a.kind == "errno" && a.value <= 4095) *out = scmp::act_errno(a.value);
  else if (a.kind == "trace" && a.value <= 0xffff) *out = scmp::act_trace(a.value);
  else return false;
  return true;
}

bool to_op(const std::string &op, scmp::compare *out) {
  static const struct { const char *name; scmp::compare op; } ops[] = {
      {"ne", scmp::CMP_NE}, {"lt", scmp::CMP_LT}, {"le", scmp::CMP_LE}, {"eq", scmp::CMP_EQ},
      {"ge", scmp::CMP_GE}, {"gt", scmp::CMP_GT}, {"masked_eq", scmp::CMP_MASKED_EQ},
  };
  for (const auto &o : ops)
    if (op == o.name) {
      *out = o.op;
      return true;
    }
  return false;
}

bool allows(uint32_t action) { return action == scmp::ACT_ALLOW || action == scmp::ACT_LOG; }

struct Ctx {
  const scmp::Api *api;
  scmp::filter_ctx c = nullptr;
  int fd = -1;
  ~Ctx() {
    if (c) api->release(c);
    if (fd >= 0) close(fd);
  }
};

int fail(StepError &err, const char *sc, int e, const std::string &detail) {
  err.step = "compile seccomp filter";
  err.syscall = sc;
  err.err = e;
  err.detail = detail;
  return -1;
}

// One architecture's part of the ENOSYS stub.
struct Horizon {
  uint32_t arch;   // AUDIT_ARCH_* (libseccomp's tokens are those values)
  uint32_t max_nr; // highest syscall number the profile names on it
};

//   ld arch; jeq A_1 -> b_1; ...; ja end
//   b_i: ld nr; [x86_64: jge 0x40000000 -> end (x32: libseccomp decides)]; jgt max_i -> enosys; ja end
//   enosys: ret ERRNO(ENOSYS)
//   end: libseccomp's program, which loads what it needs itself
std::vector<struct sock_filter> enosys_stub(const std::vector<Horizon> &hs) {
  std::vector<struct sock_filter> p;
  if (hs.empty()) return p;
  std::vector<size_t> start(hs.size());
  size_t pos = hs.size() + 2;
  for (size_t i = 0; i < hs.size(); i++) {
    start[i] = pos;
    pos += hs[i].arch == scmp::ARCH_X86_64 ? 4 : 3;
  }
  const size_t enosys = pos, end = pos + 1;
  auto rel = [&](size_t target) { return target - p.size() - 1; };
  p.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
  for (size_t i = 0; i < hs.size(); i++)
    p.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, hs[i].arch, (uint8_t)rel(start[i]), 0));
  p.push_back(BPF_STMT(BPF_JMP | BPF_JA, (uint32_t)rel(end)));
  for (const Horizon &h : hs) {
    p.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
    if (h.arch == scmp::ARCH_X86_64) p.push_back(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, (uint8_t)rel(end), 0));
    p.push_back(BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, h.max_nr, (uint8_t)rel(enosys), 0));
    p.push_back(BPF_STMT(BPF_JMP | BPF_JA, (uint32_t)rel(end)));
  }
  p.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS));
  return p;
}

}  // namespace

namespace scmp {
const char *load(const Api **out) {
  static Api api;
  static const char *error = [] () -> const char * {
    void *h = dlopen("libseccomp.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!h) return strdup(dlerror());
    struct { void **slot; const char *name; } syms[] = {
        {(void **)&api.init, "seccomp_init"},
        {(void **)&api.release, "seccomp_release"},
        {(void **)&api.attr_set, "seccomp_attr_set"},
        {(void **)&api.arch_native, "seccomp_arch_native"},
        {(void **)&api.arch_resolve_name, "seccomp_arch_resolve_name"},
        {(void **)&api.arch_add, "seccomp_arch_add"},
        {(void **)&api.syscall_resolve_name, "seccomp_syscall_resolve_name"},
        {(void **)&api.syscall_resolve_name_arch, "seccomp_syscall_resolve_name_arch"},
        {(void **)&api.rule_add_array, "seccomp_rule_add_array"},
        {(void **)&api.export_bpf, "seccomp_export_bpf"},
    };
    for (auto &s : syms)
      if (!(*s.slot = dlsym(h, s.name))) return strdup(dlerror());
    return nullptr;
  }();
  *out = &api;
  return error;
}
}  // namespace scmp

int compile_seccomp(const SeccompFilter &f, StepError &err) {
  uint32_t def, bad;
  if (!to_action(f.default_action, &def))
    return fail(err, "seccomp_init", EINVAL, "bad default action \"" + f.default_action.kind + "\"");
  if (!to_action(f.bad_arch_action, &bad))
    return fail(err, "seccomp_attr_set", EINVAL, "bad architecture action \"" + f.bad_arch_action.kind + "\"");
  const scmp::Api *api;
  if (const char *why = scmp::load(&api)) return fail(err, "dlopen", ENOENT, why);
  Ctx ctx{api};
  ctx.c = api->init(def);
  if (!ctx.c) return fail(err, "seccomp_init", EINVAL, "");
  int rc = api->attr_set(ctx.c, scmp::FLTATR_ACT_BADARCH, bad);
  if (rc < 0) return fail(err, "seccomp_attr_set", -rc, "scmp::FLTATR_ACT_BADARCH");
  // A binary tree of syscall numbers instead of a linear list (libseccomp >= 2.5).
  api->attr_set(ctx.c, scmp::FLTATR_CTL_OPTIMIZE, 2);

  const uint32_t native = api->arch_native();
  std::vector<uint32_t> arches{native};
  for (const std::string &name : f.arches) {
    uint32_t a = api->arch_resolve_name(name.c_str());
    if (a == 0) return fail(err, "seccomp_arch_resolve_name", EINVAL, "architecture \"" + name + "\" unknown to libseccomp");
    bool seen = false;
    for (uint32_t x : arches) seen = seen || x == a;
    if (seen) continue;
    rc = api->arch_add(ctx.c, a);
    if (rc < 0 && rc != -EEXIST) return fail(err, "seccomp_arch_add", -rc, name);
    arches.push_back(a);
  }
  const bool native_only = arches.size() == 1;

  std::map<uint32_t, uint32_t> max_nr;
  for (const SeccompRule &r : f.rules) {
    uint32_t act;
    if (!to_action(r.action, &act))
      return fail(err, "seccomp_rule_add", EINVAL, r.syscall + ": bad action \"" + r.action.kind + "\"");
    int nr = api->syscall_resolve_name(r.syscall.c_str());
    bool from_table = false;
    if (nr == scmp::NR_ERROR && native_only && shares_newer_numbers(native)) {
      nr = newer_syscall(r.syscall);
      from_table = nr != scmp::NR_ERROR;
    }
    if (nr == scmp::NR_ERROR) {
      // Unknown here, so no rule can name it and it meets the default action.
      // Harmless when the rule would allow it (the default is at least as strict);
      // refused when the rule would deny what the default lets through.
      if (allows(act) || !allows(def)) continue;
      return fail(err, "seccomp_syscall_resolve_name", ENOENT,
                  "syscall \"" + r.syscall + "\" is unknown to libseccomp, and leaving its rule out would allow it");
    }
    bool exists = false;
    for (uint32_t a : arches) {
      if (a == scmp::ARCH_X32) continue;  // its numbers carry the x32 bit; the stub leaves x32 to libseccomp
      int n = from_table ? nr : api->syscall_resolve_name_arch(a, r.syscall.c_str());
      if (n < 0) continue;  // not a syscall of this architecture (e.g. chown32 on x86_64)
      exists = true;
      if (!max_nr.count(a) || (uint32_t)n > max_nr[a]) max_nr[a] = (uint32_t)n;
    }
    if (!exists && native_only) continue;  // libseccomp would add a compare that never matches
    if (act == def) continue;  // the same as no rule (libseccomp refuses it with EACCES)

    std::vector<scmp::arg_cmp> cmps;
    for (const SeccompArgCmp &c : r.args) {
      scmp::compare op;
      if (!to_op(c.op, &op)) return fail(err, "seccomp_rule_add", EINVAL, r.syscall + ": bad operator \"" + c.op + "\"");
      if (c.index > 5) return fail(err, "seccomp_rule_add", EINVAL, r.syscall + ": argument index above 5");
      cmps.push_back(scmp::arg_cmp{c.index, op, c.value, c.value_two});
    }
    rc = api->rule_add_array(ctx.c, act, nr, (unsigned)cmps.size(), cmps.empty() ? nullptr : cmps.data());
    if (rc < 0) return fail(err, "seccomp_rule_add", -rc, r.syscall);
  }

  std::vector<Horizon> hs;
  if (f.enosys_above_known)
    for (uint32_t a : arches)
      if (a != scmp::ARCH_X32 && max_nr.count(a)) hs.push_back({a, max_nr[a]});
  std::vector<struct sock_filter> stub = enosys_stub(hs);

  // Data, never code: MFD_NOEXEC_SEAL where the kernel knows it (6.3+).
  ctx.fd = memfd_create_exec("dynod-seccomp", MFD_CLOEXEC | MFD_ALLOW_SEALING, MFD_NOEXEC_SEAL);
  if (ctx.fd < 0) return fail(err, "memfd_create", errno, "");
  if (!stub.empty() && !write_all(ctx.fd, stub.data(), stub.size() * sizeof stub[0]))
    return fail(err, "write", errno ? errno : EIO, "ENOSYS stub");
  rc = api->export_bpf(ctx.c, ctx.fd);  // appends at the file offset, after the stub
  if (rc < 0) return fail(err, "seccomp_export_bpf", -rc, "");
  struct stat st;
  if (fstat(ctx.fd, &st) != 0) return fail(err, "fstat", errno, "");
  size_t insns = (size_t)st.st_size / sizeof(struct sock_filter);
  if (st.st_size % sizeof(struct sock_filter) != 0 || insns <= stub.size())
    return fail(err, "seccomp_export_bpf", EIO, "unexpected program size " + std::to_string(st.st_size));
  if (insns > BPF_MAXINSNS)
    return fail(err, "seccomp_export_bpf", E2BIG, std::to_string(insns) + " instructions, the kernel takes " + std::to_string(BPF_MAXINSNS));
  if (fcntl(ctx.fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0)
    return fail(err, "fcntl", errno, "F_ADD_SEALS");
  int fd = ctx.fd;
  ctx.fd = -1;
  return fd;
}

}  // namespace dynod
