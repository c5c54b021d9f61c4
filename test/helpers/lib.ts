// Running dynos through the library (src/), inside the test process.
import type { Readable } from 'node:stream';
import { start, type Dyno, type DynoExit, type DynoOptions, type DynoPlan } from '../../src/index';

export interface LibResult {
  dyno: Dyno;
  exit: DynoExit;
  stdout: string;
  stderr: string;
}

function collect(s: Readable | null): Promise<string> {
  if (!s) return Promise.resolve('');
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    s.on('data', (b: Buffer) => chunks.push(b));
    s.on('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
    s.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** Starts a dyno with piped stdout/stderr; `whileUp` runs once the command runs (e.g. to read its cgroup from the host). */
export async function runLib(options: DynoOptions | DynoPlan, whileUp?: (dyno: Dyno) => void | Promise<void>): Promise<LibResult> {
  const dyno = await start(options, { stdout: 'pipe', stderr: 'pipe' });
  const out = collect(dyno.stdout);
  const err = collect(dyno.stderr);
  try {
    if (whileUp) await whileUp(dyno);
  } catch (e) {
    // never leave a dyno behind when something in whileUp throws
    dyno.kill('SIGKILL');
    await dyno.wait();
    throw e;
  }
  const exit = await dyno.wait();
  return { dyno, exit, stdout: await out, stderr: await err };
}
