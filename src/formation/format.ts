import { UsageError } from '../errors';
import { SIZES } from '../dyno/sizes';
import { currentRelease } from './releases';
import type { DynoInfo, ReleaseInfo } from './types';

/*
 * The text of dynod's heroku-like verbs, exactly as the heroku CLI prints it
 * (heroku/cli src/commands/{config,ps,releases}, src/lib/time.ts, src/lib/config/quote.ts;
 * @heroku/heroku-cli-util styledHeader, styledObject, table), without colours: what
 * heroku prints when its output is not a terminal, which is what scripts parse.
 * Every function returns whole lines, each ending in "\n".
 */

export interface FormatOptions {
  /**
   * "⬢ " before the app name (default true). heroku prints it only on colour
   * terminals: the CLI passes process.stdout.isTTY to match piped output exactly.
   */
  glyph?: boolean;
}

/** "⬢ myapp", or "myapp" without the glyph. */
export function appLabel(app: string, opts: FormatOptions = {}): string {
  return opts.glyph === false ? app : `⬢ ${app}`;
}

// ---------------------------------------------------------------------------
// Time (heroku/cli src/lib/time.ts)

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** strftime('%Y/%m/%d %H:%M:%S %z') in the host's time zone: "2025/01/07 10:15:32 +0000". */
export function formatTimestamp(date: Date): string {
  const offset = -date.getTimezoneOffset();
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return `${date.getFullYear()}/${pad2(date.getMonth() + 1)}/${pad2(date.getDate())} `
    + `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())} `
    + `${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`;
}

/**
 * heroku's ago(): the timestamp, then "(~ 42s ago)" under a minute, "(~ 5m ago)" under
 * an hour, "(~ 3h ago)" under 25 hours, nothing after that. Elapsed time is floored to
 * whole seconds; a date after `now` (another process's clock) counts as 0 s.
 */
export function formatAgo(date: Date, now: Date): string {
  const stamp = formatTimestamp(date);
  const elapsed = Math.max(0, Math.floor((now.getTime() - date.getTime()) / 1000));
  if (elapsed < 60) return `${stamp} (~ ${elapsed}s ago)`;
  if (elapsed < 60 * 60) return `${stamp} (~ ${Math.floor(elapsed / 60)}m ago)`;
  if (elapsed < 60 * 60 * 25) return `${stamp} (~ ${Math.floor(elapsed / 3600)}h ago)`;
  return stamp;
}

/** heroku's remaining(): "1h 5m", "4m 10s", "30s", "" when `to` is not after `from`. */
export function formatRemaining(from: Date, to: Date): string {
  const secs = Math.floor(to.getTime() / 1000 - from.getTime() / 1000);
  const mins = Math.floor(secs / 60);
  const hours = Math.floor(mins / 60);
  if (hours > 0) return `${hours}h ${mins % 60}m`;
  if (mins > 0) return `${mins}m ${secs % 60}s`;
  if (secs > 0) return `${secs}s`;
  return '';
}

// ---------------------------------------------------------------------------
// heroku-cli-util's building blocks

/** styledHeader: "=== text" and an empty line. */
function header(text: string): string {
  return `=== ${text}\n\n`;
}

/**
 * styledObject: "KEY:" padded so values line up two columns after the longest key;
 * values as they are (a multi-line value continues at column 0), "''" for an empty one.
 */
export function formatObject(obj: Readonly<Record<string, string>>, keys: readonly string[] = Object.keys(obj)): string {
  const width = keys.length > 0 ? Math.max(...keys.map((k) => k.length)) + 2 : 0;
  const lines = keys.map((k) => `${k}:${' '.repeat(width - k.length - 1)}${obj[k] === '' ? "''" : obj[k]}`);
  return `${lines.join('\n')}\n`;
}

/**
 * hux.table as heroku prints it (@oclif/table, "headers-only-with-underline", padding 1,
 * left-aligned, trailing spaces trimmed): a heading line, one ─ line under the whole
 * table, then the rows. Cells are single-line.
 */
function table(headings: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headings.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)) + 2);
  const line = (cells: readonly string[]) =>
    ` ${cells.map((c, i) => ` ${c}${' '.repeat(widths[i]! - 1 - c.length)}`).join(' ')}`.trimEnd();
  const underline = ` ${'─'.repeat(widths.reduce((a, b) => a + b, 0) + widths.length - 1)}`;
  return [line(headings), underline, ...rows.map(line)].map((l) => `${l}\n`).join('');
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedKeys(vars: Readonly<Record<string, string>>): string[] {
  return Object.keys(vars).sort(byCodePoint);
}

// ---------------------------------------------------------------------------
// config, config:get, config:set, config:unset

/** `config`: "=== ⬢ myapp Config Vars", an empty line, then aligned "KEY: value" lines (sorted by key). */
export function formatConfig(app: string, vars: Readonly<Record<string, string>>, opts: FormatOptions = {}): string {
  return header(`${appLabel(app, opts)} Config Vars`) + formatObject(vars, sortedKeys(vars));
}

/** `config --json`: the vars as a JSON object, two-space indented, keys sorted. */
export function formatConfigJson(vars: Readonly<Record<string, string>>): string {
  const sorted = Object.fromEntries(sortedKeys(vars).map((k) => [k, vars[k]]));
  return `${JSON.stringify(sorted, null, 2)}\n`;
}

/**
 * heroku's quote() for `config -s`: a value with a space or shell metacharacter is
 * single-quoted, or double-quoted (\n for newlines; " \ $ ` ! escaped) when it holds a
 * single quote or a newline; anything else as it is.
 */
export function shellQuote(s: string): string {
  if (/["\s#!$&'()*,:;<=>?@[\\\]^`{|}]/.test(s)) {
    if (/['\n]/.test(s)) return `"${s.replace(/(["\\$`!])/g, '\\$1').replace(/\n/g, '\\n')}"`;
    return `'${s}'`;
  }
  return s;
}

/** `config -s`: KEY=value lines, sorted by key, values quoted for a shell. */
export function formatConfigShell(vars: Readonly<Record<string, string>>): string {
  return sortedKeys(vars).map((k) => `${k}=${shellQuote(vars[k]!)}\n`).join('');
}

/**
 * `config:get KEY...`: each value on its line; an unset key (or an empty value) gives an
 * empty line, as heroku's does. With shell, KEY=value lines quoted as `config -s`.
 */
export function formatConfigGet(vars: Readonly<Record<string, string>>, keys: readonly string[], opts: { shell?: boolean } = {}): string {
  return keys.map((k) => {
    const v = Object.hasOwn(vars, k) ? vars[k]! : '';
    return opts.shell ? `${k}=${shellQuote(v)}\n` : `${v}\n`;
  }).join('');
}

/** `config:get --json KEY...`: {key, value} (value null when unset); an array for several keys. */
export function formatConfigGetJson(vars: Readonly<Record<string, string>>, keys: readonly string[]): string {
  const results = keys.map((key) => ({ key, value: Object.hasOwn(vars, key) ? vars[key]! : null }));
  return `${JSON.stringify(results.length === 1 ? results[0] : results, null, 2)}\n`;
}

/**
 * The action of `config:set`, before its "... done, v12": "Setting FOO, BAR and
 * restarting ⬢ myapp". heroku always says "and restarting"; dynod says it only when
 * a formation runs (`restarting`), else "Setting FOO, BAR on ⬢ myapp".
 */
export function configSetAction(app: string, keys: readonly string[], restarting: boolean, opts: FormatOptions = {}): string {
  return `Setting ${keys.join(', ')} ${restarting ? 'and restarting' : 'on'} ${appLabel(app, opts)}`;
}

/** The action of `config:unset`: "Unsetting FOO and restarting ⬢ myapp" (or "… on ⬢ myapp"). */
export function configUnsetAction(app: string, keys: readonly string[], restarting: boolean, opts: FormatOptions = {}): string {
  return `Unsetting ${keys.join(', ')} ${restarting ? 'and restarting' : 'on'} ${appLabel(app, opts)}`;
}

/** oclif's action line (stderr): "<action>... <status>", e.g. status "done, v12". */
export function formatAction(action: string, status: string): string {
  return `${action}... ${status}\n`;
}

/** The release's "done, v12". */
export function doneStatus(release: Pick<ReleaseInfo, 'version'>): string {
  return `done, v${release.version}`;
}

/**
 * What `config:set` prints on stdout after its action line: the vars it set as aligned
 * "KEY: value" lines (sorted by key). heroku leaves out a var set to "" (it filters on
 * the value's truth), and so does this; nothing set then gives one empty line, as there.
 */
export function formatConfigSetVars(pairs: Readonly<Record<string, string>>): string {
  const shown = Object.fromEntries(sortedKeys(pairs).filter((k) => pairs[k] !== '').map((k) => [k, pairs[k]!]));
  return formatObject(shown);
}

// ---------------------------------------------------------------------------
// releases

function releaseStatusText(status: ReleaseInfo['status'], running: boolean): string {
  if (status === 'failed') return 'release command failed';
  // pending with no dynod running it: it runs (or, without a release phase, takes effect) at the next start
  if (status === 'pending') return running ? 'release command executing' : 'release pending';
  if (status === 'expired') return 'release expired';
  return '';
}

/**
 * `releases`: "=== ⬢ myapp Releases - Current: v3" (no "- Current" before any release
 * succeeded), an empty line, then heroku's table, newest first: v, description (with
 * "release command failed" / "release command executing" after it), user, created_at.
 * No releases: "⬢ myapp has no releases.". The caller chooses how many (heroku: 15, -n).
 * Descriptions are not cut to the terminal's width (heroku cuts them on a terminal only).
 */
export function formatReleases(app: string, releases: readonly ReleaseInfo[], now: Date, opts: FormatOptions & { running?: boolean } = {}): string {
  if (releases.length === 0) return `${appLabel(app, opts)} has no releases.\n`;
  const current = currentRelease(releases);
  const title = `${appLabel(app, opts)} Releases${current ? ` - Current: v${current.version}` : ''}`;
  const rows = [...releases].sort((a, b) => b.version - a.version).map((r) => {
    const status = releaseStatusText(r.status, opts.running ?? true);
    return [
      `v${r.version}`,
      status ? `${r.description} ${status}` : r.description,
      r.user ?? '',
      formatAgo(new Date(r.createdAt), now),
    ];
  });
  return header(title) + table(['v', 'description', 'user', 'created_at'], rows);
}

// ---------------------------------------------------------------------------
// ps

function sizeLabel(size: string): string {
  return SIZES.find((s) => s.name === size)?.label ?? size;
}

/**
 * What dynod adds after heroku's "web.1: up <ago>" (scripts match heroku's prefix):
 * the host port a web dyno is published on, when a crashed dyno restarts.
 */
function dynoExtras(d: DynoInfo, now: Date): string {
  let extra = '';
  if (d.hostPort !== null && (d.state === 'up' || d.state === 'starting')) extra += ` on port ${d.hostPort}`;
  if (d.state === 'crashed' && d.restartAt !== null) {
    const left = formatRemaining(now, new Date(d.restartAt));
    extra += left ? ` restarts in ${left}` : ' restarts now';
  }
  return extra;
}

export interface PsOptions extends FormatOptions {
  /** only these process types (`ps web worker`); one with no dyno is an error */
  types?: readonly string[];
}

/**
 * `ps [TYPE...]`, heroku's layout: one-off `run` dynos first under
 * "=== run: one-off processes (N)" as "run.4520 (Standard-1X): up <ago>: bash", then
 * one group per process type, "=== web (Standard-2X): <command> (N)" with
 * "web.1: up <ago>" lines by dyno number; each group ends with an empty line. Groups come
 * in the order of their dyno names, as heroku's do. heroku groups by command alone (two
 * types with one command would share a group); dynod by type and command, which prints
 * the same whenever commands differ. No dyno: "No dynos on ⬢ myapp"; a TYPE with no
 * dyno: UsageError "No worker dynos on ⬢ myapp".
 */
export function formatPs(app: string, dynos: readonly DynoInfo[], now: Date, opts: PsOptions = {}): string {
  let selected = [...dynos];
  if (opts.types && opts.types.length > 0) {
    const types = opts.types;
    selected = selected.filter((d) => types.includes(d.type));
    for (const t of types) {
      if (!selected.some((d) => d.type === t)) throw new UsageError(`No ${t} dynos on ${appLabel(app, opts)}`);
    }
  }
  if (selected.length === 0) return `No dynos on ${appLabel(app, opts)}\n`;
  selected.sort((a, b) => byCodePoint(a.name, b.name));
  const byNumber = (a: DynoInfo, b: DynoInfo) => a.number - b.number;

  let out = '';
  const oneOffs = selected.filter((d) => d.type === 'run').sort(byNumber);
  if (oneOffs.length > 0) {
    out += header(`run: one-off processes (${oneOffs.length})`);
    for (const d of oneOffs) {
      out += `${d.name} (${sizeLabel(d.size)}): ${d.state} ${formatAgo(new Date(d.since), now)}: ${d.command}\n`;
    }
    out += '\n';
  }

  const groups = new Map<string, DynoInfo[]>();
  for (const d of selected) {
    if (d.type === 'run') continue;
    const key = JSON.stringify([d.type, d.command]);
    const group = groups.get(key);
    if (group) group.push(d);
    else groups.set(key, [d]);
  }
  for (const group of groups.values()) {
    group.sort(byNumber);
    const first = group[0]!;
    out += header(`${first.type} (${sizeLabel(first.size)}): ${first.command} (${group.length})`);
    for (const d of group) out += `${d.name}: ${d.state} ${formatAgo(new Date(d.since), now)}${dynoExtras(d, now)}\n`;
    out += '\n';
  }
  return out;
}

/**
 * `ps --json`: the dynos (sorted by name, as heroku's) with heroku's field names where
 * heroku has the field (name, type, state, command, size as its label, updated_at)
 * and dynod's own after them, every field always present (null when unknown).
 */
export function formatPsJson(dynos: readonly DynoInfo[]): string {
  const rows = [...dynos].sort((a, b) => byCodePoint(a.name, b.name)).map((d) => ({
    name: d.name,
    type: d.type,
    state: d.state,
    command: d.command,
    size: sizeLabel(d.size),
    updated_at: d.since,
    number: d.number,
    one_off: d.oneOff,
    pid: d.pid,
    host_port: d.hostPort,
    restarts: d.restarts,
    restart_at: d.restartAt,
    memory_bytes: d.memoryBytes,
    cpu_seconds: d.cpuSeconds,
  }));
  return `${JSON.stringify(rows, null, 2)}\n`;
}
