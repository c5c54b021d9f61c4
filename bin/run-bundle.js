'use strict';
// Runs a bundle that scripts/build-cli.js made (dist/cli/dynod.js for bin/dynod,
// dist/oci/dynod-oci.js for bin/dynod-oci) with its V8 code cache, or the unbundled
// entry when the bundle is missing or older than a file it was made from.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

function bundleIsCurrent(file) {
  try {
    // An installed package has no src/ and is never rebuilt in place; its mtimes are
    // those of the unpacking, in no useful order. Only a source tree can go stale.
    if (!fs.existsSync(path.join(root, 'src'))) return true;
    const built = fs.statSync(file).mtimeMs;
    // The bundle is made of dist/ and package.json; tsc (incremental: tsconfig.json)
    // rewrites dist/.tsbuildinfo whenever it writes dist/. Without it: stale.
    return fs.statSync(path.join(root, 'dist', '.tsbuildinfo')).mtimeMs <= built && fs.statSync(path.join(root, 'package.json')).mtimeMs <= built;
  } catch {
    return false;
  }
}

/**
 * bundle: relative to dist/; fallback: the unbundled module (relative to bin/) whose
 * main(argv) runs the CLI; beforeRun: called once the code is compiled, before it runs.
 */
function runBundle(bundle, fallback, beforeRun) {
  const file = path.join(root, 'dist', bundle);
  if (process.env.DYNOD_NO_BUNDLE === '1' || !bundleIsCurrent(file)) {
    beforeRun?.();
    require(fallback).main(process.argv);
    return;
  }
  const { createRequire } = require('node:module');
  const script = bundleScript(file);
  beforeRun?.();
  const mod = { exports: {}, id: file, filename: file, loaded: false };
  script.runInThisContext().call(mod.exports, mod.exports, createRequire(file), mod, file, path.dirname(file));
}

/**
 * The bundle compiled with its code cache. V8 rejects (script.cachedDataRejected) a
 * cache made by another Node, or with other V8 flags than bin/'s shebang gives: then it
 * compiles from source, ~15 ms more per CLI start (test/unit/code-cache.test.ts).
 */
function bundleScript(file) {
  const vm = require('node:vm');
  const cacheFile = `${file}.cache`;
  let cachedData;
  try {
    if (process.env.DYNOD_NO_CODE_CACHE !== '1') cachedData = fs.readFileSync(cacheFile);
  } catch {
    /* no cache: V8 compiles from source */
  }
  // ASCII (scripts/build-cli.js makes it so): latin1 decodes it exactly, 3× faster than utf8
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${fs.readFileSync(file, 'latin1')}\n})`;
  const script = new vm.Script(wrapped, { filename: file, cachedData });
  if (process.env.DYNOD_WRITE_CODE_CACHE === '1') {
    // scripts/build-cli.js: after a run, the cache holds every function that ran
    process.once('exit', () => {
      fs.writeFileSync(`${cacheFile}.tmp`, script.createCachedData());
      fs.renameSync(`${cacheFile}.tmp`, cacheFile);
    });
  }
  return script;
}

module.exports = { runBundle, bundleScript };
