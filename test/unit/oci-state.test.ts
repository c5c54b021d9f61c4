// dynod-oci's container state: ids, atomic writes, the status read from the kernel.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { StateDir, checkId, statusOf, publicState, listIds, writeAtomic, type StoredState } from '../../src/oci/state';
import { readProcStat } from '../../src/dyno/exec-target';
import { UsageError } from '../../src/errors';

t.test('ids follow runc: letters, digits, _ + - .', async (t) => {
  for (const ok of ['a', 'web.1', 'x_y-z+1', '0d34f2b030c2']) t.equal(checkId(ok), ok);
  for (const bad of ['', '.', '..', 'a/b', 'a b', '../x', 'é']) t.throws(() => checkId(bad), UsageError, bad);
});

t.test('atomic writes leave no temporary file and replace the old content', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oci-state-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'pid');
  writeAtomic(f, '1');
  writeAtomic(f, '42', 0o644);
  t.equal(fs.readFileSync(f, 'utf8'), '42');
  t.same(fs.readdirSync(dir), ['pid']);
});

t.test('status: created while the FIFO exists, running without it, stopped once PID 1 is gone or its pid reused', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'oci-root-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => child.kill('SIGKILL'));
  const dir = new StateDir(root, 'c1');
  dir.claim();
  t.throws(() => new StateDir(root, 'c1').claim(), /in use/);
  const s: StoredState = {
    ociVersion: '1.0.2', id: 'c1', pid: child.pid!, startTime: readProcStat(child.pid!)!.startTime, bundle: '/b', rootfs: '/b/rootfs',
    created: new Date().toISOString(), annotations: { a: 'b' }, cgroupPath: '', namespaces: ['pid', 'mount'], poststart: [], poststop: [],
  };
  dir.write(s);
  t.same(dir.read(), s);
  t.same(listIds(root), ['c1']);
  fs.writeFileSync(dir.fifo, '');
  t.equal(statusOf(dir, s, () => false), 'created');
  fs.rmSync(dir.fifo);
  t.equal(statusOf(dir, s, () => false), 'running');
  t.equal(statusOf(dir, s, () => true), 'paused');
  t.equal(statusOf(dir, { ...s, startTime: s.startTime + 1 }, () => false), 'stopped', 'a pid with another start time is not ours');
  t.equal(statusOf(dir, { ...s, creating: true }, () => false), 'creating');
  const pub = publicState(s, 'stopped');
  t.equal(pub.pid, 0);
  t.same(Object.keys(pub).sort(), ['annotations', 'bundle', 'created', 'id', 'ociVersion', 'owner', 'pid', 'rootfs', 'status']);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  t.equal(statusOf(dir, s, () => false), 'stopped');
  dir.remove();
  t.same(listIds(root), []);
  t.throws(() => dir.read(), /does not exist/);
});
