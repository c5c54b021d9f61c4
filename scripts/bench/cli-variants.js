#!/usr/bin/env node
'use strict';
/*
 * What each CLI start-up option buys, side by side (not part of `npm run bench`; as root):
 *
 *   node scripts/bench/cli-variants.js [ROUNDS=30] [GAP_MS=50]
 *
 * Builds, in a temp dir, the variants that are not shipped (the bundle without its lazy
 * builtins, and a Node startup snapshot of the bundle: `node --snapshot-blob B
 * --build-snapshot`), then times every variant of `dynod run -- /bin/true` (and a few of
 * `--dry-run`) in alternating rounds with scripts/bench/timeit.c, GAP_MS of quiet before
 * each run, and prints medians: wall, CPU (user+sys of the process tree), and both
 * minus `node -e 0` of the same round. Needs a built tree (npm run build) and gcc.
 * NODE_EXTRA_CA_CERTS and NODE_OPTIONS are unset for every run.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { stats } = require('./common');
const { bundle, makeCodeCache } = require('../build-cli');

const ROOT = path.resolve(__dirname, '..', '..');
const rounds = Number(process.argv[2] ?? 30);
const gap = Number(process.argv[3] ?? 50);
const node = process.execPath;
const dynod = path.join(ROOT, 'bin', 'dynod');

function env(extra = {}) {
  const e = { ...process.env, ...extra };
  for (const k of ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS', 'DYNOD_TRACE', 'DYNOD_LOG_LEVEL', 'DYNOD_NO_BUNDLE', 'DYNOD_NO_CODE_CACHE']) delete e[k];
  return e;
}

/** A copy of the tree's bin/ and dist/ (timestamps kept) with links to the rest. */
function tree(dir) {
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
  fs.copyFileSync(dynod, path.join(dir, 'bin', 'dynod'));
  fs.chmodSync(path.join(dir, 'bin', 'dynod'), 0o755);
  fs.copyFileSync(path.join(ROOT, 'bin', 'run-bundle.js'), path.join(dir, 'bin', 'run-bundle.js'));
  fs.cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true, preserveTimestamps: true });
  for (const l of ['build', 'rootfs', 'node_modules', 'package.json']) fs.symlinkSync(path.join(ROOT, l), path.join(dir, l));
}

async function main() {
  if (process.getuid() !== 0) throw new Error('run as root (it starts dynos)');
  for (const f of ['dist/cli/dynod.js', 'dist/cli/dynod.js.cache', 'build/Release/dynod.node']) {
    if (!fs.existsSync(path.join(ROOT, f))) throw new Error(`${f} is missing: npm run build first`);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-cli-variants-'));
  try {
    const timeit = path.join(tmp, 'timeit');
    const cc = spawnSync('gcc', ['-O2', '-o', timeit, path.join(__dirname, 'timeit.c')], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`gcc: ${cc.stderr}`);
    const app = path.join(tmp, 'app');
    fs.mkdirSync(app);

    // the bundle without lazy builtins (everything else as shipped, its own code cache)
    const nolazy = path.join(tmp, 'nolazy');
    tree(nolazy);
    const nlOut = path.join(nolazy, 'dist', 'cli', 'dynod.js');
    await bundle({ root: nolazy, outfile: nlOut, lazy: [] });
    makeCodeCache(nolazy, nlOut);

    // a startup snapshot: the bundle evaluated at build time; main() runs on deserialization.
    // Its require is Node's builtin-only one while the snapshot is built, a real one after.
    const snapDir = path.join(tmp, 'snap');
    fs.mkdirSync(snapDir);
    const snapBundle = path.join(snapDir, 'bundle.js');
    await bundle({ outfile: snapBundle, entry: "module.exports = require('./main.js');" });
    const snapEntry = path.join(snapDir, 'entry.js');
    fs.writeFileSync(
      snapEntry,
      `let __realRequire = require;
const __cli = (function (require, module, exports) {${fs.readFileSync(snapBundle, 'utf8')}
return module.exports; })((id) => __realRequire(id), { exports: {} }, {});
require('node:v8').startupSnapshot.setDeserializeMainFunction(() => {
  __realRequire = require('node:module').createRequire(${JSON.stringify(snapBundle)});
  void __cli.main([process.argv[0], 'dynod', ...process.argv.slice(1)]);
});
`,
    );
    const blob = path.join(snapDir, 'cli.blob');
    const sb = spawnSync(node, ['--snapshot-blob', blob, '--build-snapshot', snapEntry], { cwd: snapDir, env: env(), encoding: 'utf8' });
    const haveSnap = sb.status === 0 && fs.existsSync(blob);
    if (!haveSnap) process.stderr.write(`snapshot build failed: ${sb.stderr}\n`);

    // bin/dynod as it was before the bundle: a shell script running the unbundled CLI
    const oldLauncher = path.join(tmp, 'dynod-sh');
    fs.writeFileSync(oldLauncher, `#!/bin/sh\nhere=$(dirname "$(readlink -f ${JSON.stringify(dynod)})")\nexec node -- "$here/../dist/cli/main.js" "$@"\n`, { mode: 0o755 });

    const run = ['run', '--', '/bin/true'];
    const dry = ['run', '--dry-run', '--', '/bin/true'];
    const rows = [
      ['node -e 0', '-', [node, '-e', '0']],
      ['shipped: bin/dynod (env launcher, bundle, lazy builtins, code cache)', '-', [dynod, ...run]],
      ['… without the lazy builtins (net, tty, child_process at load)', '-', [path.join(nolazy, 'bin', 'dynod'), ...run]],
      ['… without the code cache (DYNOD_NO_CODE_CACHE=1)', 'DYNOD_NO_CODE_CACHE=1', [dynod, ...run]],
      ['… without the bundle (DYNOD_NO_BUNDLE=1: dist/cli/main.js)', 'DYNOD_NO_BUNDLE=1', [dynod, ...run]],
      ['before: sh launcher + dist/cli/main.js', '-', [oldLauncher, ...run]],
      ...(haveSnap ? [['startup snapshot of the bundle (node --snapshot-blob)', '-', [node, '--snapshot-blob', blob, ...run]]] : []),
      ['shipped, --dry-run', '-', [dynod, ...dry]],
      ['before, --dry-run', '-', [oldLauncher, ...dry]],
      ...(haveSnap ? [['startup snapshot, --dry-run', '-', [node, '--snapshot-blob', blob, ...dry]]] : []),
    ];
    const spec = path.join(tmp, 'spec');
    fs.writeFileSync(spec, rows.map(([name, e, argv]) => [name, '-', '-', e, ...argv].join('\t')).join('\n') + '\n');
    const load0 = os.loadavg().map((x) => x.toFixed(2)).join(' ');
    const r = spawnSync(timeit, ['--rounds', String(rounds), '--warmup', '2', '--gap-ms', String(gap), spec], { cwd: app, env: env(), encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`timeit: ${r.stderr}`);
    const load1 = os.loadavg().map((x) => x.toFixed(2)).join(' ');
    const res = {};
    for (const line of r.stdout.trim().split('\n')) {
      const [name, , s, e, status, , cpu] = line.split('\t');
      (res[name] ??= []).push({ ms: Number(BigInt(e) - BigInt(s)) / 1e6, cpu: Number(cpu) / 1000, ok: Number(status) === 0 });
    }
    const base = res['node -e 0'];
    const f = (x) => x.toFixed(1);
    const out = [
      `cli-variants: ${rounds} rounds, ${gap} ms quiet before each run, ${new Date().toISOString()}; load average ${load0} → ${load1}; ${os.cpus().length} cpus; Node ${process.version}`,
      '',
      '| variant | wall ms | CPU ms | − node, wall | − node, CPU | failed |',
      '|---|---:|---:|---:|---:|---:|',
    ];
    for (const [name] of rows) {
      const v = res[name];
      const d = v.map((x, i) => x.ms - base[i].ms);
      const dc = v.map((x, i) => x.cpu - base[i].cpu);
      out.push(`| ${name} | ${f(stats(v.map((x) => x.ms)).median)} | ${f(stats(v.map((x) => x.cpu)).median)} | ${f(stats(d).median)} | ${f(stats(dc).median)} | ${v.filter((x) => !x.ok).length} |`);
    }
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`cli-variants: ${e.stack || e.message}\n`);
  process.exit(1);
});
