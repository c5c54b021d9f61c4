import type * as net from 'node:net';
import type { BackendTarget } from './native-plane';

/** One up web dyno, as the router reaches it. */
export interface Backend {
  /** the dyno's name in log lines: web.2 */
  readonly name: string;
  /**
   * A connected TCP socket to the dyno's $PORT. May reject (ECONNREFUSED,
   * ETIMEDOUT, …): the router quarantines the dyno and tries another.
   */
  connect(): Promise<net.Socket>;
  /**
   * Where the native data plane reaches the dyno itself (it connects on its own
   * threads); null or absent: only through connect(), in JavaScript.
   */
  target?(): BackendTarget | null;
}

/** Where the router learns which web dynos there are (the formation). */
export interface BackendSource {
  /** web dynos that are up and not draining; requests go to a random one */
  backends(): readonly Backend[];
  /** some web dyno is starting: requests wait for it (up to the boot timeout, then H20) */
  booting(): boolean;
  /** web dynos exist but all of them crashed (H10); no web dyno at all is H14 */
  crashed(): boolean;
  /** called whenever any of the three answers may have changed; returns the unsubscribe */
  onChange(cb: () => void): () => void;
}

/** Milliseconds; Heroku's values by default. */
export interface RouterTimeouts {
  /** establishing a connection to a dyno (H19), 5 s */
  connect: number;
  /** from the whole request sent to the first response byte (H12), 30 s */
  firstByte: number;
  /** no byte either way once the response started, or during an upload (H15/H28), 55 s */
  idle: number;
  /** a request waiting for a booting dyno (H20), 75 s */
  boot: number;
  /** how long a dyno stays out of rotation after a failed connect, 5 s */
  quarantine: number;
  /** an idle keep-alive client connection between requests is closed after, 60 s (vegur) */
  clientIdle: number;
  /** an idle pooled connection to a dyno is closed after, 90 s (Router 2.0) */
  poolIdle: number;
}

export interface ListenAddress {
  port: number;
  host: string;
}

export interface RouterTls extends ListenAddress {
  /** PEM */
  cert: string | Buffer;
  /** PEM */
  key: string | Buffer;
}

export interface RouterOptions {
  source: BackendSource;
  /** one router line (without the `dynod[router]: ` prefix) */
  log(line: string): void;
  listen: ListenAddress[];
  tls?: RouterTls;
  timeouts?: Partial<RouterTimeouts>;
  /** requests in flight per dyno before requests queue (Heroku: 50) */
  maxInFlightPerDyno?: number;
  /** the queue holds this many requests per web dyno before H11 (Heroku: 50) */
  backlogPerDyno?: number;
  /** the random source of the dyno pick (tests give a seeded one); a router with one serves every request in JavaScript */
  random?: () => number;
  /**
   * Where HTTP and HTTPS requests are served: 'native' (the default), the addon's data
   * plane on threads of its own (it terminates TLS too), which hands every request it
   * does not take whole to the JavaScript router; 'js', the JavaScript router alone.
   */
  plane?: 'native' | 'js';
  /** the native plane's threads (default: 2, or 1 on one CPU) */
  planeThreads?: number;
}

export interface BackendStats {
  name: string;
  inFlight: number;
  idleConnections: number;
  quarantined: boolean;
}

export interface RouterStats {
  /** client connections open now (both planes) */
  connections: number;
  /** requests received since listen() (both planes) */
  requests: number;
  /** of those, served by the native plane */
  nativeRequests: number;
  /** requests waiting for a booting dyno or for room on a dyno */
  waiting: number;
  /** upgraded connections (WebSocket …) open now */
  tunnels: number;
  backends: BackendStats[];
}
