// The directories above dyno cgroups stay a moment after their last dyno (idle-parents.ts),
// then go: when the idle time is over, on flush (engine close), and at process exit.
// Plain directories stand in for cgroup ones here: rmdir treats them alike.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { IdleParents } from '../../src/cgroup/idle-parents';

function tree(t: Tap.Test): { root: string; group: string } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-idle-'));
  t.teardown(() => fs.rmSync(base, { recursive: true, force: true }));
  const root = path.join(base, 'dynod');
  const group = path.join(root, 'run');
  fs.mkdirSync(group, { recursive: true });
  return { root, group };
}

t.test('released directories stay until the idle time is over, then the empty ones go, deepest first', async (t) => {
  const { root, group } = tree(t);
  const p = new IdleParents(50);
  p.release([root]); // the root first: removing it before the group would fail and leave it
  p.release([group]);
  t.ok(fs.existsSync(group), 'still there right after the release');
  await new Promise((r) => setTimeout(r, 150));
  t.notOk(fs.existsSync(group), 'group removed');
  t.notOk(fs.existsSync(root), 'root removed after it');
});

t.test('a directory in use stays; flush() does at once what the timer would', async (t) => {
  const { root, group } = tree(t);
  fs.mkdirSync(path.join(group, 'web.1-0123abcd'));
  const p = new IdleParents(60_000);
  p.release([group, root]);
  p.flush();
  t.ok(fs.existsSync(group), 'a group with a dyno in it stays');
  fs.rmdirSync(path.join(group, 'web.1-0123abcd'));
  p.release([group, root]);
  p.flush();
  t.notOk(fs.existsSync(root), 'gone on flush, without waiting');
  p.flush(); // nothing pending: nothing happens
});

t.test('the exit of the process removes what is pending; an idle engine does not keep it alive', async (t) => {
  const { root, group } = tree(t);
  const mod = path.resolve(__dirname, '..', '..', 'dist', 'cgroup', 'idle-parents.js');
  const script = `const { IdleParents } = require(${JSON.stringify(mod)});
    new IdleParents(60_000).release([${JSON.stringify(group)}, ${JSON.stringify(root)}]);`;
  const started = Date.now();
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
  t.equal(r.status, 0, r.stderr);
  t.ok(Date.now() - started < 30_000, 'the process exited without waiting for the timer');
  t.notOk(fs.existsSync(group), 'group removed at exit');
  t.notOk(fs.existsSync(root), 'root removed at exit');
});
