// One Node process runs thousands of dynos: nothing it holds may grow with the
// number of dynos started (fds, namespaces, id ranges, memory). Root, real kernel.
import t from 'tap';
import * as fs from 'node:fs';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { Engine } from '../../src/index';
import { tempApp } from '../helpers/app';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function fds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/**
 * What the process holds: open fds (by kind: user namespaces show as user:[…]) and RSS
 * after a full GC, once the event loop has run the close callbacks of the last dynos'
 * handles (libuv closes a watched fd in the loop iteration after uv_close).
 */
async function held(): Promise<{ fds: number; userns: number; rssMiB: number }> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 20));
  gc();
  gc();
  let userns = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith('user:')) userns++;
    } catch {
      // closed meanwhile
    }
  }
  return { fds: fds(), userns, rssMiB: process.memoryUsage().rss / 2 ** 20 };
}

const SEQUENTIAL = Number(process.env.DYNOD_TEST_STARTS ?? 2000);

t.test(`${SEQUENTIAL} sequential starts in one process keep fds and RSS flat`, async (t) => {
  const app = tempApp(t);
  const engine = new Engine();
  t.teardown(() => engine.close());
  const plan = engine.plan({ command: ['/bin/true'], app, name: 'seq.1' });
  const once = async () => {
    const d = await engine.start(plan, { stdout: 'ignore', stderr: 'ignore' });
    const e = await d.wait();
    if (e.status !== 0) throw new Error(`status ${e.status}: ${e.error?.message}`);
  };
  for (let i = 0; i < 50; i++) await once(); // warm: caches, the addon, V8's code
  await engine.settled();
  const before = await held();
  const t0 = Date.now();
  for (let i = 0; i < SEQUENTIAL / 2; i++) await once();
  await engine.settled();
  const mid = await held();
  for (let i = 0; i < SEQUENTIAL / 2; i++) await once();
  const ms = Date.now() - t0;
  await engine.settled();
  const after = await held();
  t.comment(`${SEQUENTIAL} starts in ${ms} ms (${((SEQUENTIAL * 1000) / ms).toFixed(1)}/s); fds ${before.fds} → ${mid.fds} → ${after.fds}, user namespaces ${before.userns} → ${after.userns}, RSS ${before.rssMiB.toFixed(1)} → ${mid.rssMiB.toFixed(1)} → ${after.rssMiB.toFixed(1)} MiB`);
  t.ok(after.fds - before.fds <= 2, `fds flat (${before.fds} → ${after.fds})`);
  t.equal(after.userns, before.userns, 'no user namespace kept');
  // RSS settles over the first ~1,500 starts (malloc arenas, V8's code; measured flat from
  // there to 6,000): the second half must not grow, the whole run stays bounded.
  t.ok(after.rssMiB - mid.rssMiB < 12, `RSS flat over the second half (${(after.rssMiB - mid.rssMiB).toFixed(1)} MiB)`);
  t.ok(after.rssMiB - before.rssMiB < 48, `RSS bounded over the run (${(after.rssMiB - before.rssMiB).toFixed(1)} MiB)`);
  t.equal(engine.dynos.length, 0);
});

t.test('output nobody reads (stdout and stderr piped) holds no fd once its dyno has ended; output read after wait() is all there', async (t) => {
  const app = tempApp(t);
  const engine = new Engine();
  t.teardown(() => engine.close());
  const plan = engine.plan({ command: ['sh', '-c', 'echo out; echo err >&2'], app, name: 'chatty.1' });
  const once = async () => {
    const d = await engine.start(plan, { stdout: 'pipe', stderr: 'pipe' });
    await d.wait();
  };
  for (let i = 0; i < 5; i++) await once();
  await engine.settled();
  await new Promise((r) => setImmediate(r));
  const before = fds();
  for (let i = 0; i < 40; i++) await once();
  await engine.settled();
  await new Promise((r) => setImmediate(r));
  t.ok(fds() - before <= 2, `fds flat (${before} → ${fds()})`);
  // a reader that starts right after wait() gets everything
  const d = await engine.start(engine.plan({ command: ['sh', '-c', 'seq 1 5000'], app, name: 'late.1' }), { stdout: 'pipe', stderr: 'ignore' });
  await d.wait();
  let text = '';
  for await (const chunk of d.stdout!) text += String(chunk);
  t.equal(text.split('\n').length - 1, 5000, 'read after wait(): every line (what fits the pipe)');
});

t.test('10 rounds of 50 concurrent start/stop keep fds and RSS flat', async (t) => {
  const app = tempApp(t);
  const engine = new Engine();
  t.teardown(() => engine.close());
  const round = async () => {
    const ds = await Promise.all(Array.from({ length: 50 }, (_, i) => engine.start({ command: ['sleep', '30'], app, name: `worker.${i + 1}` }, { stdout: 'pipe', stderr: 'pipe' })));
    const exits = await Promise.all(ds.map((d) => d.stop(1_000)));
    if (!exits.every((e) => e.error === null && e.status === 143)) throw new Error(`unexpected exits: ${JSON.stringify(exits.filter((e) => e.status !== 143))}`);
    if (!ds.every((d) => d.state === 'down')) throw new Error('not all down');
  };
  await round();
  await engine.settled();
  const before = await held();
  for (let i = 0; i < 9; i++) await round();
  await engine.settled();
  const after = await held();
  t.comment(`fds ${before.fds} → ${after.fds}, RSS ${before.rssMiB.toFixed(1)} → ${after.rssMiB.toFixed(1)} MiB`);
  t.ok(after.fds - before.fds <= 2, `fds flat (${before.fds} → ${after.fds})`);
  t.equal(after.userns, before.userns, 'no user namespace kept');
  t.ok(after.rssMiB - before.rssMiB < 40, `RSS flat within 40 MiB (${(after.rssMiB - before.rssMiB).toFixed(1)} MiB)`);
  t.equal(engine.dynos.length, 0, 'no live dyno left');
});
