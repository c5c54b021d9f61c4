// Ownership of dyno cgroups by flock (src/cgroup/leaf.ts), against plain directories:
// the creator's mkdir → open → flock, the sweeper's lock-then-remove, and their races.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createOwnedLeaf, sweepRoot, mkdirUnder } from '../../src/cgroup/leaf';
import { native } from '../../src/native';

/** An fd holding the flock of dir, as another process (or a sweeper) would: locks are per open file. */
function lockedBy(dir: string): number | null {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  if (native().flock(fd, true)) return fd;
  fs.closeSync(fd);
  return null;
}

t.test('create: the leaf is made and locked; a second create of it is EEXIST', async (t) => {
  const root = t.testdir({});
  const dir = path.join(root, 'dynod/run/web.1-3f2a9c1e');
  const fd = createOwnedLeaf(dir, () => mkdirUnder([path.join(root, 'dynod'), path.join(root, 'dynod/run')], dir));
  t.ok(fs.statSync(dir).isDirectory());
  t.equal(lockedBy(dir), null, 'its lock is held');
  t.throws(() => createOwnedLeaf(dir, () => mkdirUnder([], dir)), { name: 'DynodError', code: 'EEXIST', errno: 17, syscall: 'mkdir', step: 'create cgroup' });
  t.ok(fs.existsSync(dir), 'the existing leaf is left alone');
  fs.closeSync(fd);
  const other = lockedBy(dir);
  t.ok(other !== null, 'closing the fd releases it');
  fs.closeSync(other!);
});

t.test('create: a parent removed meanwhile (ENOENT) is made again', async (t) => {
  const root = t.testdir({});
  const dir = path.join(root, 'run/a-11111111');
  let calls = 0;
  const fd = createOwnedLeaf(dir, () => {
    calls++;
    // the first time, another dynod's sweep removes the empty group right after its mkdir
    mkdirUnder([path.join(root, 'run')], dir, calls === 1 ? (p) => fs.rmdirSync(p) : undefined);
  });
  t.equal(calls, 2);
  t.ok(fs.existsSync(dir));
  fs.closeSync(fd);
});

t.test('create loses to a sweeper that removed its fresh leaf before open: it makes it again', async (t) => {
  const root = t.testdir({});
  const dir = path.join(root, 'w-22222222');
  let calls = 0;
  const fd = createOwnedLeaf(dir, () => {
    calls++;
    fs.mkdirSync(dir);
    if (calls === 1) fs.rmdirSync(dir); // swept between mkdir and open
  });
  t.equal(calls, 2);
  t.equal(lockedBy(dir), null, 'owned');
  fs.closeSync(fd);
});

t.test('create loses to a sweeper that locked its fresh leaf first: it waits for the sweeper, then makes it again', async (t) => {
  const root = t.testdir({});
  const dir = path.join(root, 'w-33333333');
  let sweeper: number | null = null;
  let calls = 0;
  let eexist = 0;
  const fd = createOwnedLeaf(dir, () => {
    calls++;
    if (calls === 3) {
      // the sweeper finishes: removes the leaf it holds, then drops the lock
      fs.rmdirSync(dir);
      fs.closeSync(sweeper!);
    }
    try {
      fs.mkdirSync(dir);
    } catch (e) {
      eexist++;
      throw Object.assign(new Error('EEXIST'), { code: 'EEXIST' });
    }
    if (calls === 1) sweeper = lockedBy(dir); // the sweeper takes the unlocked leaf
  });
  t.equal(calls, 3, 'mkdir, then EEXIST while the sweeper holds it, then mkdir again');
  t.equal(eexist, 1);
  t.equal(lockedBy(dir), null, 'owned by the creator now');
  fs.closeSync(fd);
});

t.test('sweepRoot removes the leaves whose lock is free (legacy ones too) and empty groups; owned ones stay', async (t) => {
  const root = t.testdir({
    dynod: {
      run: { 'live-11111111': {}, 'stale-22222222': {} },
      web: { 'web.1-33333333': {} },
      empty: {},
      '4242-44444444': {},
      '.hidden': {},
      'a-file': 'x',
    },
  });
  const lockRoot = path.join(root, 'dynod');
  const live = lockedBy(path.join(lockRoot, 'run/live-11111111'))!;
  t.teardown(() => fs.closeSync(live));
  const removed: string[] = [];
  const n = await sweepRoot(lockRoot, [lockRoot], async (rel) => {
    removed.push(rel);
    fs.rmdirSync(path.join(lockRoot, rel));
  });
  t.equal(n, 3);
  t.same(removed.sort(), ['4242-44444444', 'run/stale-22222222', 'web/web.1-33333333']);
  t.same(fs.readdirSync(lockRoot).sort(), ['.hidden', 'a-file', 'run']);
  t.same(fs.readdirSync(path.join(lockRoot, 'run')), ['live-11111111']);
  t.equal(await sweepRoot(path.join(root, 'missing'), [], async () => {}), 0, 'no dynod/ yet: nothing to do');
});

t.test('sweepRoot: a leaf whose owner process exits is stale', async (t) => {
  const root = t.testdir({ dynod: { run: {} } });
  const dir = path.join(root, 'dynod/run/x-55555555');
  const script = `
    const fs = require('fs');
    const { createOwnedLeaf, mkdirUnder } = require(${JSON.stringify(path.resolve('dist/cgroup/leaf'))});
    createOwnedLeaf(${JSON.stringify(dir)}, () => mkdirUnder([], ${JSON.stringify(dir)}));
    process.stdout.write('locked');
    setTimeout(() => {}, 60000);
  `;
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((r) => child.stdout.once('data', r));
  const noop = async (rel: string) => fs.rmdirSync(path.join(root, 'dynod', rel));
  t.equal(await sweepRoot(path.join(root, 'dynod'), [], noop), 0, 'its owner lives');
  t.ok(fs.existsSync(dir));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('close', r));
  t.equal(await sweepRoot(path.join(root, 'dynod'), [path.join(root, 'dynod')], noop), 1, 'its owner was SIGKILLed');
  t.notOk(fs.existsSync(path.join(root, 'dynod/run')), 'and the empty group went');
});
