import t from 'tap';
import { parseBytes, parseCpus, parsePositiveInt } from '../../src/dyno/units';
import { UsageError } from '../../src/errors';

const K = 1024;
const M = K * K;
const G = M * K;

t.test('parseBytes: plain bytes and K/M/G/T suffixes, with or without B or iB, any case', async (t) => {
  const cases: Array<[string | number, number]> = [
    ['1073741824', G],
    ['4194304', 4 * M],
    ['4M', 4 * M],
    ['128M', 128 * M],
    ['128m', 128 * M],
    ['128MB', 128 * M],
    ['128mb', 128 * M],
    ['128MiB', 128 * M],
    ['128mib', 128 * M],
    ['8192K', 8 * M],
    ['8192KiB', 8 * M],
    ['1G', G],
    ['1g', G],
    ['1.5g', 1.5 * G],
    ['1GB', G],
    ['2T', 2 * K * G],
    [' 256M ', 256 * M],
    ['256 M', 256 * M],
    ['5000000B', 5000000],
    ['1.0000001M', 4 * M + 0], // placeholder replaced below
  ];
  cases.pop();
  for (const [input, bytes] of cases) t.equal(parseBytes(input), bytes, JSON.stringify(input));
  t.equal(parseBytes('10.7M'), Math.floor(10.7 * M), 'fractions are floored to whole bytes');
  t.equal(parseBytes(64 * M), 64 * M, 'a number is bytes');
  t.equal(parseBytes(64 * M + 0.5), 64 * M, 'a fractional number is floored');
});

t.test('parseBytes: malformed sizes name the option and give an example', async (t) => {
  for (const bad of ['', ' ', 'M', '12Q', '12 MBs', '-1G', '+1G', '1e9', '0x10', '1,5G', '1.G', '.5G', 'Infinity', 'NaN', '1G2', '1 G B']) {
    t.throws(() => parseBytes(bad), { name: 'UsageError', message: `--memory ${JSON.stringify(bad)}: not a size; use bytes or a number with K, M, G or T (e.g. 128M)` }, JSON.stringify(bad));
  }
  t.throws(() => parseBytes('x', '--shm-size'), { message: /^--shm-size "x": not a size/ });
  t.throws(() => parseBytes(NaN), UsageError);
  t.throws(() => parseBytes(Infinity), UsageError);
  t.throws(() => parseBytes(-5), UsageError);
});

t.test('parseBytes: less than 4M is refused', async (t) => {
  for (const small of ['0', '1', '4095K', '3.99M', '1k', '4194303'])
    t.throws(() => parseBytes(small), { name: 'UsageError', message: `--memory ${small}: too small; the minimum is 4M` }, small);
  t.throws(() => parseBytes(0), UsageError, 'the number 0');
});

t.test('BUG: parseBytes(number) skips the 4M minimum that parseBytes(string) enforces', async (t) => {
  t.throws(() => parseBytes(1), { message: /too small/ }, 'parseBytes(1) returns 1 instead of throwing');
  t.throws(() => parseBytes(4 * M - 1), { message: /too small/ });
});

t.test('parseCpus: positive numbers up to 1024', async (t) => {
  t.equal(parseCpus('0.5'), 0.5);
  t.equal(parseCpus('2'), 2);
  t.equal(parseCpus(' 1.25 '), 1.25);
  t.equal(parseCpus(3), 3);
  t.equal(parseCpus('1024'), 1024);
  t.equal(parseCpus(0.01), 0.01);
});

t.test('parseCpus: errors name the option', async (t) => {
  for (const bad of ['0', '-1', '', '  ', 'two', '1025', 'Infinity', 'NaN', '1,5', '1.5.1'])
    t.throws(() => parseCpus(bad), { name: 'UsageError', message: `--cpus ${JSON.stringify(bad)}: must be a number of CPUs greater than 0 (e.g. 0.5 or 2)` }, JSON.stringify(bad));
  for (const bad of [0, -0.5, NaN, Infinity, 2000]) t.throws(() => parseCpus(bad), UsageError, String(bad));
  t.throws(() => parseCpus('x', '--cpu-quota'), { message: /^--cpu-quota "x"/ });
});

t.test('parsePositiveInt: whole numbers in range, as strings or numbers', async (t) => {
  t.equal(parsePositiveInt('1', '--pids'), 1);
  t.equal(parsePositiveInt(' 42 ', '--pids'), 42);
  t.equal(parsePositiveInt(8080, '--port', 1, 65535), 8080);
  t.equal(parsePositiveInt('65535', '--port', 1, 65535), 65535);
  t.equal(parsePositiveInt('4194304', '--pids'), 4194304);
  t.equal(parsePositiveInt('0', '--x', 0, 5), 0);
});

t.test('parsePositiveInt: errors say the allowed range', async (t) => {
  for (const bad of ['0', '65536', '-1', '+1', '1.0', '1e3', '', 'abc', '0x10', '1 2'])
    t.throws(() => parsePositiveInt(bad, '--port', 1, 65535), { name: 'UsageError', message: `--port ${JSON.stringify(bad)}: must be a whole number from 1 to 65535` }, JSON.stringify(bad));
  t.throws(() => parsePositiveInt(1.5, '--pids'), { message: '--pids "1.5": must be a whole number from 1 to 4194304' });
  t.throws(() => parsePositiveInt(4194305, '--pids'), UsageError);
});
