// The cgroup v2 device filter: instructions generated as crun's ebpf.c and runc's
// devicefilter.go do (one block per exception, first match returns), loaded and
// attached with raw bpf(2) calls.
#include "devices.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace dynod {
namespace {

// Kernels from 6.17 write bpf_attr.query.revision whatever size is passed (fixed
// later upstream), and this file may be built with headers that predate the field:
// every attr lives in a buffer larger than any bpf_attr.
union Attr {
  union bpf_attr a;
  char pad[256];
};

long bpf(int cmd, Attr &attr) { return syscall(SYS_bpf, cmd, &attr.a, sizeof(union bpf_attr)); }

struct Program {
  std::vector<struct bpf_insn> insns;

  void emit(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    struct bpf_insn i;
    memset(&i, 0, sizeof i);
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    insns.push_back(i);
  }
  void ret(int32_t v) {
    emit(BPF_ALU | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, v);  // w0 = v
    emit(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  }
};

// struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major; u32 minor; }
Program build(bool default_allow, const std::vector<DeviceException> &rules) {
  Program p;
  p.emit(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0);  // r2 = access_type
  p.emit(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);      // w2 &= 0xffff: type
  p.emit(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_1, 0, 0);  // r3 = access_type
  p.emit(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);          // w3 >>= 16: access
  p.emit(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0);  // r4 = major
  p.emit(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0);  // r5 = minor
  const uint32_t all = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;
  for (const DeviceException &r : rules) {
    std::vector<size_t> to_next;  // jumps to the next block, patched once its start is known
    auto jump = [&](uint8_t code, uint8_t dst, uint8_t src, int32_t imm) {
      to_next.push_back(p.insns.size());
      p.emit(code, dst, src, 0, imm);
    };
    jump(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, r.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
    if ((r.access & all) != all) {
      p.emit(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);         // w1 = access
      p.emit(BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, (int32_t)r.access);  // w1 &= rule's access
      if (default_allow)
        jump(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_1, 0, 0);  // a deny exception takes any overlap
      else
        jump(BPF_JMP | BPF_JNE | BPF_X, BPF_REG_1, BPF_REG_3, 0);  // an allow exception must cover all
    }
    if (r.major >= 0) jump(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, (int32_t)r.major);
    if (r.minor >= 0) jump(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, (int32_t)r.minor);
    p.ret(default_allow ? 0 : 1);
    for (size_t at : to_next) p.insns[at].off = (int16_t)(p.insns.size() - at - 1);
  }
  p.ret(default_allow ? 1 : 0);
  return p;
}

int load(const Program &p, StepError &err) {
  static const char license[] = "MIT";
  Attr attr;
  memset(&attr, 0, sizeof attr);
  attr.a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.a.insn_cnt = (uint32_t)p.insns.size();
  attr.a.insns = (uint64_t)(uintptr_t)p.insns.data();
  attr.a.license = (uint64_t)(uintptr_t)license;
  bool raised = false;
  for (int tries = 0;; tries++) {
    long fd = bpf(BPF_PROG_LOAD, attr);
    if (fd >= 0) return (int)fd;
    // the verifier is interruptible (EAGAIN); before Linux 5.11 programs were
    // charged to RLIMIT_MEMLOCK (EPERM), which runc raises the same way
    if (errno == EAGAIN && tries < 30) continue;
    if (errno == EPERM && !raised) {
      struct rlimit inf = {RLIM_INFINITY, RLIM_INFINITY};
      raised = setrlimit(RLIMIT_MEMLOCK, &inf) == 0;
      if (raised) continue;
      errno = EPERM;
    }
    int e = errno;
    // the verifier's last line says why, for a program it refused
    std::string detail = "BPF_PROG_LOAD";
    if (e == EINVAL || e == EACCES) {
      std::vector<char> log(65536, 0);
      attr.a.log_level = 1;
      attr.a.log_size = (uint32_t)log.size();
      attr.a.log_buf = (uint64_t)(uintptr_t)log.data();
      long again = bpf(BPF_PROG_LOAD, attr);
      if (again >= 0) return (int)again;
      std::string text(log.data());
      while (!text.empty() && text.back() == '\n') text.pop_back();
      size_t nl = text.rfind('\n');
      if (!text.empty()) detail += ": " + (nl == std::string::npos ? text : text.substr(nl + 1));
    }
    fail_step(err, "set device rules", "bpf", detail, e);
    return -1;
  }
}

// The device programs attached to the cgroup (not inherited ones), as fds; programs
// an LSM hides from us are skipped, as runc does (another program only restricts).
bool attached(int dirfd, std::vector<int> &fds, StepError &err) {
  std::vector<uint32_t> ids(64);
  for (int tries = 0; tries < 10; tries++) {
    Attr attr;
    memset(&attr, 0, sizeof attr);
    attr.a.query.target_fd = (uint32_t)dirfd;
    attr.a.query.attach_type = BPF_CGROUP_DEVICE;
    attr.a.query.prog_ids = (uint64_t)(uintptr_t)ids.data();
    attr.a.query.prog_cnt = (uint32_t)ids.size();
    if (bpf(BPF_PROG_QUERY, attr) != 0) {
      if (errno == ENOSPC) {
        ids.resize(attr.a.query.prog_cnt);
        continue;
      }
      return fail_step(err, "set device rules", "bpf", "BPF_PROG_QUERY");
    }
    for (uint32_t i = 0; i < attr.a.query.prog_cnt && i < ids.size(); i++) {
      Attr get;
      memset(&get, 0, sizeof get);
      get.a.prog_id = ids[i];
      long fd = bpf(BPF_PROG_GET_FD_BY_ID, get);
      if (fd >= 0) fds.push_back((int)fd);
      else if (errno != EPERM && errno != EACCES && errno != ENOENT) {
        int e = errno;
        for (int f : fds) close(f);
        fds.clear();
        return fail_step(err, "set device rules", "bpf", "BPF_PROG_GET_FD_BY_ID", e);
      }
    }
    return true;
  }
  errno = EAGAIN;
  return fail_step(err, "set device rules", "bpf", "BPF_PROG_QUERY");
}

}  // namespace

int attach_device_filter(const std::string &dir, bool default_allow, const std::vector<DeviceException> &rules, StepError &err) {
  Program p = build(default_allow, rules);
  int dirfd = open(dir.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (dirfd < 0) return fail_step(err, "set device rules", "open", dir), -1;
  std::vector<int> old;
  int result = -1;
  int prog = -1;
  if (attached(dirfd, old, err) && (prog = load(p, err)) >= 0) {
    Attr attr;
    memset(&attr, 0, sizeof attr);
    attr.a.target_fd = (uint32_t)dirfd;
    attr.a.attach_bpf_fd = (uint32_t)prog;
    attr.a.attach_type = BPF_CGROUP_DEVICE;
    attr.a.attach_flags = BPF_F_ALLOW_MULTI;
    if (bpf(BPF_PROG_ATTACH, attr) != 0) {
      fail_step(err, "set device rules", "bpf", "BPF_PROG_ATTACH " + dir);
    } else {
      result = 0;
      // the new program is in force: the old ones only restrict further until they go
      for (int fd : old) {
        Attr d;
        memset(&d, 0, sizeof d);
        d.a.target_fd = (uint32_t)dirfd;
        d.a.attach_bpf_fd = (uint32_t)fd;
        d.a.attach_type = BPF_CGROUP_DEVICE;
        if (bpf(BPF_PROG_DETACH, d) != 0) {
          result = -1;
          fail_step(err, "set device rules", "bpf", "BPF_PROG_DETACH " + dir);
          break;
        }
        result++;
      }
    }
  }
  int saved = errno;
  if (prog >= 0) close(prog);
  for (int fd : old) close(fd);
  close(dirfd);
  errno = saved;
  return result;
}

}  // namespace dynod
