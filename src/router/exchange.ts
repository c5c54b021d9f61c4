import type { BackendState } from './backend-state';
import { checkin } from './checkin';
import { NoPick } from './checkout';
import { ChunkScanner } from './chunked';
import type { ClientConnLike } from './client-side';
import { CODES, type RouterCode } from './codes';
import { connectFailureCode } from './connect';
import type { RouterCore } from './core';
import { errorResponse } from './error-page';
import { Persist, clientHead, informationalHead, upstreamHead } from './forward-headers';
import { COALESCE_MAX, HOLD_MAX, MAX_CONNECT_ATTEMPTS, REPLAY_MAX } from './limits';
import { routerLine } from './log-line';
import { Route, lookup } from './lookup';
import { Body, type RequestHead } from './request-head';
import { requestId } from './request-id';
import { ResBody, ResponseError, ResponseHead, parseResponseHead, responseBody } from './response-head';
import type { Backend } from './types';
import type { UpConn, UpstreamUser } from './upstream';

const enum Phase {
  New,
  /** waiting for a booting dyno */
  WaitBoot,
  /** waiting in the backlog for room on a dyno */
  WaitRoom,
  Connecting,
  /** on a connection to a dyno: request going out, response coming back */
  Sent,
  Done,
}

/** Why reading from the client is paused; reading resumes when no reason is left. */
export const enum Pause {
  /** the dyno's connection does not take more now */
  Upstream = 1,
  /** body bytes held while a connection is being made */
  Hold = 2,
  /** requests read ahead of the one being served (pipelining) */
  Ahead = 4,
}


/**
 * One request and its response, vegur's pipeline: lookup (is there a web dyno at all),
 * checkout (a random one with room, else the backlog), connect (a pooled connection, or
 * a new one with quarantine and retry on another dyno), the exchange itself (bodies
 * streamed both ways with backpressure, framing followed to know where each ends),
 * checkin (the connection back to the pool), and the router line. Any failure on the
 * way becomes Heroku's code and, when nothing was sent to the client yet, its error page.
 */
export class Exchange implements UpstreamUser {
  private readonly t0 = performance.now();
  private readonly startMs = Date.now();
  private readonly requestId: string;
  private readonly fwd: string;
  private phase = Phase.New;

  /** the whole body was read from the client */
  reqDone: boolean;
  private bodyLeft = 0;
  private readonly chunks: ChunkScanner | null = null;
  /** body bytes read before a connection to a dyno was there */
  private held: Buffer[] | null = null;
  private heldBytes = 0;
  /** body bytes sent on a reused connection, for a replay on a fresh one */
  private replay: Buffer[] | null = null;
  private retried = false;
  /** the whole request was written to the dyno, at sentAt */
  private sentAll = false;
  private sentAt = 0;

  private slot: BackendState | null = null;
  private tried: BackendState[] | null = null;
  private attempts = 0;
  private attempt = 0;
  private lastCode: RouterCode = 'H21';
  private dyno = '';
  private up: UpConn | null = null;
  private connectMs = -1;
  private connectT0 = 0;
  private dispatchT = -1;
  private waitUntil = 0;
  /** when it entered the backlog: t0 + the first-byte timeout, which the time there counts toward */
  private roomDeadline = Infinity;

  private resBuf: Buffer | null = null;
  private resScan = 0;
  private res: ResponseHead | null = null;
  private resKind = ResBody.None;
  private resLeft = 0;
  private resChunks: ChunkScanner | null = null;
  private dechunk = false;
  private gotByte = false;
  private headSent = false;
  private upReusable = false;
  /** the client waits: the dyno's connection is paused until the client drains */
  private clientBlocked = false;
  private status = 0;
  private bytes = 0;
  /** the client's connection closes after this exchange */
  closeAfter: boolean;

  constructor(
    private readonly conn: ClientConnLike,
    private readonly core: RouterCore,
    readonly head: RequestHead,
  ) {
    this.requestId = requestId(head.requestId);
    this.fwd = head.forwardedFor === '' ? conn.ip : `${head.forwardedFor}, ${conn.ip}`;
    this.closeAfter = !head.keepAlive;
    this.reqDone = head.body === Body.None;
    if (head.body === Body.Length) this.bodyLeft = head.length;
    else if (head.body === Body.Chunked) this.chunks = new ChunkScanner();
  }

  /**
   * The native plane's connect to this dyno failed (it is quarantined) before it handed the
   * request over: that was the first attempt, so a line without another dyno's answer names
   * it and its connect time, as Heroku's H19 and H21 lines do.
   */
  triedBefore(backend: Backend, connectMs: number): void {
    const state = this.core.checkout.states().find((s) => s.backend === backend);
    if (state === undefined) return;
    this.tried = [state];
    this.attempts = 1;
    this.lastCode = state.quarantineCode;
    this.dyno = backend.name;
    this.connectMs = connectMs;
  }

  // ---------------------------------------------------------------- the request body

  /** Takes the body bytes of d from off on; returns the offset past them (where a next request starts). */
  takeBody(d: Buffer, off: number): number {
    if (this.reqDone) return off;
    let end: number;
    if (this.chunks === null) {
      end = off + Math.min(this.bodyLeft, d.length - off);
      this.bodyLeft -= end - off;
      if (this.bodyLeft === 0) this.reqDone = true;
    } else {
      end = this.chunks.scan(d, off, d.length);
      if (end < 0) {
        this.fail('H26', 400, 'bad chunked request body');
        return d.length;
      }
      if (this.chunks.done) this.reqDone = true;
    }
    if (end > off && this.phase !== Phase.Done) this.sendBody(off === 0 && end === d.length ? d : d.subarray(off, end));
    return end;
  }

  private sendBody(b: Buffer): void {
    if (this.phase === Phase.Sent) {
      if (this.replay !== null) this.replay.push(b);
      const ok = this.up!.sock.write(b);
      if (this.reqDone) this.requestSent(performance.now());
      if (!ok) this.conn.pause(Pause.Upstream);
      return;
    }
    (this.held ??= []).push(b);
    this.heldBytes += b.length;
    if (this.heldBytes > HOLD_MAX) this.conn.pause(Pause.Hold);
  }

  private requestSent(now: number): void {
    this.sentAll = true;
    this.sentAt = now;
  }

  // ---------------------------------------------------------------- lookup, checkout, connect

  /** Starts routing (again, after a wait: now is when). */
  route(now = this.t0): void {
    if (this.phase === Phase.Done || this.core.closed) return;
    switch (lookup(this.core.checkout.listed, this.core.source)) {
      case Route.Dyno:
        this.checkoutDyno(now);
        return;
      case Route.Boot:
        if (this.phase !== Phase.WaitBoot) this.waitUntil = this.t0 + this.core.t.boot;
        this.phase = Phase.WaitBoot;
        this.core.bootWaiters.add(this);
        return;
      case Route.Crashed:
        this.fail('H10');
        return;
      case Route.None:
        this.fail('H14');
        return;
    }
  }

  /** the backlog or the boot wait lets this request try again */
  resume(): void {
    const now = performance.now();
    // its 30 s ran out in the backlog: H12 now, not a request sent to a dyno nobody waits for
    if (this.phase === Phase.WaitRoom && now >= this.waitUntil) return this.fail('H12');
    if (this.phase === Phase.WaitRoom || this.phase === Phase.WaitBoot) this.route(now);
  }

  private checkoutDyno(now: number): void {
    const picked = this.core.checkout.pick(this.tried, now);
    if (typeof picked === 'number') {
      if (picked === NoPick.Full) {
        if (!this.core.checkout.enqueue(this)) {
          this.fail('H11');
          return;
        }
        if (this.phase !== Phase.WaitRoom) this.waitUntil = this.roomDeadline = this.t0 + this.core.t.firstByte;
        this.phase = Phase.WaitRoom;
      } else if (picked === NoPick.Quarantined) {
        this.fail(this.attempts > 0 ? this.lastCode : this.core.checkout.quarantineCode(this.tried));
      } else {
        this.fail(this.lastCode);
      }
      return;
    }
    this.slot = picked;
    this.dyno = picked.backend.name;
    this.attempts++;
    // a body that cannot be replayed never goes on a connection the dyno may have closed meanwhile
    const fresh = this.head.body === Body.Chunked || this.head.length > REPLAY_MAX;
    const up = fresh ? null : picked.takeIdle();
    if (up !== null) {
      if (this.connectMs < 0) this.connectMs = 0;
      this.attach(up, now);
    } else {
      this.connect(picked);
    }
  }

  private connect(state: BackendState): void {
    this.phase = Phase.Connecting;
    this.connectT0 = performance.now();
    const attempt = ++this.attempt;
    this.core.connector.open(state.backend, this.core.t.connect).then(
      (sock) => {
        if (attempt !== this.attempt || this.phase !== Phase.Connecting || this.core.closed) {
          sock.destroy();
          return;
        }
        const now = performance.now();
        this.connectMs = Math.max(this.connectMs, 0) + now - this.connectT0;
        this.attach(this.core.adopt(sock, state), now);
      },
      (err: unknown) => {
        if (attempt !== this.attempt || this.phase !== Phase.Connecting || this.core.closed) return;
        const now = performance.now();
        this.connectMs = Math.max(this.connectMs, 0) + now - this.connectT0;
        this.connectFailed(state, connectFailureCode(err), now);
      },
    );
  }

  /** quarantine the dyno, try another (Heroku: up to 10, or as many as there are) */
  private connectFailed(state: BackendState, code: RouterCode, now: number): void {
    state.quarantine(now + this.core.t.quarantine, code);
    this.lastCode = code;
    this.releaseSlot(now);
    (this.tried ??= []).push(state);
    if (this.attempts >= MAX_CONNECT_ATTEMPTS) {
      this.fail(code);
      return;
    }
    this.checkoutDyno(now);
  }

  /** On a connection: the head and what body there is go out. */
  private attach(up: UpConn, now: number): void {
    this.phase = Phase.Sent;
    this.up = up;
    up.user = this;
    const reused = up.uses > 0;
    up.uses++;
    this.replay = reused ? [] : null;
    if (this.dispatchT < 0) this.dispatchT = now;
    const head = upstreamHead(this.head, this.requestId, this.fwd, this.conn.proto, this.conn.port, this.startMs);
    const held = this.held;
    this.held = null;
    let ok: boolean;
    if (held === null) {
      ok = up.sock.write(head, 'latin1');
    } else {
      this.heldBytes = 0;
      if (this.replay !== null) for (const b of held) this.replay.push(b);
      if (held.length === 1 && held[0]!.length <= COALESCE_MAX) {
        ok = up.sock.write(withHead(head, held[0]!, 0, held[0]!.length));
      } else {
        up.sock.cork();
        up.sock.write(head, 'latin1');
        for (const b of held) up.sock.write(b);
        up.sock.uncork();
        ok = up.sock.writableLength === 0;
      }
      this.conn.unpause(Pause.Hold);
    }
    if (this.reqDone) this.requestSent(now);
    if (!ok) this.conn.pause(Pause.Upstream);
  }

  // ---------------------------------------------------------------- the response

  onUpstreamData(d: Buffer): void {
    this.conn.ticks++;
    if (this.phase !== Phase.Sent) return;
    this.gotByte = true;
    this.replay = null;
    if (this.res !== null) {
      this.relay(d, 0, null);
      return;
    }
    let buf = this.resBuf === null ? d : Buffer.concat([this.resBuf, d]);
    for (;;) {
      const r = parseResponseHead(buf, this.resScan);
      if (r === null) {
        this.resBuf = buf;
        this.resScan = Math.max(0, buf.length - 3);
        return;
      }
      this.resScan = 0;
      if (r instanceof ResponseError) {
        this.fail('H17', 0, r.cause);
        return;
      }
      if (r.status >= 200 || r.status === 101) {
        this.resBuf = null;
        if (r.status === 101) this.upgrade(r, buf);
        else this.respond(r, buf);
        return;
      }
      // 1xx to HTTP/1.1 clients, also a 100 Continue nobody asked for: a proxy passes on every
      // 1xx it did not ask for (RFC 9110 §15.2; vegur: "older HTTP 1.1 servers may send these")
      if (this.head.minor === 1) this.conn.write(Buffer.from(informationalHead(r), 'latin1'));
      if (r.end === buf.length) {
        this.resBuf = null;
        return;
      }
      buf = buf.subarray(r.end);
    }
  }

  private respond(r: ResponseHead, buf: Buffer): void {
    this.res = r;
    this.status = r.status;
    const kind = responseBody(r, this.head.method);
    this.resKind = kind;
    this.upReusable = r.keepAlive && kind !== ResBody.Close;
    this.dechunk = kind === ResBody.Chunked && this.head.minor === 0;
    // an answer before the whole body came (an early 413, say): the rest of the body is not read
    if (!this.reqDone || kind === ResBody.Close || this.dechunk) this.closeAfter = true;
    if (kind === ResBody.Length) this.resLeft = r.length;
    else if (kind === ResBody.Chunked) this.resChunks = new ChunkScanner();
    const persist = this.closeAfter ? Persist.Close : this.head.minor === 0 ? Persist.KeepAlive : Persist.Default;
    this.headSent = true;
    this.relay(buf, r.end, clientHead(r, this.dechunk, persist));
  }

  /** Passes on the response's bytes in buf from off (after its head, when given), following its framing. */
  private relay(buf: Buffer, off: number, head: string | null): void {
    let end: number;
    let complete = false;
    switch (this.resKind) {
      case ResBody.None:
        end = off;
        complete = true;
        break;
      case ResBody.Length: {
        end = off + Math.min(this.resLeft, buf.length - off);
        this.resLeft -= end - off;
        complete = this.resLeft === 0;
        break;
      }
      case ResBody.Chunked:
        if (this.dechunk) {
          this.relayDechunked(buf, off, head);
          return;
        }
        end = this.resChunks!.scan(buf, off, buf.length);
        if (end < 0) {
          this.fail('H17', 0, 'bad chunked response body');
          return;
        }
        complete = this.resChunks!.done;
        break;
      default:
        end = buf.length;
        break;
    }
    // bytes past the response: the dyno's connection cannot be trusted again
    if (end < buf.length) this.upReusable = false;
    let ok = true;
    const n = end - off;
    if (head !== null) {
      if (n > 0 && n <= COALESCE_MAX) {
        ok = this.conn.write(withHead(head, buf, off, end));
      } else {
        ok = this.conn.write(Buffer.from(head, 'latin1'));
        if (n > 0) ok = this.conn.write(off === 0 && end === buf.length ? buf : buf.subarray(off, end));
      }
      this.bytes += head.length + n;
    } else if (n > 0) {
      ok = this.conn.write(off === 0 && end === buf.length ? buf : buf.subarray(off, end));
      this.bytes += n;
    }
    if (complete) this.finish();
    else if (!ok) this.blockOnClient();
  }

  /** chunked to an HTTP/1.0 client: the chunk data alone, the end of the response is the close */
  private relayDechunked(buf: Buffer, off: number, head: string | null): void {
    let ok = true;
    if (head !== null) {
      ok = this.conn.write(Buffer.from(head, 'latin1'));
      this.bytes += head.length;
    }
    const end = this.resChunks!.scan(buf, off, buf.length, (b, from, to) => {
      ok = this.conn.write(b.subarray(from, to));
      this.bytes += to - from;
    });
    if (end < 0) {
      this.fail('H17', 0, 'bad chunked response body');
      return;
    }
    if (this.resChunks!.done) this.finish();
    else if (!ok) this.blockOnClient();
  }

  private blockOnClient(): void {
    this.clientBlocked = true;
    this.up!.sock.pause();
  }

  onClientDrain(): void {
    if (this.clientBlocked && this.up !== null) {
      this.clientBlocked = false;
      this.up.sock.resume();
    }
  }

  onUpstreamDrain(): void {
    this.conn.ticks++;
    this.conn.unpause(Pause.Upstream);
  }

  /** A 101: the client's connection and the dyno's become one byte pipe. */
  private upgrade(r: ResponseHead, buf: Buffer): void {
    if (this.head.upgrade === '') {
      this.fail('H17', 0, '101 to a request without Upgrade');
      return;
    }
    this.status = 101;
    this.headSent = true;
    const up = this.up!;
    this.up = null;
    up.user = null;
    this.phase = Phase.Done;
    const now = performance.now();
    const rest = r.end < buf.length ? buf.subarray(r.end) : null;
    this.bytes += r.end;
    this.releaseSlot(now);
    this.logLine(null, now);
    this.conn.upgraded(this, r, up, rest);
  }

  onUpstreamEnd(): void {
    if (this.phase !== Phase.Sent) return;
    // a response without length ends with the connection
    if (this.res !== null && this.resKind === ResBody.Close) {
      this.upReusable = false;
      this.finish();
      return;
    }
    this.upstreamGone();
  }

  onUpstreamClose(): void {
    if (this.phase === Phase.Sent) this.upstreamGone();
  }

  /**
   * The dyno closed before the response was complete. A reused connection that
   * closed before a byte came back is the keep-alive race (the dyno closed it while it
   * idled): the request goes again, once, on a fresh connection, if sending it twice is
   * safe (see retryable). Else H13 (nothing came back) or H18 (the request or the
   * response cut short).
   */
  private upstreamGone(): void {
    const up = this.up;
    this.up = null;
    if (up !== null) up.destroy();
    if (!this.gotByte) {
      if (this.replay !== null && !this.retried && this.slot !== null && retryable(this.head.method, up?.reset ?? false)) {
        this.retried = true;
        this.held = this.replay.length > 0 ? this.replay : null;
        this.heldBytes = 0;
        this.replay = null;
        this.sentAll = false;
        if (!this.slot.retired) {
          this.connect(this.slot);
          return;
        }
        // a dyno drained or gone meanwhile (being stopped): the request is routed again
        // (another dyno, or H14/H10/the boot wait as for a new one)
        const now = performance.now();
        this.releaseSlot(now);
        this.route(now);
        return;
      }
      this.fail(this.sentAll ? 'H13' : 'H18');
      return;
    }
    this.fail('H18');
  }

  /** The response is complete: the connection goes back to the pool, the slot frees, the line is logged. */
  private finish(): void {
    const now = performance.now();
    this.phase = Phase.Done;
    const up = this.up!;
    this.up = null;
    checkin(up, this.upReusable && this.reqDone && this.sentAll, now);
    this.releaseSlot(now);
    this.logLine(null, now);
    this.conn.exchangeDone(this);
  }

  // ---------------------------------------------------------------- failures, timeouts

  /** The client went away (H27) or the router is closing. */
  clientGone(): void {
    if (this.phase !== Phase.Done) this.fail('H27');
  }

  /** The router closes: no line, no answer. */
  abort(): void {
    if (this.phase === Phase.Done) return;
    this.leave();
    this.phase = Phase.Done;
  }

  /**
   * Timeouts, from the router's sweep: now in ms (performance.now()), quiet = how long
   * no byte moved on this client's connection either way.
   */
  check(now: number, quiet: number): void {
    const t = this.core.t;
    switch (this.phase) {
      case Phase.WaitBoot:
        if (now >= this.waitUntil) this.fail('H20');
        return;
      case Phase.WaitRoom:
        if (now >= this.waitUntil) this.fail('H12');
        return;
      case Phase.Sent:
        if (!this.gotByte && this.sentAll) {
          // the time in the backlog counts toward the 30 s
          if (now - this.sentAt >= t.firstByte || now >= this.roomDeadline) this.fail('H12');
        } else if (quiet >= t.idle) {
          // whoever was to move next: the client (not reading, or not sending its body) or the dyno
          const clientStalled = this.gotByte ? this.clientBlocked : !this.conn.isPaused(Pause.Upstream);
          this.fail(clientStalled ? 'H28' : 'H15');
        }
        return;
      default:
        return;
    }
  }

  /**
   * Ends the exchange with a router code: the error page when the client has not seen
   * a response head yet, else the client's connection is cut (the response is short).
   */
  fail(code: RouterCode, status = 0, cause?: string): void {
    if (this.phase === Phase.Done) return;
    this.leave();
    this.phase = Phase.Done;
    const info = CODES[code];
    this.status = status > 0 ? status : info.status;
    const now = performance.now();
    this.logLine(code, now, cause);
    if (code === 'H27' || code === 'H28' || this.headSent) {
      this.conn.destroy();
      return;
    }
    const keep = !this.closeAfter && this.reqDone;
    if (!keep) this.closeAfter = true;
    this.conn.write(errorResponse(this.status, code, keep, this.head.minor === 0, this.head.method === 'HEAD'));
    this.conn.exchangeDone(this);
  }

  /** Lets go of whatever the exchange holds: a place in a queue, a connection, a slot. */
  private leave(): void {
    this.attempt++;
    if (this.phase === Phase.WaitBoot) this.core.bootWaiters.delete(this);
    else if (this.phase === Phase.WaitRoom) this.core.checkout.dequeue(this);
    const up = this.up;
    this.up = null;
    if (up !== null) up.destroy();
    this.held = null;
    this.replay = null;
    this.releaseSlot(performance.now());
  }

  private releaseSlot(now: number): void {
    const s = this.slot;
    if (s === null) return;
    this.slot = null;
    this.core.checkout.release(s, now);
  }

  private logLine(code: RouterCode | null, now: number, cause?: string): void {
    const reached = this.dispatchT >= 0;
    const line = routerLine({
      code,
      cause,
      method: this.head.method,
      path: this.head.target,
      host: this.head.host,
      requestId: this.requestId,
      fwd: this.fwd,
      dyno: this.dyno,
      connect: this.connectMs,
      service: reached ? now - this.dispatchT : -1,
      status: this.status,
      bytes: reached ? this.bytes : -1,
      protocol: this.conn.proto,
    });
    this.core.log(line);
  }
}

/** head (latin1) and buf[from, to) in one buffer: one write, one segment */
function withHead(head: string, buf: Buffer, from: number, to: number): Buffer {
  const out = Buffer.allocUnsafe(head.length + to - from);
  out.write(head, 0, 'latin1');
  buf.copy(out, head.length, from, to);
  return out;
}

/**
 * Whether a request whose reused connection closed without an answer may go again
 * (RFC 9112 §9.3.1: never automatically for a non-idempotent method): an idempotent
 * method (RFC 9110 §9.2.2), or any when the connection was reset, the dyno's end closed
 * before our bytes came, so it read none of them. A POST the dyno read and then closed
 * on is H13, as it may have acted on it.
 */
export function retryable(method: string, reset: boolean): boolean {
  return reset || IDEMPOTENT.has(method);
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
