// rtnetlink for a dyno's network: the host's bridge, the dyno's veth pair, and the
// dyno's side of it. Raw NETLINK_ROUTE messages built in caller memory: no libnl,
// and no fork of `ip` per start.
//
// Parent side (Node, host network namespace): the bridge dynods share, a veth pair
// per dyno whose peer is born inside the dyno's network namespace (IFLA_NET_NS_PID
// of the child, which waits unreaped on the sync pipe meanwhile), deleting a link.
// Child side (the cloned child, in its own network namespace, async-signal-safe):
// the address, the route and the link state of its end of the pair.
#pragma once
#include <stdint.h>

#include <string>

#include "step.h"

namespace dynod {

struct ChildOp;

// ---- parent side ----

// Creates the bridge `name` unless it exists, gives it addr/prefix (network byte
// order; kept when already there) and brings it up. Returns its ifindex, or -1
// with err filled.
int bridge_ensure(const std::string &name, uint32_t addr, int prefix, StepError &err);

// Deletes the link `name`; a link that does not exist is no error (false only on
// a real failure, err filled). *deleted says whether there was one.
bool link_delete(const std::string &name, bool *deleted, StepError &err);

struct VethSpec {
  std::string host;    // the host end, enslaved to the bridge and isolated from its other ports
  std::string peer;    // the end inside the dyno (e.g. "eth0")
  std::string bridge;  // the bridge's name
};

// The pair, its peer created straight in the network namespace of netns_pid (a
// child that waits to be released), its host end on the bridge, isolated, up.
bool veth_create(const VethSpec &spec, int netns_pid, StepError &err);

// ---- child side (async-signal-safe) ----

// The dyno's end (op.name): no IPv6 address generation, op.addr4/32, up, a route
// to the gateway op.gw4 on the link and the default route through it (so even the
// other dynos' addresses are reached only through the host, which refuses them).
void child_net_config(const ChildOp &op);

}  // namespace dynod
