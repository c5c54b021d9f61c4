import type * as net from 'node:net';
import type { BackendState } from './backend-state';
import { Checkout } from './checkout';
import { Connector } from './connect';
import { UpConn } from './upstream';
import type { BackendSource, RouterTimeouts } from './types';

/** Something a client connection holds that the sweep checks (an Exchange waiting for a dyno). */
export interface BootWaiter {
  resume(): void;
}

/**
 * What every connection and exchange of one router shares: settings, the dynos'
 * states, the connections open, counters.
 */
export class RouterCore {
  readonly checkout: Checkout;
  readonly connector = new Connector();
  /** requests waiting for a booting dyno */
  readonly bootWaiters = new Set<BootWaiter>();
  /** every connection to a dyno, idle or not, for close() */
  readonly upstreams = new Set<UpConn>();
  requests = 0;
  tunnels = 0;
  closed = false;

  constructor(
    readonly source: BackendSource,
    readonly t: RouterTimeouts,
    readonly log: (line: string) => void,
    maxInFlight: number,
    backlogPerDyno: number,
    random: () => number,
  ) {
    this.checkout = new Checkout(maxInFlight, backlogPerDyno, random);
  }

  /** A new connection to a dyno, tracked until it closes. */
  adopt(sock: net.Socket, state: BackendState): UpConn {
    const c = new UpConn(sock, state, (gone) => this.upstreams.delete(gone));
    this.upstreams.add(c);
    return c;
  }

  /** The source changed: dynos come and go, waiting requests try again. */
  refresh(): void {
    if (this.closed) return;
    this.checkout.refresh(this.source.backends());
    const now = performance.now();
    if (this.bootWaiters.size > 0) {
      for (const w of [...this.bootWaiters]) {
        this.bootWaiters.delete(w);
        w.resume();
      }
    }
    this.checkout.pump(now);
  }
}
