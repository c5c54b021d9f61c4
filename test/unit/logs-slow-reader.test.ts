import t, { type Test } from 'tap';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { spawn } from 'node:child_process';
import { LogHub, parseLine } from '../../src/formation/logs';
import { native } from '../../src/native';
import type { LogLine } from '../../src/formation/types';

// ============================================================================
// The output to a pipe whose reader is slow or absent: dynod's loop keeps running,
// the dynos' output keeps being read, lines are dropped whole and counted, and the
// reader is told once it reads again. The pipe's own description is left alone.

const O_NONBLOCK = 0o4000;

/** The file status flags of one of our fds, as the kernel shows them. */
function flags(fd: number): number {
  const line = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').find((l) => l.startsWith('flags:'))!;
  return parseInt(line.replace(/^flags:\s+/, ''), 8);
}

const PAD = 'padding-'.repeat(12);
const AWK = `BEGIN { for (i = from; i < to; i++) printf "line %07d ${PAD}\\n", i }`;

/**
 * A producer that writes `total` numbered lines as fast as it can, but stops halfway
 * until it reads a line on its stdin. The test sends that line from a timer: if the
 * hub blocked the event loop, the producer would wait forever (and the test time out).
 */
function producer(total: number) {
  const half = Math.floor(total / 2);
  const script = `awk -v from=0 -v to=${half} '${AWK}'; read go; awk -v from=${half} -v to=${total} '${AWK}'`;
  const child = spawn('/bin/sh', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, half };
}

/** Reads a pipe's read end to its end; `until` resolves once a line matching it has come. */
function reader(fd: number, until?: RegExp) {
  const sock = new net.Socket({ fd, readable: true, writable: false });
  const chunks: Buffer[] = [];
  let seen: () => void = () => {};
  const matched = new Promise<void>((r) => (seen = r));
  let tail = '';
  sock.on('data', (b: Buffer) => {
    chunks.push(b);
    if (until) {
      tail = (tail + b.toString('latin1')).slice(-4096);
      if (until.test(tail)) seen();
    }
  });
  const done = new Promise<LogLine[]>((resolve) => sock.on('close', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    resolve(text.split('\n').slice(0, -1).map((l) => parseLine(l)!));
  }));
  return { matched, done };
}

/** Runs the producer into a hub that writes to a fresh pipe; the pipe's reader starts only when asked. */
async function scenario(t: Test, total: number, maxPendingBytes: number, readFromStart: boolean) {
  const [r, w] = native().pipe();
  const before = flags(w);
  t.equal(before & O_NONBLOCK, 0, 'the pipe starts blocking');
  const hub = new LogHub({ output: w, maxPendingBytes });
  t.equal(hub.stats().outputMode, 'reopened');
  t.equal(flags(w), before, 'reopening left the shared description alone');

  let received = 0;
  let inOrder = true;
  const p = producer(total);
  const unsubscribe = hub.subscribe({}, (l) => {
    if (l.message !== `line ${String(received).padStart(7, '0')} ${PAD}`) inOrder = false;
    if (++received === p.half) setTimeout(() => p.child.stdin!.end('go\n'), 1);
  });
  const read = readFromStart ? reader(r, /L10/) : null;
  await hub.attach('web.1', p.child.stdout!);
  t.equal(await p.exited, 0, 'the producer wrote everything and exited');
  unsubscribe();
  t.equal(received, total, 'every line was read from the producer');
  t.ok(inOrder, 'in order');
  t.equal(flags(w), before, 'the shared description is still blocking after all the writes');
  fs.closeSync(w); // ours; the hub writes through its own description
  return { hub, r, read };
}

t.test('nobody reads: the loop runs, input is consumed, whole lines drop, L10 once the reader reads', async (t) => {
  const total = 200_000; // ~23 MB of output: far beyond 1 MiB + the pipe's 64 KiB
  const { hub, r } = await scenario(t, total, 1024 * 1024, false);
  const stats = hub.stats();
  t.ok(stats.outputDropped > 0, `${stats.outputDropped} lines dropped`);
  t.ok(stats.pendingBytes <= 1024 * 1024, `${stats.pendingBytes} bytes pending, within the bound`);

  const read = reader(r, /Error L10/);
  await read.matched;
  t.pass('the L10 line came once the reader read, before close()');
  await hub.close(10_000);
  const lines = await read.done;

  const l10 = lines.filter((l) => l.source === 'dynod');
  t.equal(l10.length, 1, 'one L10 line');
  const m = /^Error L10 \(output buffer overflow\) -> (\d+) log lines dropped since \S+$/.exec(l10[0]!.message);
  t.ok(m, l10[0]!.message);
  t.equal(l10[0]!.dyno, 'logs');
  const app = lines.filter((l) => l.source === 'app');
  t.equal(Number(m![1]), total - app.length, 'it counts exactly the lines missing');
  t.equal(Number(m![1]), hub.stats().outputDropped);
  t.equal(lines.at(-1), l10[0], 'the gap is at the end: nothing came after the overflow');
  t.ok(app.every((l, i) => l.message === `line ${String(i).padStart(7, '0')} ${PAD}`), `the first ${app.length} lines, whole and in order`);
});

t.test('a reader that keeps up: nothing lost, no L10', async (t) => {
  const total = 30_000; // ~3.5 MB: within the 4 MiB bound whatever the reader's pace
  const { hub, read } = await scenario(t, total, 4 * 1024 * 1024, true);
  await hub.close(10_000);
  const lines = await read!.done;
  t.equal(hub.stats().outputDropped, 0);
  t.equal(lines.length, total);
  t.ok(lines.every((l, i) => l.source === 'app' && l.dyno === 'web.1' && l.message === `line ${String(i).padStart(7, '0')} ${PAD}`), 'every line, whole, in order');
});

t.test('a reader that goes away: EPIPE stops the output, the dynos go on', async (t) => {
  const [r, w] = native().pipe();
  const errors: string[] = [];
  const hub = new LogHub({ output: w, onOutputError: (e) => errors.push((e as NodeJS.ErrnoException).code ?? e.message) });
  fs.closeSync(w);
  hub.system('web.1', 'one');
  await new Promise((resolve) => setImmediate(resolve));
  fs.closeSync(r);
  hub.system('web.1', 'two');
  await new Promise((resolve) => setTimeout(resolve, 10));
  hub.system('web.1', 'three');
  await hub.close(1_000);
  t.same(errors, ['EPIPE']);
  t.equal(hub.stats().outputMode, 'broken');
  t.equal(hub.stats().outputDropped, 2, 'two and three were not printed');
  t.same(hub.recent({}, 5).map((l) => l.message), ['one', 'two', 'three'], 'the kept lines have them');
});

t.test('close() with a reader that never reads: gives up after its timeout, drops the rest, leaves nothing behind', async (t) => {
  const [r, w] = native().pipe();
  t.teardown(() => fs.closeSync(r));
  const fds = () => fs.readdirSync('/proc/self/fd').length;
  const timers = () => process.getActiveResourcesInfo().filter((x) => x === 'Timeout' || x === 'Immediate').length;
  const before = { fds: fds(), timers: timers() };
  const hub = new LogHub({ output: w });
  fs.closeSync(w);
  const line = 'x'.repeat(1000);
  for (let i = 0; i < 1000; i++) hub.system('web.1', line); // ~1 MB: the 64 KiB pipe fills, the rest waits
  await new Promise((resolve) => setImmediate(resolve)); // the first write: the pipe is full
  t.ok(hub.stats().pendingBytes > 0, 'output is waiting');
  await hub.close(100);
  t.equal(hub.stats().pendingBytes, 0);
  const got = fs.readFileSync(r).toString('utf8').split('\n').slice(0, -1);
  t.ok(got.length > 0 && got.length < 1000, `${got.length} lines reached the pipe before close()`);
  t.equal(hub.stats().outputDropped, 1000 - got.length, 'the rest are counted as dropped');
  t.ok(got.every((l) => parseLine(l)?.message === line), 'those that reached it are whole');
  t.equal(fds(), before.fds - 1, 'our description closed (and w, by the test)');
  t.equal(timers(), before.timers, 'no timer left');
});
