import * as fs from 'node:fs';
import { UsageError } from '../errors';

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses a .env file. The grammar is the common ground of foreman, node-foreman
 * (`heroku local`) and honcho (heroku-dynos.md section 4.3), stated strictly:
 * - blank lines and lines whose first non-space character is `#` are skipped;
 * - `KEY=VALUE` or `export KEY=VALUE`; KEY matches [A-Za-z_][A-Za-z0-9_]*; spaces
 *   around KEY and `=` are allowed;
 * - 'single quotes': literal up to the closing quote;
 * - "double quotes": \n, \r, \t, \", \\ and \$ are escapes, may span lines;
 * - unquoted: trimmed, and a ` #` starts a comment;
 * - no $VAR interpolation (foreman dropped it in 0.78; we never had it).
 * Any other line is an error naming the file and line, never silently skipped.
 */
export function parseDotenv(text: string, source = '.env'): Record<string, string> {
  const env: Record<string, string> = {};
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('export ') || line.startsWith('export\t')) line = line.slice(7).trimStart();
    const eq = line.indexOf('=');
    const bad = (why: string) => new UsageError(`${source}:${lineNo}: ${why}; expected KEY=VALUE`);
    if (eq < 0) throw bad('no "="');
    const key = line.slice(0, eq).trim();
    if (!KEY.test(key)) throw bad(`invalid name ${JSON.stringify(key)} (letters, digits and _ only, not starting with a digit)`);
    let rest = line.slice(eq + 1).trimStart();
    let value: string;
    if (rest.startsWith("'")) {
      const end = rest.indexOf("'", 1);
      if (end < 0) throw bad('unterminated single quote');
      value = rest.slice(1, end);
      rest = rest.slice(end + 1);
    } else if (rest.startsWith('"')) {
      // May continue on the following lines until the closing quote.
      let body = rest.slice(1);
      let out = '';
      for (;;) {
        let j = 0;
        let closed = false;
        for (; j < body.length; j++) {
          const c = body[j]!;
          if (c === '\\' && j + 1 < body.length) {
            const n = body[++j]!;
            out += n === 'n' ? '\n' : n === 'r' ? '\r' : n === 't' ? '\t' : n;
          } else if (c === '"') {
            closed = true;
            break;
          } else out += c;
        }
        if (closed) {
          rest = body.slice(j + 1);
          break;
        }
        if (++i >= lines.length) throw bad('unterminated double quote');
        out += '\n';
        body = lines[i]!;
      }
      value = out;
    } else {
      const hash = rest.search(/\s#/);
      value = (hash >= 0 ? rest.slice(0, hash) : rest).trim();
      rest = '';
    }
    if (rest.trim() !== '' && !rest.trim().startsWith('#')) throw bad('text after the closing quote');
    env[key] = value;
  }
  return env;
}

export function readEnvFile(file: string): Record<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`--env-file ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot read (${code})`}`);
  }
  return parseDotenv(text, file);
}

/** "-e K=V" → [K, V]; the value may contain "=". */
export function parseEnvPair(pair: string): [string, string] {
  const eq = pair.indexOf('=');
  const key = eq < 0 ? pair : pair.slice(0, eq);
  if (eq < 0 || !KEY.test(key))
    throw new UsageError(`-e ${JSON.stringify(pair)}: expected KEY=VALUE with KEY of letters, digits and _ (not starting with a digit)`);
  return [key, pair.slice(eq + 1)];
}
