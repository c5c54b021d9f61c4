// What the OCI runtime suites (test/integration/oci-*.test.ts) share: the runtime under
// test, commands with a timeout, a cgroup parent below this process's own cgroup, a
// logging wrapper around the runtime, and the checks that nothing is left behind.
//
// The runtime under test: DYNOD_OCI_RUNTIME (an absolute path), default bin/dynod-oci.
// Every suite runs against runc the same way: DYNOD_OCI_RUNTIME=/usr/sbin/runc.
// DYNOD_OCI_CALLS=DIR keeps every call made to the runtime in DIR/<suite>.log.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT, hostEnv, spawnCollect, waitFor, type Result } from './dynod';
import { hostProcesses } from './host';
import { busyboxMissing } from './oci-image';

export const RUNTIME = path.resolve(process.env.DYNOD_OCI_RUNTIME ?? path.join(ROOT, 'bin', 'dynod-oci'));
export const RUNTIME_NAME = path.basename(RUNTIME);

export function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Why an OCI suite cannot run here (one line), or undefined. tools: commands it needs on PATH. */
export function whyNotOci(tools: string[]): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  try {
    fs.accessSync(RUNTIME, fs.constants.X_OK);
  } catch {
    return `the runtime under test ${RUNTIME} is missing or not executable (set DYNOD_OCI_RUNTIME, e.g. /usr/sbin/runc)`;
  }
  const absent = tools.filter((c) => !onPath(c));
  if (absent.length) return `needs ${absent.join(', ')} (Debian: apt-get install podman containerd)`;
  return busyboxMissing() ?? cgroupParentProblem();
}

// ---- commands ------------------------------------------------------------------------

export interface Cmd extends Result {
  argv: string[];
}

export interface CmdOpts {
  env?: NodeJS.ProcessEnv;
  /** written to stdin, then closed; without it stdin is /dev/null */
  input?: string;
  /** SIGKILL after this long (default 60 s) */
  timeoutMs?: number;
  cwd?: string;
}

/** Runs argv to its end (never throws: a command that cannot start is code 127). */
export async function cmd(argv: string[], opts: CmdOpts = {}): Promise<Cmd> {
  try {
    return { ...(await spawnCollect(argv, { ...opts, env: opts.env ?? hostEnv() }).result), argv };
  } catch (e) {
    return { argv, code: 127, signal: null, stdout: '', stdoutBuf: Buffer.alloc(0), stderr: `[test helper: ${argv[0]}: ${(e as Error).message}]`, ms: 0, timedOut: false };
  }
}

/** argv under script(1), which gives it a terminal (podman -t, ctr -t); script takes one shell string. */
export function inTerminal(argv: string[]): string[] {
  return ['script', '-qec', argv.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' '), '/dev/null'];
}

/** A command's outcome in one short line, for assertion messages (output cut to the last 300 characters). */
export function brief(r: Cmd): string {
  const tail = (s: string) => (s.length > 300 ? `…${s.slice(-300)}` : s).trim().replace(/\s*\n\s*/g, ' | ');
  return `${r.argv.slice(0, 4).join(' ')}… → ${r.timedOut ? 'TIMED OUT' : r.code ?? r.signal} in ${r.ms} ms; stdout: ${tail(r.stdout) || '(none)'}; stderr: ${tail(r.stderr) || '(none)'}`;
}

// ---- cgroups ---------------------------------------------------------------------------

interface Hierarchy {
  /** where it is mounted, e.g. /sys/fs/cgroup/memory or the cgroup2 mount */
  mount: string;
  /** this process's cgroup in it, e.g. /process_api/abc */
  own: string;
}

/** Every cgroup hierarchy this process belongs to (v1 ones and the unified one), with its mount. */
function hierarchies(): Hierarchy[] {
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').flatMap((l) => {
    const sep = l.indexOf(' - ');
    if (sep < 0) return [];
    const f = l.slice(0, sep).split(' ');
    const [fstype, , opts] = l.slice(sep + 3).split(' ');
    return fstype === 'cgroup' || fstype === 'cgroup2' ? [{ root: f[3]!, point: f[4]!, fstype, opts: (opts ?? '').split(',') }] : [];
  });
  const out: Hierarchy[] = [];
  for (const line of fs.readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n')) {
    const [, ctrls, ...rest] = line.split(':');
    const own = rest.join(':');
    const want = ctrls ? ctrls.split(',') : [];
    const m = mounts.find((x) => (want.length ? x.fstype === 'cgroup' && want.every((c) => x.opts.includes(c)) : x.fstype === 'cgroup2'));
    // a mount of a sub-tree (root other than /) shows paths relative to that root
    if (m && m.root === '/') out.push({ mount: m.point, own });
  }
  return out;
}

/** The path containers' cgroups go under: below this process's memory cgroup (or the unified one on v2). */
function ownBase(): string {
  const lines = fs.readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n').map((l) => l.split(':'));
  const mem = lines.find((l) => l[1]!.split(',').includes('memory')) ?? lines.find((l) => l[1] === '');
  return mem ? mem.slice(2).join(':') : '/';
}

/** One path (cgroupsPath, --cgroup-parent) serves every hierarchy: it must be below our own cgroup in each. */
function cgroupParentProblem(): string | undefined {
  const base = ownBase();
  for (const h of hierarchies()) {
    const own = h.own.replace(/\/$/, '');
    if (own && own !== base && !base.startsWith(`${own}/`)) return `no cgroup path is below this process's cgroup in every hierarchy (${h.mount}: ${h.own}, memory: ${base})`;
  }
  return undefined;
}

/**
 * A cgroup parent of the suite's own, <own memory cgroup>/<name>, where podman puts
 * conmon and the containers (and ctr the containers). It is created in every
 * hierarchy (one path serves them all). remove() takes it away with the
 * ancestors that did not exist before.
 */
export class CgroupParent {
  readonly path: string;
  private readonly made: string[] = [];

  constructor(name: string) {
    this.path = path.posix.join(ownBase(), name);
    // the ancestors missing now: podman or the runtime creates them, we remove them
    for (const h of hierarchies()) {
      let p = h.mount;
      for (const part of this.path.split('/').filter(Boolean)) {
        p = path.join(p, part);
        if (!fs.existsSync(p)) this.made.push(p);
      }
    }
  }

  /** The parent's directory in every hierarchy that has it now. */
  dirs(): string[] {
    return hierarchies().map((h) => path.join(h.mount, this.path)).filter((d) => fs.existsSync(d));
  }

  /** Cgroup directories below the parent (relative, deduplicated across hierarchies), e.g. libpod-<id>, conmon. */
  children(): string[] {
    const rel = new Set<string>();
    for (const d of this.dirs()) {
      const walk = (dir: string, prefix: string) => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
          if (!e.isDirectory()) continue;
          rel.add(path.join(prefix, e.name));
          walk(path.join(dir, e.name), path.join(prefix, e.name));
        }
      };
      walk(d, '');
    }
    return [...rel].sort();
  }

  /** Processes in the parent or below it, in any hierarchy ("pid command line"). */
  processes(): string[] {
    const re = new RegExp(`:${this.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(/|$)`, 'm');
    return hostProcesses().filter((p) => re.test(p.cgroup)).map((p) => `${p.pid} ${p.cmdline.slice(0, 120)}`);
  }

  /** rmdir, deepest first, everything below the parent, the parent, and the ancestors this suite made. Returns what could not be removed. */
  remove(): string[] {
    const failed: string[] = [];
    const rm = (d: string) => {
      try {
        fs.rmdirSync(d);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') failed.push(`${d} (${code})`);
      }
    };
    for (const d of this.dirs()) {
      const all: string[] = [];
      const walk = (dir: string) => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(dir, e.name));
        all.push(dir);
      };
      walk(d);
      all.forEach(rm);
    }
    // ancestors: only when empty (another suite may still use a shared one; it removes it last)
    for (const d of [...this.made].reverse()) {
      if (!fs.existsSync(d)) continue;
      try {
        fs.rmdirSync(d);
      } catch { /* in use by another suite, or not empty: theirs to remove */ }
    }
    return failed;
  }
}

// ---- the runtime, wrapped ---------------------------------------------------------------

/** runc's verbs: the first of these in a call is its verb (global flags and their values come before it). */
const VERBS = new Set(['create', 'start', 'state', 'kill', 'delete', 'run', 'exec', 'ps', 'list', 'features', 'pause', 'resume', 'update', 'events', 'spec', 'checkpoint', 'restore', '--version', '--help']);

/**
 * A shell script named like the runtime (podman looks at the name: runtime_supports_json)
 * that logs every call, keeps a copy of the config.json each `create` is given (what the
 * runtime was asked for, before it could touch it), and, with ownRoot, runs the runtime
 * with a state root (--root) of the suite's own, so that what it leaves there is the
 * suite's to see. (containerd's shim passes --root itself: no ownRoot there.)
 */
export class RuntimeWrapper {
  readonly path: string;
  readonly stateRoot: string | undefined;
  readonly log: string;
  private readonly specs: string;

  constructor(dir: string, ownRoot = true) {
    fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
    this.path = path.join(dir, 'bin', RUNTIME_NAME);
    this.log = path.join(dir, 'runtime-calls.log');
    this.specs = path.join(dir, 'specs');
    fs.mkdirSync(this.specs);
    const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
    let root = '';
    if (ownRoot) {
      this.stateRoot = path.join(dir, 'runtime-root');
      fs.mkdirSync(this.stateRoot, { mode: 0o700 });
      root = ` --root ${q(this.stateRoot)}`;
    }
    fs.writeFileSync(this.path, [
      '#!/bin/sh',
      `printf '%s\\n' "$*" >> ${q(this.log)}`,
      'bundle=. prev= create=',
      'for a in "$@"; do',
      '  case "$prev" in --bundle|-b) bundle=$a ;; esac',
      '  case "$a" in --bundle=*) bundle=${a#--bundle=} ;; create) create=1 ;; esac',
      '  prev=$a id=$a',
      'done',
      `[ -n "$create" ] && cp "$bundle/config.json" ${q(this.specs)}/"$id.json" 2>/dev/null`,
      `exec ${q(RUNTIME)}${root} "$@"`,
      '',
    ].join('\n'), { mode: 0o755 });
  }

  /** The config.json the runtime was given at `create` for container id. */
  spec(id: string): { process: { env: string[] } } & Record<string, unknown> {
    return JSON.parse(fs.readFileSync(path.join(this.specs, `${id}.json`), 'utf8'));
  }

  /** The calls so far, ids and the suite's paths shortened: "create --bundle T/… ID". */
  calls(dir: string): string[] {
    if (!fs.existsSync(this.log)) return [];
    return fs.readFileSync(this.log, 'utf8').split('\n').filter(Boolean).map((l) => l.split(dir).join('T').replace(/\b[0-9a-f]{64}\b/g, 'ID'));
  }

  /** With DYNOD_OCI_CALLS=DIR, the calls are copied to DIR/<suite>.log (teardown): what podman or the shim asked of the runtime, for debugging. */
  keepCalls(dir: string, suite: string): void {
    const out = process.env.DYNOD_OCI_CALLS;
    if (!out) return;
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, `${suite}.log`), `${this.calls(dir).join('\n')}\n`);
  }

  /** The verbs called, each with how often: "create×12 start×12 …". */
  verbs(dir: string): string {
    const n = new Map<string, number>();
    for (const c of this.calls(dir)) {
      const verb = c.split(' ').find((w) => VERBS.has(w)) ?? c.split(' ')[0]!;
      n.set(verb, (n.get(verb) ?? 0) + 1);
    }
    return [...n].map(([v, k]) => `${v}×${k}`).join(' ');
  }

  /** Entries the runtime keeps in its state root (one per container it knows). */
  state(): string[] {
    return this.stateRoot && fs.existsSync(this.stateRoot) ? fs.readdirSync(this.stateRoot) : [];
  }
}

// ---- leftovers --------------------------------------------------------------------------

/** Mount table lines (ours and PID 1's) that mention dir. */
export function mountsUnder(dir: string): string[] {
  const lines = new Set<string>();
  for (const f of ['/proc/self/mountinfo', '/proc/1/mountinfo']) {
    for (const l of fs.readFileSync(f, 'utf8').split('\n')) if (l.includes(dir)) lines.add(l.split(' ')[4]!);
  }
  return [...lines];
}

/** Mount lines pinning a namespace (nsfs), to compare before and after. */
export function nsfsMounts(): Set<string> {
  const out = new Set<string>();
  for (const f of ['/proc/self/mountinfo', '/proc/1/mountinfo']) {
    for (const l of fs.readFileSync(f, 'utf8').split('\n')) if (/ - nsfs /.test(l)) out.add(l.split(' ').slice(3, 5).join(' '));
  }
  return out;
}

export function netnsNames(): Set<string> {
  try {
    return new Set(fs.readdirSync('/run/netns'));
  } catch {
    return new Set();
  }
}

/** Processes whose command line mentions dir (conmon, shims, the wrapped runtime, containerd of a suite). */
export function processesMentioning(dir: string): string[] {
  return hostProcesses().filter((p) => p.pid !== process.pid && p.cmdline.includes(dir)).map((p) => `${p.pid} ${p.cmdline.slice(0, 160)}`);
}

/** Waits (up to ms) for no process to mention dir; returns those still there. */
export async function processesGone(dir: string, ms = 5000): Promise<string[]> {
  try {
    await waitFor(() => processesMentioning(dir).length === 0, ms, `the processes of ${dir} to end`, 50);
    return [];
  } catch {
    return processesMentioning(dir);
  }
}

/**
 * Teardown's last resort after a failed run: SIGKILL, by pid, what the suite started and
 * left running: the processes in its cgroup parent (containers, conmon), then those whose
 * command line names its temp dir (shims, containerd). Returns what it killed.
 */
export async function killStragglers(dir: string, cgroup: CgroupParent): Promise<string[]> {
  const killed: string[] = [];
  for (const list of [() => cgroup.processes(), () => processesMentioning(dir)]) {
    for (const p of list()) {
      try {
        process.kill(Number(p.split(' ')[0]), 'SIGKILL');
        killed.push(p);
      } catch { /* gone meanwhile */ }
    }
    await processesGone(dir, 2000);
  }
  return killed;
}

/** umount -l of every mount under dir (teardown after a failure: the suite's temp dir must go). */
export function unmountUnder(dir: string): void {
  for (const m of mountsUnder(dir).sort().reverse()) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
}
