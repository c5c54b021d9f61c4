import * as fs from 'node:fs';
import { UsageError } from '../errors';
import type { ProcessType, Procfile } from './types';

/**
 * The longest process type: its dynos are named `<type>.<N>` with N up to 100 (the
 * per-app dyno limit), and a dyno name is at most 63 characters (a DNS label, the
 * `--name` rule of plan.ts), so 63 - ".100".length. Heroku's API allows 128 and its
 * CNB Procfile spec 63 (heroku-dynos.md 4.1); ours is the tightest that still fits.
 */
export const MAX_TYPE_LENGTH = 59;

/** `release` runs once per release, never as part of a formation (heroku-dynos.md 2). */
export const RELEASE_TYPE = 'release';

const FORM = '"<type>: <command>" (type of letters, digits, _ and -)';
const EXAMPLE = 'expected lines like "web: node server.js"';
const NAME = /^[A-Za-z0-9_-]+$/;
/**
 * `<type>: <command>`: foreman's, honcho's and node-foreman's regex
 * (`^([A-Za-z0-9_-]+):\s*(.+)$`) with leading spaces allowed as classic Heroku does.
 * The colon is required: classic Heroku's parser makes it optional (`web node x.js`),
 * but every local runner and Heroku's CNB spec require it, so a Procfile that needs
 * the optional colon works nowhere else; such a line gets an error naming the fix.
 * Spaces after the colon are optional (foreman), unlike overmind which needs one.
 */
const LINE = /^\s*([A-Za-z0-9_-]+):\s*(.*)$/s;

/**
 * Parses a Procfile. Comments (first non-space character `#`, anywhere: node-foreman
 * only skips column 0) and blank lines are skipped; CRLF, CR and a UTF-8 BOM are fine.
 * Any other line is an error naming file:line: foreman, honcho and overmind ignore
 * such lines silently, so a typo there just loses a process type.
 * A type defined twice: the last definition wins (Heroku CNB) and `warnings` says so;
 * the type keeps the place of its first definition (the order PORTs follow).
 */
export function parseProcfile(text: string, file = 'Procfile'): Procfile {
  const types: ProcessType[] = [];
  const warnings: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const line = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const at = `${file}:${line}`;
    const m = LINE.exec(raw);
    if (!m) throw new UsageError(`${at}: ${diagnose(raw)}; expected ${FORM}`);
    const name = m[1]!;
    const command = m[2]!.trim();
    if (command === '') throw new UsageError(`${at}: process type "${name}" has no command; expected ${FORM}`);
    if (name.length > MAX_TYPE_LENGTH)
      throw new UsageError(`${at}: process type "${name.slice(0, 20)}…" is ${name.length} characters long; expected at most ${MAX_TYPE_LENGTH} (its dynos are named <type>.<N>, at most 63 characters)`);
    if (name.startsWith('-'))
      throw new UsageError(`${at}: process type "${name}" starts with "-" (it would read as an option on the command line); expected ${FORM}, not starting with "-"`);
    if (name === 'run')
      throw new UsageError(`${at}: process type "run" is reserved for one-off dynos (dynod run names them run.N); expected another name, e.g. "runner: <command>"`);
    if (command.includes('\0')) throw new UsageError(`${at}: the command of "${name}" contains a NUL byte; expected ${FORM}`);
    const seen = types.findIndex((t) => t.name === name);
    if (seen >= 0) {
      warnings.push(`${at}: process type "${name}" is defined again (first on line ${types[seen]!.line}); the last definition wins`);
      types[seen] = { name, command, line };
    } else types.push({ name, command, line });
  }
  if (types.length === 0) throw new UsageError(`${file}: no process types defined; ${EXAMPLE}`);
  return { file, types, warnings };
}

/** Why a line is not `<type>: <command>`, as precisely as the line allows. */
function diagnose(raw: string): string {
  const text = raw.trim();
  const shown = JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
  const colon = text.indexOf(':');
  if (colon < 0) {
    const first = /^([A-Za-z0-9_-]+)\s+\S/.exec(text);
    // classic Heroku's colon-optional form (see LINE)
    if (first) return `missing ":" after "${first[1]}" in ${shown}`;
    return `no ":" in ${shown}`;
  }
  const name = text.slice(0, colon);
  if (name === '') return `no process type before ":" in ${shown}`;
  if (name.trimEnd() !== name && NAME.test(name.trimEnd())) return `space before ":" in ${shown}`;
  return `invalid process type ${JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name)}`;
}

/** Reads and parses a Procfile; an unreadable path is a UsageError naming it. */
export function readProcfile(path: string): Procfile {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' :
      code === 'EISDIR' ? 'is a directory, not a Procfile' :
      code === 'ENOTDIR' ? 'a part of the path is not a directory' :
      `cannot read (${code ?? String(e)})`;
    throw new UsageError(`${path}: ${why}; ${EXAMPLE}`);
  }
  return parseProcfile(text, path);
}
