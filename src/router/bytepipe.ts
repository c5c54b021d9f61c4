import type { RouterCore } from './core';
import { Pause } from './exchange';
import type { UpConn, UpstreamUser } from './upstream';

/** The client side of a tunnel. */
export interface TunnelClient {
  ticks: number;
  write(b: Buffer): boolean;
  pause(reason: number): void;
  unpause(reason: number): void;
  end(): void;
  destroy(): void;
}

/**
 * vegur's bytepipe: after a 101, bytes go both ways untouched, with backpressure each
 * way; an end on one side ends the other; the idle timeout (55 s) closes both.
 */
export class BytePipe implements UpstreamUser {
  private open = true;

  constructor(
    private readonly client: TunnelClient,
    private readonly up: UpConn,
    private readonly core: RouterCore,
  ) {
    core.tunnels++;
    up.user = this;
  }

  fromClient(d: Buffer): void {
    this.client.ticks++;
    if (!this.up.sock.write(d)) this.client.pause(Pause.Upstream);
  }

  onUpstreamData(d: Buffer): void {
    this.client.ticks++;
    if (!this.client.write(d)) this.up.sock.pause();
  }

  onClientDrain(): void {
    this.up.sock.resume();
  }

  onUpstreamDrain(): void {
    this.client.ticks++;
    this.client.unpause(Pause.Upstream);
  }

  clientEnded(): void {
    this.up.sock.end();
  }

  onUpstreamEnd(): void {
    this.client.end();
  }

  onUpstreamClose(): void {
    // what the dyno sent is flushed to the client, then its connection ends too
    this.client.end();
    this.done();
  }

  /** the client's connection closed, the router closes, or the tunnel idled too long */
  close(): void {
    this.up.destroy();
    this.client.destroy();
    this.done();
  }

  private done(): void {
    if (!this.open) return;
    this.open = false;
    this.core.tunnels--;
  }
}
