import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import {
  LineSplitter,
  LogHub,
  MAX_LINE_BYTES,
  colorOf,
  formatLine,
  formatTimestamp,
  matchesFilter,
  outputOverflowLine,
  parseLine,
  parseTimestamp,
  tailOverflowLine,
  useColor,
} from '../../src/formation/logs';
import { utf8Cut } from '../../src/formation/logs-lines';
import { wallClock } from '../../src/formation/logs-clock';
import { UsageError } from '../../src/errors';
import type { LogLine } from '../../src/formation/types';

// ============================================================================
// The log stream without dynos: timestamps, line cutting, the kept lines,
// subscribers, colours, JSON, and the output to files and devices.

/** 2026-11-29T18:40:01.123456Z in ms */
const T0 = Date.UTC(2026, 10, 29, 18, 40, 1, 123) + 0.456;

/** A clock that moves 1 µs per call: every line has a known, distinct time. */
function stepClock(start = T0): () => number {
  let n = 0;
  return () => start + n++ / 1000;
}

/** Deterministic PRNG (mulberry32): random chunkings that are the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function split(chunks: Buffer[]): string[] {
  const out: string[] = [];
  const s = new LineSplitter((m) => out.push(m));
  for (const c of chunks) s.push(c);
  s.end();
  return out;
}

t.test('timestamps: RFC 5424 with microseconds in UTC', async (t) => {
  t.equal(formatTimestamp(T0), '2026-11-29T18:40:01.123456+00:00');
  t.equal(formatTimestamp(Date.UTC(2026, 10, 29, 18, 40, 1, 123)), '2026-11-29T18:40:01.123000+00:00');
  t.equal(formatTimestamp(0), '1970-01-01T00:00:00.000000+00:00');
  t.equal(formatTimestamp(Date.UTC(2026, 11, 31, 23, 59, 59, 999) + 0.9996), '2027-01-01T00:00:00.000000+00:00', 'rounding to the µs carries into the next second');
  t.equal(formatTimestamp(Date.UTC(2026, 0, 1) + 0.001), '2026-01-01T00:00:00.000001+00:00');
  t.equal(parseTimestamp('2026-11-29T18:40:01.123456+00:00'), T0);
  t.equal(formatTimestamp(parseTimestamp('2026-11-29T18:40:01.123456+00:00')!), '2026-11-29T18:40:01.123456+00:00', 'round trip');
  t.equal(parseTimestamp('2026-11-29T19:40:01.5+01:00'), Date.UTC(2026, 10, 29, 18, 40, 1, 500), 'an offset');
  t.equal(parseTimestamp('2011-05-03T17:40:11Z'), Date.UTC(2011, 4, 3, 17, 40, 11), 'second precision');
  t.equal(parseTimestamp('2026-11-29 18:40:01'), null);
  t.equal(parseTimestamp('yesterday'), null);
});

t.test('the clock: the wall clock in microseconds, never going back between two calls', async (t) => {
  let last = wallClock();
  let back = 0;
  let fractions = 0;
  for (let i = 0; i < 100_000; i++) {
    const now = wallClock();
    if (now < last) back++;
    if (!Number.isInteger(now)) fractions++;
    last = now;
  }
  t.equal(back, 0);
  t.ok(fractions > 0, 'sub-millisecond times');
  const wall = Date.now();
  const now = wallClock();
  t.ok(now >= wall - 25 && now < wall + 25, `within the step allowance of Date.now() (${now - wall} ms)`);
});

// Each case: what a dyno writes for one line, and the messages it must become.
const CASES: [string, string[]][] = [
  ['hello\n', ['hello']],
  ['crlf\r\n', ['crlf']],
  ['\n', ['']],
  ['a\rb\n', ['a\rb']],
  ['cr only\r\r\n', ['cr only\r']],
  [`${'x'.repeat(10_000)}\r\n`, ['x'.repeat(10_000)]],
  [`${'y'.repeat(10_001)}\n`, ['y'.repeat(10_000), 'y']],
  [`${'z'.repeat(25_000)}\n`, ['z'.repeat(10_000), 'z'.repeat(10_000), 'z'.repeat(5_000)]],
  // 3-byte characters: 3,333 of them are 9,999 bytes, the next would cross 10,000
  [`${'€'.repeat(5_000)}\n`, ['€'.repeat(3_333), '€'.repeat(1_667)]],
  // 4-byte characters after one ASCII byte: a cut at 10,000 would land inside one
  [`a${'😀'.repeat(3_000)}\n`, [`a${'😀'.repeat(2_499)}`, '😀'.repeat(501)]],
  [`${'é'.repeat(5_000)}\n`, ['é'.repeat(5_000)]],
  ['ünïcödé ✓ 日本語\n', ['ünïcödé ✓ 日本語']],
  ['tail without a newline', ['tail without a newline']],
];
const INPUT = Buffer.from(CASES.map(([i]) => i).join(''), 'utf8');
const EXPECTED = CASES.flatMap(([, o]) => o);

t.test('lines: \\n, \\r\\n, the partial last line, 10,000-byte chunks on UTF-8 boundaries', async (t) => {
  const got = split([INPUT]);
  t.same(got, EXPECTED);
  for (const m of got) t.ok(Buffer.byteLength(m) <= MAX_LINE_BYTES);
  t.same(split([Buffer.from('one\ntwo\n')]), ['one', 'two'], 'a final newline ends the last line, no empty line after it');
  t.same(split([Buffer.from('one\n\n')]), ['one', ''], 'an empty line is a line');
  t.same(split([]), [], 'nothing written, no line');
  t.same(split([Buffer.from('abc\r')]), ['abc'], 'a \\r at the very end goes like one before \\n');
});

t.test('lines: any chunking of the same bytes gives the same lines (seeded random chunkings)', async (t) => {
  let failures = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const rnd = prng(seed);
    const chunks: Buffer[] = [];
    // mostly small chunks (1..16 bytes: every boundary gets hit), sometimes pipe-sized ones
    for (let at = 0; at < INPUT.length;) {
      const r = rnd();
      const size = r < 0.5 ? 1 + Math.floor(rnd() * 16) : r < 0.9 ? 1 + Math.floor(rnd() * 4096) : 1 + Math.floor(rnd() * 65536);
      chunks.push(INPUT.subarray(at, at + size));
      at += size;
    }
    const got = split(chunks);
    if (JSON.stringify(got) !== JSON.stringify(EXPECTED)) {
      failures++;
      t.same(got, EXPECTED, `seed ${seed}`);
    }
  }
  t.equal(failures, 0, '300 chunkings, identical lines');
  t.same(split([...INPUT].map((b) => Buffer.from([b]))), EXPECTED, 'one byte at a time');
});

t.test('lines: an endless line is cut as it comes, not held', async (t) => {
  const out: string[] = [];
  const s = new LineSplitter((m) => out.push(m));
  s.push(Buffer.alloc(10_001, 'q'));
  t.same(out, [], '10,001 bytes could still be 10,000 and \\r\\n: held');
  s.push(Buffer.from('q'));
  t.same(out, ['q'.repeat(10_000)], 'one more byte: the first chunk goes');
  for (let i = 0; i < 100; i++) s.push(Buffer.alloc(1000, 'q'));
  t.equal(out.length, 11, '110,002 bytes: 11 chunks out, 2 bytes held');
  t.ok(out.every((m) => m === 'q'.repeat(10_000)));
  s.end();
  t.same(out.slice(11), ['q'.repeat(2)]);
});

t.test('lines: invalid UTF-8 becomes U+FFFD and still fits 10,000 bytes', async (t) => {
  const got = split([Buffer.concat([Buffer.alloc(10_001, 0xff), Buffer.from('\n')])]);
  for (const m of got) t.ok(Buffer.byteLength(m) <= MAX_LINE_BYTES, `${Buffer.byteLength(m)} bytes`);
  t.equal(got.join(''), '\ufffd'.repeat(10_001), 'every byte is there, as U+FFFD');
  t.same(got.map((m) => m.length), [3333, 3333, 3333, 1, 1], '10,000 bytes in, 3 chunks of 3,333 (9,999 bytes), then the 10,001st byte');
});

t.test('utf8Cut: the end of a chunk never falls inside a sequence', async (t) => {
  const b = Buffer.from('ab€', 'utf8'); // a b e2 82 ac
  t.equal(utf8Cut(b, 2), 2, 'before the lead byte');
  t.equal(utf8Cut(b, 3), 2, 'inside: back to the lead');
  t.equal(utf8Cut(b, 4), 2);
  t.equal(utf8Cut(Buffer.from([0x61, 0x80, 0x80, 0x80, 0x80, 0x80]), 4), 4, 'stray continuation bytes: cut where asked');
});

function line(source: LogLine['source'], dyno: string, message: string, time = T0): LogLine {
  return { time, source, dyno, message };
}

t.test('filters: source, dyno, and a type matching its dynos only', async (t) => {
  const lines = [line('app', 'web.1', 'a'), line('app', 'web.12', 'b'), line('app', 'webby.1', 'c'), line('dynod', 'web.2', 'd'), line('dynod', 'router', 'e'), line('app', 'worker.1', 'f')];
  const pick = (f: Parameters<typeof matchesFilter>[1]) => lines.filter((l) => matchesFilter(l, f)).map((l) => l.message).join('');
  t.equal(pick({}), 'abcdef');
  t.equal(pick({ type: 'web' }), 'abd', 'web: web.1, web.12, web.2; not webby.1');
  t.equal(pick({ type: 'we' }), '');
  t.equal(pick({ type: 'router' }), 'e', 'a pseudo-dyno by its name');
  t.equal(pick({ dyno: 'web.1' }), 'a', 'a dyno exactly (web.1 is not web.12)');
  t.equal(pick({ source: 'app' }), 'abcf');
  t.equal(pick({ source: 'dynod', type: 'web' }), 'd');
});

t.test('recent: exactly the last 1,500 lines, newest n, filtered, oldest first', async (t) => {
  const hub = new LogHub({ output: null, clock: stepClock() });
  t.teardown(() => hub.close());
  for (let i = 0; i < 2_000; i++) hub.system(i % 2 ? 'web.1' : 'worker.1', `line ${i}`);
  const all = hub.recent({}, 5_000);
  t.equal(all.length, 1500);
  t.equal(all[0]!.message, 'line 500');
  t.equal(all[1499]!.message, 'line 1999');
  t.same(hub.recent({}, 3).map((l) => l.message), ['line 1997', 'line 1998', 'line 1999']);
  t.same(hub.recent({ type: 'web' }, 2).map((l) => l.message), ['line 1997', 'line 1999']);
  t.equal(hub.recent({ dyno: 'worker.1' }, 1500).length, 750);
  t.same(hub.recent({ source: 'app' }, 10), []);
  t.same(hub.recent({}, 0), []);
  t.equal(hub.stats().lines, 2000);
  t.ok(Object.isFrozen(all[0]), 'kept lines cannot be changed by a reader');
  t.throws(() => hub.recent({}, -1), new UsageError('log line count -1: accepted a whole number from 0 (the last 1500 lines are kept)'));
  t.throws(() => hub.recent({}, 1.5), UsageError);
  t.throws(() => hub.recent({ source: 'heroku' as 'app' }, 1), new UsageError('log source "heroku": accepted app or dynod'));
  t.throws(() => hub.recent({ dyno: 'web 1' }, 1), new UsageError(`log dyno "web 1": accepted a name of letters, digits, '.', '_' or '-' (web.1, worker)`));
  t.throws(() => hub.system('web[1]', 'x'), new UsageError(`log dyno name "web[1]": accepted letters, digits, '.', '_' or '-' (web.1, run.4520, router)`));
});

t.test('system lines: newlines make lines, long ones are cut like a dyno\'s', async (t) => {
  const hub = new LogHub({ output: null, clock: stepClock() });
  t.teardown(() => hub.close());
  hub.system('web.1', 'State changed from starting to up');
  hub.system('web.1', 'two\nlines\n');
  hub.system('web.1', 'x'.repeat(10_001));
  t.same(hub.recent({}, 10).map((l) => [l.source, l.dyno, l.message.length > 40 ? l.message.length : l.message]), [
    ['dynod', 'web.1', 'State changed from starting to up'],
    ['dynod', 'web.1', 'two'],
    ['dynod', 'web.1', 'lines'],
    ['dynod', 'web.1', 10_000],
    ['dynod', 'web.1', 'x'],
  ]);
});

t.test('attach: a stream\'s lines as app lines, the last one at its end, stamped when read', async (t) => {
  const hub = new LogHub({ output: null, clock: stepClock() });
  t.teardown(() => hub.close());
  const s = new PassThrough();
  const done = hub.attach('web.1', s);
  s.write('first li');
  s.write('ne\r\nsecond\nthi');
  await new Promise((r) => setImmediate(r));
  t.same(hub.recent({}, 10).map((l) => l.message), ['first line', 'second'], 'the unfinished line waits');
  t.equal(hub.stats().attached, 1);
  s.end('rd');
  await done;
  const lines = hub.recent({}, 10);
  t.same(lines.map((l) => [l.source, l.dyno, l.message]), [['app', 'web.1', 'first line'], ['app', 'web.1', 'second'], ['app', 'web.1', 'third']]);
  t.equal(lines[0]!.time, lines[1]!.time, 'lines of one read share its time');
  t.ok(lines[2]!.time > lines[1]!.time);
  t.equal(hub.stats().attached, 0);
});

t.test('attach: an error or a destroy ends the stream with its last line; close() flushes the unfinished one', async (t) => {
  const hub = new LogHub({ output: null, clock: stepClock() });
  const a = new PassThrough();
  const b = new PassThrough();
  const c = new PassThrough();
  const pa = hub.attach('web.1', a);
  const pb = hub.attach('web.2', b);
  const pc = hub.attach('web.3', c);
  a.write('a partial');
  b.write('b partial');
  c.write('c partial');
  await new Promise((r) => setImmediate(r));
  a.destroy(new Error('EIO'));
  await pa;
  b.destroy();
  await pb;
  await hub.close();
  await pc;
  t.same(hub.recent({}, 10).map((l) => `${l.dyno} ${l.message}`), ['web.1 a partial', 'web.2 b partial', 'web.3 c partial']);
  c.write('after close\n');
  await new Promise((r) => setImmediate(r));
  t.equal(hub.stats().lines, 3, 'nothing is read after close()');
  t.equal(c.listenerCount('data'), 0);
});

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

t.test('subscribers: filtered live lines; a busy one queues, then drops with one L11 line where lines are missing', async (t) => {
  const hub = new LogHub({ output: null, clock: stepClock() });
  t.teardown(() => hub.close());
  const all: string[] = [];
  const offAll = hub.subscribe({}, (l) => void all.push(l.message));
  const webOnly: string[] = [];
  hub.subscribe({ type: 'web', source: 'dynod' }, (l) => void webOnly.push(l.message));

  const slow: LogLine[] = [];
  let gate = deferred();
  hub.subscribe({}, (l) => {
    slow.push(l);
    return gate.promise;
  }, { queue: 3 });

  for (let i = 1; i <= 10; i++) hub.system(i === 2 ? 'worker.1' : 'web.1', `m${i}`);
  t.same(all, ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10'], 'a listener that returns nothing gets every line at once');
  t.same(webOnly, ['m1', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10']);
  t.same(slow.map((l) => l.message), ['m1'], 'busy with m1: m2..m4 queue, m5..m10 drop');

  const m5time = T0 + 4 / 1000;
  for (let i = 0; i < 4; i++) {
    const g = gate;
    gate = deferred();
    g.resolve();
    await new Promise((r) => setImmediate(r));
  }
  t.same(slow.map((l) => l.message), ['m1', 'm2', 'm3', 'm4', `Error L11 (Tail buffer overflow) -> This tail session dropped 6 messages since ${formatTimestamp(m5time)}`]);
  t.same([slow[4]!.source, slow[4]!.dyno], ['dynod', 'logs']);
  t.equal(hub.recent({}, 100).length, 10, 'the L11 line is that reader\'s, not in the kept lines');

  gate.resolve();
  gate = deferred();
  gate.resolve();
  hub.system('web.1', 'm11');
  await new Promise((r) => setImmediate(r));
  t.equal(slow.at(-1)!.message, 'm11', 'caught up: lines flow again');

  offAll();
  hub.system('web.1', 'm12');
  t.equal(all.at(-1), 'm11', 'unsubscribed');
  t.equal(hub.stats().subscribers, 2);
});

t.test('subscribers: the L11 line comes before the next line once there is room again', async (t) => {
  const hub = new LogHub({ output: null, clock: stepClock() });
  t.teardown(() => hub.close());
  const got: string[] = [];
  let gate = deferred();
  hub.subscribe({}, (l) => {
    got.push(l.message.replace(/ since .*/, ''));
    return gate.promise;
  }, { queue: 2 });
  for (const m of ['a', 'b', 'c', 'd', 'e']) hub.system('web.1', m); // a delivered, b c queued, d e dropped
  gate.resolve();
  gate = deferred();
  await new Promise((r) => setImmediate(r)); // b delivered, c queued: room for one
  hub.system('web.1', 'f'); // the notice takes the free place, f drops: 3 missing now
  hub.system('web.1', 'g');
  const release = async () => {
    for (let i = 0; i < 6; i++) {
      const g = gate;
      gate = deferred();
      g.resolve();
      await new Promise((r) => setImmediate(r));
    }
  };
  await release();
  t.same(got, ['a', 'b', 'c', 'Error L11 (Tail buffer overflow) -> This tail session dropped 2 messages', 'Error L11 (Tail buffer overflow) -> This tail session dropped 2 messages']);
});

t.test('subscribers: one that throws or rejects is let go, the others and the hub go on', async (t) => {
  const hub = new LogHub({ output: null, clock: stepClock() });
  t.teardown(() => hub.close());
  const good: string[] = [];
  hub.subscribe({}, () => {
    throw new Error('socket gone');
  });
  hub.subscribe({}, () => Promise.reject(new Error('socket gone')));
  hub.subscribe({}, (l) => void good.push(l.message));
  hub.system('web.1', 'one');
  await new Promise((r) => setImmediate(r));
  hub.system('web.1', 'two');
  t.same(good, ['one', 'two']);
  t.equal(hub.stats().subscribers, 1);
  t.throws(() => hub.subscribe({}, () => {}, { queue: 0 }), new UsageError('log subscriber queue 0: accepted a whole number of lines, at least 1'));
});

t.test('subscribers: a line emitted by a listener comes after the line being delivered, for everyone', async (t) => {
  const hub = new LogHub({ output: null, clock: stepClock() });
  t.teardown(() => hub.close());
  const seen: string[] = [];
  hub.subscribe({}, (l) => {
    if (l.message === 'ping') hub.system('router', 'pong');
  });
  hub.subscribe({}, (l) => void seen.push(l.message));
  hub.system('web.1', 'ping');
  t.same(seen, ['ping', 'pong']);
  t.same(hub.recent({}, 5).map((l) => l.message), ['ping', 'pong']);
});

t.test('colours: a forced choice wins; else a terminal without NO_COLOR (non-empty) or TERM=dumb', async (t) => {
  t.equal(useColor({ isTTY: true, env: {} }), true);
  t.equal(useColor({ isTTY: false, env: {} }), false);
  t.equal(useColor({ isTTY: true, env: { NO_COLOR: '1' } }), false);
  t.equal(useColor({ isTTY: true, env: { NO_COLOR: '' } }), true, 'NO_COLOR empty means unset (no-color.org)');
  t.equal(useColor({ isTTY: true, env: { TERM: 'dumb' } }), false);
  t.equal(useColor({ force: true, isTTY: false, env: { NO_COLOR: '1' } }), true);
  t.equal(useColor({ force: false, isTTY: true, env: {} }), false);
});

t.test('colours: one per dyno name, the same every run; dynod\'s lines their own', async (t) => {
  t.equal(colorOf({ source: 'app', dyno: 'web.1' }), '36', 'a fixed hash: this colour on every run');
  t.equal(colorOf({ source: 'app', dyno: 'web.1' }), colorOf({ source: 'app', dyno: 'web.1' }));
  t.equal(colorOf({ source: 'dynod', dyno: 'web.1' }), '1');
  t.equal(colorOf({ source: 'dynod', dyno: 'router' }), '1');
  const used = new Set(['web.1', 'web.2', 'web.3', 'worker.1', 'worker.2', 'clock.1', 'release.1', 'run.4520'].map((d) => colorOf({ source: 'app', dyno: d })));
  t.notOk(used.has('1'), 'no dyno looks like dynod');
  t.ok(used.size >= 4, `dynos get different colours (${[...used].join(' ')})`);
  const l = line('app', 'web.1', 'Listening on 5000');
  t.equal(formatLine(l, { color: true }), '2026-11-29T18:40:01.123456+00:00 \x1b[36mapp[web.1]:\x1b[0m Listening on 5000');
  t.equal(formatLine(line('dynod', 'web.1', 'State changed from starting to up'), { color: true }), '2026-11-29T18:40:01.123456+00:00 \x1b[1mdynod[web.1]:\x1b[0m State changed from starting to up');
  t.same(parseLine(formatLine(l, { color: true })), l, 'parseLine reads coloured lines');
});

t.test('text format: Heroku\'s line, parsed back', async (t) => {
  const l = line('app', 'web.1', 'GET / 200 [x]: y');
  t.equal(formatLine(l), '2026-11-29T18:40:01.123456+00:00 app[web.1]: GET / 200 [x]: y');
  t.same(parseLine(formatLine(l)), l);
  t.equal(formatLine(line('dynod', 'router', '')), '2026-11-29T18:40:01.123456+00:00 dynod[router]: ');
  t.same(parseLine('2026-11-29T18:40:01.123456+00:00 dynod[router]: '), line('dynod', 'router', ''));
  t.equal(parseLine('2026-11-29T18:40:01.123456+00:00 heroku[router]: at=info'), null, 'not a dynod source');
  t.equal(parseLine('hello'), null);
  t.equal(parseLine('{"time":1}'), null);
});

t.test('json format: pino\'s line shape, fields level, time, source, dyno, msg in that order', async (t) => {
  const l = line('app', 'web.1', 'say "hi"\t\u001b[31mred\u001b[0m é');
  const text = formatLine(l, { format: 'json' });
  t.equal(text, '{"level":30,"time":"2026-11-29T18:40:01.123456+00:00","source":"app","dyno":"web.1","msg":"say \\"hi\\"\\t\\u001b[31mred\\u001b[0m é"}');
  t.same(Object.keys(JSON.parse(text) as object), ['level', 'time', 'source', 'dyno', 'msg']);
  t.same(parseLine(text), l);
  t.equal(formatLine(line('dynod', 'web.1', '100% %s %d'), { format: 'json', color: true }), '{"level":30,"time":"2026-11-29T18:40:01.123456+00:00","source":"dynod","dyno":"web.1","msg":"100% %s %d"}', 'no printf, no colour');
  t.same(parseLine(formatLine(line('app', 'web.1', ''), { format: 'json' })), line('app', 'web.1', ''));
});

t.test('Heroku-style overflow lines', async (t) => {
  t.same(outputOverflowLine(T0, 1234, Date.UTC(2026, 10, 29, 18, 40, 0)), line('dynod', 'logs', 'Error L10 (output buffer overflow) -> 1234 log lines dropped since 2026-11-29T18:40:00.000000+00:00'));
  t.same(tailOverflowLine(T0, 7, Date.UTC(2026, 10, 29, 18, 40, 0)), line('dynod', 'logs', 'Error L11 (Tail buffer overflow) -> This tail session dropped 7 messages since 2026-11-29T18:40:00.000000+00:00'));
});

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-logs-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('output to a regular file: written synchronously as it is (appending where it is), text or json', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'out.log');
  fs.writeFileSync(file, 'before\n');
  const fd = fs.openSync(file, 'a');
  t.teardown(() => fs.closeSync(fd));
  const hub = new LogHub({ output: fd, clock: stepClock() });
  t.equal(hub.stats().outputMode, 'file');
  hub.system('web.1', 'Starting process with command `node server.js`');
  hub.system('web.1', 'État: up ✓');
  await hub.close();
  t.equal(fs.readFileSync(file, 'utf8'), [
    'before',
    '2026-11-29T18:40:01.123456+00:00 dynod[web.1]: Starting process with command `node server.js`',
    '2026-11-29T18:40:01.123457+00:00 dynod[web.1]: État: up ✓',
    '',
  ].join('\n'));

  const jfile = path.join(dir, 'out.json');
  const jfd = fs.openSync(jfile, 'w');
  t.teardown(() => fs.closeSync(jfd));
  const jhub = new LogHub({ output: jfd, format: 'json', clock: stepClock() });
  jhub.system('web.1', 'up');
  await jhub.close();
  t.equal(fs.readFileSync(jfile, 'utf8'), '{"level":30,"time":"2026-11-29T18:40:01.123456+00:00","source":"dynod","dyno":"web.1","msg":"up"}\n');
});

t.test('output modes: devices reopened, files and sockets as they are, none without an fd', async (t) => {
  const dn = fs.openSync('/dev/null', 'w');
  t.teardown(() => fs.closeSync(dn));
  const fds = () => fs.readdirSync('/proc/self/fd').length;
  const before = fds();
  const hub = new LogHub({ output: dn });
  t.equal(hub.stats().outputMode, 'reopened');
  t.equal(fds(), before + 1, 'a description of our own');
  hub.system('web.1', 'x');
  await hub.close();
  t.equal(fds(), before, 'closed by close()');
  t.equal(new LogHub({ output: null }).stats().outputMode, 'none');
  const closedFd = fs.openSync('/dev/null', 'r');
  fs.closeSync(closedFd);
  t.equal(new LogHub({ output: closedFd }).stats().outputMode, 'none', 'an fd that is not open');
  t.throws(() => new LogHub({ output: null, format: 'xml' as 'json' }), new UsageError('log format "xml": accepted text or json'));
  t.throws(() => new LogHub({ output: null, maxPendingBytes: 1000 }), new UsageError('log output buffer 1000: accepted a whole number of bytes, at least 65536'));
});

t.test('close(): waits for the output, leaves no timer, immediate or fd behind', async (t) => {
  const dir = tempDir(t);
  const fd = fs.openSync(path.join(dir, 'out.log'), 'w');
  t.teardown(() => fs.closeSync(fd));
  const resources = () => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap').sort();
  const before = resources();
  const hub = new LogHub({ output: fd });
  const s = new PassThrough();
  const attached = hub.attach('web.1', s);
  for (let i = 0; i < 10_000; i++) s.write(`line ${i}\n`);
  hub.system('web.1', 'last');
  await hub.close();
  await attached;
  t.same(resources(), before);
  const text = fs.readFileSync(path.join(dir, 'out.log'), 'utf8');
  t.equal(text.split('\n').length, 10_002, 'every line written before close() resolved');
  t.equal(hub.stats().outputDropped, 0);
  t.equal(await hub.close().then(() => 'again'), 'again', 'close() twice is fine');
});
