import type * as net from 'node:net';
import type { BackendState } from './backend-state';

/** Who reads a connection to a dyno while it carries a request (an Exchange) or a tunnel. */
export interface UpstreamUser {
  onUpstreamData(chunk: Buffer): void;
  onUpstreamEnd(): void;
  onUpstreamClose(): void;
  onUpstreamDrain(): void;
}

/**
 * A connection to a dyno, kept across requests (keep-alive). Its listeners are set once;
 * they hand events to the current user, or, while it idles in the pool, close it on
 * anything the dyno sends (a close, or bytes nobody asked for).
 */
export class UpConn {
  user: UpstreamUser | null = null;
  /** requests it carried: a connection with uses > 0 is a reused one */
  uses = 0;
  idleSince = 0;
  closed = false;
  /** the dyno's end was already closed when our bytes came (a reset): it read none of them */
  reset = false;

  constructor(
    readonly sock: net.Socket,
    readonly state: BackendState,
    onClosed: (c: UpConn) => void,
  ) {
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => {
      if (this.user !== null) this.user.onUpstreamData(d);
      else sock.destroy();
    });
    sock.on('end', () => {
      if (this.user !== null) this.user.onUpstreamEnd();
      else sock.destroy();
    });
    sock.on('drain', () => {
      if (this.user !== null) this.user.onUpstreamDrain();
    });
    // 'close' follows every error
    sock.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') this.reset = true;
    });
    sock.on('close', () => {
      this.closed = true;
      state.forget(this);
      onClosed(this);
      const u = this.user;
      this.user = null;
      if (u !== null) u.onUpstreamClose();
    });
  }

  destroy(): void {
    this.user = null;
    this.sock.destroy();
  }
}
