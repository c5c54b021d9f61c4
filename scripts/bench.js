#!/usr/bin/env node
'use strict';
/*
 * npm run bench: dynod's start latency, throughput and memory, side by side with
 * crun, runc, bubblewrap and bare Node, in one run; then `dynod start` side by side with
 * foreman, node-foreman and a bare `sh` loop (the formation section). Never part of `npm test`.
 *
 *   sudo npm run bench                   full run (~3 min + ~13 min for the formation section on
 *                                        2 cores), rewrites docs/benchmarks.md
 *   DYNOD_BENCH_QUICK=1 npm run bench    a smoke run with few rounds; prints, writes nothing
 *   DYNOD_BENCH_ONLY=formation npm run bench   one section only (dyno: P1…C; formation; network;
 *                                        oci): the others keep what docs/benchmarks.md holds
 *
 * Environment:
 *   DYNOD_BENCH_ROOT   the dynod tree to measure (default: this repository; needs a build:
 *                      npx node-gyp rebuild && npm run build)
 *   DYNOD_BENCH_OUT    where to write the report (default: docs/benchmarks.md; "-" = nowhere)
 *   DYNOD_BENCH_RAW    also write every raw measurement there as JSON
 *   DYNOD_BENCH_REV    how to name the measured tree in the report (default: its git HEAD)
 *   DYNOD_BENCH_NO_INSTALL=1   never apt-get install; missing anchors are skipped
 *   DYNOD_BENCH_NICE   niceness of everything measured (default -10; 0 = as is)
 *   DYNOD_BENCH_NF     an nf.js (node-foreman) to use instead of `npm install foreman@3`
 *
 * What it does (helpers in scripts/bench/):
 *   - installs crun, runc, bubblewrap, hyperfine, busybox-static, gcc/libc6-dev from Debian
 *     when missing; a tool that is still missing is skipped with a note
 *   - builds a busybox OCI bundle, the timing harness (timeit.c: alternating rounds,
 *     posix_spawn + wait4, CLOCK_MONOTONIC) and firstinsn.c under a temp dir
 *   - on a hybrid cgroup host (crun 1.8.1 refuses those) runs every tool in a private
 *     mount+cgroup namespace that shows a pure v1 /sys/fs/cgroup (cgns-env.sh)
 *   - P1 one start of /bin/true, P2 100 sequential starts, L 1,000 library starts in one
 *     process (rate, open fds and RSS per 1,000 starts), P3 memory of 100 running
 *     containers, the phase breakdown from dynod's trace mode, the cgroup work alone
 *   - removes every container, cgroup, process and temp dir it made
 *   - the formation section runs scripts/bench/formation.js (see its header): it installs
 *     ruby-foreman from Debian and npm `foreman@3` into a temp dir when missing
 *   - the oci section runs scripts/bench/oci.js (see its header): `podman run --rm IMG true`
 *     with dynod-oci, crun and runc, and each runtime's own `run`; a missing runtime's row says so
 * NODE_EXTRA_CA_CERTS and NODE_OPTIONS are unset for every Node process it times (npm keeps
 * them: a registry behind a TLS proxy needs the CA bundle).
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { stats } = require('./bench/common');

const REPO = path.resolve(__dirname, '..');
const ROOT = path.resolve(process.env.DYNOD_BENCH_ROOT || REPO);
const QUICK = process.env.DYNOD_BENCH_QUICK === '1';
const OUT = process.env.DYNOD_BENCH_OUT ?? (QUICK ? '-' : path.join(REPO, 'docs', 'benchmarks.md'));
const BENCH_DIR = path.join(__dirname, 'bench');
const MARKER = '<!-- bench:analysis: everything below this line is written by hand and kept when `npm run bench` rewrites this file -->';
const FORMATION_BEGIN = '<!-- bench:formation: written by scripts/bench/formation.js through `npm run bench` -->';
const FORMATION_END = '<!-- /bench:formation -->';
const NETWORK_BEGIN = '<!-- bench:network: written by scripts/bench/router.js and netstart.js through `npm run bench` -->';
const NETWORK_END = '<!-- /bench:network -->';
const OCI_BEGIN = '<!-- bench:oci: written by scripts/bench/oci.js through `npm run bench` -->';
const OCI_END = '<!-- /bench:oci -->';
const ONLY = process.env.DYNOD_BENCH_ONLY || null;
const wants = (section) => !ONLY || ONLY === section;

const CFG = QUICK
  ? { p1Rounds: 5, p1Warm: 1, hfRuns: 5, p2N: 20, p2Rounds: 1, libN: 200, libRounds: 1, p3N: 10, traceN: 5, cgN: 3 }
  : { p1Rounds: 40, p1Warm: 3, hfRuns: 20, p2N: 100, p2Rounds: 5, libN: 1000, libRounds: 3, p3N: 100, traceN: 20, cgN: 20 };
const GAP_MS = 50; // quiet before every P1 run: see the note on cgroup v1 below
// dynod's CLI rows: a fresh network namespace with loopback only, as the anchors' bundles
// have (bwrap --unshare-all too); the default --net private is its own row (dynod-egress).
const RUN = ['run', '--net', 'none', '--'];

const t00 = process.hrtime.bigint();
const notes = [];
const raw = {};
let tmp = null;
let cgChild = null;
const ownIdPrefix = `db${process.pid}`;

function log(msg) {
  const s = (Number(process.hrtime.bigint() - t00) / 1e9).toFixed(0).padStart(4);
  process.stderr.write(`[bench ${s}s] ${msg}\n`);
}

function sh(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

function which(cmd) {
  const r = sh('sh', ['-c', `command -v ${cmd}`]);
  return r.status === 0 ? r.stdout.trim() : null;
}

// ------------------------------------------------------------------ preflight

function cleanEnv(extra = {}) {
  const env = { ...process.env };
  for (const k of ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS', 'DYNOD_TRACE', 'DYNOD_LOG_LEVEL']) delete env[k];
  return { ...env, ...extra };
}

function preflight() {
  if (process.getuid() !== 0) fail('must run as root (dynod, crun and runc need it): sudo npm run bench');
  for (const f of ['dist/index.js', 'bin/dynod', 'build/Release/dynod.node', 'build/Release/dynod-init'])
    if (!fs.existsSync(path.join(ROOT, f))) fail(`${path.join(ROOT, f)} is missing: build first (npx node-gyp rebuild && npm run build)`);
}

function staticBusybox() {
  const p = '/bin/busybox';
  if (!fs.existsSync(p)) return false;
  const r = sh('ldd', [p]);
  return /not a dynamic executable|statically linked/.test(r.stdout + r.stderr);
}

function staticLibc() {
  const r = sh('gcc', ['-print-file-name=libc.a']);
  return r.status === 0 && path.isAbsolute(r.stdout.trim()) && fs.existsSync(r.stdout.trim());
}

/** Installs the Debian packages of `want` ([package, present?]) that are missing, unless DYNOD_BENCH_NO_INSTALL=1; notes what is still missing. */
function installMissing(want) {
  const missing = want.filter(([, ok]) => !ok()).map(([pkg]) => pkg);
  if (missing.length && process.env.DYNOD_BENCH_NO_INSTALL !== '1') {
    log(`installing from Debian: ${missing.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const u = sh('apt-get', ['update', '-qq'], { env });
    if (u.status !== 0) notes.push(`apt-get update failed: ${u.stderr.trim().split('\n').pop()}`);
    const r = sh('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
    if (r.status !== 0) notes.push(`apt-get install ${missing.join(' ')} failed: ${r.stderr.trim().split('\n').pop()}`);
  }
  const still = want.filter(([, ok]) => !ok()).map(([pkg]) => pkg);
  if (still.length) notes.push(`still missing after install: ${still.join(', ')} (their rows are skipped)`);
}

function ensureTools() {
  installMissing([
    ['crun', () => which('crun')],
    ['runc', () => which('runc')],
    ['bubblewrap', () => which('bwrap')],
    ['hyperfine', () => which('hyperfine')],
    ['busybox-static', staticBusybox],
    ['gcc', () => which('gcc')],
    ['libc6-dev', staticLibc],
    ['util-linux', () => which('unshare')],
  ]);
  if (!which('gcc') || !staticLibc()) fail('gcc with a static libc (libc6-dev) is needed to build the timing harness');
  return { crun: !!which('crun'), runc: !!which('runc'), bwrap: !!which('bwrap'), hyperfine: !!which('hyperfine'), busybox: staticBusybox(), unshare: !!which('unshare') };
}

// ------------------------------------------------------------------ setup

function cgroupMode() {
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => {
    const sep = l.indexOf(' - ');
    return sep < 0 ? null : { point: l.split(' ')[4], fstype: l.slice(sep + 3).split(' ')[0] };
  }).filter(Boolean);
  const v1 = mounts.filter((m) => m.fstype === 'cgroup');
  const v2 = mounts.find((m) => m.fstype === 'cgroup2');
  if (v2 && !v1.length) return { mode: 'v2', label: `cgroup v2 (unified at ${v2.point})` };
  if (v2 && v1.length) {
    let ctl = '';
    try {
      ctl = fs.readFileSync(path.join(v2.point, 'cgroup.controllers'), 'utf8').trim();
    } catch { /* none */ }
    return { mode: 'hybrid', label: `hybrid: ${v1.length} v1 hierarchies + cgroup2 at ${v2.point} (controllers: ${ctl || 'none'})` };
  }
  return { mode: 'v1', label: `cgroup v1 (${v1.length} hierarchies)` };
}

function compile(src, out, extra = []) {
  const r = sh('gcc', ['-O2', '-Wall', ...extra, '-o', out, src]);
  if (r.status !== 0) fail(`gcc ${src}: ${r.stderr}`);
}

function setup(tools) {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-bench-'));
  const t = {
    dir: tmp,
    timeit: path.join(tmp, 'timeit'),
    app: path.join(tmp, 'app'),
    bundle: path.join(tmp, 'bundle'),
    bundleLimits: path.join(tmp, 'bundle-limits'),
    bundleSleep: path.join(tmp, 'bundle-sleep'),
    bundleFirst: path.join(tmp, 'bundle-firstinsn'),
    out: path.join(tmp, 'out'),
  };
  fs.mkdirSync(t.app);
  // bin/dynod as it was before the bundle (c. 84b16a6): a shell script running the unbundled CLI
  t.oldLauncher = path.join(tmp, 'dynod-sh-launcher');
  fs.writeFileSync(t.oldLauncher, `#!/bin/sh\nhere=$(dirname "$(readlink -f ${JSON.stringify(path.join(ROOT, 'bin', 'dynod'))})")\nexec node -- "$here/../dist/cli/main.js" "$@"\n`, { mode: 0o755 });
  fs.mkdirSync(t.out);
  fs.chmodSync(tmp, 0o755);
  compile(path.join(BENCH_DIR, 'timeit.c'), t.timeit);
  compile(path.join(BENCH_DIR, 'firstinsn.c'), path.join(t.app, 'firstinsn'), ['-static']);
  if (tools.busybox) {
    fs.copyFileSync('/bin/busybox', path.join(t.app, 'busybox'));
    fs.chmodSync(path.join(t.app, 'busybox'), 0o755);
    const rootfs = path.join(t.bundle, 'rootfs');
    for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp', 'etc']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
    fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
    fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
    for (const l of ['sh', 'true', 'sleep']) fs.symlinkSync('busybox', path.join(rootfs, 'bin', l));
    fs.copyFileSync(path.join(t.app, 'firstinsn'), path.join(rootfs, 'bin', 'firstinsn'));
    fs.chmodSync(path.join(rootfs, 'bin', 'firstinsn'), 0o755);
    const specTool = tools.crun ? 'crun' : tools.runc ? 'runc' : null;
    if (specTool) {
      const r = sh(specTool, ['spec'], { cwd: t.bundle });
      if (r.status !== 0) fail(`${specTool} spec: ${r.stderr}`);
      const cfg = JSON.parse(fs.readFileSync(path.join(t.bundle, 'config.json'), 'utf8'));
      cfg.process.terminal = false;
      cfg.process.args = ['/bin/true'];
      fs.writeFileSync(path.join(t.bundle, 'config.json'), JSON.stringify(cfg, null, 2));
      const variant = (dir, edit) => {
        const c = JSON.parse(JSON.stringify(cfg));
        c.root.path = rootfs;
        edit(c);
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(c, null, 2));
      };
      variant(t.bundleSleep, (c) => (c.process.args = ['/bin/sleep', '600']));
      variant(t.bundleFirst, (c) => (c.process.args = ['/bin/firstinsn']));
      // the limits a default dynod dyno gets (standard-1x), in OCI terms
      const { plan } = require(ROOT);
      const lim = plan({ command: ['/bin/true'], app: t.app }).limits;
      t.limits = lim;
      variant(t.bundleLimits, (c) => {
        c.linux.resources = {
          ...c.linux.resources,
          memory: { limit: lim.memoryBytes, swap: lim.memorySwapBytes },
          pids: { limit: lim.pids },
          ...(lim.cpuWeight !== null || lim.cpuQuota
            ? { cpu: { ...(lim.cpuWeight !== null ? { shares: Math.round((lim.cpuWeight * 1024) / 100) } : {}), ...(lim.cpuQuota ? { quota: lim.cpuQuota.quotaUs, period: lim.cpuQuota.periodUs } : {}) } }
            : {}),
        };
      });
    }
  }
  return t;
}

// Commands run through `wrap` see the cgroup layout every tool is measured in.
let wrap = [];

// Measured commands run at a raised priority (nice), so that other work on the machine disturbs them less.
const NICE = process.env.DYNOD_BENCH_NICE ?? '-10';

function inEnv(cmd, args, opts = {}) {
  const argv = [...(NICE !== '0' ? ['nice', '-n', NICE] : []), ...wrap, cmd, ...args];
  return sh(argv[0], argv.slice(1), { env: cleanEnv(), ...opts });
}

function chooseEnv(mode, tools) {
  if (mode.mode === 'hybrid' && tools.unshare) {
    cgChild = `dynod-bench-${process.pid}`;
    wrap = [path.join(BENCH_DIR, 'cgns-env.sh'), cgChild];
    notes.push(
      'This host mixes cgroup v1 controllers with a cgroup2 mount (hybrid), which crun 1.8.1 refuses ("cgroups in hybrid mode not supported"). ' +
        'Every tool, dynod included, therefore runs in a private mount+cgroup namespace (`unshare -m -C`, scripts/bench/cgns-env.sh): ' +
        `a tmpfs on /sys/fs/cgroup with the v1 hierarchies mounted below it, rooted at a fresh child cgroup \`${cgChild}\` of the caller's own; the host's mounts are untouched.`,
    );
  }
}

function smoke(t, tools) {
  const ok = {};
  const id = `${ownIdPrefix}-smoke`;
  const check = (name, cmd, args, opts) => {
    const r = inEnv(cmd, args, opts);
    ok[name] = r.status === 0;
    if (!ok[name]) notes.push(`${name} does not run here (${(r.stderr || '').trim().split('\n').pop() || `status ${r.status}`}); its rows are skipped`);
  };
  check('dynod', path.join(ROOT, 'bin', 'dynod'), [...RUN, '/bin/true'], { cwd: t.app });
  if (tools.crun && tools.busybox) check('crun', 'crun', ['run', '-b', t.bundle, id]);
  if (tools.runc && tools.busybox) check('runc', 'runc', ['run', '-b', t.bundle, id]);
  if (tools.bwrap) check('bwrap', 'bwrap', [...BWRAP, '/bin/true']);
  if (!ok.dynod) fail('dynod itself does not run: see above');
  return ok;
}

const BWRAP = ['--unshare-all', '--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64', '--proc', '/proc', '--dev', '/dev'];

// ------------------------------------------------------------------ the harness

/** rows: [{name, argv, stdout?, stderr?, env?}] → {name: {ms: [...], rssKiB: [...], fails}} */
function timeit(t, label, rows, { rounds, warmup, gapMs = 0, cwd }) {
  const spec = path.join(t.dir, `${label}.spec`);
  fs.writeFileSync(
    spec,
    rows.map((r) => [r.name, r.stdout ?? '-', r.stderr ?? '-', r.env ? Object.entries(r.env).map(([k, v]) => `${k}=${v}`).join(';') : '-', ...r.argv].join('\t')).join('\n') + '\n',
  );
  const res = inEnv(t.timeit, ['--rounds', String(rounds), '--warmup', String(warmup), '--gap-ms', String(gapMs), spec], { cwd: cwd ?? t.app, maxBuffer: 64 << 20 });
  if (res.status !== 0) fail(`timeit ${label}: ${res.stderr}`);
  const out = {};
  for (const r of rows) out[r.name] = { ms: [], rssKiB: [], cpuMs: [], startNs: [], endNs: [], fails: 0 };
  for (const line of res.stdout.trim().split('\n').filter(Boolean)) {
    const [name, , s, e, status, rss, cpu] = line.split('\t');
    const o = out[name];
    o.ms.push(Number(BigInt(e) - BigInt(s)) / 1e6);
    o.cpuMs.push(Number(cpu) / 1000);
    o.startNs.push(BigInt(s));
    o.endNs.push(BigInt(e));
    o.rssKiB.push(Number(rss));
    if (Number(status) !== 0) o.fails++;
  }
  raw[label] = Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { ms: v.ms, rssKiB: v.rssKiB, cpuMs: v.cpuMs, fails: v.fails }]));
  return out;
}

// ------------------------------------------------------------------ measurements

function p1(t, ok) {
  log(`P1: one start of /bin/true, ${CFG.p1Rounds} alternating rounds (+${CFG.p1Warm} warm-up), ${GAP_MS} ms quiet before each run`);
  const node = process.execPath;
  const dynod = path.join(ROOT, 'bin', 'dynod');
  const rows = [
    { name: 'dynod', argv: [dynod, ...RUN, '/bin/true'] },
    { name: 'node', argv: [node, '-e', '0'] },
  ];
  if (ok.crun) rows.push({ name: 'crun', argv: ['crun', 'run', '-b', t.bundle, `${ownIdPrefix}-p1c`] });
  if (ok.runc) rows.push({ name: 'runc', argv: ['runc', 'run', '-b', t.bundle, `${ownIdPrefix}-p1r`] });
  if (ok.bwrap) rows.push({ name: 'bwrap', argv: ['bwrap', ...BWRAP, '/bin/true'] });
  // What the CLI's start-up steps buy (bin/dynod, scripts/build-cli.js): the same start without the
  // code cache, without the bundle, and through the launcher it had before (sh + readlink + dirname).
  rows.push({ name: 'dynod-nocache', argv: [dynod, ...RUN, '/bin/true'], env: { DYNOD_NO_CODE_CACHE: '1' } });
  rows.push({ name: 'dynod-unbundled', argv: [dynod, ...RUN, '/bin/true'], env: { DYNOD_NO_BUNDLE: '1' } });
  rows.push({ name: 'dynod-before', argv: [t.oldLauncher, ...RUN, '/bin/true'] });
  // The default network: egress through the host's bridge and nftables, which a one-shot run
  // sets up and takes down again (the anchors' bundles have a loopback-only netns, as --net none).
  rows.push({ name: 'dynod-egress', argv: [dynod, 'run', '--', '/bin/true'] });
  rows.push({ name: 'node-require', argv: [node, '-e', `require(${JSON.stringify(ROOT)})`] });
  rows.push({ name: 'dynod-dry', argv: [dynod, 'run', '--net', 'none', '--dry-run', '--', '/bin/true'] });
  // The cost of the hardening (issue 4): the same start without seccomp and without a user namespace.
  rows.push({ name: 'dynod-unhardened', argv: [dynod, 'run', '--net', 'none', '--seccomp', 'unconfined', '--userns', 'host', '--', '/bin/true'] });
  if (ok.crun && t.limits) rows.push({ name: 'crun-limits', argv: ['crun', 'run', '-b', t.bundleLimits, `${ownIdPrefix}-p1l`] });
  const iso = timeit(t, 'p1', rows, { rounds: CFG.p1Rounds, warmup: CFG.p1Warm, gapMs: GAP_MS });

  let b2b = null;
  if (which('hyperfine')) {
    log(`P1 cross-check: hyperfine -N --warmup 3 --runs ${CFG.hfRuns}, each tool back-to-back`);
    const main = rows.filter((r) => ['dynod', 'node', 'crun', 'runc', 'bwrap'].includes(r.name));
    const json = path.join(t.out, 'hyperfine.json');
    const quote = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
    const cmds = main.map((r) => r.argv.map(quote).join(' '));
    const r = inEnv('hyperfine', ['-N', '--style', 'none', '--warmup', '3', '--runs', String(CFG.hfRuns), '--export-json', json, ...main.flatMap((m, i) => ['-n', m.name, cmds[i]])], { cwd: t.app });
    if (r.status === 0) {
      const j = JSON.parse(fs.readFileSync(json, 'utf8'));
      b2b = Object.fromEntries(j.results.map((x) => [x.command, { ms: x.times.map((s) => s * 1000) }]));
      raw.p1BackToBack = b2b;
    } else notes.push(`hyperfine cross-check failed: ${r.stderr.trim().split('\n').pop()}`);
  }
  return { iso, b2b };
}

function p2(t, ok) {
  log(`P2: ${CFG.p2N} starts one after another, ${CFG.p2Rounds} alternating round(s) (+1 warm-up)`);
  const n = CFG.p2N;
  const jsonl = path.join(t.out, 'p2-dynod.jsonl');
  const loop = (body) => ['sh', '-c', `i=0; while [ $i -lt ${n} ]; do ${body} || exit 1; i=$((i+1)); done`];
  const rows = [{ name: 'dynod', argv: [process.execPath, path.join(BENCH_DIR, 'p2-dynod.js'), ROOT, t.app, String(n), jsonl] }];
  if (ok.crun) rows.push({ name: 'crun', argv: loop(`crun run -b ${t.bundle} ${ownIdPrefix}-p2c-$i`) });
  if (ok.bwrap) rows.push({ name: 'bwrap', argv: loop(`bwrap ${BWRAP.join(' ')} /bin/true`) });
  if (ok.runc) rows.push({ name: 'runc', argv: loop(`runc run -b ${t.bundle} ${ownIdPrefix}-p2r-$i`) });
  rows.push({ name: 'true', argv: loop('/bin/true') });
  const res = timeit(t, 'p2', rows, { rounds: CFG.p2Rounds, warmup: 1 });
  const inproc = fs.readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).slice(1); // first line: warm-up round
  raw.p2Dynod = inproc;
  return { res, inproc };
}

function lib(t) {
  const n = CFG.libN;
  log(`L: ${n} library starts in one Node process (--expose-gc), ${CFG.libRounds} process(es): rate, open fds, RSS`);
  const jsonl = path.join(t.out, 'lib-rate.jsonl');
  const rows = [{ name: 'lib', argv: [process.execPath, '--expose-gc', path.join(BENCH_DIR, 'lib-rate.js'), ROOT, t.app, String(n), '5', String(n / 10), jsonl] }];
  const res = timeit(t, 'lib', rows, { rounds: CFG.libRounds, warmup: 0 });
  if (res.lib.fails) notes.push(`L: ${res.lib.fails} of ${CFG.libRounds} library-rate processes failed`);
  const runs = fs.existsSync(jsonl) ? fs.readFileSync(jsonl, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
  raw.lib = runs;
  return { runs, res };
}

function heapScaling(t) {
  const n = QUICK ? 10 : 100;
  log(`H: ${n} library starts from a process holding 0 or 1024 MiB more, with the shared clone and with DYNOD_SPAWN_FORK=1`);
  const out = [];
  for (const extra of [0, 1024])
    for (const fork of [false, true]) {
      const r = inEnv(process.execPath, [path.join(BENCH_DIR, 'heap-scaling.js'), ROOT, t.app, String(extra), String(n), '5'], {
        env: { ...cleanEnv(), ...(fork ? { DYNOD_SPAWN_FORK: '1' } : {}) },
      });
      if (r.status === 0) out.push(JSON.parse(r.stdout.trim()));
      else notes.push(`H: the run with +${extra} MiB${fork ? ', forking' : ''} failed: ${(r.stderr || '').trim().split('\n').pop()}`);
    }
  raw.heapScaling = out;
  return out;
}

function p3(t, ok) {
  const n = CFG.p3N;
  const out = {};
  const cmd = fs.existsSync(path.join(t.app, 'busybox')) ? ['/app/busybox', 'sleep', '600'] : ['sleep', '600'];
  log(`P3: memory of ${n} running \`sleep 600\` dynos`);
  const dj = path.join(t.out, 'p3-dynod.json');
  let r = inEnv(process.execPath, [path.join(BENCH_DIR, 'p3-dynod.js'), ROOT, t.app, String(n), dj, ...cmd], { cwd: t.app });
  if (fs.existsSync(dj)) out.dynod = JSON.parse(fs.readFileSync(dj, 'utf8'));
  if (r.status !== 0) notes.push(`P3 dynod: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
  out.dynodCmd = cmd;
  if (ok.crun) {
    log(`P3: memory of ${n} running \`sleep 600\` containers under crun run -d`);
    const cj = path.join(t.out, 'p3-crun.json');
    r = inEnv(process.execPath, [path.join(BENCH_DIR, 'p3-crun.js'), t.bundleSleep, `${ownIdPrefix}-p3`, String(n), cj]);
    if (fs.existsSync(cj)) out.crun = JSON.parse(fs.readFileSync(cj, 'utf8'));
    if (r.status !== 0) notes.push(`P3 crun: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
  }
  raw.p3 = out;
  return out;
}

function traces(t, ok) {
  log(`trace: phase breakdown, ${CFG.traceN} CLI starts (cold) and ${CFG.traceN} library starts (warm); exec → first instruction for every tool`);
  // cold: the CLI, one process per start, with the probe preloaded; `node -e 0` with the same probe as its baseline
  const probe = path.join(t.out, 'probe.jsonl');
  const probeNode = path.join(t.out, 'probe-node.jsonl');
  const stamps = path.join(t.out, 'firstinsn-cli.txt');
  const probeEnv = (file) => ({ NODE_OPTIONS: `--require=${path.join(BENCH_DIR, 'cli-probe.js')}`, DYNOD_BENCH_PROBE: file });
  const warmup = 2;
  const res = timeit(
    t,
    'trace-cli',
    [
      { name: 'cli', argv: [path.join(ROOT, 'bin', 'dynod'), ...RUN, '/app/firstinsn'], stdout: stamps, env: { DYNOD_TRACE: '1', ...probeEnv(probe) } },
      { name: 'node', argv: [process.execPath, '-e', '0'], env: probeEnv(probeNode) },
    ],
    { rounds: CFG.traceN, warmup, gapMs: GAP_MS },
  );
  const lines = (f) => fs.readFileSync(f, 'utf8').trim().split('\n').slice(warmup);
  const recs = lines(probe).map((l) => JSON.parse(l));
  const fi = lines(stamps).map((l) => BigInt(l));
  const cold = recs.map((rec, i) => ({ rec, start: res.cli.startNs[i], end: res.cli.endNs[i], fi: fi[i] }));
  const nodeRecs = lines(probeNode).map((l) => JSON.parse(l));
  const node = nodeRecs.map((rec, i) => ({ rec, start: res.node.startNs[i], end: res.node.endNs[i] }));

  // exec → first instruction of the command, every tool, alternating
  const first = {};
  const rows = [{ name: 'dynod', argv: [path.join(ROOT, 'bin', 'dynod'), ...RUN, '/app/firstinsn'] }];
  if (ok.crun) rows.push({ name: 'crun', argv: ['crun', 'run', '-b', t.bundleFirst, `${ownIdPrefix}-fic`] });
  if (ok.runc) rows.push({ name: 'runc', argv: ['runc', 'run', '-b', t.bundleFirst, `${ownIdPrefix}-fir`] });
  if (ok.bwrap) rows.push({ name: 'bwrap', argv: ['bwrap', ...BWRAP, '--ro-bind', t.app, '/app', '/app/firstinsn'] });
  for (const r of rows) r.stdout = path.join(t.out, `first-${r.name}.txt`);
  const fr = timeit(t, 'first-insn', rows, { rounds: CFG.traceN, warmup, gapMs: GAP_MS });
  for (const r of rows) {
    const st = lines(r.stdout).map((l) => BigInt(l));
    first[r.name] = st.map((x, i) => Number(x - fr[r.name].startNs[i]) / 1e6);
  }

  // warm: the library in one process
  const wj = path.join(t.out, 'trace-lib.jsonl');
  const r = inEnv(process.execPath, [path.join(BENCH_DIR, 'trace-lib.js'), ROOT, t.app, String(CFG.traceN), '3', '/app/firstinsn', path.join(t.out, 'fi.tmp'), wj], { cwd: t.app });
  if (r.status !== 0) notes.push(`warm trace failed: ${r.stderr.trim().split('\n').pop()}`);
  const warm = fs.existsSync(wj) ? fs.readFileSync(wj, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [];
  raw.traceCold = cold.map((c) => ({ ...c.rec, start: String(c.start), end: String(c.end), firstInsn: String(c.fi) }));
  raw.traceNode = node.map((c) => ({ ...c.rec, start: String(c.start), end: String(c.end) }));
  raw.traceWarm = warm;
  raw.firstInsn = first;
  return { cold, node, warm, first };
}

function cgroupMicro(t) {
  log(`cgroup work alone: ${CFG.cgN} create/join/remove cycles through dynod's cgroup backend`);
  const j = path.join(t.out, 'cgroup.json');
  const r = inEnv(process.execPath, [path.join(BENCH_DIR, 'cgroup-micro.js'), ROOT, t.app, String(CFG.cgN), String(GAP_MS), j], { cwd: t.app });
  if (r.status !== 0) {
    notes.push(`cgroup micro-benchmark failed: ${r.stderr.trim().split('\n').pop()}`);
    return null;
  }
  raw.cgroup = JSON.parse(fs.readFileSync(j, 'utf8'));
  return raw.cgroup;
}

// ------------------------------------------------------------------ report

const f1 = (x) => (Number.isFinite(x) ? x.toFixed(x >= 100 ? 0 : x >= 10 ? 1 : 2) : 'n/a');
const ms = (x) => (Number.isFinite(x) ? `${f1(x)} ms` : 'n/a');
const mib = (kib) => (Number.isFinite(kib) ? `${(kib / 1024).toFixed(2)} MiB` : 'n/a');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(1)}×` : 'n/a');

function machine(mode) {
  const cpu = (/^model name\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8')) || [])[1] || os.cpus()[0]?.model || '?';
  const ver = (cmd, args, re) => {
    const r = sh(cmd, args);
    if (r.status !== 0 && !r.stdout) return null;
    const m = re.exec(r.stdout + r.stderr);
    return m ? m[1] : null;
  };
  const git = process.env.DYNOD_BENCH_REV || sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']).stdout.trim();
  const dirty = !process.env.DYNOD_BENCH_REV && sh('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src', 'native']).stdout.trim() ? ' + uncommitted changes in src/ or native/' : '';
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  return {
    cpu: `${cpu}, ${os.cpus().length} cores`,
    ram: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: `${os.release()} (${os.arch()})`,
    cgroup: mode.label,
    node: process.version,
    dynod: `${pkg.version}${git ? ` @ ${git}${dirty}` : ''}`,
    tools: [
      ['crun', ver('crun', ['--version'], /crun version (\S+)/)],
      ['runc', ver('runc', ['--version'], /runc version (\S+)/)],
      ['bwrap', ver('bwrap', ['--version'], /bubblewrap (\S+)/)],
      ['hyperfine', ver('hyperfine', ['--version'], /hyperfine (\S+)/)],
      ['busybox', ver('busybox', [], /BusyBox (v\S+)/)],
      ['gcc', ver('gcc', ['-dumpfullversion'], /(\S+)/)],
    ].filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(', '),
  };
}

function report(m, r) {
  const rows = [];
  const row = (sec, what, s, vs = '', fmt = ms) => rows.push(`| ${sec} | ${what} | ${fmt(s.median)} | ${fmt(s.min)} | ${fmt(s.max)} | ${vs} |`);
  const S = (x) => stats(x ?? []);
  const iso = r.p1.iso;
  const med = (name) => S(iso[name]?.ms).median;
  const crunMed = med('crun');
  const fails = (name) => (iso[name]?.fails ? ` (${iso[name].fails} runs failed)` : '');

  // P1
  const label = {
    dynod: '`dynod run --net none -- /bin/true` (the CLI)',
    'dynod-egress': '`dynod run -- /bin/true` (the default `--net private`: a one-shot run sets up and removes the host bridge and nftables table)',
    node: '`node -e 0`',
    crun: '`crun run` (busybox bundle, /bin/true)',
    runc: '`runc run` (same bundle)',
    bwrap: '`bwrap --unshare-all --ro-bind /usr /usr … /bin/true`',
    'node-require': "`node -e 'require(\"dynod\")'` (loading the library)",
    'dynod-dry': '`dynod run --net none --dry-run -- /bin/true` (CLI + plan, no start)',
    'dynod-nocache': '`DYNOD_NO_CODE_CACHE=1 dynod run --net none -- /bin/true` (bundle without its V8 code cache)',
    'dynod-unbundled': '`DYNOD_NO_BUNDLE=1 dynod run --net none -- /bin/true` (dist/cli/main.js, ~35 modules)',
    'dynod-before': '`dynod run --net none -- /bin/true` through the old launcher (sh + readlink + dirname → node dist/cli/main.js)',
    'dynod-unhardened': '`dynod run --net none --seccomp unconfined --userns host -- /bin/true` (hardening off)',
    'crun-limits': '`crun run` with a default dyno\'s limits (memory, memsw, cpu.shares, pids)',
  };
  for (const name of Object.keys(iso)) {
    const s = S(iso[name].ms);
    const vs = name === 'crun' ? '1.0× (anchor)' : `${ratio(s.median, crunMed)} crun`;
    row('P1', `${label[name] ?? name}${fails(name)}`, s, vs);
  }
  if (iso['dynod-unhardened']) {
    // per round, like dynod − node: the hardening's cost is dynod minus dynod-unhardened
    const diff = iso.dynod.ms.map((v, i) => v - iso['dynod-unhardened'].ms[i]).filter((v) => Number.isFinite(v));
    row('P1', 'hardening cost: dynod − dynod with `--seccomp unconfined --userns host` (per round)', S(diff), '');
  }
  if (iso['dynod-egress']) {
    const diff = iso['dynod-egress'].ms.map((v, i) => v - iso.dynod.ms[i]).filter((v) => Number.isFinite(v));
    row('P1', 'egress cost of a one-shot run: `--net private` − `--net none` (per round)', S(diff), '');
  }
  // each CLI start-up step, per round: what it saves against the variant without it
  for (const [a, b, what] of [
    ['dynod-before', 'dynod-unbundled', 'no shell launcher (`env -S node --` instead of sh + readlink + dirname)'],
    ['dynod-unbundled', 'dynod-nocache', 'the bundle (one file instead of ~35 modules), without code cache'],
    ['dynod-nocache', 'dynod', "the V8 code cache of the bundle"],
    ['dynod-before', 'dynod', 'all three together'],
  ]) {
    if (!iso[a] || !iso[b]) continue;
    const d = iso[a].ms.map((v, i) => v - iso[b].ms[i]);
    const dc = iso[a].cpuMs.map((v, i) => v - iso[b].cpuMs[i]);
    row('P1', `CLI start-up saved by ${what} (per round, wall)`, S(d), `CPU: ${ms(S(dc).median)}`);
  }
  // dynod − node, per round (same round = same conditions)
  const dn = iso.dynod.ms.map((x, i) => x - (iso.node.ms[i] ?? NaN));
  const dns = S(dn);
  row('P1', '**dynod − `node -e 0`** (per round): what dynod adds to Node', dns, `**${ratio(dns.median, crunMed)} crun**`);
  const crunCpu = S(iso.crun?.cpuMs).median;
  for (const [name, v] of Object.entries(iso)) {
    if (!['dynod', 'node', 'crun', 'runc', 'bwrap'].includes(name)) continue;
    const cs = S(v.cpuMs);
    row('P1', `CPU time (user+sys of the whole process tree), ${label[name]}`, cs, name === 'crun' ? '1.0×' : `${ratio(cs.median, crunCpu)} crun`);
  }
  for (const [name, v] of Object.entries(iso)) {
    if (name !== 'dynod' && name !== 'node' && name !== 'crun') continue;
    const rs = S(v.rssKiB);
    rows.push(`| P1 | peak RSS, ${label[name]} | ${mib(rs.median)} | ${mib(rs.min)} | ${mib(rs.max)} | largest single process (wait4) |`);
  }
  if (r.p1.b2b) {
    const hcrun = S(r.p1.b2b.crun?.ms).median;
    for (const [name, v] of Object.entries(r.p1.b2b)) {
      const s = S(v.ms);
      row('P1b', `back-to-back (hyperfine): ${label[name] ?? name}`, s, name === 'crun' ? '1.0×' : `${ratio(s.median, hcrun)} crun`);
    }
    const hd = S(r.p1.b2b.dynod?.ms).median - S(r.p1.b2b.node?.ms).median;
    rows.push(`| P1b | back-to-back: dynod − node (medians) | ${ms(hd)} | | | ${ratio(hd, hcrun)} crun |`);
  }

  // P2
  const n = CFG.p2N;
  const p2 = r.p2;
  const dTot = S(p2.inproc.map((x) => x.totalMs));
  const crunTot = S(p2.res.crun?.ms);
  row('P2', `${n}× dynod through the library, one Node process: total (in-process)`, dTot, `${ratio(dTot.median, crunTot.median)} crun`);
  const per = (s) => ({ median: s.median / n, min: s.min / n, max: s.max / n });
  row('P2', '… per dyno', per(dTot), `${ratio(dTot.median, crunTot.median)} crun`);
  row('P2', '… first dyno of the process (cold)', S(p2.inproc.map((x) => x.firstMs)));
  row('P2', '… whole process incl. Node start-up and require', S(p2.res.dynod.ms));
  const crunCpuPer = S(p2.res.crun?.cpuMs).median / n;
  const loadCpu = S((r.p1.iso['node-require'] ?? r.p1.iso.node)?.cpuMs).median;
  const dCpu = S(p2.res.dynod.cpuMs.map((x) => (x - loadCpu) / n));
  row('P2', "… CPU time per dyno (whole tree, user+sys, minus P1's `node -e 'require(\"dynod\")'`)", dCpu, `${ratio(dCpu.median, crunCpuPer)} crun`);
  for (const [name, v] of Object.entries(p2.res)) {
    if (name === 'dynod') continue;
    const s = S(v.ms);
    const what = name === 'true' ? `${n}× \`/bin/true\` (shell loop floor)` : `${n}× ${name} in a shell loop`;
    row('P2', `${what}: total${v.fails ? ` (${v.fails} failed)` : ''}`, s, name === 'crun' ? '1.0×' : `${ratio(s.median, crunTot.median)} crun`);
    row('P2', '… per container', per(s));
    if (name !== 'true') row('P2', '… CPU time per container (whole tree, user+sys)', S(v.cpuMs.map((x) => x / n)), name === 'crun' ? '1.0×' : `${ratio(S(v.cpuMs).median / n, crunCpuPer)} crun`);
  }

  // L
  const L = r.lib.runs;
  if (L.length) {
    const ln = L[0].n;
    const kib = (x) => (Number.isFinite(x) ? `${Math.round(x)} KiB` : 'n/a');
    const kindsOf = (x) => Object.entries(x.fdGrowthByKind).map(([k, v]) => `${v} \`${k}\``).join(', ') || 'none';
    row('L', `**${ln}× \`run({command: ['/bin/true']})\` in one Node process: starts per second**`, S(L.map((x) => x.startsPerSec)), `${L.length} process(es), after 5 warm-up starts`, (x) => (Number.isFinite(x) ? `**${x.toFixed(0)}/s**` : 'n/a'));
    const crunPer = S(p2.res.crun?.ms).median / n;
    const bwrapPer = S(p2.res.bwrap?.ms).median / n;
    const lper = S(L.map((x) => x.busyMs / x.n));
    row('L', '… mean time per start (start → exit → wait() resolved)', lper, `${ratio(lper.median, crunPer)} crun, ${ratio(lper.median, bwrapPer)} bwrap (P2 loops)`);
    row('L', '… median single start', S(L.map((x) => x.perStart.median)), '');
    row('L', `… **open fds per 1,000 starts** (/proc/self/fd; before → after: ${L.map((x) => `${x.fdsBefore} → ${x.fdsAfter}`).join(', ')})`, S(L.map((x) => x.fdsPer1000)), `growth by kind: ${L.map(kindsOf).join('; ')}`, (x) => (Number.isFinite(x) ? x.toFixed(0) : 'n/a'));
    row('L', `… **RSS growth per 1,000 starts** (${L[0].gc ? 'after gc()' : 'no --expose-gc: without gc'}; before → after: ${L.map((x) => `${mib(x.rssBeforeKiB)} → ${mib(x.rssAfterKiB)}`).join(', ')})`, S(L.map((x) => x.rssPer1000KiB)), '', kib);
    row('L', '… RSS growth per 1,000 starts, second half of the run only', S(L.map((x) => x.rssPer1000SecondHalfKiB)), '', kib);
    row('L', '… JS heap (heapUsed) growth per 1,000 starts', S(L.map((x) => x.heapUsedPer1000KiB)), '', kib);
    row('L', '… CPU time per start (whole tree, user+sys, incl. Node start-up)', S(r.lib.res.lib.cpuMs.map((x) => x / ln)), `${ratio(S(r.lib.res.lib.cpuMs).median / ln, crunCpuPer)} crun`);
  }

  // H
  const H = r.heap ?? [];
  const h = (extra, fork) => H.find((x) => x.extraMiB === extra && x.fork === fork);
  for (const extra of [0, 1024]) {
    const shared = h(extra, false);
    const forked = h(extra, true);
    if (!shared || !forked) continue;
    rows.push(`| H | a library start, median (\`run()\` of /bin/true), from a process holding ${extra} MiB more (RSS ${shared.rssMiB} MiB): clone in dynod's memory / fork (DYNOD_SPAWN_FORK=1) | ${ms(shared.medianMs)} / ${ms(forked.medianMs)} | | | fork: ${ratio(forked.medianMs, shared.medianMs)} |`);
  }

  // targets, side by side from this one run
  const targets = [];
  if (L.length) {
    const lper = S(L.map((x) => x.busyMs / x.n)).median;
    const bb = S(p2.res.bwrap?.ms).median / n;
    const cb = S(p2.res.crun?.ms).median / n;
    targets.push(`| Target | one library start (L, back-to-back) vs bwrap's whole \`bwrap … /bin/true\` | ${ms(lper)} vs ${ms(bb)} (P2 loop) / ${ms(med('bwrap'))} (P1) | | | **${ratio(lper, bb)} bwrap** (P2) / ${ratio(lper, med('bwrap'))} (P1) |`);
    targets.push(`| Target | one library start (L, back-to-back) vs crun's whole \`crun run\` | ${ms(lper)} vs ${ms(cb)} (P2 loop) / ${ms(crunMed)} (P1) | | | **${ratio(lper, cb)} crun** (P2) / ${ratio(lper, crunMed)} (P1) |`);
  }
  targets.push(`| Target | \`dynod run --net none -- /bin/true\` − \`node -e 0\` (P1, per round) vs crun's whole \`crun run\` (P1; its bundle's netns has loopback only, as --net none) | ${ms(dns.median)} vs ${ms(crunMed)} | | | **${ratio(dns.median, crunMed)} crun** |`);
  rows.unshift(...targets);

  // P3
  const d = r.p3.dynod;
  const c = r.p3.crun;
  if (d) {
    const nodeGrowth = d.nodeRssKiB - d.baseRssKiB;
    const initSum = d.initRssKiB.reduce((a, b) => a + b, 0);
    const perDyno = (nodeGrowth + initSum) / d.n;
    const cPer = c ? c.initRssKiB.reduce((a, b) => a + b, 0) / c.n : NaN;
    const one = (x) => ({ median: x, min: NaN, max: NaN });
    rows.push(`| P3 | **RSS per running dyno: (Node growth + Σ dynod-init) / ${d.n}** | **${mib(perDyno)}** | | | ${c ? `${ratio(perDyno, cPer)} crun` : ''} |`);
    row('P3', `… Node process growth / ${d.n} (base RSS ${mib(d.baseRssKiB)})`, one(nodeGrowth / d.n), '', mib);
    row('P3', '… one dynod-init (PID 1), VmRSS', S(d.initRssKiB), '', mib);
    row('P3', '… one dynod-init, PSS (shared pages split)', S(d.initPssKiB), '', mib);
    row('P3', `… the command itself (\`${d.command.join(' ')}\`), VmRSS, not counted above`, S(d.cmdRssKiB), '', mib);
    row('P3', '… memory cgroup usage per dyno (kernel view: init + command + page tables, tmpfs, …)', S(d.cgroupBytes.map((b) => b / 1024)), c ? `${ratio(S(d.cgroupBytes).median, S(c.cgroupBytes).median)} crun` : '', mib);
    rows.push(`| P3 | start all ${d.n} / stop all ${d.n} (dynod) | ${ms(d.startAllMs)} / ${ms(d.stopAllMs)} | | | left behind: ${d.leftPids.length} pids, ${d.leftCgroups.length} cgroups |`);
  }
  if (c) {
    const cPer = c.initRssKiB.reduce((a, b) => a + b, 0) / c.n;
    rows.push(`| P3 | **RSS per running crun container: Σ container init / ${c.n}** (no daemon, no conmon: the init *is* \`sleep\`) | **${mib(cPer)}** | | | 1.0× |`);
    row('P3', '… memory cgroup usage per container', S(c.cgroupBytes.map((b) => b / 1024)), '', mib);
    rows.push(`| P3 | start all ${c.n} (\`crun run -d\`) / stop all (\`crun kill\` + \`crun delete -f\`) | ${ms(c.startAllMs)} / ${ms(c.stopAllMs)} | | | left behind: ${c.leftContainers.length} containers, ${c.leftPids.length} pids, ${c.leftCgroups.length} cgroups |`);
  }

  // phases
  const tr = r.traces;
  const phaseOrder = [];
  const coldPh = {};
  const warmPh = {};
  for (const { rec } of tr.cold) for (const p of rec.traces) {
    if (!phaseOrder.includes(p.phase)) phaseOrder.push(p.phase);
    (coldPh[p.phase] ??= []).push(p.ms);
  }
  for (const w of tr.warm) for (const p of w.traces) {
    if (!phaseOrder.includes(p.phase)) phaseOrder.push(p.phase);
    (warmPh[p.phase] ??= []).push(p.ms);
  }
  // cold CLI timeline, everything on the harness's clock
  const rel = (a, b) => Number(BigInt(a) - BigInt(b)) / 1e6;
  const cl = (f) => S(tr.cold.map(f));
  const t0 = (x) => x.rec.t0 ?? x.rec.marks.exit;
  const nd = (f) => S(tr.node.map(f));
  const tl = [
    ['exec → Node process start (bin/dynod: env, then the node binary)', cl((x) => rel(x.rec.marks.origin, x.start)), nd((x) => rel(x.rec.marks.origin, x.start))],
    ['… → user code starts (Node bootstrap)', cl((x) => rel(x.rec.marks.preload, x.rec.marks.origin)), nd((x) => rel(x.rec.marks.preload, x.rec.marks.origin))],
    ["… → the CLI's code loaded (dist/cli/dynod.js: commander + dynod's dist/, with its code cache)", cl((x) => rel(x.rec.marks.main, x.rec.marks.preload)), null],
    ['… → Dyno created (CLI parse, plan, cgroup detection and sweep) = trace 0 ms', cl((x) => rel(t0(x), x.rec.marks.main)), null],
  ];
  rows.push(`| T | **cold start timeline (the CLI, ${tr.cold.length} runs, probe preloaded): each step in ms** | median | min | max | ms since exec (median); \`node -e 0\` for the same step |`);
  let acc = 0;
  for (const [what, s, base] of tl) {
    acc += s.median;
    row('T', what, s, `${ms(acc)}${base ? `; node: ${ms(base.median)}` : ''}`);
  }
  const since = cl((x) => rel(t0(x), x.start)).median;
  for (const ph of phaseOrder) {
    const s = S(coldPh[ph]);
    if (s.n) row('T', `trace \`${ph}\` (ms since trace 0)`, s, ms(since + s.median));
  }
  const fiCold = cl((x) => rel(x.fi, t0(x)));
  row('T', '**first instruction of the command** (ms since trace 0)', fiCold, ms(since + fiCold.median));
  const exitedOf = (x) => x.rec.traces.find((p) => p.phase === 'exited')?.ms ?? NaN;
  row('T', 'trace `exited` → process `exit` event (cgroup removal, exit status, streams)', cl((x) => rel(x.rec.marks.exit, t0(x)) - exitedOf(x)), '');
  row('T', 'process `exit` event → process gone (Node teardown)', cl((x) => rel(x.end, x.rec.marks.exit)), `node: ${ms(nd((x) => rel(x.end, x.rec.marks.exit)).median)}`);
  row('T', 'whole CLI run, exec → exit (with the probe)', S(tr.cold.map((x) => Number(x.end - x.start) / 1e6)), `node: ${ms(nd((x) => Number(x.end - x.start) / 1e6).median)}`);
  const fcrun = S(tr.first.crun).median;
  for (const [name, v] of Object.entries(tr.first)) {
    const s = S(v);
    row('F', `exec → first instruction of the command: ${name}${name === 'dynod' ? ' (`dynod run -- /app/firstinsn`)' : ''}`, s, name === 'crun' ? '1.0×' : `${ratio(s.median, fcrun)} crun`);
  }
  if (tr.warm.length) {
    rows.push(`| W | **warm start (library, ${tr.warm.length} starts in one process after 3 warm-ups): ms since trace 0** | median | min | max | |`);
    row('W', 'start() called → trace 0 (plan(), sweep; shown as a duration)', S(tr.warm.map((w) => -w.requestMs)));
    for (const ph of phaseOrder) if (warmPh[ph]) row('W', `trace \`${ph}\``, S(warmPh[ph]));
    row('W', '**first instruction of the command**', S(tr.warm.map((w) => w.firstInsnMs)));
    const spawnOf = (w) => w.traces.find((p) => p.phase === 'spawn')?.ms ?? NaN;
    row('W', 'first instruction − `spawn` mark', S(tr.warm.map((w) => w.firstInsnMs - spawnOf(w))));
    row('W', 'wait() resolved (cgroup removed, exit delivered)', S(tr.warm.map((w) => w.waitResolvedMs)));
    if (!tr.warm[0].t0Exact) notes.push('Dyno.t0 was not reachable: warm trace times are relative to the start() call instead');
  }

  // cgroup work alone
  const cg = r.cgroup;
  if (cg) {
    row('C', `cgroup create: mkdir + limits in ${cg.joinFiles} hierarch${cg.joinFiles > 1 ? 'ies' : 'y'} (v${cg.version})`, S(cg.create));
    row('C', `cgroup join, cold: pid → ${cg.joinFiles} cgroup.procs after ${GAP_MS} ms quiet (the join crun and runc make; a dyno joins itself: last row)`, S(cg.joinCold), crunMed ? `${ratio(S(cg.joinCold).median, crunMed)} crun P1` : '');
    row('C', 'cgroup join, warm: the same right after another join', S(cg.joinWarm));
    row('C', 'cgroup remove: rmdir once empty', S(cg.remove));
    const coldJoin = S(tr.cold.map((x) => {
      const a = x.rec.traces.find((p) => p.phase === 'child released')?.ms;
      const b = x.rec.traces.find((p) => p.phase === 'cgroup joined')?.ms;
      return a !== undefined && b !== undefined ? b - a : NaN;
    }));
    if (coldJoin.n) row('C', 'in a CLI start: trace `child released` → `cgroup joined` (the join plus the mounts it overlaps)', coldJoin);
  }

  const envs = Object.entries(process.env).filter(([k]) => k.startsWith('DYNOD_BENCH_')).map(([k, v]) => `${k}=${v} `).join('');
  const how = process.env.npm_lifecycle_event === 'bench' ? 'npm run bench' : 'node scripts/bench.js';
  const head = [
    `_Generated by \`${envs}${how}\` (scripts/bench.js) on ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}; the run took ${r.took}._`,
    '',
    '## Machine',
    '',
    `- CPU: ${m.cpu}; RAM: ${m.ram}; kernel ${m.kernel}`,
    `- cgroups: ${m.cgroup}`,
    `- Node ${m.node}; dynod ${m.dynod}; ${m.tools}`,
    `- load average at start / end: ${r.loadStart} / ${r.loadEnd}${r.busy ? ' — **other work was running on this machine; expect noise**' : ''}`,
    '',
    '## Method',
    '',
    '- `NODE_EXTRA_CA_CERTS` (and `NODE_OPTIONS`) are unset for every Node process timed here: a 220 KB CA bundle costs every Node start 50–80 ms on this machine.',
    `- P1: rounds that alternate the tools (order rotated every round; ${CFG.p1Warm} warm-up rounds, ${CFG.p1Rounds} measured), timed from outside by scripts/bench/timeit.c (posix_spawn → wait4, CLOCK_MONOTONIC). Each run follows ${GAP_MS} ms of quiet, because on cgroup v1 the first \`cgroup.procs\` write after a quiet spell waits for an RCU grace period (rows C: cgroup join, cold) while one right after another is nearly free: back-to-back loops flatter every runtime that joins cgroups (crun, runc, dynod). P1b repeats the main rows back-to-back with hyperfine, as /work/shared/reference/anchor-latency.md measured them.`,
    `- P2: ${CFG.p2N} starts in a row; dynod through the library in one Node process (\`run({command: ['/bin/true'], app}, {stdout: 'ignore', stderr: 'ignore'})\`, timed inside the process), the others in a \`sh\` loop; ${CFG.p2Rounds} alternating round(s) after a warm-up round.`,
    `- L: ${CFG.libN} starts of \`/bin/true\` one after another through the library in one Node process (\`node --expose-gc scripts/bench/lib-rate.js\`: \`run({command: ['/bin/true'], app}, {stdout: 'ignore', stderr: 'ignore'})\`), after 5 warm-up starts; ${CFG.libRounds} such process(es). Starts per second = starts / time spent in them. Open fds are counted from /proc/self/fd (and grouped by their link target: \`user:[…]\` is a user-namespace fd) and RSS is \`process.memoryUsage().rss\` after \`gc()\`, before the first and after the last start.`,
    `- Target rows: ratios taken from this one run (library start vs bwrap and crun in the P2 loops, back-to-back, and in P1, after quiet; the CLI's addition to \`node -e 0\` vs crun in P1).`,
    `- P3: ${CFG.p3N} dynos running \`${(r.p3.dynodCmd || []).join(' ')}\` started from one Node process through the library; RSS = VmRSS from /proc/<pid>/status of the Node process (minus its RSS before the first start) and of every dyno's PID 1 \`dynod-init\` (\`dyno.pid\`). crun: \`crun run -d\` of the same busybox \`sleep 600\`; crun leaves no daemon and no conmon, so what stays per container is its init, i.e. \`sleep\` itself. Everything is stopped afterwards (\`dyno.stop()\`, \`crun kill\` + \`crun delete -f\`) and checked to be gone.`,
    `- T/W: dynod's trace marks (\`DYNOD_TRACE=1\` / \`start(…, {trace: true})\`) are ms since the Dyno's own origin (\`t0 = process.hrtime.bigint()\`, CLOCK_MONOTONIC; see \`mark()\` in src/dyno/dyno.ts). The command is scripts/bench/firstinsn.c (static), whose first action prints CLOCK_MONOTONIC; (stamp − t0) puts it on the same axis. Cold = the CLI with scripts/bench/cli-probe.js preloaded for Node's own marks; warm = the library.`,
    '- C: dynod\'s own cgroup backend (`detectCgroups()`) with a default dyno\'s limits, driven directly.',
    `- Everything measured runs at ${NICE === '0' ? 'normal priority' : `nice ${NICE}`} (DYNOD_BENCH_NICE), all tools alike.`,
    ...notes.map((x) => `- Note: ${x}`),
    '',
    '## Results',
    '',
    '| | measurement | median | min | max | vs anchor |',
    '|---|---|---:|---:|---:|---|',
    ...rows,
  ];
  return head.join('\n');
}

// ------------------------------------------------------------------ formation

/** The formation section (scripts/bench/formation.js in its own process): its markdown, or null. */
function formation() {
  log('formation: dynod start vs foreman, node-foreman and a bare sh loop (scripts/bench/formation.js; ~13 min, 2 min quick)');
  const json = path.join(os.tmpdir(), `dynod-bench-formation-${process.pid}.json`);
  const r = spawnSync(process.execPath, [path.join(BENCH_DIR, 'formation.js'), '--json', json], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DYNOD_BENCH_ROOT: ROOT } });
  if (r.status !== 0 || !fs.existsSync(json)) {
    notes.push(`the formation section failed (status ${r.status}): see its messages above`);
    return null;
  }
  const out = JSON.parse(fs.readFileSync(json, 'utf8'));
  fs.rmSync(json, { force: true });
  raw.formation = out;
  return require('./bench/formation-report').formationSection(out);
}

// ------------------------------------------------------------------ cleanup

let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const tool of ['crun', 'runc']) {
    if (!which(tool)) continue;
    const r = sh(tool, ['list', '-q']);
    for (const id of (r.stdout || '').split('\n').filter((l) => l.startsWith(ownIdPrefix))) sh(tool, ['delete', '-f', id]);
  }
  if (cgChild) sh(path.join(BENCH_DIR, 'cgns-env.sh'), ['--cleanup', cgChild]);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}

function fail(msg) {
  process.stderr.write(`bench: ${msg}\n`);
  cleanup();
  process.exit(1);
}

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => fail(`interrupted (${sig})`));

// ------------------------------------------------------------------ network

/**
 * The router and the dyno network (issue 9): scripts/bench/router.js (wrk through the
 * router, nginx and straight to a dyno, in one run) and scripts/bench/netstart.js (the
 * per-dyno start cost of egress, veth and pasta, and egress throughput). Their markdown.
 */
function network() {
  log('network: the router vs nginx and direct (scripts/bench/router.js), egress start cost and throughput (scripts/bench/netstart.js)');
  // the anchors of the section: wrk and nginx (router.js), pasta and nft (netstart.js)
  installMissing([
    ['wrk', () => which('wrk')],
    ['nginx-core', () => which('nginx')],
    ['passt', () => which('pasta')],
    ['nftables', () => which('nft')],
  ]);
  const env = { ...process.env, DYNOD_BENCH_ROOT: ROOT, ...(QUICK ? { ROUTER_BENCH_QUICK: '1' } : {}) };
  delete env.NODE_EXTRA_CA_CERTS;
  const router = spawnSync(process.execPath, [path.join(BENCH_DIR, 'router.js')], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'inherit'], timeout: 30 * 60_000 });
  const net = spawnSync(process.execPath, [path.join(BENCH_DIR, 'netstart.js'), ...(QUICK ? ['--n', '5', '--seconds', '1'] : [])], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'inherit'], timeout: 30 * 60_000 });
  // its tables (blocks of lines that all start with |), each kept whole
  const table = (router.stdout || '')
    .split(/\n\s*\n/)
    .map((block) => block.split('\n').filter((l) => l.startsWith('|')))
    .filter((rows) => rows.length > 0)
    .map((rows) => rows.join('\n'))
    .join('\n\n');
  const head = (router.stdout || '').split('\n').find((l) => l.startsWith('router bench:')) ?? '';
  return [
    '## Router and dyno network: dynod start\'s router vs nginx and direct; egress',
    '',
    `Run ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}. ${head}`,
    'wrk, keep-alive, 64 connections, 2 threads, a tiny Node HTTP app: straight to one dyno (direct1), through nginx as a keep-alive reverse proxy to 2 dynos (nginx_ka), the same nginx adding the headers dynod\'s router adds (nginx_hk: X-Request-Id, X-Forwarded-For/-Proto/-Port, X-Request-Start, Via; the dynos parse them too), through dynod\'s router to 2 dynos (dynod: plain HTTP on its native data plane; dynod_js: its JavaScript plane alone), and with TLS (dynod_tls: terminated by the native plane; dynod_js_tls: the JavaScript plane; nginx_tls). Target: at least nginx\'s throughput, a p99 no worse.',
    '',
    router.status === 0 && table ? table : `_router.js failed (status ${router.status})_`,
    '',
    'Per-dyno network setup and egress throughput (scripts/bench/netstart.js):',
    '',
    '```',
    (net.stdout || `netstart.js failed (status ${net.status})`).trim(),
    '```',
  ].join('\n');
}

// ------------------------------------------------------------------ oci

/**
 * dynod-oci vs crun vs runc (issue 10): scripts/bench/oci.js, `podman run --rm IMG true` with
 * each runtime and each runtime's own `run`, in one run. Its markdown; a failed run says so.
 */
function oci() {
  log('oci: podman run --rm with dynod-oci, crun and runc, and each runtime\'s own run (scripts/bench/oci.js)');
  const env = { ...process.env, DYNOD_BENCH_ROOT: ROOT, ...(QUICK ? { DYNOD_BENCH_QUICK: '1' } : {}) };
  delete env.NODE_EXTRA_CA_CERTS;
  const r = spawnSync(process.execPath, [path.join(BENCH_DIR, 'oci.js')], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'inherit'], timeout: 30 * 60_000 });
  if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  notes.push(`the oci section failed (status ${r.status}): see its messages above`);
  return `## OCI runtimes under podman: dynod-oci vs crun vs runc\n\n_The oci section failed in the run of ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}: see the messages of \`npm run bench\`._`;
}

/** A generated section between its markers: [its markdown or null, the text without it]. */
function cutSection(text, begin, end) {
  const b = text.indexOf(begin);
  const e = text.indexOf(end);
  if (b < 0 || e <= b) return [null, text];
  return [text.slice(b + begin.length, e).trim(), text.slice(0, b) + text.slice(e + end.length)];
}

/** The generated part of docs/benchmarks.md as it stands: {table, formation, network, oci}, each null when absent. */
function readDoc(old) {
  const i = old.indexOf(MARKER);
  let head = i >= 0 ? old.slice(0, i) : old;
  let ociMd, networkMd, formationMd;
  [ociMd, head] = cutSection(head, OCI_BEGIN, OCI_END);
  [networkMd, head] = cutSection(head, NETWORK_BEGIN, NETWORK_END);
  [formationMd, head] = cutSection(head, FORMATION_BEGIN, FORMATION_END);
  head = head.replace(/^# dynod benchmarks\s*/, '');
  const rp = head.indexOf('\nReproduce: ');
  const table = (rp >= 0 ? head.slice(0, rp) : head).trim() || null;
  return { table, formation: formationMd, network: networkMd, oci: ociMd, kept: i >= 0 ? old.slice(i) : null };
}

/** Rewrites docs/benchmarks.md: the sections measured now replace theirs, the others and the hand-written part stay. */
function writeDoc(table, formationMd, networkMd, ociMd) {
  if (OUT === '-') return;
  let kept = `${MARKER}\n\n## Analysis\n\n_(hand-written: where the time goes and what to make faster; kept across reruns)_\n`;
  let old = { table: null, formation: null, network: null, oci: null };
  if (fs.existsSync(OUT)) {
    old = readDoc(fs.readFileSync(OUT, 'utf8'));
    if (old.kept) kept = old.kept;
  }
  const t = table ?? old.table ?? '_(the dyno sections have not been run: `sudo DYNOD_BENCH_ONLY=dyno npm run bench`)_';
  const f = formationMd ?? old.formation;
  const n = networkMd ?? old.network;
  const o = ociMd ?? old.oci;
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(
    OUT,
    `# dynod benchmarks\n\n${t}\n\n${f ? `${FORMATION_BEGIN}\n${f}\n${FORMATION_END}\n\n` : ''}${n ? `${NETWORK_BEGIN}\n${n}\n${NETWORK_END}\n\n` : ''}${o ? `${OCI_BEGIN}\n${o}\n${OCI_END}\n\n` : ''}` +
      `Reproduce: \`sudo npm run bench\` (on 2 cores: the dyno section a few minutes, the network section about 8 and the formation section about 15–18; see the header of scripts/bench.js; \`DYNOD_BENCH_ONLY=dyno\`, \`=formation\`, \`=network\` or \`=oci\` runs one section and keeps the others; \`sudo node scripts/bench/oci.js\` prints the OCI runtime table alone; \`sudo node scripts/bench/formation.js\` prints the formation table alone; \`sudo node scripts/bench/cli-variants.js\` times the CLI start-up options one by one).\n\n${kept.trimEnd()}\n`,
  );
  log(`wrote ${OUT}`);
}

function main() {
  if (ONLY && !['dyno', 'formation', 'network', 'oci'].includes(ONLY)) fail(`DYNOD_BENCH_ONLY=${ONLY}: accepted: dyno (P1 to C), formation, network, oci`);
  preflight();
  const loadStart = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  let table = null;
  if (wants('dyno')) {
    const tools = ensureTools();
    const mode = cgroupMode();
    chooseEnv(mode, tools);
    const t = setup(tools);
    const ok = smoke(t, tools);
    const r = {};
    r.p1 = p1(t, ok);
    r.p2 = p2(t, ok);
    r.lib = lib(t);
    r.heap = heapScaling(t);
    r.p3 = p3(t, ok);
    r.traces = traces(t, ok);
    r.cgroup = cgroupMicro(t);
    const secs = Number(process.hrtime.bigint() - t00) / 1e9;
    r.took = `${Math.floor(secs / 60)} min ${Math.round(secs % 60)} s`;
    r.loadStart = loadStart;
    r.loadEnd = os.loadavg().map((x) => x.toFixed(2)).join(' ');
    r.busy = Number(loadStart.split(' ')[0]) > 1 || Number(r.loadEnd.split(' ')[1]) > 1.5;
    const m = machine(mode);
    table = report(m, r);
    process.stdout.write(`${table}\n`);
    cleanup(); // the dyno sections' containers, cgroups and temp dir, before the formation runs
  }
  let formationMd = wants('formation') ? formation() : null;
  // a section asked for and failed does not leave the last run's numbers looking current
  if (wants('formation') && !formationMd) formationMd = `## Formation: dynod start vs foreman, node-foreman and a bare loop\n\n_The formation section failed in the run of ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}: see the messages of \`npm run bench\`._`;
  if (formationMd) process.stdout.write(`\n${formationMd}\n`);
  const networkMd = wants('network') ? network() : null;
  if (networkMd) process.stdout.write(`\n${networkMd}\n`);
  const ociMd = wants('oci') ? oci() : null;
  if (ociMd) process.stdout.write(`\n${ociMd}\n`);
  if (!ONLY || table || formationMd || networkMd || ociMd) writeDoc(table, formationMd, networkMd, ociMd);
  if (process.env.DYNOD_BENCH_RAW) fs.writeFileSync(process.env.DYNOD_BENCH_RAW, JSON.stringify(raw, (_, v) => (typeof v === 'bigint' ? v.toString() : v), 1));
  cleanup();
  const secs = Number(process.hrtime.bigint() - t00) / 1e9;
  log(`done in ${Math.floor(secs / 60)} min ${Math.round(secs % 60)} s`);
}

try {
  main();
} catch (e) {
  fail(e instanceof Error ? e.stack : String(e));
}
