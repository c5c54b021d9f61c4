import * as net from 'node:net';

export interface PipeTarget {
  host: string;
  port: number;
}

/**
 * Bytes both ways between two connected sockets made with allowHalfOpen: a FIN from
 * one side reaches the other as a FIN (a client that shuts down its writing still
 * gets the whole answer), and the pair is done when both have closed. A socket that
 * closes other than cleanly (both directions ended: a reset, an error, destroy())
 * ends the other at once.
 */
export function joinSockets(a: net.Socket, b: net.Socket, done: () => void): void {
  let open = 2;
  const closed = (x: net.Socket, other: net.Socket) => () => {
    if (!(x.readableEnded && x.writableFinished)) other.destroy();
    if (--open === 0) done();
  };
  a.on('error', () => a.destroy());
  b.on('error', () => b.destroy());
  a.on('close', closed(a, b));
  b.on('close', closed(b, a));
  a.pipe(b);
  b.pipe(a);
}

/**
 * Pipes a connection accepted in a dyno's namespace (by a server made with
 * allowHalfOpen) to the first of targets that takes it (in the host's namespace):
 * joinSockets once connected (connectTimeoutMs > 0: each target gets that long). Nothing
 * reaching: the client is reset. Both sockets sit
 * in `open` while they live, for the owner's close().
 */
export function pipeTo(client: net.Socket, targets: PipeTarget[], open: Set<net.Socket>, connectTimeoutMs = 0): void {
  open.add(client);
  client.pause();
  let upstream: net.Socket | null = null;
  let joined = false;
  // the client gone before a target took it: so is the attempt
  const early = () => {
    if (joined) return;
    open.delete(client);
    client.destroy();
    if (upstream) {
      open.delete(upstream);
      upstream.destroy();
    }
  };
  client.on('error', early);
  client.on('close', early);
  const attempt = (i: number) => {
    if (client.destroyed) return;
    const t = targets[i];
    if (!t) {
      open.delete(client);
      return void client.resetAndDestroy();
    }
    const u = net.connect({ host: t.host, port: t.port, allowHalfOpen: true });
    upstream = u;
    open.add(u);
    let failedOnce = false;
    const failed = () => {
      if (failedOnce) return;
      failedOnce = true;
      open.delete(u);
      u.destroy();
      attempt(i + 1);
    };
    u.once('error', failed);
    // a target that does not answer in time: the next one (a dead DNS server, as UDP moves on)
    if (connectTimeoutMs > 0) u.setTimeout(connectTimeoutMs, failed);
    u.once('connect', () => {
      u.off('error', failed);
      u.setTimeout(0);
      joined = true;
      client.off('error', early);
      client.off('close', early);
      joinSockets(client, u, () => {
        open.delete(client);
        open.delete(u);
      });
      client.resume();
    });
  };
  attempt(0);
}
