// dynod start gives malloc's free pages back once its formation has settled (idle-trim.ts).
import t from 'tap';
import { trimWhenSettled, type Settling } from '../../src/cli/idle-trim';
import { native } from '../../src/native';

function fakeFormation(states: string[]) {
  const listeners = new Set<() => void>();
  const f = {
    states,
    onChange: (cb: () => void) => (listeners.add(cb), () => void listeners.delete(cb)),
    select: () => f.states.map((state) => ({ state })),
    change: () => listeners.forEach((cb) => cb()),
    listeners,
  };
  return f;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('one trim once nothing has changed for the settle time, none while a dyno starts or stops', async (t) => {
  const f = fakeFormation(['starting', 'up']);
  let trims = 0;
  const stop = trimWhenSettled(f as unknown as Settling, { settleMs: 30, trim: () => (trims++, [2, 1]) });
  f.change();
  await sleep(80);
  t.equal(trims, 0, 'a dyno still starting: no trim');
  f.states = ['up', 'up'];
  f.change();
  await sleep(10);
  f.change(); // a burst of changes: the settle time counts from the last
  await sleep(10);
  t.equal(trims, 0, 'not before the settle time');
  await sleep(80);
  t.equal(trims, 1, 'one trim after it');
  await sleep(80);
  t.equal(trims, 1, 'and no more without a change');
  f.states = ['stopping', 'up'];
  f.change();
  await sleep(80);
  t.equal(trims, 1, 'a dyno stopping: no trim');
  stop();
  f.states = ['up'];
  f.change();
  await sleep(80);
  t.equal(trims, 1, 'stopped: no trim, no listener');
  t.equal(f.listeners.size, 0);
});

t.test('the native trim returns malloc\'s free pages: RSS after ≤ before', async (t) => {
  // free a few MiB of small blocks (below the mmap threshold, so they stay in the heap)
  let junk: Buffer[] | null = Array.from({ length: 4000 }, () => Buffer.allocUnsafeSlow(1000));
  junk = null;
  void junk;
  const [before, after] = native().trimMemory();
  t.ok(before > 0 && after > 0, `RSS ${before} → ${after}`);
  t.ok(after <= before, 'no larger');
});
