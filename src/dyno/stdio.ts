import * as fs from 'node:fs';
import * as net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { native } from '../native';
import { DynodError } from '../errors';

/**
 * What a dyno's stdin, stdout or stderr is: 'inherit' = this process's own fd 0/1/2,
 * 'pipe' = a stream on the Dyno, 'ignore' = /dev/null, or an fd of the caller's
 * (handed to the dyno as it is: its open file description, flags included, is shared).
 */
export type StdioOption = 'inherit' | 'pipe' | 'ignore' | number;

export interface DynoIO {
  /** default 'ignore' (stdin is /dev/null unless the plan is interactive) */
  stdin?: StdioOption;
  /** default 'pipe' */
  stdout?: StdioOption;
  /**
   * default 'pipe'; 'stdout': the dyno's stdout (2>&1), one stream in the order the
   * dyno wrote (the Dyno's stdout when that is 'pipe'), and one pipe less per dyno
   */
  stderr?: StdioOption | 'stdout';
}

/** The three fds a dyno gets, and what the parent keeps for them. */
export interface PreparedStdio {
  fds: [number, number, number];
  /** parent fds to close once the child has its copies */
  toClose: number[];
  stdin: Writable | null;
  stdout: Readable | null;
  stderr: Readable | null;
  /** copies of the dyno's output through interposed pipes to our own stdout/stderr; settle at the dyno's EOF */
  outputPumps: Promise<void>[];
  /** our ends of interposed pipes (to destroy when a start fails) */
  pumpStreams: net.Socket[];
  /** our stdin copied into an interposed pipe: never ends by itself, destroyed when the dyno ends */
  inputPump: net.Socket | null;
}

/**
 * One of our own stdio fds for a dyno. A dyno must never share an open file
 * description of ours: file status flags belong to the description, so a program in
 * the dyno that sets O_NONBLOCK (any libuv program does) would change the embedder's
 * stdio, and Node's own non-blocking stdio would reach programs that expect
 * blocking I/O (a slow reader then loses them output to EAGAIN). So a pipe or a
 * terminal is reopened (a new description of the same pipe or tty, blocking), and a
 * socket, which cannot be reopened, gets a pipe of dynod's in between, copied through
 * Node's own stream. A regular file is shared as it is (flags mean nothing there, and
 * appends must share the offset).
 */
function inherit(i: 0 | 1 | 2, out: PreparedStdio): number {
  const st = fs.fstatSync(i);
  if (st.isFile()) return i;
  if (st.isFIFO() || st.isCharacterDevice()) {
    try {
      const fd = fs.openSync(`/proc/self/fd/${i}`, i === 0 ? fs.constants.O_RDONLY : fs.constants.O_WRONLY | fs.constants.O_NOCTTY);
      out.toClose.push(fd);
      return fd;
    } catch {
      // not reopenable (e.g. a pipe whose other end is gone): interpose below
    }
  }
  const [r, w] = native().pipe();
  if (i === 0) {
    const sink = new net.Socket({ fd: w, readable: false, writable: true });
    sink.on('error', () => {});
    out.pumpStreams.push(sink);
    out.inputPump = sink;
    process.stdin.pipe(sink);
    sink.on('close', () => {
      process.stdin.unpipe(sink);
      // pipe() set our stdin flowing: leave it as it was, paused and not keeping the loop alive
      if (process.stdin.listenerCount('data') === 0) process.stdin.pause();
    });
    out.toClose.push(r);
    return r;
  }
  const source = new net.Socket({ fd: r, readable: true, writable: false });
  const target = i === 1 ? process.stdout : process.stderr;
  out.pumpStreams.push(source);
  source.pipe(target, { end: false });
  out.toClose.push(w);
  out.outputPumps.push(new Promise((resolve) => { source.on('close', resolve); source.on('error', () => resolve()); }));
  return w;
}

/** Sets up the dyno's stdio; on failure closes whatever it opened and rethrows. */
export function prepareStdio(io: DynoIO, interactive: boolean): PreparedStdio {
  const out: PreparedStdio = { fds: [-1, -1, -1], toClose: [], stdin: null, stdout: null, stderr: null, outputPumps: [], pumpStreams: [], inputPump: null };
  try {
    for (const i of [0, 1, 2] as const) {
      const name = (['stdin', 'stdout', 'stderr'] as const)[i];
      let o = io[name] ?? (i === 0 ? 'ignore' : 'pipe');
      if (i === 0 && !interactive) o = 'ignore';
      if (o === 'stdout') {
        if (i !== 2) throw new DynodError(`${name}: 'stdout' is for stderr only`, { step: 'stdio' });
        out.fds[2] = out.fds[1];
      } else if (typeof o === 'number') out.fds[i] = o;
      else if (o === 'inherit') out.fds[i] = inherit(i, out);
      else if (o === 'ignore') {
        const fd = fs.openSync('/dev/null', i === 0 ? 'r' : 'w');
        out.toClose.push(fd);
        out.fds[i] = fd;
      } else {
        const [r, w] = native().pipe();
        if (i === 0) {
          out.toClose.push(r);
          out.stdin = new net.Socket({ fd: w, readable: false, writable: true });
          out.fds[i] = r;
        } else {
          out.toClose.push(w);
          const stream = new net.Socket({ fd: r, readable: true, writable: false });
          if (i === 1) out.stdout = stream;
          else out.stderr = stream;
          out.fds[i] = w;
        }
      }
    }
  } catch (e) {
    releaseStdio(out);
    throw DynodError.from(e, 'stdio');
  }
  return out;
}

/** The parent's copies of the child's ends, once the child holds its own. */
export function closeChildEnds(s: PreparedStdio): void {
  for (const fd of s.toClose.splice(0)) fs.closeSync(fd);
}

/** Everything, after a start that failed before the child got its fds. */
export function releaseStdio(s: PreparedStdio): void {
  closeChildEnds(s);
  s.stdin?.destroy();
  s.stdout?.destroy();
  s.stderr?.destroy();
  for (const p of s.pumpStreams) p.destroy();
}
