import * as net from 'node:net';
import * as os from 'node:os';
import * as tls from 'node:tls';
import { DynodError, UsageError } from '../errors';
import { ClientConn } from './client-conn';
import { RouterCore } from './core';
import { BACKLOG_PER_DYNO, DEFAULT_TIMEOUTS, MAX_IN_FLIGHT_PER_DYNO } from './limits';
import { NativePlane, type PlaneHandoff, type PlaneTls, planeTlsProblem } from './native-plane';
import type { ListenAddress, RouterOptions, RouterStats, RouterTimeouts } from './types';

/** A listening address of the router, once listen() resolved. */
export interface RouterAddress {
  protocol: 'http' | 'https';
  host: string;
  port: number;
}

/**
 * Heroku's router in front of a formation's web dynos: one port (or several, and
 * HTTPS), each request to a random up web dyno, Heroku's headers, limits, timeouts,
 * H-codes and router lines. A library: the formation gives it a BackendSource and a
 * log sink.
 */
export class Router {
  private readonly core: RouterCore;
  private readonly opts: RouterOptions;
  private readonly servers: net.Server[] = [];
  private readonly bound: RouterAddress[] = [];
  private readonly conns = new Set<ClientConn>();
  /** TLS connections before their handshake ends */
  private readonly handshaking = new Set<net.Socket>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private plane: NativePlane | null = null;
  /** the native plane terminates TLS too (else a JavaScript TLS listener does) */
  private planeTls = false;
  private unsubscribe: (() => void) | null = null;
  private listening = false;
  private closing: Promise<void> | null = null;

  constructor(opts: RouterOptions) {
    checkOptions(opts);
    this.opts = opts;
    const t: RouterTimeouts = { ...DEFAULT_TIMEOUTS, ...definedOnly(opts.timeouts ?? {}) };
    this.core = new RouterCore(
      opts.source,
      t,
      opts.log,
      opts.maxInFlightPerDyno ?? MAX_IN_FLIGHT_PER_DYNO,
      opts.backlogPerDyno ?? BACKLOG_PER_DYNO,
      opts.random ?? Math.random,
    );
  }

  /** Listens on every address (and the TLS one); fails as a whole if one cannot be had. */
  async listen(): Promise<void> {
    if (this.listening || this.closing !== null) throw new UsageError('router: listen() may be called once, before close()');
    this.listening = true;
    this.unsubscribe = this.opts.source.onChange(() => this.refresh());
    this.core.refresh();
    try {
      if (this.usesPlane()) this.startPlane();
      else for (const a of this.opts.listen) await this.listenOne(a, 'http');
      if (this.opts.tls !== undefined && !this.planeTls) await this.listenOne(this.opts.tls, 'https');
    } catch (e) {
      await this.close();
      throw e;
    }
    const t = this.core.t;
    const every = Math.min(500, Math.max(5, Math.min(t.firstByte, t.idle, t.boot, t.clientIdle, t.poolIdle) / 10));
    this.sweepTimer = setInterval(() => this.sweep(), every);
    this.sweepTimer.unref();
  }

  /** Where the router listens (ports as bound: a port 0 asked for becomes the one given). */
  addresses(): RouterAddress[] {
    return this.bound.map((a) => ({ ...a }));
  }

  /**
   * The dynos of this name get no new request from now on (their requests in flight
   * finish; their idle connections close), until the source lists other dynos of that name.
   */
  drain(name: string): void {
    if (this.closing !== null) return;
    this.core.checkout.drain(name, this.opts.source.backends());
    this.sharePlane();
  }

  stats(): RouterStats {
    const now = performance.now();
    const p = this.plane?.stats() ?? null;
    return {
      connections: this.conns.size + (p?.connections ?? 0),
      requests: this.core.requests + (p?.requests ?? 0),
      nativeRequests: p?.requests ?? 0,
      waiting: this.core.checkout.waiting + this.core.bootWaiters.size,
      tunnels: this.core.tunnels,
      // requests in flight and quarantines are both planes' through the shared counters; pooled connections are each plane's
      backends: this.core.checkout.states().map((s) => {
        const id = this.plane?.idOf(s.backend);
        const n = id === undefined ? undefined : p?.backends.find((b) => b.id === id);
        return { name: s.backend.name, inFlight: s.busy(), idleConnections: s.idle.length + (n?.idleConnections ?? 0), quarantined: s.quarantined(now) };
      }),
    };
  }

  /** Stops listening and closes every connection, client and dyno side; leaves no timer or fd. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const core = this.core;
    core.closed = true;
    core.checkout.waitFlag = null;
    this.plane?.stop();
    this.plane = null;
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    core.connector.close();
    core.bootWaiters.clear();
    const waits: Promise<void>[] = [];
    for (const s of this.servers) waits.push(new Promise<void>((r) => s.close(() => r())));
    for (const s of [...this.handshaking]) {
      waits.push(closed(s));
      s.destroy();
    }
    for (const c of [...this.conns]) {
      if (!c.closed) waits.push(closed(c.sock));
      c.destroy();
    }
    for (const u of [...core.upstreams]) {
      if (!u.closed) waits.push(closed(u.sock));
      u.destroy();
    }
    core.checkout.retireAll();
    await Promise.all(waits);
    this.servers.length = 0;
    this.bound.length = 0;
  }

  /** The source changed: both planes learn the dynos there are now. */
  private refresh(): void {
    this.core.refresh();
    this.sharePlane();
  }

  /** The native plane learns the dynos listed now; each one's count of requests in flight becomes both planes'. */
  private sharePlane(): void {
    if (this.plane === null) return;
    const states = this.core.checkout.states();
    const counters = this.plane.backends(states.map((s) => s.backend));
    for (const s of states) {
      const c = counters.get(s.backend) ?? null;
      // a dyno the plane did not know yet: the JavaScript router's requests in flight carry
      // over to the shared count (a new view of a known dyno is the same memory)
      if (c !== null && s.shared === null && s.inFlight > 0) Atomics.add(c, 0, BigInt(s.inFlight));
      s.shared = c;
    }
  }

  /** The native plane serves plain HTTP unless told not to, or a test's random source must decide every pick. */
  private usesPlane(): boolean {
    const want = this.opts.plane ?? (process.env.DYNOD_ROUTER_PLANE === 'js' ? 'js' : 'native');
    return want === 'native' && this.opts.random === undefined;
  }

  /** The TLS listener for the native plane, when there is one and the plane's OpenSSL takes its certificate. */
  private planeTlsOptions(): PlaneTls | null {
    const o = this.opts.tls;
    if (o === undefined) return null;
    const cert = pemText(o.cert);
    const key = pemText(o.key);
    asUsageError(() => tls.createSecureContext({ cert, key })); // the JavaScript listener's check, its one line
    return planeTlsProblem(cert, key) === null ? { host: o.host, port: o.port, cert, key } : null;
  }

  private startPlane(): void {
    const t = this.core.t;
    const threads = this.opts.planeThreads ?? Math.min(2, os.availableParallelism());
    const planeTls = this.planeTlsOptions();
    const { plane, ports } = NativePlane.start(
      this.opts.listen,
      planeTls,
      threads,
      this.opts.maxInFlightPerDyno ?? MAX_IN_FLIGHT_PER_DYNO,
      t,
      this.opts.log,
      (h) => this.adopt(h),
      () => this.core.checkout.pump(performance.now()),
    );
    this.plane = plane;
    this.planeTls = planeTls !== null;
    this.core.checkout.waitFlag = plane.waitFlag;
    this.opts.listen.forEach((a, i) => this.bound.push({ protocol: 'http', host: a.host, port: ports[i]! }));
    if (planeTls !== null) this.bound.push({ protocol: 'https', host: planeTls.host, port: ports[ports.length - 1]! });
    this.sharePlane();
  }

  /** A connection the native plane handed over, with the bytes it read. */
  private adopt(h: PlaneHandoff): void {
    if (this.core.closed) {
      h.sock.destroy();
      return;
    }
    const c = new ClientConn(h.sock, this.core, h.proto, h.port, (gone) => this.conns.delete(gone), h.ip);
    this.conns.add(c);
    if (h.tried !== null) c.tried = h.tried;
    c.feed(h.bytes);
  }

  private listenOne(a: ListenAddress | RouterOptions['tls'] & object, protocol: 'http' | 'https'): Promise<void> {
    let port = a.port;
    const onSocket = (sock: net.Socket) => {
      if (this.core.closed) {
        sock.destroy();
        return;
      }
      const c = new ClientConn(sock, this.core, protocol, port, (gone) => this.conns.delete(gone));
      this.conns.add(c);
    };
    let server: net.Server;
    if (protocol === 'https') {
      const t = a as NonNullable<RouterOptions['tls']>;
      // not half-open: a client that sends FIN during the handshake would hold its socket
      server = asUsageError(() => tls.createServer({ cert: t.cert, key: t.key, allowHalfOpen: false, ALPNProtocols: ['http/1.1'] }, onSocket));
      // a failed handshake is the client's business: its socket is closed
      server.on('tlsClientError', (_e, sock: net.Socket) => sock.destroy());
      // sockets still in their handshake are no ClientConn yet: close() must find them
      server.on('connection', (sock: net.Socket) => {
        this.handshaking.add(sock);
        sock.once('close', () => this.handshaking.delete(sock));
      });
    } else {
      server = net.createServer({ allowHalfOpen: true }, onSocket);
    }
    this.servers.push(server);
    return new Promise<void>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException) => {
        reject(DynodError.from(e, `router: listen on ${a.host}:${a.port} (${protocol})`));
      };
      server.once('error', onError);
      server.listen({ port: a.port, host: a.host }, () => {
        server.off('error', onError);
        // an accept error later (EMFILE) must not throw out of the event loop
        server.on('error', () => {});
        port = (server.address() as net.AddressInfo).port;
        this.bound.push({ protocol, host: a.host, port });
        resolve();
      });
    });
  }

  private sweep(): void {
    const now = performance.now();
    for (const c of this.conns) c.check(now);
    const before = now - this.core.t.poolIdle;
    for (const s of this.core.checkout.states()) if (s.idle.length > 0) s.closeIdleBefore(before);
  }
}

/** make(), which reads the router's certificate and key with Node's TLS: when they are wrong, a UsageError naming what is. */
function asUsageError<T>(make: () => T): T {
  try {
    return make();
  } catch (e) {
    throw new UsageError(`router TLS certificate or key: ${(e as Error).message}; accepted: a PEM certificate and its PEM private key`);
  }
}

function pemText(v: string | Buffer): string {
  return typeof v === 'string' ? v : v.toString('latin1');
}

/** resolves when a socket not closed yet (its 'close' to come) has closed */
function closed(sock: net.Socket): Promise<void> {
  return new Promise<void>((r) => sock.once('close', () => r()));
}

function definedOnly(t: Partial<RouterTimeouts>): Partial<RouterTimeouts> {
  const out: Partial<RouterTimeouts> = {};
  for (const [k, v] of Object.entries(t) as [keyof RouterTimeouts, number | undefined][]) if (v !== undefined) out[k] = v;
  return out;
}

const TIMEOUT_NAMES: readonly (keyof RouterTimeouts)[] = ['connect', 'firstByte', 'idle', 'boot', 'quarantine', 'clientIdle', 'poolIdle'];

function checkOptions(o: RouterOptions): void {
  if (o === null || typeof o !== 'object') throw new UsageError('router options: accepted an object with source, log and listen');
  const src = o.source as Partial<RouterOptions['source']> | undefined;
  if (!src || typeof src.backends !== 'function' || typeof src.booting !== 'function' || typeof src.crashed !== 'function' || typeof src.onChange !== 'function') {
    throw new UsageError('router source: accepted an object with backends(), booting(), crashed() and onChange(cb)');
  }
  if (typeof o.log !== 'function') throw new UsageError('router log: accepted a function taking one line');
  if (!Array.isArray(o.listen)) throw new UsageError('router listen: accepted an array of { port, host }');
  if (o.listen.length === 0 && o.tls === undefined) throw new UsageError('router listen: no address; accepted at least one { port, host } or tls');
  for (const a of o.listen) checkAddress(a, 'router listen');
  if (o.tls !== undefined) {
    checkAddress(o.tls, 'router tls');
    for (const k of ['cert', 'key'] as const) {
      const v = o.tls[k];
      if (typeof v !== 'string' && !Buffer.isBuffer(v)) throw new UsageError(`router tls ${k}: accepted PEM text (a string or Buffer)`);
    }
  }
  for (const [k, v] of Object.entries(o.timeouts ?? {})) {
    if (!TIMEOUT_NAMES.includes(k as keyof RouterTimeouts)) throw new UsageError(`router timeout ${k}: unknown; accepted ${TIMEOUT_NAMES.join(', ')}`);
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)) throw new UsageError(`router timeout ${k} ${String(v)}: accepted milliseconds above 0`);
  }
  for (const k of ['maxInFlightPerDyno', 'backlogPerDyno'] as const) {
    const v = o[k];
    if (v !== undefined && (!Number.isSafeInteger(v) || v < (k === 'backlogPerDyno' ? 0 : 1))) {
      throw new UsageError(`router ${k} ${String(v)}: accepted a whole number from ${k === 'backlogPerDyno' ? 0 : 1}`);
    }
  }
  if (o.random !== undefined && typeof o.random !== 'function') throw new UsageError('router random: accepted a function returning [0, 1)');
  if (o.plane !== undefined && o.plane !== 'native' && o.plane !== 'js') throw new UsageError(`router plane ${String(o.plane)}: accepted native or js`);
  if (o.planeThreads !== undefined && (!Number.isSafeInteger(o.planeThreads) || o.planeThreads < 1 || o.planeThreads > 64)) {
    throw new UsageError(`router planeThreads ${String(o.planeThreads)}: accepted a whole number from 1 to 64`);
  }
}

function checkAddress(a: ListenAddress, what: string): void {
  if (a === null || typeof a !== 'object') throw new UsageError(`${what}: accepted { port, host }`);
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new UsageError(`${what} port ${String(a.port)}: accepted 0 to 65535`);
  if (typeof a.host !== 'string' || net.isIP(a.host) === 0) throw new UsageError(`${what} host ${String(a.host)}: accepted an IP address (127.0.0.1, ::1, 0.0.0.0)`);
}
