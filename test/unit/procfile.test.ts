import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MAX_TYPE_LENGTH, parseProcfile, readProcfile } from '../../src/formation/procfile';
import type { ProcessType } from '../../src/formation/types';
import { UsageError } from '../../src/errors';
import { check, fuzz, mutate, type Rng } from './fixtures/fuzz';

// ============================================================================
// The Procfile grammar (src/formation/procfile.ts; heroku-dynos.md 4.1, 4.2).

const FORM = 'expected "<type>: <command>" (type of letters, digits, _ and -)';
const EMPTY = 'Procfile: no process types defined; expected lines like "web: node server.js"';
const T = (name: string, command: string, line: number): ProcessType => ({ name, command, line });
const long = (n: number) => 'a'.repeat(n);

/** input → its types (and warnings), or the exact error; the comment says which tool differs and how */
const TABLE: Array<[string, ProcessType[] | string, string[]?]> = [
  ['web: node server.js', [T('web', 'node server.js', 1)]],
  // overmind's regex needs whitespace after the colon: it ignores this line
  ['web:node server.js', [T('web', 'node server.js', 1)]],
  // foreman keeps the trailing spaces (its (.+)$); they mean nothing to sh -c
  ['web:   node  server.js  ', [T('web', 'node  server.js', 1)]],
  ['web:\tnode server.js', [T('web', 'node server.js', 1)]],
  // classic Heroku and the CNB spec allow leading spaces; foreman, honcho, node-foreman and
  // overmind anchor the name at column 0 and ignore (node-foreman: reject) the line
  ['  web: x', [T('web', 'x', 1)]],
  ['\tweb: x', [T('web', 'x', 1)]],
  ['web: x\nworker: y', [T('web', 'x', 1), T('worker', 'y', 2)]],
  ['web: x\n', [T('web', 'x', 1)]],
  // foreman normalises CRLF; node-foreman splits on \n and keeps the \r in the command
  ['web: x\r\nworker: y\r\n', [T('web', 'x', 1), T('worker', 'y', 2)]],
  ['web: x\rworker: y', [T('web', 'x', 1), T('worker', 'y', 2)]],
  ['\uFEFFweb: x', [T('web', 'x', 1)]],
  ['# the web\nweb: x', [T('web', 'x', 2)]],
  // node-foreman skips only a # in column 0 and throws on this line; `heroku local`'s
  // pre-check skips ^\s*# since heroku/cli#3636
  ['   # indented comment\nweb: x', [T('web', 'x', 2)]],
  ['#web: x\nworker: y', [T('worker', 'y', 2)]],
  ['\n\nweb: x\n\n\n', [T('web', 'x', 3)]],
  ['web: x\n   \n\t\nworker: y', [T('web', 'x', 1), T('worker', 'y', 4)]],
  // `heroku local`'s pre-check (^\s*\w+:) rejects "-" in names
  ['my-worker: x', [T('my-worker', 'x', 1)]],
  // Heroku's CNB spec rewrites _ to - and uppercase to lowercase, with a warning
  ['my_worker: x', [T('my_worker', 'x', 1)]],
  ['Web: x', [T('Web', 'x', 1)]],
  ['web: x\nWeb: y', [T('web', 'x', 1), T('Web', 'y', 2)]],
  ['123: x', [T('123', 'x', 1)]],
  ['web-2x_Alt: x', [T('web-2x_Alt', 'x', 1)]],
  // foreman replaces $PORT itself before spawning; dynod leaves it to the dyno's shell
  ['web: bundle exec puma -p $PORT', [T('web', 'bundle exec puma -p $PORT', 1)]],
  ['web: echo "a: b" # shell comment', [T('web', 'echo "a: b" # shell comment', 1)]],
  // the second colon is the command's (foreman reads it the same way)
  ['web:: x', [T('web', ': x', 1)]],
  ['release: ./bin/migrate\nweb: x', [T('release', './bin/migrate', 1), T('web', 'x', 2)]],
  [`${long(MAX_TYPE_LENGTH)}: x`, [T(long(MAX_TYPE_LENGTH), 'x', 1)]],
  // the last definition wins (Heroku CNB: with a warning); honcho asserts, overmind is fatal,
  // foreman keeps both entries
  ['web: x\nweb: y', [T('web', 'y', 2)], ['Procfile:2: process type "web" is defined again (first on line 1); the last definition wins']],
  ['web: x\nworker: y\nweb: z', [T('web', 'z', 3), T('worker', 'y', 2)], ['Procfile:3: process type "web" is defined again (first on line 1); the last definition wins']],
  ['a: 1\na: 2\na: 3', [T('a', '3', 3)], [
    'Procfile:2: process type "a" is defined again (first on line 1); the last definition wins',
    'Procfile:3: process type "a" is defined again (first on line 2); the last definition wins',
  ]],
  // --- errors: foreman, honcho and overmind skip every line below silently
  // classic Heroku's colon-optional rule would read type "web", command "node server.js"
  ['web node server.js', `Procfile:1: missing ":" after "web" in "web node server.js"; ${FORM}`],
  ['node server.js', `Procfile:1: missing ":" after "node" in "node server.js"; ${FORM}`],
  ['web', `Procfile:1: no ":" in "web"; ${FORM}`],
  ['web: x\n  oops', `Procfile:2: no ":" in "oops"; ${FORM}`],
  ['web: x\r\n   \r\nbad line here\r\n', `Procfile:3: missing ":" after "bad" in "bad line here"; ${FORM}`],
  ['web:', `Procfile:1: process type "web" has no command; ${FORM}`],
  ['web:   \t', `Procfile:1: process type "web" has no command; ${FORM}`],
  ['web.1: x', `Procfile:1: invalid process type "web.1"; ${FORM}`],
  ['my worker: x', `Procfile:1: invalid process type "my worker"; ${FORM}`],
  ['wéb: x', `Procfile:1: invalid process type "wéb"; ${FORM}`],
  ['"web": x', `Procfile:1: invalid process type "\\"web\\""; ${FORM}`],
  // classic Heroku reads type "web" and command ": x"
  ['web : x', `Procfile:1: space before ":" in "web : x"; ${FORM}`],
  [': x', `Procfile:1: no process type before ":" in ": x"; ${FORM}`],
  [`${'x'.repeat(50)}`, `Procfile:1: no ":" in "${'x'.repeat(40)}…"; ${FORM}`],
  ['-web: x', `Procfile:1: process type "-web" starts with "-" (it would read as an option on the command line); ${FORM}, not starting with "-"`],
  ['run: x', 'Procfile:1: process type "run" is reserved for one-off dynos (dynod run names them run.N); expected another name, e.g. "runner: <command>"'],
  // Heroku's API allows 128 characters, its CNB spec 63
  [`${long(MAX_TYPE_LENGTH + 1)}: x`, `Procfile:1: process type "${long(20)}…" is 60 characters long; expected at most 59 (its dynos are named <type>.<N>, at most 63 characters)`],
  ['web: a\0b', `Procfile:1: the command of "web" contains a NUL byte; ${FORM}`],
  // foreman: "no processes defined"; overmind: "No entries were found in Procfile"; CNB: a warning only
  ['', EMPTY],
  ['\n\n', EMPTY],
  ['# only comments\n  # and more\n', EMPTY],
  ['\uFEFF', EMPTY],
];

t.test(`Procfile grammar table (${TABLE.length} cases)`, async (t) => {
  t.ok(TABLE.length >= 40);
  for (const [input, want, warnings = []] of TABLE) {
    const label = JSON.stringify(input);
    if (typeof want === 'string') t.throws(() => parseProcfile(input), { name: 'UsageError', message: want }, label);
    else t.strictSame(parseProcfile(input), { file: 'Procfile', types: want, warnings }, label);
  }
});

t.test('errors name the file given', async (t) => {
  t.throws(() => parseProcfile('web: x\nbad', 'apps/a/Procfile.dev'), { message: `apps/a/Procfile.dev:2: no ":" in "bad"; ${FORM}` });
  t.throws(() => parseProcfile('', 'Procfile.dev'), { message: 'Procfile.dev: no process types defined; expected lines like "web: node server.js"' });
  t.equal(parseProcfile('web: x', 'P').file, 'P');
});

t.test('readProcfile: reads, names the path in errors', async (t) => {
  const dir = t.testdir({ Procfile: 'web: node server.js\nworker: node worker.js\n', bad: 'web node\n', empty: '', sub: {}, file: 'x' });
  t.strictSame(readProcfile(path.join(dir, 'Procfile')), {
    file: path.join(dir, 'Procfile'),
    types: [T('web', 'node server.js', 1), T('worker', 'node worker.js', 2)],
    warnings: [],
  });
  const p = (n: string) => path.join(dir, n);
  t.throws(() => readProcfile(p('bad')), { name: 'UsageError', message: `${p('bad')}:1: missing ":" after "web" in "web node"; ${FORM}` });
  t.throws(() => readProcfile(p('empty')), { name: 'UsageError', message: `${p('empty')}: no process types defined; expected lines like "web: node server.js"` });
  t.throws(() => readProcfile(p('none')), { name: 'UsageError', message: `${p('none')}: no such file; expected lines like "web: node server.js"` });
  t.throws(() => readProcfile(p('sub')), { name: 'UsageError', message: `${p('sub')}: is a directory, not a Procfile; expected lines like "web: node server.js"` });
  t.throws(() => readProcfile(p('file/Procfile')), { name: 'UsageError', message: `${p('file/Procfile')}: a part of the path is not a directory; expected lines like "web: node server.js"` });
  t.ok(fs.existsSync(p('Procfile')));
});

// ============================================================================
// Properties, on seeded random input (DYNOD_TEST_SEED reruns a failure).

const NAME_START = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_';
const NAME_CHARS = `${NAME_START}-`;
// commands: anything on one line, with the characters a parser could trip on
const COMMAND_CHARS = [...'abcxyz019 _-./$"\'#:=\\|&;()<>{}*?!~`', '\t', 'é', '✓', '😀', '\u00a0'];
const WS = ['', ' ', '  ', '\t', ' \t '];
const EOL = ['\n', '\r\n', '\r'];

function genName(rng: Rng): string {
  for (;;) {
    const n = rng.pick(NAME_START) + rng.string(NAME_CHARS, 0, rng.chance(0.05) ? MAX_TYPE_LENGTH - 1 : 12);
    if (n !== 'run') return n;
  }
}

function genCommand(rng: Rng): string {
  for (;;) {
    const c = rng.string(COMMAND_CHARS, 1, 60).trim();
    if (c !== '') return c;
  }
}

/** A valid Procfile made from random types, with comments, blanks and random spacing. */
function genProcfile(rng: Rng): { text: string; types: ProcessType[] } {
  const eol = rng.chance(0.8) ? '\n' : rng.pick(EOL);
  const lines: string[] = [];
  const types: ProcessType[] = [];
  const names = new Set<string>();
  const filler = () => (rng.chance(0.5) ? rng.pick(WS) : `${rng.pick(WS)}#${rng.string(COMMAND_CHARS, 0, 30)}`);
  for (let n = rng.int(1, 8); n > 0; n--) {
    while (rng.chance(0.3)) lines.push(filler());
    let name = genName(rng);
    while (names.has(name)) name = genName(rng);
    names.add(name);
    const command = genCommand(rng);
    lines.push(`${rng.pick(WS)}${name}:${rng.pick(WS)}${command}${rng.pick(WS)}`);
    types.push({ name, command, line: lines.length });
  }
  while (rng.chance(0.3)) lines.push(filler());
  const text = (rng.chance(0.1) ? '\uFEFF' : '') + lines.join(eol) + (rng.chance(0.5) ? eol : '');
  return { text, types };
}

t.test('round trip: random valid Procfiles parse to what they were made of', async (t) => {
  fuzz(t, 'procfile round trip', 3000, (rng, show) => {
    const { text, types } = genProcfile(rng);
    show(text);
    const p = parseProcfile(text);
    check(JSON.stringify(p) === JSON.stringify({ file: 'Procfile', types, warnings: [] }), `parsed ${JSON.stringify(p)}`);
  });
});

/** What any parse must give or throw, whatever the input. */
function checkOutcome(text: string, file: string): void {
  let p;
  try {
    p = parseProcfile(text, file);
  } catch (e) {
    check(e instanceof UsageError, `threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
    const msg = (e as UsageError).message;
    check(!msg.includes('\n'), `a multi-line message: ${JSON.stringify(msg)}`);
    if (msg === `${file}: no process types defined; expected lines like "web: node server.js"`) return;
    const m = /^(.*):(\d+): .*; expected /s.exec(msg);
    check(m !== null && m[1] === file, `message without "${file}:<line>: …; expected": ${JSON.stringify(msg)}`);
    const line = Number(m![2]);
    const count = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/).length;
    check(line >= 1 && line <= count, `line ${line} of ${count}`);
    return;
  }
  check(p.types.length > 0, 'no types but no error');
  const names = new Set<string>();
  let last = 0;
  for (const ty of p.types) {
    check(/^[A-Za-z0-9_][A-Za-z0-9_-]*$/.test(ty.name) && ty.name.length <= MAX_TYPE_LENGTH && ty.name !== 'run', `bad name ${JSON.stringify(ty.name)}`);
    check(!names.has(ty.name), `${ty.name} twice`);
    names.add(ty.name);
    check(ty.command !== '' && ty.command === ty.command.trim() && !ty.command.includes('\0') && !/[\r\n]/.test(ty.command), `bad command ${JSON.stringify(ty.command)}`);
    check(Number.isInteger(ty.line) && ty.line >= 1, `bad line ${ty.line}`);
    last = Math.max(last, ty.line);
  }
  for (const w of p.warnings) check(/^.*:\d+: process type ".*" is defined again \(first on line \d+\); the last definition wins$/s.test(w), `warning ${JSON.stringify(w)}`);
}

const INTERESTING = [':', '#', ' ', '\t', '\n', '\r', '\r\n', '\0', '-', '_', '.', '"', "'", 'é', '\uFEFF', '\u2028', 'run', 'release', 'web: x', '\\'];

t.test('mutated Procfiles: a Procfile or a UsageError naming file:line and the form', async (t) => {
  fuzz(t, 'procfile mutations', 4000, (rng, show) => {
    const text = mutate(rng, genProcfile(rng).text, INTERESTING);
    show(text);
    checkOutcome(text, 'Procfile');
  });
});

t.test('random bytes: never anything but a UsageError', async (t) => {
  const chars = [...INTERESTING, ...'abcXYZ09 =+$', '\u0001', '\x7f', '\ud800'];
  fuzz(t, 'procfile garbage', 3000, (rng, show) => {
    const text = rng.string(chars, 0, 80);
    show(text);
    checkOutcome(text, 'some/Procfile');
  });
});
