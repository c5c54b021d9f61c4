import * as net from 'node:net';
import { pipeTo } from './pipe';

/**
 * --allow-host-port: listeners dynod bound in the dyno's namespace on
 * 127.0.0.1:PORT, each piped to the host's 127.0.0.1:PORT. The dyno reaches
 * exactly those ports of the host and no other, whatever its network mode, and
 * the host's service sees a connection from its own loopback, as from any local
 * client (a DATABASE_URL pointing at localhost works unchanged).
 */
export class HostPortForwarder {
  private readonly servers: net.Server[] = [];
  private readonly conns = new Set<net.Socket>();
  private closed = false;

  constructor(listeners: Array<{ fd: number; port: number }>, onWarning: (m: string) => void = () => {}) {
    for (const { fd, port } of listeners) {
      const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (c) => {
        if (this.closed) return void c.destroy();
        pipeTo(c, [{ host: '127.0.0.1', port }], this.conns);
      });
      server.on('error', (e: NodeJS.ErrnoException) => onWarning(`--allow-host-port ${port}: ${e.code ?? e.message}`));
      server.listen({ fd });
      this.servers.push(server);
    }
  }

  close(): Promise<void> {
    this.closed = true;
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    return Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => {});
  }
}
