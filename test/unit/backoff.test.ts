// Heroku's crash-restart schedule, with a deterministic random source.
import t from 'tap';
import { Backoff, COOL_OFF_MINUTES } from '../../src/formation/backoff';

t.test('heroku: at once, then 20, 40, 60, 180, 320 min (half to full), then every 320', async (t) => {
  const lo = new Backoff('heroku', 1, () => 0);
  const hi = new Backoff('heroku', 1, () => 0.999999);
  const mins = (ms: number | null) => (ms === null ? null : Math.round(ms / 60_000));
  const seqLo = Array.from({ length: 8 }, () => mins(lo.next()));
  const seqHi = Array.from({ length: 8 }, () => mins(hi.next()));
  t.same(seqLo, [0, 10, 20, 30, 90, 160, 160, 160]);
  t.same(seqHi, [0, 20, 40, 60, 180, 320, 320, 320]);
  t.same(COOL_OFF_MINUTES, [20, 40, 60, 180, 320]);
});

t.test('scale shrinks every cool-off and the stable time', async (t) => {
  const b = new Backoff('heroku', 0.001, () => 0.5);
  t.same([b.next(), b.next(), b.next()], [0, 900, 1800]);
  t.equal(b.stableMs, 600);
  t.same(Backoff.bounds(2, 0.001), [1200, 2400]);
});

t.test('reset forgets the crashes; always and never', async (t) => {
  const b = new Backoff('heroku', 1, () => 0);
  b.next();
  b.next();
  b.reset();
  t.equal(b.next(), 0, 'after a reset the next crash restarts at once');
  const always = new Backoff('always', 1);
  t.same([always.next(), always.next(), always.next()], [0, 0, 0]);
  const never = new Backoff('never', 1);
  t.equal(never.next(), null);
  t.equal(never.crashes, 1, 'never still counts');
});
