import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { DynodError } from '../errors';
import { validateAppName } from '../formation/app-name';
import { listApps, readInfo, runRoot, socketPath } from './paths';
import type { Event, Reply, Request } from './protocol';

/** How a verb names the app it talks to: --name, else --app DIR, else the current directory. */
export interface AppSelector {
  name?: string;
  app?: string;
}

/** The app a verb means, or a clear error when no dynod runs it. */
export function findApp(sel: AppSelector): string {
  try {
    fs.accessSync(runRoot(), fs.constants.X_OK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EACCES')
      throw new DynodError(`${runRoot()}: permission denied; a formation's control socket is root's only (try sudo)`, { step: 'control socket', code: 'EACCES' });
  }
  if (sel.name !== undefined) {
    validateAppName(sel.name);
    if (!fs.existsSync(socketPath(sel.name))) throw new DynodError(`no formation of app ${sel.name} is running here (start one with: sudo dynod start)`, { step: 'control socket' });
    return sel.name;
  }
  const dir = path.resolve(sel.app ?? process.cwd());
  const running = listApps().filter((a) => fs.existsSync(socketPath(a)));
  const match = running.find((a) => readInfo(a)?.appDir === dir);
  if (match) return match;
  const others = running.length ? `; running: ${running.map((a) => `${a} (${readInfo(a)?.appDir ?? '?'})`).join(', ')}` : '';
  throw new DynodError(`no formation is running for ${dir} (dynod start there, or name one with --name or --app)${others}`, { step: 'control socket' });
}

/** One connection to an app's control socket: a request, its reply, then events. */
export class ControlConnection {
  private buf = '';
  private waiting: ((line: string) => void) | null = null;
  private readonly queue: string[] = [];
  private closed = false;
  onEvent: ((e: Event) => void) | null = null;
  onClose: (() => void) | null = null;

  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      this.buf += chunk;
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (this.waiting) {
          const w = this.waiting;
          this.waiting = null;
          w(line);
        } else if (this.onEvent) this.onEvent(JSON.parse(line) as Event);
        else this.queue.push(line);
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      this.closed = true;
      this.waiting?.('');
      this.onClose?.();
    });
  }

  static connect(app: string): Promise<ControlConnection> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(socketPath(app));
      sock.once('connect', () => resolve(new ControlConnection(sock)));
      sock.once('error', (e: NodeJS.ErrnoException) =>
        reject(new DynodError(`app ${app}: its dynod does not answer (${e.code ?? e.message}); it may have been killed: the next dynod start cleans up`, { step: 'control socket', code: e.code ?? '' })),
      );
    });
  }

  /** Sends the request and resolves with the reply's result; a failure reply rejects with its message and exit code. */
  async request<T>(req: Request): Promise<T> {
    this.sock.write(`${JSON.stringify(req)}\n`);
    const line = this.queue.shift() ?? (this.closed ? '' : await new Promise<string>((r) => (this.waiting = r)));
    if (!line) throw new DynodError('the formation\'s dynod closed the connection without an answer', { step: 'control socket' });
    const reply = JSON.parse(line) as Reply;
    if (!reply.ok) throw new DynodError(reply.error, { step: 'control' }, reply.exitCode);
    return reply.result as T;
  }

  /** Delivers the events that follow the reply (and those already received). */
  listen(onEvent: (e: Event) => void): void {
    this.onEvent = onEvent;
    for (const line of this.queue.splice(0)) onEvent(JSON.parse(line) as Event);
  }

  send(e: Event): void {
    if (!this.closed) this.sock.write(`${JSON.stringify(e)}\n`);
  }

  close(): void {
    this.sock.end();
  }

  destroy(): void {
    this.sock.destroy();
  }
}

/** One request, its result, and the connection closed. */
export async function call<T>(app: string, req: Request): Promise<T> {
  const c = await ControlConnection.connect(app);
  try {
    return await c.request<T>(req);
  } finally {
    c.close();
  }
}
