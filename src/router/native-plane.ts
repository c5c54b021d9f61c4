import * as fs from 'node:fs';
import * as net from 'node:net';
import { DEFAULT_CIPHERS } from 'node:tls';
import type { NativePlaneBackend, NativePlaneHandoff, NativePlaneStats } from '../addon';
import { DynodError } from '../errors';
import { native } from '../native';
import { CODES, type RouterCode } from './codes';
import { errorResponse } from './error-page';
import { LIMITS } from './limits';
import type { Backend, ListenAddress, RouterTimeouts } from './types';

/** The codes the native plane may end a request with (it hands everything else to JavaScript). */
const PLANE_CODES: readonly RouterCode[] = ['H12', 'H13', 'H15', 'H17', 'H18', 'H19', 'H21', 'H27'];

/** Where the plane reaches a dyno: inside its network namespace, or an address dynod's own reaches. */
export interface BackendTarget {
  /** the dyno's PID 1 pidfd (its network namespace), or null */
  pidfd: number | null;
  host: string;
  port: number;
}

/** A connection the plane hands to the JavaScript router: for TLS, a socketpair end carrying the client's plain bytes. */
export interface PlaneHandoff {
  sock: net.Socket;
  bytes: Buffer;
  proto: 'http' | 'https';
  /** the listener's port (X-Forwarded-Port) */
  port: number;
  ip: string;
  /** the dyno the plane failed to connect to before handing over (quarantined now), and how long it tried */
  tried: { backend: Backend; connectMs: number } | null;
}

/** The TLS listener the plane serves: its address, certificate and key (PEM). */
export interface PlaneTls extends ListenAddress {
  cert: string;
  key: string;
}

/**
 * The router's native data plane (native/router-plane.h): HTTP and HTTPS requests
 * served on epoll threads of the addon, with this router's rules, headers, codes and
 * lines; what it does not take whole (see the header) comes back as a client connection
 * for the JavaScript router, before any byte of it reached a dyno.
 */
export class NativePlane {
  private id = 0;
  private log: (line: string) => void = () => {};
  /** 1 while JavaScript has requests waiting for room (the plane then reports each slot it frees) */
  waitFlag: BigInt64Array | null = null;
  private readonly ids = new WeakMap<Backend, number>();
  private nextId = 1;
  /** the list the plane has, and its counters: the same list again is no call */
  private sent: { list: Backend[]; counters: Map<Backend, BigInt64Array> } | null = null;

  /**
   * Listens on every address and the TLS one (threads sockets each, one SO_REUSEPORT
   * group per address), then starts the threads. The ports as bound, the TLS one last.
   */
  static start(
    addresses: readonly ListenAddress[],
    tls: PlaneTls | null,
    threads: number,
    maxInFlight: number,
    t: RouterTimeouts,
    log: (line: string) => void,
    handoff: (h: PlaneHandoff) => void,
    slotFreed: () => void,
  ): { plane: NativePlane; ports: number[] } {
    const fds: number[] = [];
    const fdPorts: number[] = [];
    const fdTls: boolean[] = [];
    const ports: number[] = [];
    const addon = native();
    try {
      const all: [ListenAddress, boolean][] = addresses.map((a) => [a, false]);
      if (tls !== null) all.push([tls, true]);
      for (const [a, isTls] of all) {
        let l: { fds: number[]; port: number };
        try {
          l = addon.planeListen(a.host, a.port, threads, isTls ? 'https' : 'http');
        } catch (e) {
          throw DynodError.from(e, `router: listen on ${a.host}:${a.port} (${isTls ? 'https' : 'http'})`);
        }
        for (const fd of l.fds) {
          fds.push(fd);
          fdPorts.push(l.port);
          fdTls.push(isTls);
        }
        ports.push(l.port);
      }
      const plane = new NativePlane();
      plane.log = log;
      plane.id = addon.planeStart(
        {
          listen: fds,
          ports: fdPorts,
          tls: fdTls,
          tlsCert: tls?.cert ?? '',
          tlsKey: tls?.key ?? '',
          // the JavaScript listener's (Node's default); node:tls is loaded only for a TLS listener
          tlsCiphers: tls ? DEFAULT_CIPHERS : '',
          threads,
          maxInFlight,
          headerNameMax: LIMITS.headerName,
          maxHeaders: LIMITS.headers,
          // whole ms (the router takes fractions)
          timeouts: {
            connect: Math.ceil(t.connect),
            firstByte: Math.ceil(t.firstByte),
            idle: Math.ceil(t.idle),
            quarantine: Math.ceil(t.quarantine),
            clientIdle: Math.ceil(t.clientIdle),
            poolIdle: Math.ceil(t.poolIdle),
          },
          pages: pages(),
          codes: lineParts(),
        },
        (events) => {
          for (const e of events) {
            if (typeof e === 'string') log(e);
            else if (e === 0) slotFreed();
            else plane.adopt(e, handoff);
          }
        },
      );
      // the running plane owns the listeners now
      fds.length = 0;
      try {
        plane.waitFlag = addon.planeWaitFlag(plane.id);
      } catch (e) {
        plane.stop();
        throw e;
      }
      return { plane, ports };
    } catch (e) {
      for (const fd of fds) closeQuietly(fd);
      throw DynodError.from(e, 'router: native data plane');
    }
  }

  /**
   * The dynos requests may go to now: those with a target (the others only the
   * JavaScript router reaches). Returns each one's requests in flight, both planes'.
   */
  backends(list: readonly Backend[]): Map<Backend, BigInt64Array> {
    const counters = new Map<Backend, BigInt64Array>();
    if (this.id === 0) return counters;
    // a formation's every change (a worker's too) reaches here: a web list as it was is no
    // news (its targets' pidfds would only be duplicated and closed again)
    const sent = this.sent;
    if (sent !== null && sent.list.length === list.length && list.every((b, i) => b === sent.list[i] && sent.counters.has(b) === (b.target !== undefined))) return sent.counters;
    const out: NativePlaneBackend[] = [];
    const known: Backend[] = [];
    for (const b of list) {
      const t = b.target?.() ?? null;
      if (t === null) continue;
      let id = this.ids.get(b);
      if (id === undefined) {
        id = this.nextId++;
        this.ids.set(b, id);
      }
      out.push({ id, name: b.name, pidfd: t.pidfd, host: t.host, port: t.port });
      known.push(b);
    }
    const shared = native().planeBackends(this.id, out);
    known.forEach((b, i) => counters.set(b, shared[i]!));
    this.sent = { list: [...list], counters };
    return counters;
  }

  stats(): NativePlaneStats | null {
    return this.id === 0 ? null : native().planeStats(this.id);
  }

  /** the plane's id of a backend it was given, or undefined */
  idOf(b: Backend): number | undefined {
    return this.ids.get(b);
  }

  /** Joins the threads and closes every connection and listener of the plane; its last lines are logged. */
  stop(): void {
    if (this.id === 0) return;
    const id = this.id;
    this.id = 0;
    this.waitFlag = null;
    // lines of requests the plane finished since its last delivery
    for (const line of native().planeStop(id)) this.log(line);
  }

  private adopt(h: NativePlaneHandoff, handoff: (h: PlaneHandoff) => void): void {
    if (this.id === 0) {
      closeQuietly(h.fd);
      return;
    }
    let sock: net.Socket;
    try {
      sock = new net.Socket({ fd: h.fd, readable: true, writable: true, allowHalfOpen: true });
    } catch {
      closeQuietly(h.fd);
      return;
    }
    handoff({ sock, bytes: h.bytes, proto: h.tls ? 'https' : 'http', port: h.port, ip: h.ip, tried: this.triedOf(h) });
  }

  /** The dyno a handoff names as tried, among those the plane was given last (a dyno unlisted meanwhile: null). */
  private triedOf(h: NativePlaneHandoff): PlaneHandoff['tried'] {
    if (h.triedId === undefined) return null;
    if (!Number.isSafeInteger(h.triedId) || typeof h.connectMs !== 'number') throw new TypeError(`native plane: a handoff's triedId ${String(h.triedId)} / connectMs ${String(h.connectMs)}`);
    const backend = this.sent?.list.find((b) => this.ids.get(b) === h.triedId) ?? null;
    return backend === null ? null : { backend, connectMs: h.connectMs };
  }
}

/**
 * Whether the native plane can serve TLS with this certificate and key: null if so, else
 * OpenSSL's reason. Without OpenSSL in this Node, the JavaScript listener's error is the one to give.
 */
export function planeTlsProblem(cert: string, key: string): string | null {
  if (!process.versions.openssl) return 'this Node has no OpenSSL';
  const why = native().planeTlsCheck(cert, key, DEFAULT_CIPHERS);
  return why === '' ? null : why;
}

/** The router's own error responses the plane may send, as JavaScript makes them (HTTP/1.1 clients only). */
function pages(): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const code of PLANE_CODES) {
    for (const keep of [true, false]) for (const head of [true, false]) out[`${code} ${keep ? 1 : 0} ${head ? 1 : 0}`] = errorResponse(CODES[code].status, code, keep, false, head);
  }
  return out;
}

/** log-line.ts's routerLine around the fields, per code: its start, sock= at the end, and the status logged. */
function lineParts(): Record<string, [string, string, number]> {
  const out: Record<string, [string, string, number]> = { '': ['at=info', '', 0] };
  for (const code of PLANE_CODES) {
    const info = CODES[code];
    out[code] = [`at=${info.level} code=${code} desc="${info.desc}"`, info.sock !== undefined ? ` sock=${info.sock}` : '', info.status];
  }
  return out;
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // already gone
  }
}
