// The log stream of real dynos (root, real kernel): ten dynos writing as fast as
// they can on stdout and stderr into one LogHub, printed to a pipe this test reads.
import t from 'tap';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { start, type Dyno } from '../../src/index';
import { LogHub, parseLine } from '../../src/formation/logs';
import { native } from '../../src/native';
import type { LogLine } from '../../src/formation/types';
import { tempApp } from '../helpers/app';

const N = 10;
const LINES = 10_000;
/** every 500th line carries 1,000 × "é✓" (5,000 bytes: more than PIPE_BUF, so the dyno's write is not atomic) */
const PAD = 'é✓'.repeat(1000);
const LONG = 'z'.repeat(25_000);

// dash: every third line on stderr; at the end one 25,000-byte line, cut by the hub into 10,000-byte lines
const SCRIPT = `
PAD=$(printf 'é✓%.0s' $(seq 1 1000))
LONG=$(printf 'z%.0s' $(seq 1 25000))
i=0
while [ $i -lt ${LINES} ]; do
  if [ $((i % 500)) -eq 0 ]; then tail=" $PAD"; else tail=""; fi
  if [ $((i % 3)) -eq 0 ]; then echo "$DYNO err $i$tail" >&2; else echo "$DYNO out $i$tail"; fi
  i=$((i + 1))
done
echo "$DYNO long $LONG"
`;

/** What one dyno must produce, per stream, in order. */
function expected(dyno: string): { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  for (let i = 0; i < LINES; i++) {
    const m = `${dyno} ${i % 3 === 0 ? 'err' : 'out'} ${i}${i % 500 === 0 ? ` ${PAD}` : ''}`;
    (i % 3 === 0 ? err : out).push(m);
  }
  const long = `${dyno} long ${LONG}`; // ASCII: cut every 10,000 bytes
  for (let at = 0; at < long.length; at += 10_000) out.push(long.slice(at, at + 10_000));
  return { out, err };
}

t.test(`${N} dynos × ${LINES} lines on stdout and stderr: every line once, whole, in per-stream order`, async (t) => {
  const app = tempApp(t);
  const [r, w] = native().pipe();
  const hub = new LogHub({ output: w, maxPendingBytes: 256 * 1024 * 1024 });
  fs.closeSync(w); // the hub writes through its own description of the pipe
  t.equal(hub.stats().outputMode, 'reopened');

  const reader = new net.Socket({ fd: r, readable: true, writable: false });
  const chunks: Buffer[] = [];
  reader.on('data', (b: Buffer) => chunks.push(b));
  const eof = new Promise<void>((resolve) => reader.on('close', () => resolve()));

  const t0 = Date.now();
  const names = Array.from({ length: N }, (_, i) => `web.${i + 1}`);
  const dynos = await Promise.all(names.map(async (name): Promise<Dyno> => {
    hub.system(name, `Starting process with command \`/bin/sh -c ...\``);
    const d = await start({ command: ['/bin/sh', '-c', SCRIPT], app, name }, { stdout: 'pipe', stderr: 'pipe' });
    hub.system(name, 'State changed from starting to up');
    return d;
  }));
  const read = dynos.flatMap((d, i) => [hub.attach(names[i]!, d.stdout!), hub.attach(names[i]!, d.stderr!)]);
  const exits = await Promise.all(dynos.map(async (d, i) => {
    const e = await d.wait();
    hub.system(names[i]!, `Process exited with status ${e.status}`);
    return e;
  }));
  await Promise.all(read);
  await hub.close(30_000);
  await eof;
  t.comment(`${N} dynos, ${hub.stats().lines} lines in ${Date.now() - t0} ms`);
  t.same(exits.map((e) => e.status), names.map(() => 0));
  t.equal(hub.stats().outputDropped, 0);

  const text = Buffer.concat(chunks).toString('utf8');
  t.ok(text.endsWith('\n'));
  const printed = text.slice(0, -1).split('\n');
  t.equal(printed.length, hub.stats().lines, 'as many printed lines as lines in the stream');
  const parsed: LogLine[] = [];
  let unparsed = 0;
  for (const p of printed) {
    const l = parseLine(p);
    if (l) parsed.push(l);
    else unparsed++;
  }
  t.equal(unparsed, 0, 'every printed line is one whole log line');

  for (const name of names) {
    const mine = parsed.filter((l) => l.dyno === name);
    const want = expected(name);
    const got = {
      out: mine.filter((l) => l.source === 'app' && (l.message.startsWith(`${name} out `) || l.message.startsWith(`${name} long `) || /^z+$/.test(l.message))).map((l) => l.message),
      err: mine.filter((l) => l.source === 'app' && l.message.startsWith(`${name} err `)).map((l) => l.message),
    };
    t.equal(mine.filter((l) => l.source === 'app').length, want.out.length + want.err.length, `${name}: nothing more, nothing less`);
    // compared as a whole: one assertion per stream, and a diff if anything differs
    t.ok(got.out.length === want.out.length && got.out.every((m, i) => m === want.out[i]), `${name}: stdout lines exactly once, whole, in order`);
    t.ok(got.err.length === want.err.length && got.err.every((m, i) => m === want.err[i]), `${name}: stderr lines exactly once, whole, in order`);
    t.same(mine.filter((l) => l.source === 'dynod').map((l) => l.message), [
      'Starting process with command `/bin/sh -c ...`',
      'State changed from starting to up',
      'Process exited with status 0',
    ], `${name}: dynod's lines, in order`);
  }
  const kept = hub.recent({}, 5_000);
  t.equal(kept.length, 1500, 'the last 1,500 lines are kept');
  t.same(kept.map((l) => `${l.source} ${l.dyno} ${l.message}`), parsed.slice(-1500).map((l) => `${l.source} ${l.dyno} ${l.message}`), 'the same as the last 1,500 printed');
});
