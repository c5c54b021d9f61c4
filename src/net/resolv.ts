import * as net from 'node:net';

/** Where the DNS forwarder listens inside a dyno (Docker's embedded DNS uses the same address). */
export const DYNO_DNS_ADDRESS = '127.0.0.11';

export interface ResolvConf {
  nameservers: string[];
  /** search and options lines, kept as they are */
  other: string[];
}

/** The parts of a resolv.conf dynod uses; glibc's default (127.0.0.1) when it names no server. */
export function parseResolvConf(text: string): ResolvConf {
  const nameservers: string[] = [];
  const other: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0]) {
      // "fe80::1%eth0": a scope the dyno's forwarder (on the host) can still use
      const addr = rest[0];
      if (net.isIP(addr.split('%')[0]!) && !nameservers.includes(addr)) nameservers.push(addr);
    } else if (key === 'search' || key === 'domain' || key === 'options') other.push(line);
  }
  return { nameservers: nameservers.length ? nameservers : ['127.0.0.1'], other };
}

/**
 * The resolv.conf of a dyno with egress: the forwarder dynod runs in its namespace,
 * with the host's search domains and options. The host's servers stay on the
 * host's side: a loopback resolver (systemd-resolved's 127.0.0.53) is not
 * reachable from the dyno, and the forwarder makes both kinds alike.
 */
export function dynoResolvConf(host: ResolvConf): string {
  return [`nameserver ${DYNO_DNS_ADDRESS}`, ...host.other, ''].join('\n');
}
