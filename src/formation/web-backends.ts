import * as net from 'node:net';
import type { Dyno } from '../dyno/dyno';
import type { Backend, BackendSource } from '../router/types';
import type { Slot } from './slot';

/** What the router needs of a formation: its web slots, and word when they change. */
export interface WebSlots {
  webSlots(): readonly Slot[];
  onChange(cb: () => void): () => void;
}

/**
 * A connected socket to the dyno's $PORT on its own loopback, opened inside its
 * network namespace (no route or address needed: the app may bind 127.0.0.1 or
 * 0.0.0.0). Rejects as a connect does (ECONNREFUSED, ESRCH when the dyno is gone).
 */
export function connectToDyno(dyno: Dyno, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    let fd: number | null;
    try {
      fd = dyno.netnsTarget().netnsSocket();
    } catch (e) {
      return reject(e);
    }
    if (fd === null) return reject(Object.assign(new Error(`${dyno.name} has ended`), { code: 'ECONNREFUSED' }));
    const sock = new net.Socket({ fd, readable: true, writable: true });
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

/**
 * The formation's web dynos as the router sees them: a backend per web dyno that is
 * up and not stopping (a dyno sent SIGTERM gets no new request; those in flight keep
 * their sockets), booting while one starts, crashed when every one has crashed.
 */
export function webBackends(formation: WebSlots, port: number): BackendSource {
  const cache = new WeakMap<Dyno, Backend>();
  const backendOf = (name: string, d: Dyno): Backend => {
    let b = cache.get(d);
    if (!b) {
      b = { name, connect: () => connectToDyno(d, port) };
      cache.set(d, b);
    }
    return b;
  };
  return {
    backends: () =>
      formation.webSlots().flatMap((s) => (s.state === 'up' && s.current && s.current.state === 'up' ? [backendOf(s.name, s.current)] : [])),
    booting: () => formation.webSlots().some((s) => s.state === 'starting'),
    crashed: () => {
      const web = formation.webSlots();
      return web.length > 0 && web.every((s) => s.state === 'crashed');
    },
    onChange: (cb) => formation.onChange(cb),
  };
}
