import * as net from 'node:net';
import { UsageError } from '../errors';

export interface PublishSpec {
  /** host address to listen on; '' for all of them, IPv6 and IPv4 (IPv4 alone on a host without IPv6), as Docker's `-p PORT` */
  address: string;
  hostPort: number;
}

/** "[ADDR:]HOSTPORT" (IPv6 as "[::1]:8080") → spec; all addresses ('') by default, as Docker does. */
export function parsePublish(spec: string): PublishSpec {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]+):)?(\d{1,5})$/.exec(spec.trim());
  const bad = () => new UsageError(`--publish ${JSON.stringify(spec)}: expected [ADDR:]HOSTPORT with a port from 1 to 65535 (e.g. 8080 or 127.0.0.1:8080)`);
  if (!m) throw bad();
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw bad();
  let address = m[1] ?? '';
  if (address.startsWith('[')) address = address.slice(1, -1);
  if (address !== '' && address !== 'localhost' && net.isIP(address) === 0) throw bad();
  return { address, hostPort: port };
}

/** How a spec is named in messages: "127.0.0.1:8080", "[::1]:8080", or "8080" for all addresses. */
export function publishName(spec: PublishSpec): string {
  if (spec.address === '') return String(spec.hostPort);
  return `${spec.address.includes(':') ? `[${spec.address}]` : spec.address}:${spec.hostPort}`;
}
