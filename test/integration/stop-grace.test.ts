// stop(grace): SIGTERM to every process of the dyno, and the grace period for every
// one of them, not only the command (Heroku's shutdown). After a forwarded TERM,
// PID 1 outlives the command until the last process has exited; the parent SIGKILLs
// PID 1 when the grace is over. Without a forwarded signal the dyno ends with its command.
import t, { type Test } from 'tap';
import type { Readable } from 'node:stream';
import { start, type Dyno } from '../../src/index';
import { tempApp } from '../helpers/app';

function collect(s: Readable | null): { text: () => string; closed: Promise<void> } {
  let text = '';
  s?.on('data', (b: Buffer) => (text += b.toString('utf8')));
  const closed = new Promise<void>((resolve) => {
    if (!s) return resolve();
    s.on('close', () => resolve());
    s.on('error', () => resolve());
  });
  return { text: () => text, closed };
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A command whose main process dies at once on TERM while a background child handles TERM with `onTerm`. */
const command = (onTerm: string) => [
  'sh', '-c',
  `sh -c 'trap "${onTerm}" TERM; echo child ready; while :; do sleep 0.05; done' & exec sleep 1000`,
];

async function startPiped(t: Test, cmd: string[]): Promise<{ dyno: Dyno; out: ReturnType<typeof collect> }> {
  const app = tempApp(t);
  const dyno = await start({ command: cmd, app }, { stdout: 'pipe', stderr: 'pipe' });
  t.teardown(async () => {
    dyno.kill('SIGKILL');
    await dyno.wait();
  });
  const out = collect(dyno.stdout);
  collect(dyno.stderr);
  return { dyno, out };
}

t.test('a child that takes its time on TERM finishes within the grace, after the command has exited', async (t) => {
  const { dyno, out } = await startPiped(t, command('sleep 0.5; echo child done; exit 0'));
  await until('child ready', () => out.text().includes('child ready\n'));
  const t0 = Date.now();
  const exit = await dyno.stop(5000);
  const ms = Date.now() - t0;
  await out.closed;
  t.match(out.text(), /child done\n/, 'the background child ran its TERM handler to the end');
  t.equal(exit.status, 143, 'the status is still the command\'s (killed by TERM)');
  t.equal(exit.signal, null, 'PID 1 exited on its own, no SIGKILL');
  t.equal(exit.error, null);
  t.ok(ms >= 400, `the dyno lived on for the child (${ms} ms)`);
  t.ok(ms < 4500, `and ended when it was done, not at the grace (${ms} ms)`);
  t.equal(dyno.state, 'down');
});

t.test('a child that ignores TERM is SIGKILLed with the dyno when the grace is over', async (t) => {
  const { dyno, out } = await startPiped(t, command(''));
  await until('child ready', () => out.text().includes('child ready\n'));
  const t0 = Date.now();
  const exit = await dyno.stop(500);
  const ms = Date.now() - t0;
  t.equal(exit.signal, 'SIGKILL', 'PID 1 was SIGKILLed');
  t.equal(exit.status, 137);
  t.ok(ms >= 450, `not before the grace (${ms} ms)`);
  t.ok(ms < 5000, `soon after it (${ms} ms)`);
  await out.closed;
  t.pass('every writer of stdout is gone');
});

t.test('without a forwarded signal the dyno still ends with its command', async (t) => {
  const app = tempApp(t);
  const t0 = Date.now();
  const dyno = await start({ command: ['sh', '-c', 'sleep 30 & echo started'], app }, { stdout: 'pipe', stderr: 'ignore' });
  const out = collect(dyno.stdout);
  const exit = await dyno.wait();
  await out.closed;
  t.equal(exit.status, 0);
  t.equal(out.text(), 'started\n');
  t.ok(Date.now() - t0 < 10_000, 'the background sleep did not keep the dyno up');
});
