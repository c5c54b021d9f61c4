import * as fs from 'node:fs';
import { UsageError } from '../errors';

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NAME_START = /[A-Za-z_]/;
const NAME_AT = /[A-Za-z_][A-Za-z0-9_]*/y;
const FORM = 'expected KEY=VALUE';
const EXPAND_FORM = 'expected $NAME or ${NAME} of a key set above, or \\$ (or single quotes) for a literal $';

type Env = Record<string, string>;

/**
 * Parses a .env file. The grammar is the common ground of foreman, node-foreman
 * (`heroku local`), honcho and godotenv (overmind) (heroku-dynos.md section 4.3),
 * stated strictly:
 * - blank lines and lines whose first non-space character is `#` are skipped;
 *   CRLF and CR end lines; a UTF-8 BOM is skipped;
 * - `KEY=VALUE` or `export KEY=VALUE`; KEY matches [A-Za-z_][A-Za-z0-9_]*; spaces
 *   around KEY and `=` are allowed; `KEY=` is the empty string;
 * - 'single quotes': literal up to the closing quote, may span lines;
 * - "double quotes": \n, \r, \t are escapes, \X is X (so \" \\ \$), may span lines;
 * - unquoted: trimmed, and a `#` after a space starts a comment (`A= # x` is
 *   empty, `A=#fff` is not); backslashes are literal except `\$`;
 * - `$NAME` and `${NAME}` expand in double-quoted and unquoted values, to a key set
 *   on an earlier line, else to `outer` (earlier files, the dyno's defaults). A
 *   name set nowhere is an error, not godotenv's silent empty string: a generated
 *   secret such as `abc$def` must not lose a piece quietly. `$` before anything
 *   but a name or `{` is literal. foreman dropped interpolation in 0.78 and
 *   honcho never had it; godotenv, docker compose and dotenv-expand have it, and
 *   it is one of the most asked-for features (heroku-dynos.md section 8).
 * - after a closing quote only a `#` comment may follow.
 * Any other line is an error naming the file and line, never silently skipped.
 */
export function parseDotenv(text: string, source = '.env', outer: Readonly<Env> = {}): Env {
  const env: Env = {};
  const lookup = (name: string): string | undefined =>
    Object.hasOwn(env, name) ? env[name] : Object.hasOwn(outer, name) ? outer[name] : undefined;
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const bad = (why: string, at = lineNo, form = FORM) => new UsageError(`${source}:${at}: ${why}; ${form}`);
    // only the start: the end may be inside a quoted value that goes on below
    let line = lines[i]!.trimStart();
    if (line === '' || line.startsWith('#')) continue;
    if (/^export[ \t]/.test(line)) line = line.slice(7).trimStart();
    const eq = line.indexOf('=');
    if (eq < 0) throw bad('no "="');
    const key = line.slice(0, eq).trim();
    if (!KEY.test(key)) throw bad(`invalid name ${JSON.stringify(key)} (letters, digits and _ only, not starting with a digit)`);
    // a plain object drops a "__proto__" key (and Object.assign would too)
    if (key === '__proto__') throw bad('the name "__proto__" cannot be used');
    const expand = (s: string, at: number): string => expandVars(s, lookup, (why) => bad(why, at, EXPAND_FORM));
    const afterEq = line.slice(eq + 1);
    let rest = afterEq.trimStart();
    let value: string;
    const quote = rest[0];
    if (quote === "'" || quote === '"') {
      // May continue on the following lines until the closing quote.
      let body = rest.slice(1);
      let out = '';
      for (;;) {
        const end = quote === "'" ? scanSingle(body) : scanDouble(body, (s) => expand(s, i + 1));
        out += end.text;
        if (end.close >= 0) {
          rest = body.slice(end.close + 1);
          break;
        }
        if (++i >= lines.length) throw bad(`unterminated ${quote === "'" ? 'single' : 'double'} quote`);
        out += '\n';
        body = lines[i]!;
      }
      value = out;
    } else {
      // as in the shell, `A= # note` is empty and `A=#fff` is not a comment
      const hash = afterEq.search(/\s#/);
      value = expand((hash >= 0 ? afterEq.slice(0, hash) : afterEq).trim(), lineNo);
      rest = '';
    }
    rest = rest.trim();
    if (rest !== '' && !rest.startsWith('#')) throw bad('text after the closing quote', i + 1);
    if (value.includes('\0')) throw bad(`the value of ${key} contains a NUL byte`);
    env[key] = value;
  }
  return env;
}

/** Up to the closing ' (no escapes in single quotes, as in the shell). */
function scanSingle(body: string): { text: string; close: number } {
  const close = body.indexOf("'");
  return { text: close < 0 ? body : body.slice(0, close), close };
}

/**
 * Up to the closing " with escapes; `$` references are expanded here, in one pass,
 * so an escaped `\$` is never taken for one.
 */
function scanDouble(body: string, expand: (s: string) => string): { text: string; close: number } {
  let out = '';
  let plain = '';
  for (let j = 0; j < body.length; j++) {
    const c = body[j]!;
    if (c === '\\' && j + 1 < body.length) {
      const n = body[++j]!;
      out += expand(plain) + (n === 'n' ? '\n' : n === 'r' ? '\r' : n === 't' ? '\t' : n);
      plain = '';
    } else if (c === '"') {
      return { text: out + expand(plain), close: j };
    } else plain += c;
  }
  return { text: out + expand(plain), close: -1 };
}

/**
 * Expands $NAME and ${NAME} in `s`; `\$` is a literal $ (the backslash of a
 * double-quoted `\$` is gone before this sees the text).
 */
function expandVars(s: string, lookup: (name: string) => string | undefined, fail: (why: string) => UsageError): string {
  if (!s.includes('$')) return s;
  let out = '';
  for (let j = 0; j < s.length; j++) {
    const c = s[j]!;
    if (c === '\\' && s[j + 1] === '$') {
      out += '$';
      j++;
      continue;
    }
    if (c !== '$') {
      out += c;
      continue;
    }
    let name: string;
    let ref: string;
    if (s[j + 1] === '{') {
      const close = s.indexOf('}', j + 2);
      ref = close < 0 ? s.slice(j) : s.slice(j, close + 1);
      name = close < 0 ? '' : s.slice(j + 2, close);
      if (!KEY.test(name)) throw fail(`${JSON.stringify(ref.length > 40 ? `${ref.slice(0, 40)}…` : ref)}: only $NAME and \${NAME} are expanded`);
      j = close;
    } else if (NAME_START.test(s[j + 1] ?? '')) {
      NAME_AT.lastIndex = j + 1;
      name = NAME_AT.exec(s)![0];
      ref = `$${name}`;
      j += name.length;
    } else {
      out += '$';
      continue;
    }
    const value = lookup(name);
    if (value === undefined) throw fail(`${ref} is not set above`);
    out += value;
  }
  return out;
}

/**
 * Reads and parses one .env file; `outer` is what `$NAME` may refer to besides the
 * file's own earlier keys.
 */
export function readEnvFile(file: string, outer: Readonly<Env> = {}): Env {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`--env-file ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot read (${code})`}`);
  }
  return parseDotenv(text, file, outer);
}

/**
 * Several .env files merged in order (`-e a.env,b.env`: the later file wins). A
 * file's `$NAME` sees the keys of the files before it, then `outer`.
 */
export function parseDotenvFiles(paths: readonly string[], outer: Readonly<Env> = {}): Env {
  const merged: Env = {};
  for (const p of paths) Object.assign(merged, readEnvFile(p, { ...outer, ...merged }));
  return merged;
}

/** "-e K=V" → [K, V]; the value may contain "=". */
export function parseEnvPair(pair: string): [string, string] {
  const eq = pair.indexOf('=');
  const key = eq < 0 ? pair : pair.slice(0, eq);
  if (eq < 0 || !KEY.test(key))
    throw new UsageError(`-e ${JSON.stringify(pair)}: expected KEY=VALUE with KEY of letters, digits and _ (not starting with a digit)`);
  return [key, pair.slice(eq + 1)];
}
