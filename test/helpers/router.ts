import * as fs from 'node:fs';
// Router tests without dynos: upstreams are plain servers on loopback, wrapped as backends.
import * as http from 'node:http';
import * as net from 'node:net';
import { Router, type RouterOptions } from '../../src/router/index';
import type { Backend, BackendSource } from '../../src/router/types';
import type { Test } from 'tap';

/** A backend that connects to 127.0.0.1:port (what the formation does through the dyno's namespace). */
export function tcpBackend(name: string, port: number): Backend & { connects: number } {
  const b = {
    name,
    connects: 0,
    target: () => ({ pidfd: null, host: '127.0.0.1', port }),
    connect(): Promise<net.Socket> {
      b.connects++;
      return new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => {
          s.off('error', reject);
          resolve(s);
        });
        s.once('error', reject);
      });
    },
  };
  return b;
}

/** A backend whose connect never settles (a dyno that does not answer SYNs); release() lets it fail. */
export function hangingBackend(name: string): Backend & { release(): void; pending: number } {
  const waiting: ((e: Error) => void)[] = [];
  return {
    name,
    get pending() {
      return waiting.length;
    },
    connect: () => new Promise<net.Socket>((_, reject) => waiting.push(reject)),
    release() {
      for (const r of waiting.splice(0)) r(Object.assign(new Error('released'), { code: 'ECONNRESET' }));
    },
  };
}

/** The formation as the router sees it, set by hand. */
export class TestSource implements BackendSource {
  list: Backend[] = [];
  isBooting = false;
  isCrashed = false;
  private readonly cbs = new Set<() => void>();

  constructor(list: Backend[] = []) {
    this.list = list;
  }

  backends(): readonly Backend[] {
    return this.list;
  }

  booting(): boolean {
    return this.isBooting;
  }

  crashed(): boolean {
    return this.isCrashed;
  }

  onChange(cb: () => void): () => void {
    this.cbs.add(cb);
    return () => this.cbs.delete(cb);
  }

  set(change: { list?: Backend[]; booting?: boolean; crashed?: boolean }): void {
    if (change.list !== undefined) this.list = change.list;
    if (change.booting !== undefined) this.isBooting = change.booting;
    if (change.crashed !== undefined) this.isCrashed = change.crashed;
    for (const cb of this.cbs) cb();
  }

  get listeners(): number {
    return this.cbs.size;
  }
}

export interface TestRouter {
  router: Router;
  port: number;
  lines: string[];
  /** resolves with the next router line (or one already logged and not taken yet) */
  nextLine(): Promise<string>;
  /**
   * Resolves with the lines once there are n (the native plane hands its lines over
   * in batches, a few ms after the answers went out); rejects after 5 s.
   */
  waitLines(n: number): Promise<string[]>;
  close(): Promise<void>;
}

/** A router on 127.0.0.1:0 over the source; its lines are collected. */
export async function startRouter(source: BackendSource, opts: Partial<RouterOptions> = {}): Promise<TestRouter> {
  const lines: string[] = [];
  let taken = 0;
  const waiters: ((l: string) => void)[] = [];
  const router = new Router({
    source,
    log: (l) => {
      lines.push(l);
      const w = waiters.shift();
      if (w) {
        taken++;
        w(l);
      }
    },
    listen: [{ port: 0, host: '127.0.0.1' }],
    // one native thread: one pool, as the tests of connection reuse count on
    planeThreads: 1,
    ...opts,
  });
  await router.listen();
  const port = router.addresses().find((a) => a.protocol === 'http')?.port ?? 0;
  return {
    router,
    port,
    lines,
    nextLine: () =>
      new Promise<string>((resolve) => {
        if (taken < lines.length) resolve(lines[taken++]!);
        else waiters.push(resolve);
      }),
    waitLines: async (n: number) => {
      if (!(await eventually(() => lines.length >= n, 5000))) throw new Error(`waited 5 s for ${n} router lines, have ${lines.length}: ${JSON.stringify(lines)}`);
      return lines;
    },
    close: () => router.close(),
  };
}

/** An HTTP upstream on 127.0.0.1:0; its sockets are closed by close(). */
export async function httpUpstream(handler: http.RequestListener): Promise<{ server: http.Server; port: number; connections: number; open: number; close(): Promise<void> }> {
  const server = http.createServer(handler);
  const sockets = new Set<net.Socket>();
  const u = {
    server,
    port: 0,
    /** connections accepted so far */
    connections: 0,
    /** connections open now */
    get open() {
      return sockets.size;
    },
    close: () => closeServer(server, sockets),
  };
  server.on('connection', (s: net.Socket) => {
    u.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  u.port = (server.address() as net.AddressInfo).port;
  return u;
}

/** A raw TCP upstream (a misbehaving app): onConnection gets each socket. */
export async function rawUpstream(onConnection: (s: net.Socket, n: number) => void): Promise<{ server: net.Server; port: number; connections: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let n = 0;
  const server = net.createServer((s) => {
    u.connections = ++n;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onConnection(s, n);
  });
  const u = { server, port: 0, connections: 0, close: () => closeServer(server, sockets) };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  u.port = (server.address() as net.AddressInfo).port;
  return u;
}

function closeServer(server: net.Server, sockets: Set<net.Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise<void>((r) => server.close(() => r()));
}

/** Reads from a socket until `done(text)` says the answer is complete, or the socket closes. */
export function readUntil(s: net.Socket, done: (text: string) => boolean = () => false): Promise<string> {
  return new Promise<string>((resolve) => {
    let text = '';
    const finish = () => {
      s.off('data', onData);
      resolve(text);
    };
    const onData = (d: Buffer) => {
      text += d.toString('latin1');
      if (done(text)) finish();
    };
    s.on('data', onData);
    s.once('close', finish);
  });
}

/** A connected client socket to the router. */
export function connectTo(port: number): Promise<net.Socket> {
  return new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Sends raw bytes on a fresh connection, returns everything the router sends until it closes. */
export async function rawExchange(port: number, request: string | Buffer): Promise<string> {
  const s = await connectTo(port);
  const out = readUntil(s);
  s.write(request);
  return out;
}

/** Whole responses (head + Content-Length body) in a text, in order. */
export function splitResponses(text: string): { status: number; head: string; headers: Record<string, string>; body: string }[] {
  const out: { status: number; head: string; headers: Record<string, string>; body: string }[] = [];
  let rest = text;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const head = rest.slice(0, end);
    const lines = head.split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
    }
    const len = Number(headers['content-length'] ?? 0);
    out.push({ status: Number(lines[0]!.split(' ')[1]), head, headers, body: rest.slice(end + 4, end + 4 + len) });
    rest = rest.slice(end + 4 + len);
  }
  return out;
}

/** GET through the router with Node's client; the body as text. */
export function get(port: number, path = '/', headers: http.OutgoingHttpHeaders = {}, agent: http.Agent | false = false): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return request(port, { path, headers, agent });
}

export function request(port: number, o: http.RequestOptions & { body?: string | Buffer }): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, agent: false, ...o }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls cond until it holds or `ms` passed (for effects that cross the event loop); its last answer. */
export async function eventually(cond: () => boolean, ms = 3000): Promise<boolean> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) return false;
    await sleep(5);
  }
  return true;
}

/** The fields of a router line as a map (quoted values unquoted). */
export function lineFields(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /(\w+)=("([^"]*)"|(\S*))/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) out[m[1]!] = m[3] ?? m[4] ?? '';
  return out;
}

/** Heroku's router line, every field in its place (values checked by the caller). */
export const LINE_RE =
  /^at=(info|warning|error)( code=H\d\d desc="[^"]+")?( cause="[^"]*")? method=\S* path="[^"]*" host=\S* request_id=\S* fwd="[^"]*" dyno=\S* connect=(\d+ms)? service=(\d+ms)? status=\d{3} bytes=\d* protocol=https?( sock=(client|backend))?$/;

/** This process's open fds, as "number target" (what each one is): a test compares sets before and after. */
export function openFds(): Set<string> {
  return new Set(
    fs.readdirSync('/proc/self/fd').map((n) => {
      try {
        return `${n} ${fs.readlinkSync(`/proc/self/fd/${n}`)}`;
      } catch {
        return `${n} (closed)`;
      }
    }),
  );
}

/** A router line's fields but those of the request itself (id, timings, host): what both planes must log alike. */
export function samePlaneFields(line: string): Record<string, string> {
  const f = lineFields(line);
  for (const k of ['request_id', 'service', 'connect', 'host']) delete f[k];
  return f;
}

/** A router (as startRouter) in front of one upstream as web.1; both closed when the test ends. */
export async function routerOn(t: { teardown(fn: () => unknown): void }, up: { port: number; close(): Promise<void> }, opts: Partial<RouterOptions> = {}): Promise<TestRouter> {
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]), opts);
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  return r;
}

/**
 * H12, then H13, from a router (startRouter with opts and a 200 ms first-byte timeout) in
 * front of web.1, an upstream that first holds its request, then closes without an answer.
 * Both go over one kept-alive client connection (fetch: the request of the test's protocol).
 * Checks the two error pages and that the native plane served both; returns the router and
 * the fields of its two lines, for the test's own checks of them.
 */
export async function h12ThenH13(
  t: Test,
  opts: Partial<RouterOptions>,
  fetch: (r: TestRouter, path: string) => Promise<{ status: number; body: string }>,
): Promise<{ r: TestRouter; lines: Record<string, string>[] }> {
  let mode = 'hang';
  const held: http.ServerResponse[] = [];
  const up = await httpUpstream((_q, res) => {
    if (mode === 'hang') held.push(res);
    else res.socket?.destroy();
  });
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]), { ...opts, timeouts: { firstByte: 200 } });
  t.teardown(async () => {
    for (const h of held) h.destroy();
    await r.close();
    await up.close();
  });
  const a = await fetch(r, '/slow');
  t.equal(a.status, 503);
  t.match(a.body, /<code>H12<\/code> Request timeout/);
  mode = 'close';
  const b = await fetch(r, '/closes');
  t.equal(b.status, 503);
  t.match(b.body, /<code>H13<\/code>/);
  t.equal(r.router.stats().nativeRequests, 2, 'both natively');
  return { r, lines: (await r.waitLines(2)).map(lineFields) };
}
