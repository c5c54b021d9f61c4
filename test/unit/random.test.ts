import t from 'tap';
import { randomInt, randomUUID } from '../../src/linux/random';

t.test('randomUUID: RFC 4122 version 4, and no two alike', async (t) => {
  const all = Array.from({ length: 2000 }, () => randomUUID());
  t.same(all.filter((u) => !/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(u)), [], 'every one well-formed');
  t.equal(new Set(all).size, 2000);
  // the version and variant bits are set, the rest is random: each of the other hex digits takes many values
  t.ok(new Set(all.map((u) => u[0])).size > 10, 'the first digit varies');
  // every digit but the version's comes from its own random bits: each takes all its values
  const digits = all[0]!.split('').map((c, i) => i).filter((i) => all[0]![i] !== '-' && i !== 14);
  const narrow = digits.filter((i) => new Set(all.map((u) => u[i])).size !== (i === 19 ? 4 : 16));
  t.same(narrow, [], 'each random digit takes all 16 values (the variant digit 8, 9, a, b)');
});

t.test('randomInt: every value of the range, none outside, about as often each', async (t) => {
  const counts = new Map<number, number>();
  const n = 20_000;
  for (let i = 0; i < n; i++) {
    const v = randomInt(3, 8);
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  t.same([...counts.keys()].sort(), [3, 4, 5, 6, 7]);
  // 4,000 expected each: 5 standard deviations (~280) either side
  for (const [v, c] of counts) t.ok(Math.abs(c - n / 5) < 5 * Math.sqrt((n * 0.2 * 0.8)), `${v}: ${c} times`);
  t.equal(randomInt(0, 1), 0, 'a range of one');
  t.ok(randomInt(0, 2 ** 32) < 2 ** 32, 'the widest range');
});

t.test('randomInt: a range it cannot draw from is a RangeError', async (t) => {
  for (const [a, b] of [[5, 5], [5, 4], [0, 2 ** 32 + 1], [0.5, 3], [0, Infinity]] as const)
    t.throws(() => randomInt(a, b), RangeError, `${a}..${b}`);
});
