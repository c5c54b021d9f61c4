import t from 'tap';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseDotenv, parseDotenvFiles, readEnvFile } from '../../src/dyno/env';
import { UsageError } from '../../src/errors';
import { check, fuzz, mutate, type Rng } from './fixtures/fuzz';

// ============================================================================
// The .env grammar (src/dyno/env.ts; heroku-dynos.md 4.3): a table of inputs with
// exact results, the $NAME expansion, several files, and seeded random input.
// (test/unit/env.test.ts has the older, per-feature tests of the same parser.)

const FORM = 'expected KEY=VALUE';
const EXP = 'expected $NAME or ${NAME} of a key set above, or \\$ (or single quotes) for a literal $';
const NAME_RULE = '(letters, digits and _ only, not starting with a digit)';

/** input → the variables, or the exact error (file app.env); the comment says which tool differs and how */
const TABLE: Array<[string, Record<string, string> | string]> = [
  ['A=1', { A: '1' }],
  // node-foreman ignores lines of 2 characters or less: A stays unset there
  ['A=', { A: '' }],
  // foreman's \A([A-Za-z_0-9]+)=(.*)\z allows no spaces around "=": it ignores the line
  ['A = 1', { A: '1' }],
  ['  A\t=\t1  ', { A: '1' }],
  // foreman ignores export lines (PR #706 declined); godotenv and honcho's shlex take them
  ['export A=1', { A: '1' }],
  ['export\tA=1', { A: '1' }],
  ['export=1', { export: '1' }],
  // foreman keeps " # comment" (and trailing spaces) in an unquoted value; godotenv and
  // node-foreman strip it
  ['A=1 # comment', { A: '1' }],
  ['A=a#b', { A: 'a#b' }],
  ['A=#fff', { A: '#fff' }],
  // godotenv reads "# note" here: only a # after a non-space character is kept
  ['A= # note', { A: '' }],
  ['A=  spaced  value  ', { A: 'spaced  value' }],
  ['A=x=y', { A: 'x=y' }],
  ['A=C:\\dir\\new', { A: 'C:\\dir\\new' }],
  ["A='x y'", { A: 'x y' }],
  ["A='$B \\n # x'", { A: '$B \\n # x' }],
  ["A='v' # c", { A: 'v' }],
  ['A="v"   # c', { A: 'v' }],
  // node-foreman: no escapes in quotes (a literal \n); honcho and foreman: a newline
  ['A="a\\nb"', { A: 'a\nb' }],
  // foreman turns \t into t (only \n is special there)
  ['A="a\\tb\\rc"', { A: 'a\tb\rc' }],
  // node-foreman ends the value at the first " (say \)
  ['A="say \\"hi\\""', { A: 'say "hi"' }],
  ['A="c:\\\\dir"', { A: 'c:\\dir' }],
  // foreman makes "\\n" a backslash and a newline (its \n pass runs first)
  ['A="\\\\n"', { A: '\\n' }],
  ['A="x\\qy"', { A: 'xqy' }],
  ['A="# not a comment"', { A: '# not a comment' }],
  // foreman and node-foreman read one line only; godotenv and the shell span lines
  ['A="line1\nline2"\nB=2', { A: 'line1\nline2', B: '2' }],
  ["A='line1\n  line2  '", { A: 'line1\n  line2  ' }],
  ['A="trailing   \n  spaces kept"', { A: 'trailing   \n  spaces kept' }],
  ['A="x\r\ny"', { A: 'x\ny' }],
  ['A=1\r\nB=2\r\n', { A: '1', B: '2' }],
  ['A=1\rB=2', { A: '1', B: '2' }],
  ['\uFEFFA=1', { A: '1' }],
  ['# c\n\n  # c2\n\t\nA=1', { A: '1' }],
  ['A=1\nA=2', { A: '2' }],
  ['lower_9=x\n_=y', { lower_9: 'x', _: 'y' }],
  // --- $NAME: foreman dropped it in 0.78, node-foreman and honcho never had it; godotenv has it
  ['A=1\nB=${A}2', { A: '1', B: '12' }],
  ['A=1\nB=$A/x', { A: '1', B: '1/x' }],
  ['A=1\nB="$A and ${A}"', { A: '1', B: '1 and 1' }],
  ['A=1\nB=${A}_X', { A: '1', B: '1_X' }],
  ["A=1\nB='$A ${A}'", { A: '1', B: '$A ${A}' }],
  ['A=1\nB=\\$A', { A: '1', B: '$A' }],
  ['A=1\nB="\\$A"', { A: '1', B: '$A' }],
  ['A=1\nB=\\\\$A', { A: '1', B: '\\$A' }],
  ['B=$5, $ and $-$', { B: '$5, $ and $-$' }],
  ['P=/bin\nP=$P:/app/bin', { P: '/bin:/app/bin' }],
  ['A=1 #\nB="${A}\n$A"', { A: '1', B: '1\n1' }],
  ['A= x # y\nB=$A#', { A: 'x', B: 'x#' }],
  // --- errors: foreman, node-foreman (unless JSON) and godotenv (YAML form) skip or accept some
  ['A', `app.env:1: no "="; ${FORM}`],
  ['A=1\nexport A', `app.env:2: no "="; ${FORM}`],
  // godotenv reads "A: 1" as YAML
  ['A: 1', `app.env:1: no "="; ${FORM}`],
  // node-foreman flattens a JSON file into A_B keys
  ['{"A": 1}', `app.env:1: no "="; ${FORM}`],
  ['1A=x', `app.env:1: invalid name "1A" ${NAME_RULE}; ${FORM}`],
  ['A-B=x', `app.env:1: invalid name "A-B" ${NAME_RULE}; ${FORM}`],
  // godotenv accepts dots in names
  ['A.B=x', `app.env:1: invalid name "A.B" ${NAME_RULE}; ${FORM}`],
  ['export =x', `app.env:1: invalid name "" ${NAME_RULE}; ${FORM}`],
  ['__proto__=x', `app.env:1: the name "__proto__" cannot be used; ${FORM}`],
  ['A="open\nB=2', `app.env:1: unterminated double quote; ${FORM}`],
  ["A=1\nB='open", `app.env:2: unterminated single quote; ${FORM}`],
  ['A="x" y', `app.env:1: text after the closing quote; ${FORM}`],
  ['A="x\ny" tail', `app.env:2: text after the closing quote; ${FORM}`],
  ['A="x\0y"', `app.env:1: the value of A contains a NUL byte; ${FORM}`],
  // godotenv expands an unset name to "" (and looks in the host environment first)
  ['B=$NOPE', `app.env:1: $NOPE is not set above; ${EXP}`],
  ['A=1\nB=$A_X', `app.env:2: $A_X is not set above; ${EXP}`],
  ['B="${NOPE}"', `app.env:1: \${NOPE} is not set above; ${EXP}`],
  ['B=$B', `app.env:1: $B is not set above; ${EXP}`],
  ['A=1\nB="x\ny $NOPE"', `app.env:3: $NOPE is not set above; ${EXP}`],
  ['A=1\nB="${A:-x}"', `app.env:2: "\${A:-x}": only $NAME and \${NAME} are expanded; ${EXP}`],
  ['B=${', `app.env:1: "\${": only $NAME and \${NAME} are expanded; ${EXP}`],
  ['B=${}', `app.env:1: "\${}": only $NAME and \${NAME} are expanded; ${EXP}`],
  ['B=${1A}', `app.env:1: "\${1A}": only $NAME and \${NAME} are expanded; ${EXP}`],
];

t.test(`.env grammar table (${TABLE.length} cases)`, async (t) => {
  t.ok(TABLE.length >= 40);
  for (const [input, want] of TABLE) {
    const label = JSON.stringify(input);
    if (typeof want === 'string') t.throws(() => parseDotenv(input, 'app.env'), { name: 'UsageError', message: want }, label);
    else t.strictSame(parseDotenv(input, 'app.env'), want, label);
  }
});

t.test('$NAME sees `outer` after the earlier lines, and outer keys are not returned', async (t) => {
  const outer = { PATH: '/usr/bin', HOME: '/app', PORT: '5000' };
  t.strictSame(parseDotenv('PATH=$PATH:/app/bin\nURL=http://localhost:${PORT}/\nHOME_LOG=$HOME/log', '.env', outer), {
    PATH: '/usr/bin:/app/bin',
    URL: 'http://localhost:5000/',
    HOME_LOG: '/app/log',
  });
  t.strictSame(parseDotenv('PORT=1\nX=$PORT', '.env', outer), { PORT: '1', X: '1' }, 'the file wins over outer');
  t.strictSame(parseDotenv('X=$toString', '.env', { toString: 'own' }), { X: 'own' });
  t.throws(() => parseDotenv('X=$toString$constructor'), { message: `.env:1: $toString is not set above; ${EXP}` }, 'not the prototype');
});

t.test('parseDotenvFiles: merged in order, each file sees the ones before', async (t) => {
  const dir = t.testdir({
    'a.env': 'A=1\nB=from-a\nURL=http://$HOST/\n',
    'b.env': 'export B=from-b\nC="${A}${B}"\n',
    'bad.env': 'A=1\nB=$MISSING\n',
    'sub': {},
  });
  const p = (n: string) => path.join(dir, n);
  t.strictSame(parseDotenvFiles([p('a.env'), p('b.env')], { HOST: 'h' }), { A: '1', B: 'from-b', URL: 'http://h/', C: '1from-b' });
  t.strictSame(parseDotenvFiles([]), {});
  t.throws(() => parseDotenvFiles([p('b.env')]), { name: 'UsageError', message: `${p('b.env')}:2: \${A} is not set above; ${EXP}` }, 'no earlier file');
  t.throws(() => parseDotenvFiles([p('a.env'), p('bad.env')], { HOST: 'h' }), { name: 'UsageError', message: `${p('bad.env')}:2: $MISSING is not set above; ${EXP}` });
  t.throws(() => parseDotenvFiles([p('a.env'), p('none.env')], { HOST: 'h' }), { name: 'UsageError', message: `--env-file ${p('none.env')}: no such file` });
  t.throws(() => parseDotenvFiles([p('sub')]), { name: 'UsageError', message: `--env-file ${p('sub')}: is a directory` });
  t.strictSame(readEnvFile(p('b.env'), { A: 'x' }), { B: 'from-b', C: 'xfrom-b' });
});

// ============================================================================
// Properties, on seeded random input (DYNOD_TEST_SEED reruns a failure).

const KEY_START = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcxyz';
const KEY_CHARS = `${KEY_START}0123456789`;
const SPECIAL_KEYS = ['export', 'PATH', '_', 'A1', 'toString', 'constructor'];
// value characters: everything the grammar treats specially, and some that JS trims
const VALUE_CHARS = [...'abcXYZ019 =:/.,-_', ' ', '\t', '#', "'", '"', '\\', '$', '{', '}', '\n', '\r', 'é', '😀', '\u00a0', '\u2028', '\uFEFF'];
const WS = ['', ' ', '  ', '\t'];
const EOL = ['\n', '\r\n', '\r'];

type Piece = { lit: string } | { ref: string };

function genKey(rng: Rng): string {
  return rng.chance(0.1) ? rng.pick(SPECIAL_KEYS) : rng.pick(KEY_START) + rng.string(KEY_CHARS, 0, 10);
}

function single(pieces: Piece[]): string | null {
  if (pieces.some((p) => 'ref' in p)) return null;
  const v = pieces.map((p) => (p as { lit: string }).lit).join('');
  return v.includes("'") || v.includes('\r') ? null : `'${v}'`;
}

function double(rng: Rng, pieces: Piece[]): string {
  let out = '"';
  pieces.forEach((p, i) => {
    if ('ref' in p) {
      const next = pieces[i + 1];
      const bare = !next || ('lit' in next && !/^[A-Za-z0-9_]/.test(next.lit));
      out += bare && rng.chance(0.5) ? `$${p.ref}` : `\${${p.ref}}`;
      return;
    }
    for (const c of p.lit) {
      if (c === '\\' || c === '"' || c === '$') out += `\\${c}`;
      else if (c === '\r') out += '\\r';
      else if (c === '\n') out += rng.chance(0.5) ? '\\n' : '\n';
      else if (c === '\t') out += rng.chance(0.5) ? '\\t' : '\t';
      else out += c;
    }
  });
  return `${out}"`;
}

function unquoted(pieces: Piece[]): string | null {
  let out = '';
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i]!;
    if ('ref' in p) out += `\${${p.ref}}`;
    else {
      if (/[\r\n]/.test(p.lit)) return null;
      // a literal backslash just before a reference would escape its $
      if (p.lit.endsWith('\\') && pieces[i + 1] && 'ref' in pieces[i + 1]!) return null;
      out += p.lit.replace(/\$/g, '\\$');
    }
  }
  if (out !== out.trim() || /\s#/.test(out) || out.startsWith("'") || out.startsWith('"')) return null;
  return out;
}

/** A valid .env made from random keys and values, with its expected result. */
function genDotenv(rng: Rng): { text: string; env: Record<string, string> } {
  const env: Record<string, string> = {};
  const lines: string[] = [];
  const eol = rng.chance(0.8) ? '\n' : rng.pick(EOL);
  const filler = () => (rng.chance(0.5) ? rng.pick(WS) : `${rng.pick(WS)}#${rng.string(VALUE_CHARS.filter((c) => c !== '\n' && c !== '\r'), 0, 20)}`);
  for (let n = rng.int(1, 10); n > 0; n--) {
    while (rng.chance(0.25)) lines.push(filler());
    const key = Object.keys(env).length && rng.chance(0.1) ? rng.pick(Object.keys(env)) : genKey(rng);
    const pieces: Piece[] = [];
    let value = '';
    for (let k = rng.int(0, 4); k > 0; k--) {
      const known = Object.keys(env);
      if (known.length && rng.chance(0.3)) {
        const ref = rng.pick(known);
        pieces.push({ ref });
        value += env[ref];
      } else {
        const lit = rng.string(VALUE_CHARS, 1, 12);
        pieces.push({ lit });
        value += lit;
      }
    }
    const style = rng.int(0, 2);
    let text = (style === 0 && single(pieces)) || (style === 1 && unquoted(pieces)) || double(rng, pieces);
    const isUnquoted = !text.startsWith("'") && !text.startsWith('"');
    const before = key === 'export' ? '' : rng.pick(WS);
    const after = isUnquoted && (text === '' || text.startsWith('#')) ? '' : rng.pick(WS);
    const comment = rng.chance(0.3) ? `${rng.pick([' ', '\t', '  '])}# ${rng.string('abc #=', 0, 8)}` : isUnquoted ? '' : rng.pick(WS);
    text = `${rng.pick(WS)}${rng.chance(0.2) ? rng.pick(['export ', 'export\t']) : ''}${key}${before}=${after}${text}${comment}`;
    lines.push(...text.split('\n'));
    env[key] = value;
  }
  while (rng.chance(0.25)) lines.push(filler());
  return { text: (rng.chance(0.1) ? '\uFEFF' : '') + lines.join(eol) + (rng.chance(0.5) ? eol : ''), env };
}

t.test('round trip: random valid .env files parse to what they were made of', async (t) => {
  fuzz(t, '.env round trip', 4000, (rng, show) => {
    const { text, env } = genDotenv(rng);
    show({ text, env });
    const got = parseDotenv(text, 'app.env');
    check(isDeepStrictEqual(got, env), `parsed ${JSON.stringify(got)}`);
  });
});

/** What any parse must give or throw, whatever the input. */
function checkOutcome(text: string): void {
  let env: Record<string, string>;
  try {
    env = parseDotenv(text, 'app.env');
  } catch (e) {
    check(e instanceof UsageError, `threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
    const msg = (e as UsageError).message;
    const m = /^app\.env:(\d+): .*; expected (KEY=VALUE|\$NAME or \$\{NAME\} .*)$/s.exec(msg);
    check(m !== null, `message without "app.env:<line>: …; expected …": ${JSON.stringify(msg)}`);
    const line = Number(m![1]);
    const count = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/).length;
    check(line >= 1 && line <= count, `line ${line} of ${count}`);
    return;
  }
  check(Object.getPrototypeOf(env) === Object.prototype, 'the prototype changed');
  for (const [k, v] of Object.entries(env)) {
    check(/^[A-Za-z_][A-Za-z0-9_]*$/.test(k), `bad key ${JSON.stringify(k)}`);
    check(typeof v === 'string' && !v.includes('\0'), `bad value of ${k}: ${JSON.stringify(v)}`);
  }
}

const INTERESTING = ['=', '"', "'", '\\', '$', '${', '}', '#', ' ', '\t', '\n', '\r', '\r\n', '\0', 'export ', '__proto__', 'A', '1', '\uFEFF', '\u2028', 'é'];

t.test('mutated .env files: variables or a UsageError naming file:line and the form', async (t) => {
  fuzz(t, '.env mutations', 4000, (rng, show) => {
    const text = mutate(rng, genDotenv(rng).text, INTERESTING);
    show(text);
    checkOutcome(text);
  });
});

t.test('random bytes: never anything but a UsageError', async (t) => {
  const chars = [...INTERESTING, ...'abXY09 :+', '\u0001', '\x7f', '\ud800'];
  fuzz(t, '.env garbage', 3000, (rng, show) => {
    const text = rng.string(chars, 0, 80);
    show(text);
    checkOutcome(text);
  });
});
