#!/usr/bin/env node
'use strict';
/*
 * dynod-oci vs crun vs runc, side by side in one run (issue 10): `podman run --rm IMG true`
 * with each runtime, and each runtime's own `run` of the same rootfs without podman.
 * Part of `npm run bench` (its "oci" section: DYNOD_BENCH_ONLY=oci); alone:
 *
 *   sudo node scripts/bench/oci.js [--n ROUNDS] [--json FILE]   prints the markdown section
 *
 * Environment: DYNOD_BENCH_ROOT (the tree whose bin/dynod-oci is measured; default this
 * repository), DYNOD_OCI_RUNTIME (another dynod-oci), DYNOD_BENCH_QUICK=1 (5 rounds).
 *
 * How: timeit.c runs the commands in alternating rounds (one run of each per round, the
 * order rotated), each `podman run` against a podman of the bench's own (configuration,
 * storage, locks in a temp dir; network none; cgroupfs). A hybrid cgroup host (v1
 * controllers plus an empty cgroup2 mount) is refused by crun 1.8 even with
 * --cgroups=disabled ("cgroups in hybrid mode not supported": it checks the mode at
 * start), and podman allows --cgroups=disabled only for the runtimes listed in
 * runtime_supports_nocgroups (crun, krun: not runc), so there every runtime, and podman,
 * runs in a private mount+cgroup namespace showing a pure v1 layout (cgns-env.sh), alike.
 * A runtime that is missing, or fails its first run, gets a row that says so.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const REPO = path.resolve(__dirname, '..', '..');
const ROOT = path.resolve(process.env.DYNOD_BENCH_ROOT || REPO);
const QUICK = process.env.DYNOD_BENCH_QUICK === '1';
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const ROUNDS = Number(opt('--n', QUICK ? '5' : '20'));
const JSON_OUT = opt('--json', null);
const WARMUP = 2;
const IMAGE = 'localhost/dynod-oci-bench:1';

const sh = (cmd, args, o = {}) => spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...o });
const which = (cmd) => {
  const r = sh('sh', ['-c', `command -v ${cmd}`]);
  return r.status === 0 ? r.stdout.trim() : null;
};
const lastLine = (r) => `${r.stderr || ''}${r.error ? r.error.message : ''}`.trim().split('\n').pop() || `status ${r.status}`;
const log = (m) => process.stderr.write(`[bench oci] ${m}\n`);

function die(msg) {
  process.stderr.write(`bench oci: ${msg}\n`);
  cleanup();
  process.exit(1);
}

let tmp = null;
let cgChild = null;
let cgOwn = null;

function cleanup() {
  if (cgChild) sh(path.join(__dirname, 'cgns-env.sh'), ['--cleanup', cgChild]);
  // outside a private cgroup namespace: the parent the containers' cgroups went under, in every mounted hierarchy
  if (cgOwn) {
    for (const l of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const fstype = l.slice(l.indexOf(' - ') + 3).split(' ')[0];
      const dir = (fstype === 'cgroup' || fstype === 'cgroup2') && path.join(l.split(' ')[4], cgOwn);
      if (dir && fs.existsSync(dir)) sh('find', [dir, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';']);
    }
  }
  if (tmp) {
    for (const l of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((x) => x.includes(tmp)).reverse()) sh('umount', ['-l', l.split(' ')[4]]);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => die(`interrupted (${sig})`));

/** hybrid: v1 controllers and a cgroup2 mount, as crun refuses */
function hybrid() {
  const types = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.slice(l.indexOf(' - ') + 3).split(' ')[0]);
  return types.includes('cgroup') && types.includes('cgroup2');
}

/** The memory cgroup path of this process (v1), else the unified one: where the containers' cgroups go. */
function ownCgroup() {
  const lines = fs.readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n').map((l) => l.split(':'));
  const m = lines.find((l) => l[1].split(',').includes('memory')) || lines.find((l) => l[1] === '');
  return m ? m.slice(2).join(':') : '/';
}

function stats(ms) {
  const v = ms.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return { n: 0, median: NaN, p90: NaN };
  const q = (p) => v[Math.min(v.length - 1, Math.ceil(p * v.length) - 1)];
  const median = v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  return { n: v.length, median, p90: q(0.9) };
}

function main() {
  if (process.getuid() !== 0) die('must run as root (podman, crun, runc): sudo node scripts/bench/oci.js');
  for (const t of ['podman', 'gcc', 'tar']) if (!which(t)) die(`${t} is missing (Debian: apt-get install podman gcc tar)`);
  if (!fs.existsSync('/bin/busybox')) die('/bin/busybox is missing (Debian: busybox-static)');

  const runtimes = [
    { name: 'dynod-oci', path: path.resolve(process.env.DYNOD_OCI_RUNTIME || path.join(ROOT, 'bin', 'dynod-oci')) },
    { name: 'crun', path: which('crun') },
    { name: 'runc', path: which('runc') },
  ].map((r) => ({ ...r, note: r.path && fs.existsSync(r.path) ? null : 'not installed' }));

  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-bench-oci-'));
  fs.chmodSync(tmp, 0o755);
  const d = (rel) => {
    const p = path.join(tmp, rel);
    fs.mkdirSync(p, { recursive: true });
    return p;
  };
  const timeit = path.join(tmp, 'timeit');
  const cc = sh('gcc', ['-O2', '-Wall', '-o', timeit, path.join(__dirname, 'timeit.c')]);
  if (cc.status !== 0) die(`gcc timeit.c: ${cc.stderr}`);

  // the image: static busybox, true and sh; the same rootfs serves the runtimes' own `run`
  const rootfs = d('bundle/rootfs');
  for (const sub of ['bin', 'proc', 'sys', 'dev', 'etc', 'tmp']) d(`bundle/rootfs/${sub}`);
  fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
  fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
  for (const a of ['sh', 'true']) fs.symlinkSync('busybox', path.join(rootfs, 'bin', a));
  fs.writeFileSync(path.join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  const layer = path.join(tmp, 'rootfs.tar');
  if (sh('tar', ['--numeric-owner', '-C', rootfs, '-cf', layer, '.']).status !== 0) die('tar of the rootfs failed');

  const hard = (what) => {
    const v = new RegExp(`^${what}\\s+\\S+\\s+(\\S+)`, 'm').exec(fs.readFileSync('/proc/self/limits', 'utf8'))?.[1];
    return v === undefined || v === 'unlimited' ? 1024 : Math.min(Number(v), 1024);
  };
  const ok = runtimes.filter((r) => !r.note);
  const conf = path.join(tmp, 'containers.conf');
  fs.writeFileSync(conf, [
    '[containers]',
    'netns = "none"',
    `default_ulimits = ["nofile=${hard('Max open files')}:${hard('Max open files')}", "nproc=${hard('Max processes')}:${hard('Max processes')}"]`,
    '[engine]',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `events_logfile_path = ${JSON.stringify(path.join(tmp, 'events.log'))}`,
    `tmp_dir = ${JSON.stringify(d('libpod-tmp'))}`,
    `volume_path = ${JSON.stringify(d('volumes'))}`,
    `image_copy_tmp_dir = ${JSON.stringify(d('var-tmp'))}`,
    'lock_type = "file"',
    // podman passes --log-format=json --log FILE to these: to every runtime measured, alike
    `runtime_supports_json = [${ok.map((r) => JSON.stringify(r.name)).join(', ')}]`,
    '[engine.runtimes]',
    ...ok.map((r) => `${JSON.stringify(r.name)} = [${JSON.stringify(r.path)}]`),
    '[network]',
    `network_config_dir = ${JSON.stringify(d('networks'))}`,
    '',
  ].join('\n'));
  const storage = path.join(tmp, 'storage.conf');
  fs.writeFileSync(storage, ['[storage]', 'driver = "overlay"', `graphroot = ${JSON.stringify(d('storage'))}`, `runroot = ${JSON.stringify(d('storage-run'))}`, ''].join('\n'));
  const podEnv = { CONTAINERS_CONF: conf, CONTAINERS_STORAGE_CONF: storage, TMPDIR: path.join(tmp, 'var-tmp') };
  const env = { ...process.env, ...podEnv };
  for (const k of ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS']) delete env[k];

  let wrap = [];
  let cgParent = path.posix.join(ownCgroup(), `dynod-bench-oci-${process.pid}`);
  cgOwn = cgParent;
  const envNote = [];
  if (hybrid()) {
    if (!which('unshare')) die('a hybrid cgroup host needs unshare (util-linux) for the private cgroup namespace');
    cgChild = `dynod-bench-oci-${process.pid}`;
    wrap = [path.join(__dirname, 'cgns-env.sh'), cgChild];
    cgParent = '/oci';
    cgOwn = null;
    envNote.push(`hybrid cgroup host: podman and every runtime ran in a private mount+cgroup namespace with a pure v1 /sys/fs/cgroup (scripts/bench/cgns-env.sh), rooted at a child \`${cgChild}\` of the caller's own cgroup`);
  }
  const inEnv = (cmd, args, o = {}) => sh(wrap[0] || cmd, [...wrap.slice(1), ...(wrap.length ? [cmd] : []), ...args], { env, ...o });

  const imp = inEnv('podman', ['import', '-q', layer, IMAGE]);
  if (imp.status !== 0) die(`podman import: ${lastLine(imp)}`);

  // the runtimes' own `run`: one bundle, config from `runc spec` (or crun spec), terminal off
  const specTool = ['runc', 'crun'].find((n) => ok.some((r) => r.name === n));
  const bundle = path.join(tmp, 'bundle');
  if (specTool) {
    const s = sh(specTool, ['spec'], { cwd: bundle });
    if (s.status === 0) {
      const cfg = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
      cfg.process.terminal = false;
      cfg.process.args = ['/bin/true'];
      cfg.linux.cgroupsPath = path.posix.join(cgParent, 'direct');
      fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(cfg, null, 2));
    }
  }
  const podmanArgv = (r) => ['podman', '--runtime', r.name, 'run', '--rm', '--pull', 'never', '--cgroup-parent', cgParent, IMAGE, 'true'];
  const directArgv = (r, id) => [r.path, '--root', d(`state-${r.name}`), 'run', '--bundle', bundle, id];

  // first runs: a runtime that fails gets a row saying so
  for (const r of ok) {
    const p = inEnv(podmanArgv(r)[0], podmanArgv(r).slice(1));
    if (p.status !== 0) r.note = `podman run fails: ${lastLine(p)}`;
    const v = sh(r.path, ['--version']);
    r.version = v.status === 0 ? v.stdout.trim().split('\n')[0] : '?';
    if (r.name === 'dynod-oci') r.version += ` (${r.path})`;
    if (fs.existsSync(path.join(bundle, 'config.json'))) {
      const x = inEnv(directArgv(r, `smoke-${r.name}`)[0], directArgv(r, `smoke-${r.name}`).slice(1));
      if (x.status !== 0) r.directNote = `run fails: ${lastLine(x)}`;
    } else r.directNote = 'no bundle (neither runc nor crun to write config.json)';
  }

  const rows = [];
  for (const r of ok.filter((x) => !x.note)) rows.push({ name: `podman:${r.name}`, argv: podmanArgv(r) });
  // a fresh container id per run (timeit repeats the argv): a counter in a file, through sh (the same for every runtime)
  const q = (a) => `'${String(a).replace(/'/g, "'\\''")}'`;
  for (const r of ok.filter((x) => !x.note && !x.directNote)) {
    const counter = path.join(tmp, `n-${r.name}`);
    fs.writeFileSync(counter, '0');
    const [bin, ...rest] = directArgv(r, 'ID');
    const script = `n=$(($(cat ${q(counter)}) + 1)); echo $n > ${q(counter)}; exec ${[bin, ...rest.slice(0, -1)].map(q).join(' ')} "bench-${r.name}-$n"`;
    rows.push({ name: `direct:${r.name}`, argv: ['sh', '-c', script] });
  }
  const spec = path.join(tmp, 'spec.tsv');
  fs.writeFileSync(spec, rows.map((r) => [r.name, '-', '-', Object.entries(podEnv).map(([k, v]) => `${k}=${v}`).join(';'), ...r.argv].join('\t')).join('\n') + '\n');
  const ms = Object.fromEntries(rows.map((r) => [r.name, []]));
  const fails = Object.fromEntries(rows.map((r) => [r.name, 0]));
  if (rows.length) {
    log(`${rows.length} commands × ${ROUNDS} alternating rounds (+${WARMUP} warm-up): ${rows.map((r) => r.name).join(', ')}`);
    const res = inEnv(timeit, ['--rounds', String(ROUNDS), '--warmup', String(WARMUP), spec], { maxBuffer: 16 << 20 });
    if (res.status !== 0) die(`timeit: ${res.stderr}`);
    for (const line of res.stdout.trim().split('\n').filter(Boolean)) {
      const [name, , s, e, status] = line.split('\t');
      ms[name].push(Number(BigInt(e) - BigInt(s)) / 1e6);
      if (Number(status) !== 0) fails[name]++;
    }
  }

  const st = Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, stats(v)]));
  const fmt = (x) => (Number.isFinite(x) ? x.toFixed(1) : '–');
  const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '–');
  const cell = (kind, r) => {
    const s = st[`${kind}:${r.name}`];
    const runc = st[`${kind}:runc`];
    if (!s) return [r.note || (kind === 'direct' ? r.directNote : null) || 'not measured', '', ''];
    const f = fails[`${kind}:${r.name}`];
    return [`${fmt(s.median)}${f ? ` (${f} failed)` : ''}`, fmt(s.p90), ratio(s.median, runc && runc.median)];
  };
  const podmanV = sh('podman', ['--version']).stdout.trim();
  const lines = [
    '## OCI runtimes under podman: dynod-oci vs crun vs runc',
    '',
    `Run ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, ${os.cpus().length} CPUs, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, ${podmanV}, ${ROUNDS} alternating rounds after ${WARMUP} warm-up (timeit.c: posix_spawn to wait4, CLOCK_MONOTONIC).`,
    '`podman run --rm IMG true`: a podman of the bench\'s own (storage and configuration in a temp dir, overlay, cgroupfs, `netns = "none"`), a busybox image. `RUNTIME run`: the runtime alone on the same rootfs (`runc spec`, terminal off), a fresh id each run. Times in ms; "vs runc": median over runc\'s.',
    ...(envNote.length ? ['', ...envNote.map((n) => `Environment: ${n}.`)] : []),
    '',
    '| runtime | version | podman run --rm: median | p90 | vs runc | RUNTIME run: median | p90 | vs runc |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...runtimes.map((r) => `| ${r.name} | ${r.version || '–'} | ${cell('podman', r).join(' | ')} | ${cell('direct', r).join(' | ')} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (JSON_OUT) fs.writeFileSync(JSON_OUT, JSON.stringify({ runtimes, ms, fails, rounds: ROUNDS, env: envNote }, null, 1));
  inEnv('podman', ['rm', '-a', '-f', '-t', '0']);
  cleanup();
}

try {
  main();
} catch (e) {
  die(e instanceof Error ? e.stack : String(e));
}
