import type { Exchange } from './exchange';
import type { ResponseHead } from './response-head';
import type { UpConn } from './upstream';

/** What an exchange needs of the client's connection it serves. */
export interface ClientConnLike {
  /** the client's address (X-Forwarded-For, fwd=) */
  readonly ip: string;
  readonly proto: 'http' | 'https';
  /** the router port the client connected to (X-Forwarded-Port) */
  readonly port: number;
  /** counts bytes moving either way, for the idle timeouts */
  ticks: number;
  write(b: Buffer): boolean;
  pause(reason: number): void;
  unpause(reason: number): void;
  isPaused(reason: number): boolean;
  destroy(): void;
  /** the exchange is over (response complete or error page written) */
  exchangeDone(ex: Exchange): void;
  /** the dyno answered 101: the connection becomes a byte pipe to it */
  upgraded(ex: Exchange, head: ResponseHead, up: UpConn, rest: Buffer | null): void;
}
