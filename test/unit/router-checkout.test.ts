import t from 'tap';
import { Checkout, NoPick, type Waiter } from '../../src/router/checkout';
import type { BackendState } from '../../src/router/backend-state';
import type { Backend } from '../../src/router/types';
import { prng } from '../helpers/router';

// ============================================================================
// vegur's checkout step (src/router/checkout.ts): a random dyno with room, not
// quarantined, not tried; the per-dyno limit and the backlog.

const backend = (name: string): Backend => ({ name, connect: () => Promise.reject(new Error('not here')) });
const picked = (p: BackendState | NoPick): string => (typeof p === 'number' ? `NoPick ${p}` : p.backend.name);

t.test('uniform among eligible dynos, whatever the first random choice', async (t) => {
  const bs = ['web.1', 'web.2', 'web.3'].map(backend);
  const c = new Checkout(1_000_000, 50, prng(1));
  c.refresh(bs);
  const counts: Record<string, number> = {};
  for (let i = 0; i < 30_000; i++) {
    const p = c.pick(null, 0);
    const n = picked(p);
    counts[n] = (counts[n] ?? 0) + 1;
  }
  for (const n of ['web.1', 'web.2', 'web.3']) t.ok(Math.abs(counts[n]! - 10_000) < 400, `${n}: ${counts[n]}`);
  // web.2 quarantined: the others share its part
  const s = c.states();
  s[1]!.quarantine(10, 'H21');
  const q: Record<string, number> = {};
  for (let i = 0; i < 20_000; i++) {
    const n = picked(c.pick(null, 5));
    q[n] = (q[n] ?? 0) + 1;
  }
  t.same(Object.keys(q).sort(), ['web.1', 'web.3']);
  for (const n of ['web.1', 'web.3']) t.ok(Math.abs(q[n]! - 10_000) < 400, `${n}: ${q[n]}`);
  t.equal(picked(c.pick(null, 10)) !== '', true, 'the quarantine ends at its time');
});

t.test('room per dyno, backlog of backlogPerDyno × dynos, release lets the first waiter in', async (t) => {
  const c = new Checkout(2, 1, prng(2));
  c.refresh([backend('web.1'), backend('web.2')]);
  const got = [c.pick(null, 0), c.pick(null, 0), c.pick(null, 0), c.pick(null, 0)].map(picked).sort();
  t.same(got, ['web.1', 'web.1', 'web.2', 'web.2']);
  t.equal(c.pick(null, 0), NoPick.Full);
  const resumed: string[] = [];
  // a waiter takes its slot when it resumes, as an exchange does
  const w = (n: string): Waiter => ({
    resume: () => {
      resumed.push(n);
      c.pick(null, 0);
    },
  });
  t.ok(c.enqueue(w('a')));
  t.ok(c.enqueue(w('b')));
  t.notOk(c.enqueue(w('c')), 'backlog of 1 × 2 dynos is full: H11');
  t.equal(c.waiting, 2);
  c.release(c.states()[0]!, 0);
  t.same(resumed, ['a'], 'the first waiter, and only while there is room');
  t.equal(c.waiting, 1);
});

t.test('tried, quarantined, exhausted', async (t) => {
  const c = new Checkout(50, 50, prng(3));
  c.refresh([backend('web.1'), backend('web.2')]);
  const [a, b] = c.states() as [BackendState, BackendState];
  t.equal(picked(c.pick([a], 0)), 'web.2');
  t.equal(c.pick([a, b], 0), NoPick.Exhausted);
  b.quarantine(100, 'H19');
  t.equal(c.pick([a], 0), NoPick.Quarantined);
  t.equal(c.quarantineCode([a]), 'H19');
  c.refresh([]);
  t.equal(c.pick(null, 0), NoPick.Exhausted);
});

t.test('refresh keeps the state of a dyno still listed; drain takes a name out until it is replaced', async (t) => {
  const w1 = backend('web.1');
  const w2 = backend('web.2');
  const c = new Checkout(50, 50, prng(4));
  c.refresh([w1, w2]);
  const s1 = c.states()[0]!;
  s1.inFlight = 3;
  c.refresh([w2, w1]);
  t.equal(c.states().find((s) => s.backend === w1), s1);
  c.drain('web.1', [w1, w2]);
  t.same(c.states().map((s) => s.backend.name), ['web.2']);
  t.ok(s1.retired);
  c.refresh([w1, w2]);
  t.same(c.states().map((s) => s.backend.name), ['web.2'], 'the drained dyno stays out while listed');
  const w1b = backend('web.1');
  c.refresh([w1b, w2]);
  t.same(c.states().map((s) => s.backend.name).sort(), ['web.1', 'web.2'], 'a new dyno of that name comes in');
});
