import * as net from 'node:net';

export interface PipeTarget {
  host: string;
  port: number;
}

/**
 * Pipes a connection accepted in a dyno's namespace to the first of targets that
 * takes it (in the host's namespace): bytes both ways, half-closes passed on, and
 * either side failing ends both. Nothing reaching: the client is reset. Both
 * sockets sit in `open` while they live, for the owner's close().
 */
export function pipeTo(client: net.Socket, targets: PipeTarget[], open: Set<net.Socket>): void {
  open.add(client);
  client.pause();
  const end = (s: net.Socket) => {
    open.delete(s);
    s.destroy();
  };
  client.on('error', () => end(client));
  client.on('close', () => open.delete(client));
  const attempt = (i: number) => {
    const t = targets[i];
    if (!t || client.destroyed) return client.destroyed ? undefined : (open.delete(client), client.resetAndDestroy());
    const upstream = net.connect({ host: t.host, port: t.port });
    open.add(upstream);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    upstream.on('error', () => {
      end(upstream);
      if (connected) end(client);
      else attempt(i + 1);
    });
    upstream.on('close', () => {
      open.delete(upstream);
      if (connected) end(client);
    });
    client.on('close', () => end(upstream));
  };
  attempt(0);
}
