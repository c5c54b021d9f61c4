import * as net from 'node:net';
import { DynodError } from '../errors';
import { publishName, type PublishSpec } from './publish-spec';
import { joinSockets } from './pipe';

export type { PublishSpec } from './publish-spec';
export { parsePublish } from './publish-spec';

/** Something that can open a TCP socket inside a dyno's network namespace. */
export interface NetnsTarget {
  /** a fresh unconnected socket fd in the dyno's netns, or null when the dyno is gone */
  netnsSocket(): number | null;
  readonly port: number;
}

/**
 * Forwards TCP connections from host addresses to the dyno's $PORT on its own
 * loopback: the dyno needs no veth and no route for it, only a listening app.
 */
export class Publisher {
  private readonly servers: net.Server[] = [];
  /** open connections, both sides, so close() does not wait for clients */
  private readonly sockets = new Set<net.Socket>();

  /** Listens on every spec; fails before the dyno starts if a port is taken. */
  static async listen(specs: PublishSpec[], target: () => NetnsTarget | null, onWarning: (message: string) => void = () => {}): Promise<Publisher> {
    const p = new Publisher();
    try {
      for (const spec of specs) {
        const server = await listenOne(spec, target, p.sockets);
        // after listen, an error (EMFILE on accept, say) is the caller's to know, never a throw
        server.on('error', (e: NodeJS.ErrnoException) => onWarning(`--publish ${publishName(spec)}: ${e.code ?? e.message}`));
        p.servers.push(server);
      }
    } catch (e) {
      await p.close();
      throw e;
    }
    return p;
  }

  addresses(): net.AddressInfo[] {
    return this.servers.map((s) => s.address() as net.AddressInfo);
  }

  async close(): Promise<void> {
    const closed = Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    for (const s of this.sockets) s.destroy();
    await closed;
    this.servers.length = 0;
  }
}

/**
 * A socket connected to `port` on the dyno's own loopback, opened inside its network
 * namespace (no route or address needed: the app may bind 127.0.0.1 or 0.0.0.0).
 * Rejects as a connect does: ECONNREFUSED, also when the dyno has ended.
 */
export function connectInNetns(t: NetnsTarget, port = t.port, allowHalfOpen = false): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    let fd: number | null;
    try {
      fd = t.netnsSocket();
    } catch (e) {
      return reject(e);
    }
    if (fd === null) return reject(Object.assign(new Error('the dyno has ended'), { code: 'ECONNREFUSED' }));
    const sock = new net.Socket({ fd, readable: true, writable: true, allowHalfOpen });
    const fail = (e: Error) => {
      sock.destroy();
      reject(e);
    };
    sock.once('error', fail);
    sock.connect(port, '127.0.0.1', () => {
      sock.off('error', fail);
      resolve(sock);
    });
  });
}

function listenOne(spec: PublishSpec, target: () => NetnsTarget | null, sockets: Set<net.Socket>): Promise<net.Server> {
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) => {
    // A connection may race the dyno's start or end (no pidfd yet, PID 1 just gone):
    // the client is refused, and nothing here may throw into the event loop.
    client.on('error', () => client.destroy());
    let t: NetnsTarget | null = null;
    try {
      t = target();
    } catch {
      t = null;
    }
    if (!t) return void client.destroy();
    sockets.add(client);
    connectInNetns(t, undefined, true).then(
      (upstream) => {
        if (client.destroyed) return void upstream.destroy();
        sockets.add(upstream);
        joinSockets(client, upstream, () => {
          sockets.delete(client);
          sockets.delete(upstream);
        });
        client.resume();
      },
      () => {
        client.destroy();
        sockets.delete(client);
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new DynodError(`--publish ${publishName(spec)}: ${e.code ?? e.message}${e.code === 'EADDRINUSE' ? ' (the port is already in use)' : ''}`, { step: 'publish', syscall: e.syscall ?? 'listen', code: e.code ?? '' })),
    );
    // no host: Node listens on :: (dual-stack) where the host has IPv6, else on 0.0.0.0
    server.listen(spec.hostPort, spec.address || undefined, () => resolve(server));
  });
}
