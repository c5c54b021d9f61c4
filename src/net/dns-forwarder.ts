import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { pipeTo } from './pipe';

/** How long one upstream gets to answer before the next is asked; glibc's own retry is 5 s. */
const UPSTREAM_TRY_MS = 2_000;
/** Queries of one dyno waiting for an answer at once; more are dropped (the client retries). */
const MAX_INFLIGHT = 256;
const DNS_PORT = 53;

interface Query {
  sock: dgram.Socket | null;
  family: string;
  timer: NodeJS.Timeout | undefined;
}

/** An address without its IPv6 zone ("fe80::1%eth0" → "fe80::1"): replies come with it or without. */
function unscoped(address: string): string {
  return address.split('%')[0]!;
}

/**
 * A dyno's DNS server: sockets dynod bound in the dyno's network namespace at
 * 127.0.0.11:53 (UDP and TCP), relayed from the host's namespace to the host's
 * resolvers, so a loopback resolver (systemd-resolved, a local dnsmasq) serves
 * dynos as it serves the host. Each UDP query goes out from a socket of its own
 * (a fresh source port, replies matched by address and query id); TCP
 * connections are piped whole.
 */
export class DnsForwarder {
  private readonly udp: dgram.Socket;
  private readonly tcp: net.Server;
  private readonly upstreams: Array<{ address: string; family: 'udp4' | 'udp6' }>;
  private readonly inflight = new Set<Query>();
  private readonly conns = new Set<net.Socket>();
  private closed = false;

  constructor(udpFd: number, tcpFd: number, upstreams: string[], private readonly onWarning: (m: string) => void = () => {}) {
    this.upstreams = upstreams.map((address) => ({ address, family: net.isIPv6(unscoped(address)) ? 'udp6' : 'udp4' }));
    this.udp = dgram.createSocket({ type: 'udp4' });
    this.udp.on('error', (e: NodeJS.ErrnoException) => this.onWarning(`dns: ${e.code ?? e.message}`));
    this.udp.on('message', (msg, rinfo) => this.query(msg, rinfo));
    this.udp.bind({ fd: udpFd });
    this.tcp = net.createServer({ allowHalfOpen: true }, (c) => this.pipe(c));
    this.tcp.on('error', (e: NodeJS.ErrnoException) => this.onWarning(`dns (tcp): ${e.code ?? e.message}`));
    this.tcp.listen({ fd: tcpFd });
  }

  private query(msg: Buffer, client: dgram.RemoteInfo): void {
    if (this.closed || msg.length < 12 || this.inflight.size >= MAX_INFLIGHT) return;
    const id = msg.readUInt16BE(0);
    let i = 0;
    // one query: its socket (a fresh source port) and its retry timer, both ended by end();
    // in flight until then
    const q: Query = { sock: null, family: '', timer: undefined };
    this.inflight.add(q);
    const ask = () => {
      if (!this.inflight.has(q)) return;
      const up = this.upstreams[i];
      if (!up || this.closed) return this.end(q);
      if (!q.sock || q.family !== up.family) {
        this.closeSocket(q);
        const s = dgram.createSocket(up.family);
        q.sock = s;
        q.family = up.family;
        s.on('error', () => {
          i++;
          ask();
        });
        s.on('message', (reply, from) => {
          // Only the server asked, with the query's id: nothing else on the way may answer.
          if (reply.length < 12 || reply.readUInt16BE(0) !== id || from.port !== DNS_PORT || !this.upstreams.some((u) => unscoped(u.address) === unscoped(from.address))) return;
          this.end(q);
          if (!this.closed) this.udp.send(reply, client.port, client.address);
        });
      }
      q.sock.send(msg, DNS_PORT, up.address);
      clearTimeout(q.timer);
      q.timer = setTimeout(() => {
        i++;
        ask();
      }, UPSTREAM_TRY_MS);
    };
    ask();
  }

  private closeSocket(q: Query): void {
    q.sock?.close();
    q.sock = null;
  }

  private end(q: Query): void {
    clearTimeout(q.timer);
    this.closeSocket(q);
    this.inflight.delete(q);
  }

  private pipe(client: net.Socket): void {
    if (this.closed) return void client.destroy();
    pipeTo(client, this.upstreams.map((u) => ({ host: u.address, port: DNS_PORT })), this.conns, UPSTREAM_TRY_MS);
  }

  close(): Promise<void> {
    this.closed = true;
    for (const q of [...this.inflight]) this.end(q);
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    return new Promise((resolve) => {
      this.udp.close(() => this.tcp.close(() => resolve()));
    });
  }
}
