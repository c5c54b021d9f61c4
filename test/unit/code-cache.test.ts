// The CLIs start from a bundle and its V8 code cache (scripts/build-cli.js). V8 takes a
// cache only from a process with the same V8 flags: a flag added to bin/'s shebang and
// not to the build (as --max-semi-space-size once was) makes every start compile from
// source, ~15 ms more, and nothing else shows it.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { shebangOf } = require('../../scripts/build-cli.js') as { shebangOf: (bin: string) => { env: Record<string, string>; nodeArgs: string[] } };

const ROOT = path.resolve(__dirname, '../..');

for (const [bin, bundle] of [
  ['dynod', 'dist/cli/dynod.js'],
  ['dynod-oci', 'dist/oci/dynod-oci.js'],
] as const) {
  t.test(`bin/${bin}: node as its shebang runs it accepts ${bundle}.cache`, async (t) => {
    const file = path.join(ROOT, bundle);
    if (!fs.existsSync(`${file}.cache`)) return t.skip(`no ${bundle}.cache: run npm run build`);
    const she = shebangOf(path.join(ROOT, 'bin', bin));
    const code = `const s = require(${JSON.stringify(path.join(ROOT, 'bin/run-bundle.js'))}).bundleScript(${JSON.stringify(file)}); process.stdout.write(String(s.cachedDataRejected))`;
    const env: NodeJS.ProcessEnv = { ...process.env, ...she.env };
    delete env.NODE_OPTIONS;
    delete env.DYNOD_NO_CODE_CACHE;
    const r = spawnSync(process.execPath, [...she.nodeArgs, '-e', code], { env, encoding: 'utf8' });
    t.equal(r.status, 0, r.stderr);
    t.equal(r.stdout, 'false', 'the cache is taken (cachedDataRejected: false)');
    // and the check can fail: other V8 flags make V8 refuse the same cache
    const other = spawnSync(process.execPath, [...she.nodeArgs, '--max-semi-space-size=3', '-e', code], { env, encoding: 'utf8' });
    t.equal(other.stdout, 'true', 'with another V8 flag it is refused');
  });
}

t.test('shebangOf: env assignments, node options up to --', async (t) => {
  const dir = t.testdir({ a: '#!/usr/bin/env -S X=1 Y=a=b node --foo --bar=2 --\n', b: '#!/bin/sh\n' });
  t.same(shebangOf(path.join(dir, 'a')), { env: { X: '1', Y: 'a=b' }, nodeArgs: ['--foo', '--bar=2'] });
  t.throws(() => shebangOf(path.join(dir, 'b')), /first line/);
});

// npm links bin/ into PATH with a symlink; the bins pass --preserve-symlinks-main (so Node
// does not resolve that path itself) and find their tree from their own real path.
t.test('bin/dynod and bin/dynod-oci run through a symlink elsewhere, bundled and not', async (t) => {
  const dir = t.testdir({});
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS;
  const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version as string;
  for (const [bin, first] of [['dynod', version], ['dynod-oci', `dynod-oci version ${version}`]] as const) {
    const link = path.join(dir, bin);
    fs.symlinkSync(path.join(ROOT, 'bin', bin), link);
    for (const extra of [{}, { DYNOD_NO_BUNDLE: '1' }]) {
      const r = spawnSync(link, ['--version'], { env: { ...env, ...extra }, encoding: 'utf8', cwd: dir });
      t.equal(r.status, 0, `${bin} ${JSON.stringify(extra)}: ${r.stderr}`);
      t.equal(r.stdout.split('\n')[0], first, `${bin} ${JSON.stringify(extra)}`);
    }
  }
});
