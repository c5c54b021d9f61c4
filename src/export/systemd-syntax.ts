/*
 * Quoting for unit files (systemd.service(5) "Command lines", systemd.unit(5)
 * "Specifiers"). systemd splits ExecStart= into words itself, replaces %X specifiers
 * in the whole line and $NAME / ${NAME} in each word, so an argument reaches the
 * command unchanged only when: % is written %%, $ is written $$, and a word with
 * whitespace, quotes, backslashes, ";" or control characters is double-quoted with
 * C-style escapes.
 */

const PLAIN = /^[A-Za-z0-9_@+=:,./[\]-]+$/;

const C_ESCAPES: Record<string, string> = { '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '\f': '\\f', '\b': '\\b', '\x07': '\\a' };

/** A word as systemd splits words: double-quoted with C escapes unless plain; % is %%. */
function quoteWord(arg: string, dollars: boolean): string {
  if (PLAIN.test(arg)) return arg;
  // eslint-disable-next-line no-control-regex
  const escaped = arg.replace(/[\\"\x00-\x1f\x7f]/g, (c) => C_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  const word = `"${escaped}"`.replace(/%/g, '%%');
  // command lines expand $NAME and ${NAME}; $$ is a literal $
  return dollars ? word.replace(/\$/g, '$$$$') : word;
}

/** One word of a command line, so that systemd passes exactly `arg`. */
export function execWord(arg: string): string {
  return quoteWord(arg, true);
}

/** A whole ExecStart= value. */
export function execLine(argv: readonly string[]): string {
  return argv.map(execWord).join(' ');
}

/** A plain setting's value (Description=, paths): specifiers are its only special syntax. */
export function settingValue(s: string): string {
  if (/[\n\r]/.test(s)) throw new Error(`a unit setting cannot hold a line break: ${JSON.stringify(s)}`);
  return s.replace(/%/g, '%%');
}

/** Environment=NAME=VALUE as one quoted word (spaces and quotes survive; $ is not special there). */
export function environmentSetting(name: string, value: string): string {
  return quoteWord(`${name}=${value}`, false);
}
