// stderr: 'stdout' (2>&1): a formation dyno's output is one pipe, so its lines keep
// the order the dyno wrote them in across stdout and stderr.
import t from 'tap';
import * as fs from 'node:fs';
import type { Readable } from 'node:stream';
import { start } from '../../src/index';
import { tempApp } from '../helpers/app';

const readAll = (s: Readable) => new Promise<string>((resolve) => { let text = ''; s.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve(text)); });

t.test("stderr 'stdout': one stream, in the dyno's order, and no second pipe", async (t) => {
  const app = tempApp(t);
  // alternating writes with no pause: two pipes would deliver them in whatever order they were read
  const script = 'i=0; while [ $i -lt 200 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done; readlink /proc/$$/fd/1 /proc/$$/fd/2 >&2';
  const d = await start({ command: ['sh', '-c', script], app, net: 'none' }, { stdout: 'pipe', stderr: 'stdout' });
  t.equal(d.stderr, null, 'no stderr stream');
  const text = await readAll(d.stdout!);
  const exit = await d.wait();
  t.equal(exit.status, 0);
  const lines = text.trim().split('\n');
  const expected = Array.from({ length: 200 }, (_, i) => [`out ${i}`, `err ${i}`]).flat();
  t.same(lines.slice(0, 400), expected, 'stdout and stderr lines in the order written');
  t.equal(lines[400], lines[401], 'fds 1 and 2 are the same pipe inside the dyno');
  t.match(lines[400], /^pipe:\[\d+\]$/);
});

t.test("'stdout' is for stderr only", async (t) => {
  const app = tempApp(t);
  // fds this start opened and left: new ones, whatever else closes meanwhile (tap's own
  // sockets, the previous test's streams finishing their close)
  const link = (f: string) => {
    try {
      return `${f} ${fs.readlinkSync(`/proc/self/fd/${f}`)}`;
    } catch {
      return null; // readdir's own fd, closed by now
    }
  };
  const fds = () => new Set(fs.readdirSync('/proc/self/fd').map(link).filter((f) => f !== null));
  const before = fds();
  await t.rejects(start({ command: ['true'], app, net: 'none' }, { stdout: 'stdout' as never }), { name: 'UsageError', message: /stdout "stdout": expected .*'stdout' is for stderr only/ });
  t.same([...fds()].filter((f) => !before.has(f)), [], 'no fd left open');
});
