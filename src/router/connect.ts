import type * as net from 'node:net';
import type { RouterCode } from './codes';
import type { Backend } from './types';

/**
 * New connections to dynos, each bounded by the connect timeout (a connection that
 * comes after it is closed at once). close() drops the timers of pending ones.
 */
export class Connector {
  private readonly pending = new Set<Pending>();

  open(backend: Backend, timeoutMs: number): Promise<net.Socket> {
    return new Promise<net.Socket>((resolve, reject) => {
      const p: Pending = {
        timer: setTimeout(() => {
          this.settle(p);
          reject(Object.assign(new Error(`connect to ${backend.name} timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
        }, timeoutMs),
        settled: false,
        reject,
      };
      this.pending.add(p);
      let started: Promise<net.Socket>;
      try {
        started = backend.connect();
      } catch (e) {
        started = Promise.reject(e);
      }
      started.then(
        (sock) => {
          if (p.settled) {
            sock.destroy();
            return;
          }
          this.settle(p);
          resolve(sock);
        },
        (err: unknown) => {
          if (p.settled) return;
          this.settle(p);
          reject(err);
        },
      );
    });
  }

  /** no timer left; pending connects fail with ECANCELED and late sockets are closed */
  close(): void {
    for (const p of [...this.pending]) {
      this.settle(p);
      p.reject(Object.assign(new Error('router closed'), { code: 'ECANCELED' }));
    }
  }

  private settle(p: Pending): void {
    p.settled = true;
    clearTimeout(p.timer);
    this.pending.delete(p);
  }
}

interface Pending {
  timer: NodeJS.Timeout;
  settled: boolean;
  reject(err: unknown): void;
}

/** H19 for a dyno that did not answer in time or cannot be reached, H21 for one that refused. */
export function connectFailureCode(err: unknown): RouterCode {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' ? 'H19' : 'H21';
}
