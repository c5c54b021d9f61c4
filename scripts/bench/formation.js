#!/usr/bin/env node
'use strict';
/*
 * The formation benchmark (issue 8): one Procfile under a bare `sh` loop, foreman (Debian's
 * ruby-foreman), node-foreman (npm `foreman`, `nf`) and `dynod start`, side by side.
 *
 *   sudo node scripts/bench/formation.js               prints the table (markdown)
 *   sudo node scripts/bench/formation.js --json FILE   also writes every measurement as JSON
 *                                                      (what scripts/bench.js reads)
 * Environment: DYNOD_BENCH_QUICK=1 (one short round), DYNOD_BENCH_ROOT (the dynod tree; default
 * this repository), DYNOD_BENCH_NICE (default -10; 0 = as is), DYNOD_BENCH_NO_INSTALL=1 (no
 * apt-get, no npm: a missing anchor is skipped with a note), DYNOD_BENCH_NF (an nf.js to use
 * instead of installing npm `foreman@3` into the temp dir).
 *
 * Measured, alternating the runners within every round:
 *   start   web=50,worker=10 from the spawn to every web port answering HTTP 200 and every
 *           worker's line seen; then `scale web=100` (dynod scale; the bare loop starts 50 more)
 *           to web.51..100 answering
 *   cold    web=100,worker=10 and web=5,worker=5 from scratch (the comparable of a scale for
 *           foreman and node-foreman, which cannot scale a running formation)
 *   memory  the manager's own VmRSS at 10, 60 and 110 dynos (not its children)
 *   floor   web=50,worker=10 under the bare loop, the same loop with every process in an
 *           `unshare` or `bwrap` sandbox (the namespaces without the rest of a dyno), and dynod:
 *           spawn → every process's own ready line, and the CPU busy meanwhile (/proc/stat)
 *   logs    N processes printing L numbered lines as fast as they can, read through the
 *           manager's output: lines/s and every line checked (lost, cut, duplicated)
 * Every process a runner made is checked gone after each run (PIDs with their start times;
 * survivors are killed by PID and counted).
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { hr, sleep, stats, procStatusKiB, pssKiB } = require('./common');
const { writeApps } = require('./formation-app');
const { probe, waitAllUp, LogCount } = require('./formation-watch');
const runners = require('./formation-runners');
const { snapshot, merge, survivors, killSurvivors, cpuOf } = require('./proctree');
const { formationSection } = require('./formation-report');

const ROOT = path.resolve(process.env.DYNOD_BENCH_ROOT || path.join(__dirname, '..', '..'));
const QUICK = process.env.DYNOD_BENCH_QUICK === '1';
const NICE = process.env.DYNOD_BENCH_NICE ?? '-10';
const CFG = QUICK
  ? { rounds: 1, floorRounds: 1, coldRounds: 1, logRounds: 1, web: 50, workers: 10, scaleTo: 100, small: [5, 5], logProcs: 10, logLines: 5000, paced: { lines: 2000, rates: [10000, 40000] } }
  : { rounds: 5, floorRounds: 5, coldRounds: 3, logRounds: 3, web: 50, workers: 10, scaleTo: 100, small: [5, 5], logProcs: 10, logLines: 100000, paced: { lines: 60000, rates: [20000, 40000] } };
// paced: the log test again with each process held to `rates` lines a second (10 processes:
// 200k and 400k lines/s in all), into a file: the rates a runner passes without losing a line
// The issue's `scale web=100`: 110 dynos with the 10 workers (dynod allows 100 per type and
// 1000 per app; Heroku's 100 per app is an account limit).
const GAP_MS = 1000; // quiet before every start: the previous runner's stop has settled
const SETTLE_MS = 1000; // after all up, before the manager's RSS is read
const UP_TIMEOUT_MS = 60000;
const LOG_STALL_MS = 5000;
// Host port bases, one per runner, below the ephemeral range (32768–60999)
const BASES = { bare: 20000, foreman: 22000, 'node-foreman': 24000, dynod: 26000, unshare: 28000, bwrap: 30000 };
// the floor's "ready": the line each process prints once it runs (web: after listen())
const READY = /web listening|worker ready/;

const t00 = hr();
const notes = [];
let tmp = null;
/** the runner running now, for an interrupted benchmark to stop */
let active = null;

function log(msg) {
  const s = (Number(hr() - t00) / 1e9).toFixed(0).padStart(4);
  process.stderr.write(`[formation ${s}s] ${msg}\n`);
}

function sh(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

const which = (cmd) => {
  const r = sh('sh', ['-c', `command -v ${cmd}`]);
  return r.status === 0 ? r.stdout.trim() : null;
};

// ------------------------------------------------------------------ the runners

/** Debian's package of a missing anchor, unless DYNOD_BENCH_NO_INSTALL=1; a failure is a note. */
function aptInstall(pkg) {
  if (process.env.DYNOD_BENCH_NO_INSTALL === '1') return;
  log(`installing ${pkg} from Debian`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  sh('apt-get', ['update', '-qq'], { env });
  const r = sh('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], { env });
  if (r.status !== 0) notes.push(`apt-get install ${pkg} failed: ${r.stderr.trim().split('\n').pop()}`);
}

function ensureForeman() {
  if (!which('foreman')) aptInstall('ruby-foreman');
  if (!which('foreman')) {
    notes.push('foreman (ruby-foreman) is missing: its column is skipped');
    return null;
  }
  return (/(\d+\.\d+\.\d+)/.exec(sh('foreman', ['version']).stdout) || [])[1] || '?';
}

function ensureNodeForeman() {
  let nf = process.env.DYNOD_BENCH_NF || null;
  if (!nf && process.env.DYNOD_BENCH_NO_INSTALL !== '1') {
    const dir = path.join(tmp, 'nf');
    fs.mkdirSync(dir);
    log('installing node-foreman (npm foreman@3) into the temp dir');
    // npm keeps the caller's environment: a registry behind a TLS proxy needs its
    // NODE_EXTRA_CA_CERTS (without it npm retries for minutes: hence the short timeouts)
    const r = sh('npm', ['install', '--prefix', dir, '--prefer-offline', '--fetch-retries=1', '--fetch-timeout=30000', '--no-audit', '--no-fund', '--no-save', '--loglevel=error', 'foreman@3'], { timeout: 180000 });
    if (r.status !== 0) notes.push(`npm install foreman@3 failed (${(r.stderr || '').trim().split('\n').pop() || r.error?.message || `status ${r.status}`}); NODE_EXTRA_CA_CERTS may be needed for the registry, or DYNOD_BENCH_NF=/path/to/nf.js`);
    else nf = path.join(dir, 'node_modules', 'foreman', 'nf.js');
  }
  if (!nf || !fs.existsSync(nf)) {
    notes.push('node-foreman (npm `foreman`) is missing: its column is skipped');
    return null;
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(nf), 'package.json'), 'utf8'));
  return { nf, version: pkg.version };
}

function prepareRunners() {
  const list = [runners.bare({ nice: NICE })];
  const only = process.env.DYNOD_BENCH_RUNNERS ? process.env.DYNOD_BENCH_RUNNERS.split(',') : null;
  const pick = () => (only ? list.filter((r) => only.includes(r.name)) : list);
  const versions = { node: process.version };
  const fv = ensureForeman();
  if (fv) {
    list.push(runners.foreman({ nice: NICE }));
    versions.foreman = fv;
  }
  const nfv = ensureNodeForeman();
  if (nfv) {
    list.push(runners.nodeForeman({ nice: NICE, nf: nfv.nf }));
    versions['node-foreman'] = nfv.version;
  }
  if (!fs.existsSync(path.join(ROOT, 'bin', 'dynod'))) notes.push(`${ROOT}/bin/dynod is missing: dynod's column is skipped`);
  else if (!runners.dynodHasStart(ROOT)) notes.push(`this dynod build (${ROOT}) has no \`dynod start\`: dynod's column is skipped`);
  else {
    const runDir = path.join(tmp, 'run');
    const stateDir = path.join(tmp, 'state');
    fs.mkdirSync(runDir);
    fs.mkdirSync(stateDir);
    list.push(runners.dynod({ nice: NICE, root: ROOT, runDir, stateDir, appName: `bench${process.pid}` }));
    const rev = sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']).stdout.trim();
    versions.dynod = `${JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version}${rev ? ` @ ${rev}` : ''}`;
  }
  // the floor's sandboxes take part in the floor rounds only
  const floor = [];
  if (!only || only.some((n) => ['unshare', 'bwrap'].includes(n))) {
    for (const [bin, make] of [['unshare', runners.unshareLoop], ['bwrap', runners.bwrapLoop]]) {
      if (!which(bin) && bin === 'bwrap') aptInstall('bubblewrap');
      if (which(bin)) floor.push(make({ nice: NICE }));
      else notes.push(`${bin} is not installed: the floor has no ${bin} loop (apt-get install ${bin === 'bwrap' ? 'bubblewrap' : 'util-linux'})`);
    }
    const bw = sh('bwrap', ['--version']);
    if (bw.status === 0) versions.bwrap = bw.stdout.trim().replace(/^bubblewrap\s*/, '');
  }
  const picked = pick();
  const floorList = [...picked.filter((r) => r.name === 'bare' || r.name === 'dynod'), ...floor.filter((r) => !only || only.includes(r.name))];
  return { list: picked, floorList, versions };
}

// ------------------------------------------------------------------ one run

const webs = (runner, from, to) => Array.from({ length: to - from + 1 }, (_, i) => [`web.${from + i}`, runner.webPort(BASES[runner.name])(from + i)]);
const workers = (n) => Array.from({ length: n }, (_, i) => `worker.${i + 1}`);

async function assertPortsFree(list) {
  const busy = (await Promise.all(list.map(([, p]) => probe(p, 500).then((ok) => (ok ? p : null))))).filter(Boolean);
  if (busy.length) throw new Error(`ports already answer before the start: ${busy.slice(0, 5).join(', ')}${busy.length > 5 ? '…' : ''}`);
}

/** The manager's VmRSS in KiB once things settled: the median of 5 readings 200 ms apart. */
async function managerRss(pid) {
  await sleep(SETTLE_MS);
  const v = [];
  for (let i = 0; i < 5; i++) {
    v.push(procStatusKiB(pid, 'VmRSS'));
    await sleep(200);
  }
  return stats(v).median;
}

/** The processes besides the manager and the commands (node, sleep): shells, dynod-init, … */
function overheadOf(snap, managerPids) {
  const procs = [];
  for (const [pid, p] of snap) {
    if (managerPids.includes(pid) || p.comm === 'node' || p.comm === 'sleep') continue;
    procs.push({ pid, comm: p.comm, rssKiB: procStatusKiB(pid, 'VmRSS'), pssKiB: pssKiB(pid) });
  }
  const byComm = {};
  for (const p of procs) byComm[p.comm] = (byComm[p.comm] ?? 0) + 1;
  const sum = (k) => procs.reduce((a, p) => a + (Number.isFinite(p[k]) ? p[k] : 0), 0);
  return { n: procs.length, total: snap.size, byComm, rssKiB: sum('rssKiB'), pssKiB: sum('pssKiB') };
}

/** Stops a runner, then waits for every process it made to be gone; kills and counts survivors. */
async function stopAndCheck(runner, h, snap) {
  if (h.alive()) merge(snap, snapshot([h.pid], h.groups));
  const t = hr();
  const st = await runner.stop(h);
  let left = survivors(snap);
  const deadline = Date.now() + 10000;
  while (left.length && Date.now() < deadline) {
    await sleep(50);
    left = survivors(snap);
  }
  const allGoneMs = Number(hr() - t) / 1e6;
  const killed = killSurvivors(snap);
  active = null;
  if (killed.length) notes.push(`${runner.name}: ${killed.length} process(es) still ran 10 s after the manager ended (${[...new Set(killed.map((p) => p.comm))].join(', ')}); killed by PID`);
  if (st.timedOut) notes.push(`${runner.name}: the manager did not end within its stop timeout; its process group was killed`);
  return { stopMs: st.ms, allGoneMs, left: killed.length, timedOut: st.timedOut };
}

function record(res, key, runner, value) {
  ((res[key] ??= {})[runner.name] ??= []).push(value);
}

/** A run that failed: a note, the failure under its stage, and the error with the output's tail on stderr. */
function failed(res, runner, stage, e) {
  notes.push(`${runner.name}, ${stage}: ${e.message.split('\n')[0]}`);
  ((res.failures ??= {})[runner.name] ??= []).push({ stage, message: e.message });
  log(`FAILED ${runner.name}, ${stage}: ${e.message}`);
}

/** web=50,worker=10 → all up, manager RSS, then scale to web=100 where the runner can. */
async function runStart(runner, app, res) {
  const base = BASES[runner.name];
  const first = webs(runner, 1, CFG.web);
  const more = webs(runner, CFG.web + 1, CFG.scaleTo);
  await assertPortsFree([...first, ...more]);
  const h = runner.start(app.formationApp, [['web', CFG.web], ['worker', CFG.workers]], base, app.commands);
  const snap = new Map();
  active = { h, snap };
  let stage = 'start';
  try {
    const up = await waitAllUp(h.watch, h.t0, first, workers(CFG.workers), UP_TIMEOUT_MS, h.alive);
    const atUp = snapshot([h.pid], h.groups);
    merge(snap, atUp);
    record(res, 'start', runner, { ...up, cpu: cpuOf(atUp, h.pid) });
    record(res, 'rss60', runner, await managerRss(h.pid));
    record(res, 'overhead60', runner, overheadOf(snap, h.groups));
    if (runner.scale) {
      stage = 'scale';
      const before = cpuOf(snapshot([h.pid], h.groups), h.pid);
      const t1 = hr();
      const cmd = runner.scale(h, 'web', CFG.web + 1, CFG.scaleTo);
      const [up2, c] = await Promise.all([waitAllUp(h.watch, t1, more, [], UP_TIMEOUT_MS, h.alive), cmd]);
      const atUp2 = snapshot([h.pid], h.groups);
      merge(snap, atUp2);
      const after = cpuOf(atUp2, h.pid);
      record(res, 'scale', runner, { ...up2, cmdMs: c.cmdMs, cpu: { managerMs: after.managerMs - before.managerMs, treeMs: after.treeMs - before.treeMs } });
      record(res, 'rssScaled', runner, await managerRss(h.pid));
    }
  } catch (e) {
    failed(res, runner, stage, e);
  } finally {
    record(res, 'stop', runner, await stopAndCheck(runner, h, snap));
  }
}

/**
 * The floor: web=50,worker=10 → every process's ready line (the same measure for every runner:
 * the sandboxes' web ports are in namespaces of their own), with /proc/stat's busy and idle
 * CPU time over the same interval.
 */
async function runFloor(runner, app, res) {
  const h = runner.start(app.formationApp, [['web', CFG.web], ['worker', CFG.workers]], BASES[runner.name], app.commands);
  const snap = new Map();
  active = { h, snap };
  const s0 = cpuStat();
  try {
    const want = CFG.web + CFG.workers;
    const seen = new Set();
    const ms = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${seen.size} of ${want} ready lines within ${UP_TIMEOUT_MS / 1000} s`)), UP_TIMEOUT_MS);
      h.watch.lineHandler = (l, now) => {
        const m = READY.test(l) && /(web|worker)\.\d+/.exec(l);
        if (!m) return;
        seen.add(m[0]);
        if (seen.size === want) {
          clearTimeout(timer);
          resolve(Number(now - h.t0) / 1e6);
        }
      };
    });
    const s1 = cpuStat();
    merge(snap, snapshot([h.pid], h.groups));
    record(res, 'floor', runner, { ms, busyMs: s1.busyMs - s0.busyMs, idleMs: s1.idleMs - s0.idleMs });
  } catch (e) {
    failed(res, runner, 'floor', e);
  } finally {
    h.watch.lineHandler = null;
    record(res, 'stop', runner, await stopAndCheck(runner, h, snap));
  }
}

/** All CPUs' busy and idle time so far (/proc/stat, in ms). */
function cpuStat() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const tick = 1000 / 100;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f;
  // steal: time the hypervisor gave to others, neither ours nor idle
  return { busyMs: (user + nice + system + irq + softirq) * tick, idleMs: (idle + iowait) * tick, stealMs: steal * tick };
}

/** A cold start of web=W,worker=K: time to all up and the manager's RSS. */
async function runCold(runner, app, res, web, work, key) {
  const list = webs(runner, 1, web);
  await assertPortsFree(list);
  const h = runner.start(app.formationApp, [['web', web], ['worker', work]], BASES[runner.name], app.commands);
  const snap = new Map();
  active = { h, snap };
  try {
    const up = await waitAllUp(h.watch, h.t0, list, workers(work), UP_TIMEOUT_MS, h.alive);
    merge(snap, snapshot([h.pid], h.groups));
    record(res, `${key}`, runner, up);
    record(res, key === 'coldBig' ? 'rssBig' : 'rssSmall', runner, await managerRss(h.pid));
  } catch (e) {
    failed(res, runner, key, e);
  } finally {
    record(res, 'stop', runner, await stopAndCheck(runner, h, snap));
  }
}

/**
 * N processes × L numbered lines through the runner's output, into a file (followed every
 * 50 ms: the runner is never held back by its reader) or a pipe read here.
 */
async function runLogs(runner, app, res, to, rate = null) {
  const file = to === 'file' ? path.join(tmp, `log-${runner.name}.out`) : undefined;
  const key = rate ? 'logsPaced' : to === 'file' ? 'logs' : 'logsPipe';
  const h = runner.start(rate ? app.pacedApps[rate] : app.logApp, [['log', CFG.logProcs]], BASES[runner.name], app.commands, { stdoutFile: file });
  const count = new LogCount(CFG.logProcs, rate ? CFG.paced.lines : CFG.logLines);
  h.watch.lineHandler = (l, now) => count.line(l, now);
  const snap = new Map();
  active = { h, snap };
  try {
    for (;;) {
      await sleep(100);
      if (snap.size === 0 && count.firstAt !== null) merge(snap, snapshot([h.pid], h.groups));
      if (count.complete || !h.alive()) break;
      const last = count.lastAt ?? h.t0;
      if (Number(hr() - last) / 1e6 > (count.lastAt ? LOG_STALL_MS : UP_TIMEOUT_MS)) break;
    }
    merge(snap, snapshot([h.pid], h.groups));
    const mem = { rssKiB: procStatusKiB(h.pid, 'VmRSS'), hwmKiB: procStatusKiB(h.pid, 'VmHWM') };
    record(res, key, runner, { ...count.result(h.t0), ...mem, rate: rate ? rate * CFG.logProcs : null });
  } catch (e) {
    failed(res, runner, key, e);
  } finally {
    record(res, 'stop', runner, await stopAndCheck(runner, h, snap));
    h.watch.unfollow?.();
    if (file) fs.rmSync(file, { force: true });
  }
}

// ------------------------------------------------------------------ main

const rotate = (list, k) => list.map((_, i) => list[(i + k) % list.length]);

async function measure() {
  if (process.getuid() !== 0) throw new Error('must run as root (dynod start needs it): sudo node scripts/bench/formation.js');
  const loadStart = os.loadavg();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-formation-'));
  fs.chmodSync(tmp, 0o755);
  const app = writeApps(tmp, CFG.logLines, CFG.paced);
  const { list, floorList, versions } = prepareRunners();
  const res = {};
  log(`runners: ${list.map((r) => r.name).join(', ')}; ${CFG.rounds} round(s) of web=${CFG.web},worker=${CFG.workers} + scale, ${CFG.coldRounds} of the cold starts, ${CFG.logRounds} of the log test`);
  for (let r = 0; r < CFG.rounds; r++) {
    for (const runner of rotate(list, r)) {
      log(`round ${r + 1}/${CFG.rounds}: ${runner.name} web=${CFG.web},worker=${CFG.workers}${runner.scale ? ` → web=${CFG.scaleTo}` : ''}`);
      await sleep(GAP_MS);
      await runStart(runner, app, res);
    }
  }
  if (floorList.length > 1) {
    for (let r = 0; r < CFG.floorRounds; r++) {
      for (const runner of rotate(floorList, r)) {
        log(`floor ${r + 1}/${CFG.floorRounds}: ${runner.name} web=${CFG.web},worker=${CFG.workers} → every ready line`);
        await sleep(GAP_MS);
        await runFloor(runner, app, res);
      }
    }
  }
  for (let r = 0; r < CFG.coldRounds; r++) {
    for (const [web, work, key] of [[CFG.scaleTo, CFG.workers, 'coldBig'], [CFG.small[0], CFG.small[1], 'coldSmall']]) {
      for (const runner of rotate(list, r)) {
        log(`cold ${r + 1}/${CFG.coldRounds}: ${runner.name} web=${web},worker=${work}`);
        await sleep(GAP_MS);
        await runCold(runner, app, res, web, work, key);
      }
    }
  }
  for (let r = 0; r < CFG.logRounds; r++) {
    for (const to of ['file', 'pipe']) {
      for (const runner of rotate(list, r)) {
        log(`logs ${r + 1}/${CFG.logRounds}: ${runner.name} log=${CFG.logProcs}, ${CFG.logLines} lines each, into a ${to}`);
        await sleep(GAP_MS);
        await runLogs(runner, app, res, to);
      }
    }
    for (const rate of CFG.paced.rates) {
      for (const runner of rotate(list, r)) {
        log(`logs ${r + 1}/${CFG.logRounds}: ${runner.name} log=${CFG.logProcs}, ${CFG.paced.lines} lines each at ${rate}/s, into a file`);
        await sleep(GAP_MS);
        await runLogs(runner, app, res, 'file', rate);
      }
    }
  }
  const secs = Number(hr() - t00) / 1e9;
  return {
    cfg: { ...CFG, quick: QUICK, nice: NICE, gapMs: GAP_MS, settleMs: SETTLE_MS, bases: BASES },
    runners: list.map((r) => ({ name: r.name, label: r.label })),
    floorRunners: floorList.map((r) => ({ name: r.name, label: r.label })),
    versions,
    app: { web: fs.readFileSync(path.join(app.formationApp, 'web.js'), 'utf8'), procfile: fs.readFileSync(path.join(app.formationApp, 'Procfile'), 'utf8'), log: app.commands.log },
    load: { start: loadStart, end: os.loadavg() },
    took: `${Math.floor(secs / 60)} min ${Math.round(secs % 60)} s`,
    results: res,
    notes,
  };
}

/** Ctrl-C: the runner of the moment gets its own Ctrl-C, then whatever it left is killed by PID. */
async function interrupted(sig) {
  process.stderr.write(`formation: interrupted (${sig}), stopping the runner of the moment\n`);
  if (active) {
    const { h, snap } = active;
    if (h.alive()) merge(snap, snapshot([h.pid], h.groups));
    try {
      process.kill(-h.pid, h.name === 'bare' ? 'SIGTERM' : 'SIGINT');
    } catch { /* gone */ }
    await Promise.race([h.exited, sleep(10000)]);
    for (const g of h.groups) {
      try {
        process.kill(-g, 'SIGKILL');
      } catch { /* gone */ }
    }
    killSurvivors(snap);
  }
  cleanup();
  process.exit(1);
}

function cleanup() {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  tmp = null;
}

async function main() {
  const jsonAt = process.argv.indexOf('--json');
  const jsonOut = jsonAt > 0 ? process.argv[jsonAt + 1] : null;
  for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => interrupted(sig));
  let out;
  try {
    out = await measure();
  } finally {
    cleanup();
  }
  if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(out, null, 1));
  process.stdout.write(`${formationSection(out)}\n`);
  log(`done in ${out.took}`);
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`formation: ${e instanceof Error ? e.stack : e}\n`);
    process.exit(1);
  });
}

module.exports = { CFG };
