#include "netlink.h"

#include <errno.h>
#include <linux/if_addr.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel.h"
#include "process.h"

namespace dynod {
namespace {

// ------------------------------------------------ messages (both sides)

// One request in a fixed buffer: no allocation, so the child may build one too.
struct Msg {
  alignas(NLMSG_ALIGNTO) char buf[1024];
  size_t len = 0;
  bool overflow = false;

  nlmsghdr *hdr() { return reinterpret_cast<nlmsghdr *>(buf); }

  void begin(uint16_t type, uint16_t flags) {
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = 0;
    len = NLMSG_HDRLEN;
    overflow = false;
    hdr()->nlmsg_type = type;
    hdr()->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
    hdr()->nlmsg_seq = 1;
  }
  // Appends len bytes at an aligned offset; returns that offset (or 0 on overflow).
  size_t put(const void *data, size_t n) {
    size_t at = NLMSG_ALIGN(len);
    if (at + n > sizeof buf) {
      overflow = true;
      return 0;
    }
    const char *s = static_cast<const char *>(data);
    for (size_t i = 0; i < n; i++) buf[at + i] = s[i];
    len = at + n;
    return at;
  }
  size_t attr(uint16_t type, const void *data, size_t n) {
    rtattr a;
    a.rta_len = (unsigned short)RTA_LENGTH(n);
    a.rta_type = type;
    size_t at = put(&a, sizeof a);
    if (n) put(data, n);
    return at;
  }
  void attr_u32(uint16_t type, uint32_t v) { attr(type, &v, sizeof v); }
  void attr_u8(uint16_t type, uint8_t v) { attr(type, &v, sizeof v); }
  void attr_str(uint16_t type, const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    attr(type, s, n + 1);
  }
  size_t nest(uint16_t type) { return attr(type | NLA_F_NESTED, nullptr, 0); }
  void end_nest(size_t at) {
    if (!overflow) reinterpret_cast<rtattr *>(buf + at)->rta_len = (unsigned short)(len - at);
  }
  void finish() { hdr()->nlmsg_len = (uint32_t)len; }
};

int nl_open() { return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE); }

// Sends m and reads the kernel's answer: 0, or the negative errno it reports.
int nl_talk(int fd, Msg &m) {
  if (m.overflow) return -ENOBUFS;
  m.finish();
  sockaddr_nl kernel;
  char *p = reinterpret_cast<char *>(&kernel);
  for (size_t i = 0; i < sizeof kernel; i++) p[i] = 0;
  kernel.nl_family = AF_NETLINK;
  ssize_t n;
  do n = sendto(fd, m.buf, m.len, 0, reinterpret_cast<sockaddr *>(&kernel), sizeof kernel);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  alignas(NLMSG_ALIGNTO) char reply[1024];
  for (;;) {
    do n = recv(fd, reply, sizeof reply, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    for (nlmsghdr *h = reinterpret_cast<nlmsghdr *>(reply); NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_ERROR) return reinterpret_cast<nlmsgerr *>(NLMSG_DATA(h))->error;
      if (h->nlmsg_type == NLMSG_DONE) return 0;
    }
  }
}

ifinfomsg link_header(int index, unsigned flags, unsigned change) {
  ifinfomsg ifi;
  char *p = reinterpret_cast<char *>(&ifi);
  for (size_t i = 0; i < sizeof ifi; i++) p[i] = 0;
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = index;
  ifi.ifi_flags = flags;
  ifi.ifi_change = change;
  return ifi;
}

// No IPv6 address on a link: IFLA_AF_SPEC { AF_INET6 { ADDR_GEN_MODE none } }.
void put_no_ipv6(Msg &m) {
  size_t spec = m.nest(IFLA_AF_SPEC);
  size_t inet6 = m.nest(AF_INET6);
  m.attr_u8(IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
  m.end_nest(inet6);
  m.end_nest(spec);
}

// Runs one request on a fresh socket: 0 or -errno.
int nl_once(Msg &m) {
  int fd = nl_open();
  if (fd < 0) return -errno;
  int r = nl_talk(fd, m);
  close(fd);
  return r;
}

bool fail_nl(StepError &err, const char *step, const char *what, const std::string &detail, int r) {
  return fail_step(err, step, what, detail, -r);
}

}  // namespace

// ---------------------------------------------------------------- parent side

int bridge_ensure(const std::string &name, uint32_t addr, int prefix, StepError &err) {
  const char *step = "network: bridge";
  Msg m;
  m.begin(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  ifinfomsg ifi = link_header(0, 0, 0);
  m.put(&ifi, sizeof ifi);
  m.attr_str(IFLA_IFNAME, name.c_str());
  size_t info = m.nest(IFLA_LINKINFO);
  m.attr_str(IFLA_INFO_KIND, "bridge");
  m.end_nest(info);
  int r = nl_once(m);
  if (r < 0 && r != -EEXIST) return fail_nl(err, step, "RTM_NEWLINK", name + " (bridge)", r), -1;
  int index = (int)if_nametoindex(name.c_str());
  if (index == 0) return fail_step(err, step, "if_nametoindex", name), -1;

  // The dynos' gateway needs no IPv6 (dynos get IPv4 only): no link-local chatter on it.
  m.begin(RTM_NEWLINK, 0);
  ifi = link_header(index, 0, 0);
  m.put(&ifi, sizeof ifi);
  put_no_ipv6(m);
  r = nl_once(m);
  if (r < 0 && r != -EAFNOSUPPORT && r != -EOPNOTSUPP) return fail_nl(err, step, "RTM_NEWLINK", name + " (no IPv6)", r), -1;

  m.begin(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
  ifaddrmsg ifa;
  char *p = reinterpret_cast<char *>(&ifa);
  for (size_t i = 0; i < sizeof ifa; i++) p[i] = 0;
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = (unsigned char)prefix;
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  ifa.ifa_index = (unsigned)index;
  m.put(&ifa, sizeof ifa);
  m.attr(IFA_LOCAL, &addr, sizeof addr);
  m.attr(IFA_ADDRESS, &addr, sizeof addr);
  r = nl_once(m);
  if (r < 0) return fail_nl(err, step, "RTM_NEWADDR", name, r), -1;

  m.begin(RTM_NEWLINK, 0);
  ifi = link_header(index, IFF_UP, IFF_UP);
  m.put(&ifi, sizeof ifi);
  r = nl_once(m);
  if (r < 0) return fail_nl(err, step, "RTM_NEWLINK", name + " (up)", r), -1;
  return index;
}

bool link_delete(const std::string &name, bool *deleted, StepError &err) {
  *deleted = false;
  Msg m;
  m.begin(RTM_DELLINK, 0);
  ifinfomsg ifi = link_header(0, 0, 0);
  m.put(&ifi, sizeof ifi);
  m.attr_str(IFLA_IFNAME, name.c_str());
  int r = nl_once(m);
  if (r == -ENODEV) return true;
  if (r < 0) return fail_nl(err, "network: delete link", "RTM_DELLINK", name, r);
  *deleted = true;
  return true;
}

bool veth_create(const VethSpec &spec, int netns_pid, StepError &err) {
  const char *step = "network: veth";
  unsigned bridge = if_nametoindex(spec.bridge.c_str());
  if (bridge == 0) return fail_step(err, step, "if_nametoindex", spec.bridge + " (the bridge is gone)");
  Msg m;
  m.begin(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  ifinfomsg ifi = link_header(0, IFF_UP, IFF_UP);
  m.put(&ifi, sizeof ifi);
  m.attr_str(IFLA_IFNAME, spec.host.c_str());
  m.attr_u32(IFLA_MASTER, bridge);
  size_t info = m.nest(IFLA_LINKINFO);
  m.attr_str(IFLA_INFO_KIND, "veth");
  size_t data = m.nest(IFLA_INFO_DATA);
  size_t peer = m.nest(VETH_INFO_PEER);
  ifinfomsg pi = link_header(0, 0, 0);
  m.put(&pi, sizeof pi);
  m.attr_str(IFLA_IFNAME, spec.peer.c_str());
  m.attr_u32(IFLA_NET_NS_PID, (uint32_t)netns_pid);
  m.end_nest(peer);
  m.end_nest(data);
  m.end_nest(info);
  int fd = nl_open();
  if (fd < 0) return fail_step(err, step, "socket", "NETLINK_ROUTE");
  int r = nl_talk(fd, m);
  if (r < 0) {
    close(fd);
    return fail_nl(err, step, "RTM_NEWLINK", spec.host + (r == -EEXIST ? " (a link of that name exists)" : ""), r);
  }
  auto undo = [&](const char *what, int rr) {
    Msg d;
    d.begin(RTM_DELLINK, 0);
    ifinfomsg di = link_header(0, 0, 0);
    d.put(&di, sizeof di);
    d.attr_str(IFLA_IFNAME, spec.host.c_str());
    nl_talk(fd, d);
    close(fd);
    return fail_nl(err, step, what, spec.host, rr);
  };
  int index = (int)if_nametoindex(spec.host.c_str());
  if (index == 0) return undo("if_nametoindex", -errno);

  // Isolated bridge ports reach only non-isolated ones (the bridge itself): one dyno's
  // frames never reach another's, even when crafted with a raw socket.
  m.begin(RTM_SETLINK, 0);
  ifi = link_header(index, 0, 0);
  ifi.ifi_family = AF_BRIDGE;
  m.put(&ifi, sizeof ifi);
  size_t prot = m.nest(IFLA_PROTINFO);
  m.attr_u8(IFLA_BRPORT_ISOLATED, 1);
  m.attr_u8(IFLA_BRPORT_LEARNING, 1);
  m.end_nest(prot);
  if ((r = nl_talk(fd, m)) < 0) return undo("RTM_SETLINK (isolated port)", r);

  m.begin(RTM_NEWLINK, 0);
  ifi = link_header(index, 0, 0);
  m.put(&ifi, sizeof ifi);
  put_no_ipv6(m);
  r = nl_talk(fd, m);
  if (r < 0 && r != -EAFNOSUPPORT && r != -EOPNOTSUPP) return undo("RTM_NEWLINK (no IPv6)", r);
  close(fd);
  return true;
}

// ----------------------------------------------------------------- child side

void child_net_config(const ChildOp &op) {
  int fd = nl_open();
  if (fd < 0) child_fail(op.step, "socket", "NETLINK_ROUTE");
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) child_fail(op.step, "socket");
  ifreq ifr;
  char *p = reinterpret_cast<char *>(&ifr);
  for (size_t i = 0; i < sizeof ifr; i++) p[i] = 0;
  copy_str(ifr.ifr_name, sizeof ifr.ifr_name, op.name);
  if (ioctl(s, SIOCGIFINDEX, &ifr) != 0) child_fail(op.step, "ioctl", op.name);
  close(s);
  int index = ifr.ifr_ifindex;
  auto check = [&](int r, const char *what) {
    if (r < 0) {
      errno = -r;
      child_fail(op.step, what, op.name);
    }
  };

  Msg m;
  m.begin(RTM_NEWLINK, 0);
  ifinfomsg ifi = link_header(index, 0, 0);
  m.put(&ifi, sizeof ifi);
  put_no_ipv6(m);
  int r = nl_talk(fd, m);
  if (r != -EAFNOSUPPORT && r != -EOPNOTSUPP) check(r, "RTM_NEWLINK");

  m.begin(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  ifaddrmsg ifa;
  p = reinterpret_cast<char *>(&ifa);
  for (size_t i = 0; i < sizeof ifa; i++) p[i] = 0;
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = 32;
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  ifa.ifa_index = (unsigned)index;
  m.put(&ifa, sizeof ifa);
  uint32_t addr = op.addr4, gw = op.gw4;
  m.attr(IFA_LOCAL, &addr, sizeof addr);
  m.attr(IFA_ADDRESS, &addr, sizeof addr);
  check(nl_talk(fd, m), "RTM_NEWADDR");

  m.begin(RTM_NEWLINK, 0);
  ifi = link_header(index, IFF_UP, IFF_UP);
  m.put(&ifi, sizeof ifi);
  check(nl_talk(fd, m), "RTM_NEWLINK");

  // The default route through the gateway, "onlink": no subnet route, so every
  // destination but the dyno itself goes through the host.
  m.begin(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  rtmsg rt;
  p = reinterpret_cast<char *>(&rt);
  for (size_t i = 0; i < sizeof rt; i++) p[i] = 0;
  rt.rtm_family = AF_INET;
  rt.rtm_table = RT_TABLE_MAIN;
  rt.rtm_protocol = RTPROT_STATIC;
  rt.rtm_scope = RT_SCOPE_UNIVERSE;
  rt.rtm_type = RTN_UNICAST;
  rt.rtm_flags = RTNH_F_ONLINK;
  m.put(&rt, sizeof rt);
  m.attr(RTA_GATEWAY, &gw, sizeof gw);
  m.attr_u32(RTA_OIF, (uint32_t)index);
  check(nl_talk(fd, m), "RTM_NEWROUTE");
  close(fd);
}

}  // namespace dynod
