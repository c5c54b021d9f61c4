// libseccomp, loaded at run time from its shared library (libseccomp.so.2, which
// every Debian and Ubuntu has: apt and systemd depend on it), so building dynod
// needs no libseccomp-dev headers. The declarations are libseccomp 2.5's stable
// ABI: only what seccomp.cc uses. The action and architecture values are the
// kernel's own (SECCOMP_RET_*, AUDIT_ARCH_*), except x32's token.
#pragma once

#include <elf.h>
#include <linux/audit.h>
#include <stdint.h>

namespace dynod {
namespace scmp {

typedef void *filter_ctx;
enum filter_attr { FLTATR_ACT_BADARCH = 2, FLTATR_CTL_OPTIMIZE = 8 };
enum compare { CMP_NE = 1, CMP_LT = 2, CMP_LE = 3, CMP_EQ = 4, CMP_GE = 5, CMP_GT = 6, CMP_MASKED_EQ = 7 };
struct arg_cmp {
  unsigned int arg;
  compare op;
  uint64_t datum_a;
  uint64_t datum_b;
};

constexpr int NR_ERROR = -1;  // __NR_SCMP_ERROR
constexpr uint32_t ACT_KILL_PROCESS = 0x80000000U;
constexpr uint32_t ACT_KILL_THREAD = 0x00000000U;
constexpr uint32_t ACT_TRAP = 0x00030000U;
constexpr uint32_t ACT_LOG = 0x7ffc0000U;
constexpr uint32_t ACT_ALLOW = 0x7fff0000U;
constexpr uint32_t act_errno(uint32_t e) { return 0x00050000U | (e & 0xffffU); }
constexpr uint32_t act_trace(uint32_t v) { return 0x7ff00000U | (v & 0xffffU); }

constexpr uint32_t ARCH_X86 = AUDIT_ARCH_I386;
constexpr uint32_t ARCH_X86_64 = AUDIT_ARCH_X86_64;
constexpr uint32_t ARCH_X32 = EM_X86_64 | __AUDIT_ARCH_LE;  // libseccomp's token, not the kernel's
constexpr uint32_t ARCH_ARM = AUDIT_ARCH_ARM;
constexpr uint32_t ARCH_AARCH64 = AUDIT_ARCH_AARCH64;
constexpr uint32_t ARCH_PPC = AUDIT_ARCH_PPC;
constexpr uint32_t ARCH_PPC64 = AUDIT_ARCH_PPC64;
constexpr uint32_t ARCH_PPC64LE = AUDIT_ARCH_PPC64LE;
constexpr uint32_t ARCH_S390 = AUDIT_ARCH_S390;
constexpr uint32_t ARCH_S390X = AUDIT_ARCH_S390X;
constexpr uint32_t ARCH_RISCV64 = AUDIT_ARCH_RISCV64;

// The library's entry points; load() fills them once (thread-safe) and returns
// null, or the dlerror() text when the library or a symbol is missing.
struct Api {
  filter_ctx (*init)(uint32_t def_action);
  void (*release)(filter_ctx);
  int (*attr_set)(filter_ctx, filter_attr, uint32_t);
  uint32_t (*arch_native)(void);
  uint32_t (*arch_resolve_name)(const char *);
  int (*arch_add)(filter_ctx, uint32_t);
  int (*syscall_resolve_name)(const char *);
  int (*syscall_resolve_name_arch)(uint32_t, const char *);
  int (*rule_add_array)(filter_ctx, uint32_t, int, unsigned int, const arg_cmp *);
  int (*export_bpf)(filter_ctx, int fd);
};
const char *load(const Api **api);

}  // namespace scmp
}  // namespace dynod
