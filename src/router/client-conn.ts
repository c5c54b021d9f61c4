import type * as net from 'node:net';
import { BytePipe } from './bytepipe';
import type { ClientConnLike } from './client-side';
import type { RouterCore } from './core';
import { errorResponse } from './error-page';
import { Exchange, Pause } from './exchange';
import { clientAddress, upgradeHead } from './forward-headers';
import { READ_AHEAD_MAX } from './limits';
import { routerLine } from './log-line';
import { HeadError, leadingBlankLines, parseRequestHead } from './request-head';
import { requestId } from './request-id';
import type { ResponseHead } from './response-head';
import type { Backend } from './types';
import type { UpConn } from './upstream';

/**
 * One client connection: requests parsed from its bytes and served one at a time, in
 * order (pipelined requests wait, read ahead up to a bound), keep-alive between them,
 * and a byte pipe after an upgrade.
 */
export class ClientConn implements ClientConnLike {
  readonly ip: string;
  ex: Exchange | null = null;
  pipe: BytePipe | null = null;
  /** handed over by the native plane after its connect to this dyno failed: the first request's first attempt */
  tried: { backend: Backend; connectMs: number } | null = null;
  ticks = 0;
  /** for the sweep: ticks at its last look, and since when they have not moved */
  seenTicks = -1;
  quietSince = 0;
  private buf: Buffer | null = null;
  private scan = 0;
  private paused = 0;
  private inNext = false;
  private readEnded = false;
  /** no more requests: the connection ends once written */
  private closing = false;
  closed = false;

  constructor(
    readonly sock: net.Socket,
    private readonly core: RouterCore,
    readonly proto: 'http' | 'https',
    readonly port: number,
    private readonly onClosed: (c: ClientConn) => void,
    /** the client's address when sock is not the client's own socket (the native plane's TLS relay) */
    ip?: string,
  ) {
    this.ip = ip ?? clientAddress(sock.remoteAddress);
    this.quietSince = performance.now();
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('end', () => this.onEnd());
    sock.on('drain', () => this.onDrain());
    sock.on('error', () => {});
    sock.on('close', () => this.onClose());
  }

  write(b: Buffer): boolean {
    return this.sock.write(b);
  }

  /** Bytes read from the socket before this connection had it (the native plane's). */
  feed(d: Buffer): void {
    if (d.length > 0) this.onData(d);
  }

  pause(reason: number): void {
    if (this.paused === 0) this.sock.pause();
    this.paused |= reason;
  }

  unpause(reason: number): void {
    if ((this.paused & reason) === 0) return;
    this.paused &= ~reason;
    if (this.paused === 0 && !this.closing) this.sock.resume();
  }

  isPaused(reason: number): boolean {
    return (this.paused & reason) !== 0;
  }

  destroy(): void {
    this.closing = true;
    this.sock.destroy();
  }

  /** ends the connection once what was written is sent */
  end(): void {
    this.closing = true;
    this.sock.end();
  }

  private onData(d: Buffer): void {
    this.ticks++;
    if (this.pipe !== null) {
      this.pipe.fromClient(d);
      return;
    }
    if (this.closing) return;
    let off = 0;
    const ex = this.ex;
    if (ex !== null && !ex.reqDone) {
      off = ex.takeBody(d, 0);
      if (off >= d.length) return;
    }
    const rest = off === 0 ? d : d.subarray(off);
    this.buf = this.buf === null ? rest : Buffer.concat([this.buf, rest]);
    if (this.ex === null) this.next();
    else if (this.buf.length > READ_AHEAD_MAX) this.pause(Pause.Ahead);
  }

  /** Serves the requests read so far, one at a time. */
  private next(): void {
    if (this.inNext) return;
    this.inNext = true;
    try {
      while (this.ex === null && this.buf !== null && !this.closing) {
        let buf = this.buf;
        if (this.scan === 0) {
          const skip = leadingBlankLines(buf);
          if (skip > 0) {
            if (skip === buf.length) {
              this.buf = null;
              break;
            }
            buf = this.buf = buf.subarray(skip);
          }
        }
        const r = parseRequestHead(buf, this.scan);
        if (r === null) {
          this.scan = Math.max(0, buf.length - 3);
          break;
        }
        this.scan = 0;
        if (r instanceof HeadError) {
          this.buf = null;
          this.refuse(r);
          break;
        }
        this.core.requests++;
        const ex = new Exchange(this, this.core, r);
        this.ex = ex;
        if (this.tried !== null) {
          ex.triedBefore(this.tried.backend, this.tried.connectMs);
          this.tried = null;
        }
        let rest: Buffer | null = r.end < buf.length ? buf.subarray(r.end) : null;
        if (rest !== null && !ex.reqDone) {
          const used = ex.takeBody(rest, 0);
          rest = used < rest.length ? rest.subarray(used) : null;
        }
        this.buf = rest;
        ex.route();
      }
    } finally {
      this.inNext = false;
    }
    if (this.ex === null && this.pipe === null && !this.closing) {
      this.unpause(Pause.Ahead | Pause.Upstream | Pause.Hold);
      // the client sent its last request and half-closed: done once it is answered
      if (this.readEnded) this.end();
    }
  }

  exchangeDone(ex: Exchange): void {
    if (this.ex !== ex) return;
    this.ex = null;
    if (ex.closeAfter) {
      this.end();
      return;
    }
    if (!this.inNext) this.next();
  }

  upgraded(ex: Exchange, head: ResponseHead, up: UpConn, rest: Buffer | null): void {
    if (this.ex !== ex || this.closing) {
      up.destroy();
      return;
    }
    this.ex = null;
    this.write(Buffer.from(upgradeHead(head), 'latin1'));
    if (rest !== null) this.write(rest);
    this.pipe = new BytePipe(this, up, this.core);
    // bytes the client sent after its upgrade request belong to the new protocol
    const ahead = this.buf;
    this.buf = null;
    if (ahead !== null) this.pipe.fromClient(ahead);
    this.unpause(Pause.Ahead | Pause.Hold);
    if (this.readEnded) this.pipe.clientEnded();
  }

  /** A request the router will not pass on: H26 with its status, and the connection closes. */
  private refuse(e: HeadError): void {
    this.core.log(
      routerLine({
        code: 'H26',
        cause: e.cause,
        method: e.method,
        path: e.target,
        host: e.host,
        // a line of Heroku's always names a request: this one never reached a dyno, nor its id
        requestId: requestId(''),
        fwd: this.ip,
        dyno: '',
        connect: -1,
        service: -1,
        status: e.status,
        bytes: -1,
        protocol: this.proto,
      }),
    );
    this.write(errorResponse(e.status, 'H26', false, false, e.method === 'HEAD'));
    this.end();
  }

  private onEnd(): void {
    this.readEnded = true;
    if (this.pipe !== null) {
      this.pipe.clientEnded();
      return;
    }
    // a client that closes its side while a request is in flight is gone (H27), as nginx
    // takes it (499): TCP cannot tell a half-close from a close until a write fails
    const ex = this.ex;
    if (ex !== null) ex.clientGone();
    else this.end();
  }

  private onDrain(): void {
    this.ticks++;
    if (this.pipe !== null) this.pipe.onClientDrain();
    else if (this.ex !== null) this.ex.onClientDrain();
  }

  private onClose(): void {
    this.closed = true;
    this.closing = true;
    const ex = this.ex;
    this.ex = null;
    if (ex !== null) {
      if (this.core.closed) ex.abort();
      else ex.clientGone();
    }
    if (this.pipe !== null) this.pipe.close();
    this.onClosed(this);
  }

  /** The sweep's look: timeouts of the exchange, the tunnel, or the idle connection. */
  check(now: number): void {
    if (this.ticks !== this.seenTicks) {
      this.seenTicks = this.ticks;
      this.quietSince = now;
    }
    const quiet = now - this.quietSince;
    if (this.pipe !== null) {
      if (quiet >= this.core.t.idle) this.pipe.close();
    } else if (this.ex !== null) {
      this.ex.check(now, quiet);
    } else if (quiet >= this.core.t.clientIdle) {
      this.destroy();
    }
  }
}
