#!/usr/bin/env node
'use strict';
/*
 * Part of `npm run build` (after tsc): bundles the CLI, dist/cli/main.js and everything
 * it requires (dynod's dist/ and commander), into one file, dist/cli/dynod.js, which
 * bin/dynod runs. One file instead of ~35 saves Node's module resolution and loading
 * per file (stat, realpath, read, wrap, compile); beside it goes a V8 code cache
 * (dist/cli/dynod.js.cache). In a source tree bin/dynod runs dist/cli/main.js instead
 * when tsc wrote dist/ after the bundle (bin/run-bundle.js). See docs/benchmarks.md
 * ("CLI start-up") for what each saves.
 *
 * Left out of the bundle, i.e. required at run time as before: pino (loaded only when
 * DYNOD_LOG_LEVEL is set) and the native addon (build/Release/dynod.node).
 *
 * Every dist/ module finds its files from its own __dirname (build/, rootfs/,
 * dist/seccomp/default.js); in the bundle each module's __dirname is rewritten to
 * the directory it had in dist/, relative to the bundle's own.
 *
 *   node scripts/build-cli.js        (needs dist/ from tsc)
 *
 * scripts/bench/cli-variants.js requires this file for bundle() (variants that were
 * measured and not kept: without the lazy builtins, a startup snapshot).
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');

// Builtins that a plain `dynod run` never uses but that the modules require at their
// top: net (pipes and --publish only), tty (terminals only), child_process (commander's
// executable subcommands, which dynod has none of), dgram (the DNS forwarder of --net
// private), tls and crypto (HTTPS in front of a formation, and its self-signed
// certificate). Each such require() becomes a proxy that loads the module on first
// use; loading them costs ~3 ms of CPU per CLI start (net pulls in stream_wrap, tcp_wrap,
// pipe_wrap, diagnostics_channel, …).
const LAZY = ['net', 'tty', 'child_process', 'dgram', 'tls', 'crypto'];
// The proxy is transparent once loaded (get, has, keys, descriptors); it says
// __esModule so that tsc's __importStar hands it out as it is instead of copying every
// property (which would load the module at once).
const LAZY_HELPER = `function __dynodLazy(id) {
  let m;
  const load = () => (m ??= require(id));
  return new Proxy({}, {
    get: (_, k) => (k === '__esModule' ? true : load()[k]),
    has: (_, k) => k in load(),
    ownKeys: () => Reflect.ownKeys(load()),
    getOwnPropertyDescriptor: (_, k) => {
      const d = Reflect.getOwnPropertyDescriptor(load(), k);
      return d && { ...d, configurable: true };
    },
  });
}`;

// The entry: main() of the CLI. A preloaded benchmark probe (scripts/bench/cli-probe.js)
// sees the modules through globalThis.__dynodBenchProbe, which nothing else sets.
const ENTRY = `
const { main, exitWhenDone } = require('./main.js');
if (typeof globalThis.__dynodBenchProbe === 'function')
  globalThis.__dynodBenchProbe({ Dyno: require('../dyno/dyno.js').Dyno, Command: require('commander').Command });
// Once the event loop has nothing left, exit without Node's teardown (src/cli/exit.ts).
exitWhenDone();
void main(process.argv);
`;

/**
 * Bundles dist/cli/main.js of the tree at `root` into `outfile`.
 * Returns {inputs (relative to root), lazied: Map(builtin → requires made lazy)}.
 */
async function bundle({ root = ROOT, outfile = path.join(root, 'dist', 'cli', 'dynod.js'), entry = ENTRY, lazy = LAZY, banner = '', minify = true } = {}) {
  const esbuild = require('esbuild');
  const dist = path.join(root, 'dist');
  const lazyRe = lazy.length ? new RegExp(`require\\((["'])node:(${lazy.join('|')})\\1\\)`, 'g') : null;
  const lazied = new Map();
  const plugin = {
    name: 'dynod-cli',
    setup(build) {
      build.onLoad({ filter: /\.js$/ }, async (args) => {
        const inDist = args.path.startsWith(dist + path.sep);
        const commander = args.path.startsWith(path.join(root, 'node_modules', 'commander') + path.sep);
        if (!inDist && !commander) return undefined;
        let text = await fs.promises.readFile(args.path, 'utf8');
        if (lazyRe) {
          text = text.replace(lazyRe, (_, q, id) => {
            lazied.set(id, (lazied.get(id) ?? 0) + 1);
            return `__dynodLazy("node:${id}")`;
          });
        }
        // tsc's `import * as fs from 'node:fs'` is __importStar(require("node:fs")): a copy
        // of the module's every export as a getter (~100 for fs), made again in each of the
        // ~60 modules that import a builtin that way: ~2 ms of a CLI start. A builtin is a
        // plain object whose properties the code reads as they are (never a `default`).
        if (inDist) text = text.replace(/__importStar\(require\(("node:[a-z0-9_/]+")\)\)/g, 'require($1)');
        if (inDist && /\b__dirname\b/.test(text)) {
          const rel = path.relative(path.dirname(outfile), path.dirname(args.path));
          const expr = rel ? `require("node:path").join(__dirname, ${JSON.stringify(rel)})` : '__dirname';
          text = `var __dynod_dirname = ${expr};\n${text.replace(/\b__dirname\b/g, '__dynod_dirname')}`;
        }
        return { contents: text, loader: 'js', resolveDir: path.dirname(args.path) };
      });
    },
  };
  const result = await esbuild.build({
    stdin: { contents: entry, resolveDir: path.join(dist, 'cli'), sourcefile: 'dynod-cli-entry.js', loader: 'js' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile,
    external: ['pino', '*.node'],
    plugins: [plugin],
    logLevel: 'warning',
    legalComments: 'none',
    // Whitespace and syntax only (names stay, so a stack trace still names its functions):
    // 725 → 452 KiB. V8 copies the source into one flat string and keeps it for the
    // functions it compiles later, so each start reads, decodes and flattens 270 KiB less:
    // ~1 ms of every `dynod run` (preload → main() 7.5 → 6.5 ms, docs/benchmarks.md).
    minifyWhitespace: minify,
    minifySyntax: minify,
    banner: { js: `// dynod CLI, bundled by scripts/build-cli.js from dist/ and commander: do not edit\n${lazy.length ? LAZY_HELPER : ''}${banner}` },
    metafile: true,
    absWorkingDir: root,
  });
  // bin/ reads the bundle as latin1, a third of the time of utf8 (~1.4 ms per start for
  // the CLI's): that is exact for ASCII. esbuild escapes non-ASCII in strings, but keeps
  // some comments as they are; a \uXXXX escape means the same anywhere in JavaScript
  // outside a raw template, which esbuild's ASCII output does not leave any of.
  const out = fs.readFileSync(outfile, 'utf8');
  fs.writeFileSync(outfile, out.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  // every real file (the entry has none)
  const inputs = Object.keys(result.metafile.inputs)
    .map((f) => path.relative(root, path.resolve(root, f)))
    .filter((f) => fs.existsSync(path.join(root, f)));
  return { inputs, lazied };
}

/**
 * What bin/<name>'s `#!/usr/bin/env -S [VAR=value ...] node [options] --` line gives
 * node: V8 accepts a code cache only from a process with the same V8 flags
 * (--max-semi-space-size among them), so the cache is made with them.
 */
function shebangOf(bin) {
  const first = fs.readFileSync(bin, 'utf8').split('\n', 1)[0];
  const words = first.replace(/^#!\S*env\s+-S\s+/, '').trim().split(/\s+/);
  const at = words.indexOf('node');
  if (!first.startsWith('#!') || at < 0) throw new Error(`${bin}: its first line is not \`#!/usr/bin/env -S ... node ... --\``);
  const env = Object.fromEntries(words.slice(0, at).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
  const end = words.indexOf('--', at);
  return { env, nodeArgs: words.slice(at + 1, end < 0 ? undefined : end) };
}

/**
 * The V8 code cache of the bundle: bin/<name> runs a training command in a fresh Node
 * with a clean environment, and writes the cache of everything compiled by then at
 * exit. `trains` are tried in order until one succeeds: for dynod, as root, a real
 * `dynod run --net none -- /bin/true` (the start proper compiled too: 3.5-4 ms less per
 * `dynod run` than a cache of the dry run alone, docs/benchmarks.md), else the dry run
 * (needs no root: commander, option parsing and the plan). Functions that did not run
 * are compiled lazily. Best effort: no cache, no harm (bin/ compiles from source; V8
 * also rejects a cache made by another Node).
 */
function makeCodeCache(root, outfile, trains = [['dynod', 'run', '--dry-run', '--', '/bin/true']]) {
  const cache = `${outfile}.cache`;
  const env = { ...process.env, DYNOD_WRITE_CODE_CACHE: '1' };
  for (const k of ['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS', 'DYNOD_NO_BUNDLE', 'DYNOD_NO_CODE_CACHE', 'DYNOD_TRACE', 'DYNOD_LOG_LEVEL']) delete env[k];
  let last = '';
  for (const train of trains) {
    fs.rmSync(cache, { force: true });
    const app = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-build-'));
    try {
      const bin = path.join(root, 'bin', train[0]);
      const she = shebangOf(bin);
      const r = spawnSync(process.execPath, [...she.nodeArgs, '--', bin, ...train.slice(1)], { cwd: app, env: { ...env, ...she.env }, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
      last = `\`${train.join(' ')}\` exited ${r.status}: ${r.error ? r.error.message : (r.stderr || '').trim().split('\n').pop()}`;
      if (r.status === 0 && fs.existsSync(cache)) {
        process.stderr.write(`build-cli: ${path.relative(root, cache)}: ${(fs.statSync(cache).size / 1024).toFixed(0)} KiB, trained by \`${train.join(' ')}\`\n`);
        return;
      }
    } finally {
      fs.rmSync(app, { recursive: true, force: true });
    }
  }
  fs.rmSync(cache, { force: true });
  process.stderr.write(`build-cli: no code cache (${last})\n`);
}

// dynod-oci's entry: runc's command line (src/oci/cli.ts); one short process per verb.
const OCI_ENTRY = `
const { main } = require('../oci/cli.js');
require('../cli/exit.js').exitWhenDone(); // as the dynod CLI's entry
void main(process.argv);
`;

/**
 * One bundle of the tree, checked by running `bin/<name> --version` (whose first line
 * must be `version`), with its code cache (trained by the first of `trains` that
 * succeeds).
 */
async function build({ outfile, entry, name, version, trains }) {
  const { inputs, lazied } = await bundle({ outfile, entry });
  const kib = (fs.statSync(outfile).size / 1024).toFixed(0);
  const lz = [...lazied].map(([id, n]) => `${id} (${n} require${n > 1 ? 's' : ''})`).join(', ') || 'nothing';
  process.stderr.write(`build-cli: ${path.relative(ROOT, outfile)}: ${inputs.length} modules, ${kib} KiB; loaded on first use: ${lz}\n`);
  // A broken bundle must fail the build, not every command afterwards.
  const env = { ...process.env };
  for (const k of ['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS', 'DYNOD_NO_BUNDLE', 'DYNOD_NO_CODE_CACHE', 'DYNOD_WRITE_CODE_CACHE']) delete env[k];
  const v = spawnSync(process.execPath, ['--', path.join(ROOT, 'bin', name), '--version'], { env, encoding: 'utf8' });
  if (v.status !== 0 || v.stdout.trim().split('\n')[0] !== version) {
    for (const f of [outfile, `${outfile}.cache`]) fs.rmSync(f, { force: true });
    throw new Error(`the bundle does not work (\`${name} --version\`: status ${v.status}, ${JSON.stringify(v.stdout.trim())}; ${v.stderr.trim()}); removed it`);
  }
  makeCodeCache(ROOT, outfile, trains.map((t) => [name, ...t]));
}

async function main() {
  const outfiles = [path.join(ROOT, 'dist', 'cli', 'dynod.js'), path.join(ROOT, 'dist', 'oci', 'dynod-oci.js')];
  try {
    require.resolve('esbuild');
  } catch {
    // esbuild is a devDependency: without it (a production install of a package built
    // elsewhere) bin/dynod and bin/dynod-oci fall back to their unbundled entries.
    process.stderr.write('build-cli: esbuild is not installed; bin/dynod and bin/dynod-oci will run unbundled\n');
    for (const o of outfiles) for (const f of [o, `${o}.cache`]) fs.rmSync(f, { force: true });
    return;
  }
  const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
  // a real start only as root; --net none: a build never touches the host's network
  const dynodTrains = [['run', '--dry-run', '--', '/bin/true']];
  if (process.getuid?.() === 0) dynodTrains.unshift(['run', '--net', 'none', '--', '/bin/true']);
  await build({ outfile: outfiles[0], entry: ENTRY, name: 'dynod', version, trains: dynodTrains });
  // trained on a verb that needs no container (as root: the verbs run past the root check)
  await build({ outfile: outfiles[1], entry: OCI_ENTRY, name: 'dynod-oci', version: `dynod-oci version ${version}`, trains: [['--root', os.tmpdir(), 'list']] });
}

module.exports = { bundle, makeCodeCache, shebangOf, LAZY };

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`build-cli: ${e.stack || e.message}\n`);
    process.exit(1);
  });
}
