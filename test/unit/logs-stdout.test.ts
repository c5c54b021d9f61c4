import t from 'tap';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { parseLine } from '../../src/formation/logs';

// ============================================================================
// The log stream on dynod's real stdout (fd 1) when it is a terminal or a socket:
// a child process (fixtures/logs-child.js) prints lines and reports how it wrote
// them and fd 1's file status flags before and after.

const CHILD = path.join(__dirname, 'fixtures', 'logs-child.js');
// the child loads TypeScript sources the way this test was loaded
const LOADER = process.execArgv.filter((a) => a.includes('@tapjs/typescript'));

interface Report {
  kind: string;
  mode: string;
  dropped: number;
  before: string;
  after: string;
}

function report(stderr: string): Report {
  const line = stderr.split(/\r?\n/).find((l) => l.startsWith('{'));
  return JSON.parse(line ?? '{}') as Report;
}

function env(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const k of Object.keys(e)) if (e[k] === undefined || k === 'NODE_OPTIONS' || k === 'NO_COLOR') delete e[k];
  if (extra.NO_COLOR) e.NO_COLOR = extra.NO_COLOR;
  return e;
}

/** Runs the child with its stdio on a terminal (script(1) makes the pty): everything it printed, \r\n and all. */
function onTerminal(count: number, extra: Record<string, string | undefined> = {}): Promise<string> {
  const cmd = [process.execPath, ...LOADER, CHILD, String(count)].map((a) => `'${a}'`).join(' ');
  return new Promise((resolve, reject) => {
    const c = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['ignore', 'pipe', 'inherit'], env: env({ TERM: 'xterm', ...extra }) });
    const chunks: Buffer[] = [];
    c.stdout.on('data', (b: Buffer) => chunks.push(b));
    c.on('error', reject);
    c.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

t.test('a terminal: reopened non-blocking on a description of our own, coloured', async (t) => {
  const out = await onTerminal(3);
  const r = report(out);
  t.match(r.kind, /^\/dev\/pts\/\d+$/);
  t.equal(r.mode, 'reopened');
  t.equal(r.after, r.before, 'the terminal\'s shared description kept its flags');
  t.equal(parseInt(r.before, 8) & 0o4000, 0, 'and it is blocking');
  // the child's stderr shares the terminal: its lines go
  const lines = out.split('\r\n').filter((l) => l.startsWith('2026'));
  t.equal(lines[0], '2026-11-29T00:00:00.000000+00:00 \x1b[1mdynod[web.1]:\x1b[0m State changed from starting to up');
  t.match(lines[1], /^2026-11-29T00:00:00\.000000\+00:00 \x1b\[1mdynod\[router\]:\x1b\[0m line 0 x+$/);

  const plain = await onTerminal(1, { NO_COLOR: '1' });
  t.equal(plain.split('\r\n').find((l) => l.startsWith('2026')), '2026-11-29T00:00:00.000000+00:00 dynod[web.1]: State changed from starting to up', 'NO_COLOR: no colour');
});

t.test('a socket (a Node parent\'s stdio) read slowly: written as it is, every line arrives', async (t) => {
  const count = 20_000; // ~3 MB: far more than the socket buffers
  const c = spawn(process.execPath, [...LOADER, CHILD, String(count)], { stdio: ['ignore', 'pipe', 'pipe'], env: env({}) });
  const chunks: Buffer[] = [];
  let stderr = '';
  c.stdout.pause();
  c.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
    // start reading only once everything is queued: the child meets a full socket
    if (stderr.includes('queued\n') && !c.stdout.readableFlowing) c.stdout.on('data', (d: Buffer) => chunks.push(d)).resume();
  });
  await new Promise((resolve) => c.on('close', resolve));
  const r = report(stderr);
  t.equal(r.kind, 'socket');
  t.equal(r.mode, 'threadpool');
  t.equal(r.dropped, 0);
  t.equal(r.after, r.before, 'the socket\'s flags are as they were');
  const lines = Buffer.concat(chunks).toString('utf8').split('\n');
  t.equal(lines.pop(), '', 'ends with a newline');
  t.equal(lines.length, count + 1);
  t.same(parseLine(lines[0]!)?.message, 'State changed from starting to up');
  t.ok(lines.slice(1).every((l, i) => parseLine(l)?.message === `line ${i} ${'x'.repeat(100)}`), 'every line, whole, in order');
});
