'use strict';
// The four ways the formation benchmark runs one Procfile: a bare `sh` loop, foreman (Ruby),
// node-foreman (`nf`) and `dynod start`. Each says how it starts a formation, where web.N
// answers on the host, how it scales (if it can) and how it stops.
const fs = require('node:fs');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { hr, sleep } = require('./common');
const { OutputWatch } = require('./formation-watch');

/** The environment every runner starts with: no Node start-up extras, no port or name of ours. */
function runnerEnv(extra = {}) {
  const env = { ...process.env };
  for (const k of ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS', 'DYNOD_TRACE', 'DYNOD_LOG_LEVEL', 'PORT', 'PS', 'DYNO', 'FOREMAN_WORKER_NAME']) delete env[k];
  return { ...env, ...extra };
}

const shQuote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
const spec = (formation) => formation.map(([t, n]) => `${t}=${n}`).join(',');

/**
 * Starts argv in a session of its own (so its process group is its PID), stdout and stderr
 * read by an OutputWatch. `nice` execs the command: child.pid is the manager itself.
 */
function launch(argv, { cwd, env, nice, stdoutFile }) {
  const full = nice && nice !== '0' ? ['nice', '-n', nice, ...argv] : argv;
  // stdout to a file: what the runner writes is never held back by how fast it is read
  const out = stdoutFile ? fs.openSync(stdoutFile, 'w') : 'pipe';
  const t0 = hr();
  const child = spawn(full[0], full.slice(1), { cwd, env, stdio: ['ignore', out, 'pipe'], detached: true });
  if (stdoutFile) fs.closeSync(out);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, at: hr() })));
  child.on('error', () => {});
  const watch = new OutputWatch(stdoutFile ? [child.stderr] : [child.stdout, child.stderr]);
  if (stdoutFile) watch.follow(stdoutFile);
  return { child, pid: child.pid, groups: [child.pid], exited, watch, t0, alive: () => child.exitCode === null && child.signalCode === null };
}

/** Waits for a handle's manager to end after `signal`; escalates to SIGKILL of its group after timeoutMs. */
async function endManager(h, signal, timeoutMs) {
  const t = hr();
  const send = (pid, sig) => {
    try {
      process.kill(pid, sig);
    } catch { /* gone */ }
  };
  if (h.alive()) send(signal.group ? -h.pid : h.pid, signal.name);
  for (const g of h.extraGroups ?? []) send(-g, signal.name);
  const timedOut = await Promise.race([h.exited.then(() => false), sleep(timeoutMs).then(() => true)]);
  if (timedOut) {
    send(-h.pid, 'SIGKILL');
    await h.exited;
  }
  return { ms: Number(hr() - t) / 1e6, timedOut };
}

// Port schemes. foreman: PORT = base + 100 × (index of the type in the Procfile) + N − 1
// (engine.rb port_for); node-foreman the same, by the order of the formation argument
// (lib/proc.js); the bare loop is given foreman's. dynod: every web dyno's $PORT is the base
// in its own network namespace, and web.N is published on host port base + N.
const foremanPort = (base) => (n) => base + n - 1;

/**
 * The bare loop; with `wrap`, the same loop with every process started by a sandbox's launcher
 * (`wrap(app)` gives the words before `sh -c CMD`): the floor runners below.
 */
function bare({ nice, name = 'bare', label = 'bare `sh` loop', wrap = null }) {
  let scripts = 0;
  // One line per type: `PORT=… PS=type.i sh -c CMD &` per process, then wait for them all.
  const loop = (app, base, entries) => {
    const lines = [`cd ${shQuote(app)} || exit 1`];
    const pre = wrap ? `${wrap(app).map(shQuote).join(' ')} ` : '';
    for (const [type, idx, from, to, cmd] of entries)
      lines.push(`i=${from}; while [ $i -le ${to} ]; do PORT=$((${base + idx * 100} + i - 1)) PS=${type}.$i ${pre}sh -c ${shQuote(cmd)} & i=$((i + 1)); done`);
    lines.push('wait');
    const file = path.join(path.dirname(app), `${name}-${process.pid}-${scripts++}.sh`);
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  };
  return {
    name,
    label,
    webPort: foremanPort,
    start(app, formation, base, commands, opts = {}) {
      const file = loop(app, base, formation.map(([t, n], i) => [t, i, 1, n, commands[t]]));
      const h = launch(['sh', file], { cwd: app, env: runnerEnv(), nice, ...opts });
      Object.assign(h, { extraGroups: [], app, base, commands });
      return h;
    },
    /** "scale" without a manager: a second loop starting type.from..type.to */
    async scale(h, type, from, to) {
      const file = loop(h.app, h.base, [[type, 0, from, to, h.commands[type]]]);
      const more = launch(['sh', file], { cwd: h.app, env: runnerEnv(), nice });
      h.extraGroups.push(more.pid);
      h.groups.push(more.pid);
      h.watch.add(more.child.stdout);
      h.watch.add(more.child.stderr);
      return { cmdMs: NaN };
    },
    // no manager: SIGTERM to every process group the loops made (background jobs of a
    // non-interactive sh ignore SIGINT)
    stop: (h) => endManager(h, { name: 'SIGTERM', group: true }, 10000),
  };
}

function foreman({ nice }) {
  return {
    name: 'foreman',
    label: 'foreman',
    webPort: foremanPort,
    start(app, formation, base, commands, opts = {}) {
      return launch(['foreman', 'start', '-m', spec(formation), '-p', String(base), '-t', '5'], { cwd: app, env: runnerEnv(), nice, ...opts });
    },
    scale: null,
    // Ctrl-C (the terminal signals the whole foreground group: foreman and the children it
    // spawned in its group): foreman sends SIGTERM to each child, waits -t (5 s), then SIGKILL
    stop: (h) => endManager(h, { name: 'SIGINT', group: true }, 15000),
  };
}

function nodeForeman({ nice, nf }) {
  return {
    name: 'node-foreman',
    label: 'node-foreman (`nf`)',
    webPort: foremanPort,
    start(app, formation, base, commands, opts = {}) {
      return launch([process.execPath, nf, 'start', spec(formation), '-p', String(base)], { cwd: app, env: runnerEnv(), nice, ...opts });
    },
    scale: null,
    // Ctrl-C to the group, as a terminal sends it: nf passes SIGINT on to each child and ends
    // when they have. (SIGINT to nf alone hangs here: nf signals `sh -c 'node web.js'`,
    // and the shell waits for its node, which never got the signal; nf never escalates.)
    stop: (h) => endManager(h, { name: 'SIGINT', group: true }, 15000),
  };
}

function dynod({ nice, root, runDir, stateDir, appName }) {
  const bin = path.join(root, 'bin', 'dynod');
  const env = () => runnerEnv({ DYNOD_RUN_DIR: runDir, DYNOD_STATE_DIR: stateDir });
  return {
    name: 'dynod',
    label: '`dynod start`',
    webPort: (base) => (n) => base + n,
    start(app, formation, base, commands, opts = {}) {
      return launch([bin, 'start', spec(formation), '--app', app, '--name', appName, '-p', String(base), '--publish-dynos', '--grace', '5s'], { cwd: app, env: env(), nice, ...opts });
    },
    /** `dynod scale`, as a user runs it; resolves when the command has ended */
    scale(h, type, from, to) {
      const full = nice && nice !== '0' ? ['nice', '-n', nice, bin] : [bin];
      const t = hr();
      const child = spawn(full[0], [...full.slice(1), 'scale', '--name', appName, `${type}=${to}`], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      return new Promise((resolve, reject) => {
        child.on('error', reject);
        child.on('exit', (code) => {
          const cmdMs = Number(hr() - t) / 1e6;
          if (code !== 0) reject(new Error(`dynod scale ${type}=${to} exited with ${code}: ${out.trim()}`));
          else resolve({ cmdMs, out: out.trim() });
        });
      });
    },
    // Ctrl-C to the group, as a terminal sends it (dynos run in sessions of their own): dynod
    // sends SIGTERM to every process of every dyno, waits --grace, then SIGKILL
    stop: (h) => endManager(h, { name: 'SIGINT', group: true }, 20000),
  };
}

// The floor: the bare loop with every process in a sandbox made by the lightest launchers, with
// the namespaces a dyno has (user, PID, mount, IPC, UTS, cgroup, network), but no cgroup of its
// own, no limits, no egress, no seccomp, no init of ours. What isolation alone costs a start.
// The network namespace makes their web ports unreachable from the host: the floor's "ready"
// is each process's own line (web: printed after listen()), for every runner in it.
function unshareLoop({ nice }) {
  // util-linux unshare: the namespaces only (no mounts besides the private propagation)
  // --kill-child: the command goes with unshare
  const wrap = () => ['unshare', '--user', '--map-root-user', '--pid', '--fork', '--kill-child', '--mount', '--ipc', '--uts', '--cgroup', '--net'];
  // a stop kills: unshare ignores SIGTERM while it waits, and its child is PID 1 of its namespace
  const stop = (h) => endManager(h, { name: 'SIGKILL', group: true }, 10000);
  return { ...bare({ nice, name: 'unshare', label: '`unshare` loop (7 namespaces)', wrap }), scale: null, stop };
}

function bwrapLoop({ nice }) {
  // bubblewrap: the same namespaces, a new root (pivot_root) of read-only binds, /proc, /dev,
  // a tmpfs /tmp and the app bound at /tmp/app
  const wrap = (app) => ['bwrap', '--unshare-all', '--die-with-parent', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--bind', app, '/tmp/app', '--chdir', '/tmp/app'];
  return { ...bare({ nice, name: 'bwrap', label: '`bwrap` loop (7 namespaces, new root)', wrap }), scale: null };
}

/** Whether this dynod build has `dynod start` (it may be measured before the formation landed). */
function dynodHasStart(root) {
  const r = spawnSync(path.join(root, 'bin', 'dynod'), ['start', '--help'], { env: runnerEnv(), encoding: 'utf8' });
  return r.status === 0 && /formation/i.test(r.stdout);
}

module.exports = { bare, unshareLoop, bwrapLoop, foreman, nodeForeman, dynod, dynodHasStart, runnerEnv };
