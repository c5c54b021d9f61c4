import type { NativeNetnsListen } from '../addon';
import { native } from '../native';
import { DynodError } from '../errors';
import type { DynoPlan } from '../dyno/plan';
import { AddressAllocator, type AddressLease } from './addresses';
import { DEFAULT_RANGE, checkAgainstRoutes, hostRoutes, parseRange, type Ipv4Range } from './cidr';
import { DnsForwarder } from './dns-forwarder';
import { BRIDGE, HostNetwork, VETH_PREFIX, sweepIdle } from './host-network';
import { HostPortForwarder } from './host-ports';
import { DYNO_DNS_ADDRESS } from './resolv';

/** The dyno's end of its veth pair. */
export const DYNO_IFNAME = 'eth0';

export interface NetworkOptions {
  /** the dynos' IPv4 range (default: $DYNOD_NET_RANGE, else 10.213.0.0/16); one range per host */
  range?: string;
}

/** What the start of one dyno needs from the network, and what it gives back at its end. */
export interface DynoNetworkSetup {
  /** the veth pair the addon makes while the child waits (egress only) */
  veth: { host: string; peer: string; bridge: string } | null;
  /** the child's net-config op (egress only) */
  config: { name: string; address: string; gateway: string } | null;
  /** sockets the addon binds in the dyno's namespace: DNS (udp, tcp), then one per allowed host port */
  listen: NativeNetnsListen[];
}

function listenSpecs(plan: DynoPlan): NativeNetnsListen[] {
  const out: NativeNetnsListen[] = [];
  if (plan.network.dns) out.push({ family: 4, type: 'udp', address: DYNO_DNS_ADDRESS, port: 53 }, { family: 4, type: 'tcp', address: DYNO_DNS_ADDRESS, port: 53 });
  for (const port of plan.network.allowHostPorts) out.push({ family: 4, type: 'tcp', address: '127.0.0.1', port });
  return out;
}

/** What a start of the plan sets up, with placeholders for the per-start values (dry-run). */
export function networkPreview(plan: DynoPlan): DynoNetworkSetup {
  const egress = plan.network.mode === 'private';
  return {
    veth: egress ? { host: `${VETH_PREFIX}<id8>`, peer: DYNO_IFNAME, bridge: BRIDGE } : null,
    config: egress ? { name: DYNO_IFNAME, address: '<dyno address>', gateway: '<gateway>' } : null,
    listen: listenSpecs(plan),
  };
}

/**
 * One dyno's share of the network: its address (egress), the names of its veth,
 * and, once it runs, the DNS forwarder and the host-port forwarder serving its
 * namespace. release() undoes all of it and may be called more than once.
 */
export class DynoNetLease implements DynoNetworkSetup {
  veth: DynoNetworkSetup['veth'] = null;
  config: DynoNetworkSetup['config'] = null;
  listen: NativeNetnsListen[] = [];
  private address: AddressLease | null = null;
  private dns: DnsForwarder | null = null;
  private hostPorts: HostPortForwarder | null = null;
  private released = false;

  constructor(private readonly plan: DynoPlan, private readonly net: EngineNetwork | null = null) {}

  /** @internal */
  static async make(plan: DynoPlan, id: string, net: EngineNetwork): Promise<DynoNetLease> {
    const lease = new DynoNetLease(plan, net);
    try {
      if (plan.network.mode === 'private') {
        const host = await net.hostNetwork();
        lease.address = net.addresses.reserve(host.range);
        lease.veth = { host: `${VETH_PREFIX}${id.replace(/-/g, '').slice(0, 8)}`, peer: DYNO_IFNAME, bridge: BRIDGE };
        lease.config = { name: DYNO_IFNAME, address: lease.address.address, gateway: host.gateway };
      }
      lease.listen = listenSpecs(plan);
    } catch (e) {
      await lease.release();
      throw e;
    }
    return lease;
  }

  /** The dyno's address on the bridge (egress only). */
  get ip(): string | null {
    return this.address?.address ?? null;
  }

  /** Serves the sockets the addon bound (fds in the order of listen), from now on owned here. */
  attach(fds: number[], onWarning: (m: string) => void): void {
    let i = 0;
    if (this.plan.network.dns) {
      this.dns = new DnsForwarder(fds[0]!, fds[1]!, this.plan.network.dns.upstreams, onWarning);
      i = 2;
    }
    const ports = this.plan.network.allowHostPorts;
    if (ports.length) this.hostPorts = new HostPortForwarder(ports.map((port, k) => ({ fd: fds[i + k]!, port })), onWarning);
  }

  /**
   * Closes the forwarders (awaited), then deletes the veth (its peer goes with it) and
   * frees the address once it is gone. The deletion waits out the kernel's RCU grace
   * periods (15-20 ms): it runs on the threadpool, and the engine, not the dyno's end,
   * waits for it (`settled`, awaited by EngineNetwork.close()). The address is freed only
   * after it, so no new dyno shares it with a veth still on the bridge.
   */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const errors: string[] = [];
    await Promise.all([this.dns?.close(), this.hostPorts?.close()]).catch((e: unknown) => errors.push(DynodError.from(e).message));
    const veth = this.veth;
    const address = this.address;
    if (veth) {
      this.settled = new Promise<void>((resolve) => {
        native().netLinkDelete(veth.host, () => {
          // a failure leaves a stale link the sweep removes once nobody uses the network
          address?.release();
          resolve();
        });
      });
      this.net?.track(this.settled);
    } else address?.release();
    if (errors.length) throw new DynodError(`network: ${errors.join('; ')}`, { step: 'network: release' });
  }

  /** Resolves once the veth is deleted and the address free again. */
  settled: Promise<void> = Promise.resolve();
}

/**
 * The network side of an engine: the host network (bridge, nftables) joined on the
 * first start that needs egress and left at close(), and the host-global address
 * allocator. Everything per dyno lives in a DynoNetLease.
 */
export class EngineNetwork {
  /** @internal */
  readonly addresses = new AddressAllocator();
  private host: HostNetwork | null = null;

  constructor(private readonly options: NetworkOptions = {}) {}

  /** The dynos' range, read (and checked) when a dyno first needs it: a --net none start never does. */
  range(): { range: Ipv4Range; option: string } {
    return configuredRange(this.options.range);
  }

  /** @internal The host network, set up or joined on first use. */
  async hostNetwork(): Promise<HostNetwork> {
    if (!this.host) {
      const { range, option } = this.range();
      this.host = new HostNetwork(range, option);
    }
    await this.host.acquire();
    return this.host;
  }

  /** veth deletions still running: close() waits for them before the host network may go */
  private readonly pending = new Set<Promise<void>>();

  /** @internal */
  track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Resolves once the veth deletions running now are done. */
  async settled(): Promise<void> {
    await Promise.all(this.pending);
  }

  lease(plan: DynoPlan, id: string): Promise<DynoNetLease> {
    return DynoNetLease.make(plan, id, this);
  }

  /** What a dynod killed with SIGKILL left of the host network, removed when nobody uses it. */
  sweep(): Promise<boolean> {
    return sweepIdle();
  }

  async close(): Promise<void> {
    const host = this.host;
    this.host = null;
    // The dynos' veths may still be going (each deletion waits for RCU): the host
    // network's teardown, when this engine was its last user, runs beside them. A veth
    // both delete is deleted once; the other gets ENODEV, which counts as done.
    const [, released] = await Promise.allSettled([Promise.all(this.pending), host?.release()]);
    this.addresses.close();
    if (released.status === 'rejected') throw released.reason;
  }
}

/** The range dynos take addresses from: the engine's option, else DYNOD_NET_RANGE, else the default. */
export function configuredRange(range?: string): { range: Ipv4Range; option: string } {
  const fromEnv = process.env.DYNOD_NET_RANGE;
  const option = range === undefined && fromEnv ? 'DYNOD_NET_RANGE' : 'network range';
  return { range: parseRange(range ?? (fromEnv || DEFAULT_RANGE), option), option };
}

/**
 * The range checked now, as the host network's setup will check it: a manager that could
 * never give a dyno an address says so before it starts any (one line, 125), instead of
 * every dyno failing its start.
 */
export function checkConfiguredRange(range?: string): void {
  const r = configuredRange(range);
  checkAgainstRoutes(r.range, hostRoutes(), BRIDGE, r.option);
}
