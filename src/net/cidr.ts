import * as fs from 'node:fs';
import { UsageError } from '../errors';

/** An IPv4 network: its first address as an unsigned 32-bit number, and its prefix length. */
export interface Ipv4Range {
  network: number;
  prefix: number;
  /** as written back: 10.213.0.0/16 */
  text: string;
}

/** The dynos' default range: private, and rarely used by anything else. */
export const DEFAULT_RANGE = '10.213.0.0/16';

export function ipToNumber(ip: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function ipToString(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Ranges no host can give dynos: their addresses do not route as unicast (RFC 6890). */
const SPECIAL: Array<[{ network: number; prefix: number }, string]> = [
  [{ network: 0x00000000, prefix: 8 }, '0.0.0.0/8 ("this network")'],
  [{ network: 0x7f000000, prefix: 8 }, '127.0.0.0/8 (loopback)'],
  [{ network: 0xa9fe0000, prefix: 16 }, '169.254.0.0/16 (link-local)'],
  [{ network: 0xe0000000, prefix: 4 }, '224.0.0.0/4 (multicast)'],
  [{ network: 0xf0000000, prefix: 4 }, '240.0.0.0/4 (reserved, and the broadcast address)'],
];

/**
 * "a.b.c.d/N" with N 8..28 (room for a gateway and at least 13 dynos), the host bits
 * zero. `option` names where the value came from in the error.
 */
export function parseRange(text: string, option: string): Ipv4Range {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text.trim());
  const ip = m ? ipToNumber(m[1]!) : null;
  const prefix = m ? Number(m[2]) : NaN;
  if (ip === null || !(prefix >= 8 && prefix <= 28))
    throw new UsageError(`${option} ${JSON.stringify(text)}: expected an IPv4 network a.b.c.d/N with N from 8 to 28, e.g. ${DEFAULT_RANGE}`);
  if ((ip & ~mask(prefix)) >>> 0 !== 0)
    throw new UsageError(`${option} ${text}: the address has host bits set; the network is ${ipToString((ip & mask(prefix)) >>> 0)}/${prefix}`);
  const range = { network: ip, prefix, text: `${ipToString(ip)}/${prefix}` };
  const special = SPECIAL.find(([net]) => overlaps(range, net));
  if (special) throw new UsageError(`${option} ${range.text}: overlaps ${special[1]}; use a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16), e.g. ${DEFAULT_RANGE}`);
  return range;
}

/** The gateway (the bridge's address): the range's first host. */
export function gatewayOf(r: Ipv4Range): number {
  return (r.network + 1) >>> 0;
}

/** How many dyno addresses the range holds: all hosts but the gateway (and not the broadcast). */
export function capacityOf(r: Ipv4Range): number {
  return 2 ** (32 - r.prefix) - 3;
}

/** Dyno address number k (0-based), after the gateway. */
export function dynoAddress(r: Ipv4Range, k: number): number {
  return (r.network + 2 + k) >>> 0;
}

export function overlaps(a: { network: number; prefix: number }, b: { network: number; prefix: number }): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.network ^ b.network) & mask(p)) >>> 0 === 0;
}

export interface Ipv4Route {
  dev: string;
  network: number;
  prefix: number;
  text: string;
}

/** The host's IPv4 routes of the main table (/proc/net/route: little-endian hex), default routes left out. */
export function hostRoutes(file = '/proc/net/route'): Ipv4Route[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: Ipv4Route[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const le = (h: string) => (Buffer.from(h.padStart(8, '0'), 'hex').readUInt32LE(0) >>> 0);
    const network = le(f[1]!);
    const m = le(f[7]!);
    // a netmask's ones are contiguous from the top: their count is the prefix
    const prefix = m === 0 ? 0 : 32 - Math.log2((~m >>> 0) + 1);
    if (prefix === 0) continue;
    out.push({ dev: f[0]!, network, prefix, text: `${ipToString(network)}/${prefix} dev ${f[0]}` });
  }
  return out;
}

/** Refuses a range that overlaps a host route (other than the bridge's own): dynos could not reach what is there, or would hide it. */
export function checkAgainstRoutes(r: Ipv4Range, routes: Ipv4Route[], bridge: string, option: string): void {
  const clash = routes.find((rt) => rt.dev !== bridge && overlaps(r, rt));
  if (clash)
    throw new UsageError(`${option} ${r.text}: overlaps the host's route ${clash.text}; choose a range no route of the host covers (e.g. another 10.x.0.0/16)`);
}
