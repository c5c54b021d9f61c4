import type { Dyno } from '../dyno/dyno';
import { connectInNetns } from '../net/publish';
import type { Backend, BackendSource } from '../router/types';
import type { Slot } from './slot';

/** What the router needs of a formation: its web slots, and word when they change. */
export interface WebSlots {
  webSlots(): readonly Slot[];
  onChange(cb: () => void): () => void;
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
      b = {
        name,
        connect: () => connectInNetns(d.netnsTarget(), port),
        // the native plane connects from its own threads, into the dyno's namespace
        target: () => {
          const pidfd = d.namespacePidfd();
          return pidfd === null ? null : { pidfd, host: '127.0.0.1', port };
        },
      };
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
