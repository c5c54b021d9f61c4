// The clone that shares dynod's memory (native/process.cc: CLONE_VM | CLONE_VFORK on a
// stack of the child's own, the parent's steps on a helper thread): its failure paths,
// a start from a process with a large heap, and the fork it replaces, still used for
// OCI's create hooks (and DYNOD_SPAWN_FORK=1).
import t from 'tap';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { native } from '../../src/native';
import type { NativeExit, NativeRecord } from '../../src/addon';
import { run } from '../../src/index';
import { tempApp } from '../helpers/app';
import { children, spawnPlan as helperPlan } from '../helpers/spawn';

const ROOT = path.resolve(__dirname, '../..');

const spawnPlan = (t: Tap.Test, command: string[]) => helperPlan(t, command, { userns: 'private', net: 'none', idBase: 300000 });

t.test("a step of the parent's that fails (the helper thread's): spawn() throws it, and the child is gone", async (t) => {
  const sp = spawnPlan(t, ['true']);
  // two lines for the same ids: the kernel refuses the map
  sp.uidMap = '0 300000 1\n0 300001 1\n';
  const before = children();
  t.throws(() => native().spawn(sp), { step: 'user namespace', syscall: 'write', code: 'EINVAL' });
  t.same(children(), before, 'no child left, not even a zombie');
});

t.test('the same plan, well-formed, runs to its end', async (t) => {
  const n = native();
  const r = n.spawn(spawnPlan(t, ['sh', '-c', 'exit 3']));
  const records: NativeRecord[] = [];
  n.watchChannel(r.channel, (rec) => { if (rec) records.push(rec); });
  const exit = await new Promise<NativeExit>((res) => n.watchExit(r.pidfd, res));
  t.same(records, []);
  t.same({ code: exit.code, signal: exit.signal }, { code: 3, signal: null });
});

t.test('a start from a process holding 512 MiB more memory', async (t) => {
  const big = Buffer.alloc(512 * 1024 * 1024, 1);
  const { exit } = await run({ command: ['sh', '-c', 'echo ok >/dev/null; exit 5'], app: tempApp(t), net: 'none' }, { stdout: 'ignore', stderr: 'ignore' });
  t.equal(exit.status, 5);
  t.equal(big[big.length - 1], 1, 'our memory is as it was');
});

t.test('DYNOD_SPAWN_FORK=1: the fork path still runs a dyno (a separate process: the switch is read once)', async (t) => {
  const app = tempApp(t);
  const script = `require(${JSON.stringify(path.join(ROOT, 'dist/index.js'))}).run({ command: ['sh', '-c', 'echo $DYNO; exit 4'], app: ${JSON.stringify(app)}, name: 'fork.1', net: 'none' }).then((r) => process.stdout.write(JSON.stringify(r.exit)));`;
  const out = execFileSync(process.execPath, ['-e', script], { env: { PATH: process.env.PATH, DYNOD_SPAWN_FORK: '1' }, encoding: 'utf8' });
  t.match(out, /^fork\.1\n/);
  t.match(JSON.parse(out.split('\n')[1]!), { status: 4, code: 4 });
});
