import t from 'tap';
import { DEFAULT_SIZE, SIZES, findSize } from '../../src/dyno/sizes';
import { UsageError } from '../../src/errors';
import { parseBytes, parseCpus, parsePositiveInt } from '../../src/dyno/units';
import { planDyno, type DynoPlan } from '../../src/dyno/plan';
import type { DynoOptions } from '../../src/dyno/options';
import { CPU_PERIOD_US, cpuQuotaFor } from '../../src/cgroup';
import { APP, fakeFacts } from './fixtures/facts';

// ============================================================================
// Dyno sizes (heroku-dynos.md section 1), units parsing and the limits a size gives.
// ============================================================================
// The size table (src/dyno/sizes.ts)

t.test('every size from the Heroku table is there, case-insensitive', async (t) => {
  t.same(SIZES.map((s) => s.name), ['eco', 'basic', 'standard-1x', 'standard-2x', 'performance-m', 'performance-l', 'performance-l-ram', 'performance-xl', 'performance-2xl']);
  t.equal(findSize('Standard-2X').memoryMiB, 1024);
  t.equal(findSize('PERFORMANCE-M').vcpus, 2);
  t.equal(findSize('performance-l').processLimit, 32768);
});

t.test('an unknown size names the valid ones', async (t) => {
  t.throws(() => findSize('standard-3x'), { message: /unknown size "standard-3x"; valid sizes: eco, basic, standard-1x/ });
  t.throws(() => findSize('nope'), UsageError);
});

// heroku-dynos.md section 1: RAM, R15 kill threshold, CPU share or vCPUs, process limit, tenancy.
const GB = 1024;
const TABLE: Array<[string, string, number, number, number | null, number | null, number, boolean]> = [
  // name, label, memoryMiB, killMiB, cpuShare, vcpus, processLimit, dedicated
  ['eco', 'Eco', 512, 1 * GB, 1, null, 256, false],
  ['basic', 'Basic', 512, 1 * GB, 1, null, 256, false],
  ['standard-1x', 'Standard-1X', 512, 1 * GB, 1, null, 256, false],
  ['standard-2x', 'Standard-2X', 1024, 2 * GB, 2, null, 512, false],
  ['performance-m', 'Performance-M', 2560, 5 * GB, null, 2, 16384, true],
  ['performance-l', 'Performance-L', 14336, 28 * GB, null, 8, 32768, true],
  ['performance-l-ram', 'Performance-L-RAM', 30 * GB, 36 * GB, null, 4, 24576, true],
  ['performance-xl', 'Performance-XL', 62 * GB, 74 * GB, null, 8, 32768, true],
  ['performance-2xl', 'Performance-2XL', 126 * GB, 151 * GB, null, 16, 65536, true],
];

t.test('every size matches the reference table, number for number', async (t) => {
  t.equal(SIZES.length, TABLE.length);
  for (const [name, label, memoryMiB, killMiB, cpuShare, vcpus, processLimit, dedicated] of TABLE) {
    t.same(findSize(name), { name, label, memoryMiB, killMiB, cpuShare, vcpus, processLimit, dedicated }, name);
  }
});

t.test('shared sizes are killed at 2x their RAM, big performance sizes at 1.2x', async (t) => {
  for (const s of SIZES) {
    const ratio = s.killMiB / s.memoryMiB;
    if (['performance-l-ram', 'performance-xl', 'performance-2xl'].includes(s.name)) t.ok(ratio > 1.19 && ratio < 1.21, `${s.name} ${ratio}`);
    else t.equal(ratio, 2, s.name);
    t.equal(s.cpuShare === null, s.dedicated, `${s.name}: a share exactly when shared`);
    t.equal(s.vcpus === null, !s.dedicated, `${s.name}: vCPUs exactly when dedicated`);
  }
});

t.test('findSize trims and ignores case; the table cannot be changed', async (t) => {
  t.equal(findSize('  eco ').name, 'eco');
  t.equal(findSize('Performance-L-RAM').name, 'performance-l-ram');
  t.ok(Object.isFrozen(SIZES));
  t.throws(() => findSize(''), UsageError);
  t.throws(() => findSize('private-m'), { message: /unknown size "private-m"/ });
});

t.test('the default size is standard-1x', async (t) => {
  t.equal(DEFAULT_SIZE, 'standard-1x');
});

// ============================================================================
// Units: --memory, --cpus, --pids, --port (src/dyno/units.ts)

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
  ];
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

t.test('parseBytes(number) enforces the same 4M minimum as parseBytes(string)', async (t) => {
  t.throws(() => parseBytes(1), { message: /too small/ }, 'parseBytes(1) throws');
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

// ============================================================================
// limitsFor, seen through planDyno: a size (and --memory/--cpus/--pids) → cgroup limits.

const MiB = 1024 * 1024;
const plan = (opts: Partial<DynoOptions>, hostCpus = 4): DynoPlan => planDyno({ command: ['true'], ...opts }, fakeFacts({ hostCpus }), APP);

t.test('the default dyno is a standard-1x', async (t) => {
  const p = plan({});
  t.same(p.size, { name: 'standard-1x', label: 'Standard-1X' });
  t.same(p.limits, { memoryBytes: 512 * MiB, memorySwapBytes: 1024 * MiB, cpuWeight: 100, cpuQuota: null, pids: 256 });
  t.equal(p.killBytes, 1024 * MiB);
  t.same(p.rlimits, { nproc: 256, nofile: 10000 });
});

t.test('shared sizes get a CPU weight of 100 per share and no quota', async (t) => {
  for (const name of ['eco', 'basic', 'standard-1x']) {
    const p = plan({ size: name });
    t.equal(p.limits.cpuWeight, 100, name);
    t.equal(p.limits.cpuQuota, null, name);
  }
  const p = plan({ size: 'standard-2x' });
  t.equal(p.limits.cpuWeight, 200);
  t.equal(p.limits.cpuQuota, null);
  t.equal(p.limits.memoryBytes, 1024 * MiB);
  t.equal(p.limits.memorySwapBytes, 2048 * MiB);
  t.equal(p.killBytes, 2048 * MiB);
  t.equal(p.limits.pids, 512);
  t.equal(p.rlimits.nproc, 512);
});

t.test('every size: memory, kill point, pids and RLIMIT_NPROC come from the table', async (t) => {
  for (const s of SIZES) {
    const p = plan({ size: s.name.toUpperCase() }, 64);
    t.equal(p.size.name, s.name);
    t.equal(p.size.label, s.label);
    t.equal(p.limits.memoryBytes, s.memoryMiB * MiB, `${s.name} memory`);
    t.equal(p.limits.memorySwapBytes, s.killMiB * MiB, `${s.name} memory+swap`);
    t.equal(p.killBytes, s.killMiB * MiB, `${s.name} kill`);
    t.equal(p.limits.pids, s.processLimit, `${s.name} pids`);
    t.equal(p.rlimits.nproc, s.processLimit, `${s.name} nproc`);
    t.equal(p.rlimits.nofile, 10000);
    t.ok(p.limits.memorySwapBytes >= p.limits.memoryBytes);
  }
});

t.test('performance sizes get a CPU quota of min(vCPUs, host CPUs) and no weight', async (t) => {
  const cases: Array<[string, number, number]> = [
    // size, host CPUs, CPUs of quota
    ['performance-m', 64, 2],
    ['performance-m', 1, 1],
    ['performance-l', 64, 8],
    ['performance-l', 4, 4],
    ['performance-l-ram', 64, 4],
    ['performance-l-ram', 2, 2],
    ['performance-xl', 8, 8],
    ['performance-2xl', 64, 16],
    ['performance-2xl', 12, 12],
  ];
  for (const [size, hostCpus, cpus] of cases) {
    const p = plan({ size }, hostCpus);
    t.equal(p.limits.cpuWeight, null, `${size} on ${hostCpus}: no weight`);
    t.same(p.limits.cpuQuota, { quotaUs: cpus * 100000, periodUs: 100000 }, `${size} on ${hostCpus} CPUs`);
  }
});

t.test('a CPU quota is what the kernel accepts and means the CPUs asked for', async (t) => {
  // cpu.cfs_period_us / cpu.max: the kernel takes a period of 1 ms to 1 s and a quota of at
  // least 1 ms; the CPUs a dyno gets are quota / period.
  for (const cpus of [0.01, 0.25, 0.5, 1, 1.5, 2, 3.75, 8, 16, 64, 1024]) {
    const q = cpuQuotaFor(cpus);
    t.ok(q.periodUs >= 1000 && q.periodUs <= 1_000_000, `${cpus}: period ${q.periodUs} us in [1 ms, 1 s]`);
    t.ok(Number.isInteger(q.quotaUs) && Number.isInteger(q.periodUs), `${cpus}: whole microseconds`);
    t.ok(q.quotaUs >= 1000, `${cpus}: quota ${q.quotaUs} us >= 1 ms`);
    t.ok(Math.abs(q.quotaUs / q.periodUs - cpus) < 1e-5, `${cpus}: quota/period = ${q.quotaUs / q.periodUs}`);
    t.equal(q.periodUs, CPU_PERIOD_US, `${cpus}: one period for every dyno`);
  }
});

t.test('cpuQuotaFor rounds and never goes under 1 ms per period', async (t) => {
  t.same(cpuQuotaFor(0.5), { quotaUs: 50000, periodUs: 100000 });
  t.same(cpuQuotaFor(1.234567), { quotaUs: 123457, periodUs: 100000 });
  t.same(cpuQuotaFor(0.001), { quotaUs: 1000, periodUs: 100000 });
  t.same(cpuQuotaFor(0.0001), { quotaUs: 1000, periodUs: 100000 });
});

t.test('--memory replaces the RAM quota and keeps the size kill ratio', async (t) => {
  let p = plan({ memory: '128M' });
  t.equal(p.limits.memoryBytes, 128 * MiB);
  t.equal(p.killBytes, 256 * MiB, 'shared: 2x');
  t.equal(p.limits.memorySwapBytes, 256 * MiB);
  t.equal(p.limits.cpuWeight, 100, 'CPU untouched');
  t.equal(p.limits.pids, 256, 'pids untouched');

  p = plan({ size: 'performance-l-ram', memory: '1G' }, 64);
  t.equal(p.limits.memoryBytes, 1024 * MiB);
  t.equal(p.killBytes, Math.floor(1024 * MiB * 1.2), 'L-RAM: 1.2x');
  t.equal(p.limits.memorySwapBytes, p.killBytes);
  t.same(p.limits.cpuQuota, { quotaUs: 400000, periodUs: 100000 }, 'CPU untouched');

  p = plan({ size: 'performance-2xl', memory: '10g' }, 64);
  t.equal(p.killBytes, Math.floor(10 * 1024 * MiB * (151 / 126)));

  p = plan({ size: 'performance-m', memory: 256 * MiB }, 64);
  t.equal(p.limits.memoryBytes, 256 * MiB, 'a number is bytes');
  t.equal(p.killBytes, 512 * MiB);
});

t.test('--cpus replaces the weight with a quota, capped at the host CPUs', async (t) => {
  let p = plan({ cpus: '0.5' });
  t.equal(p.limits.cpuWeight, null);
  t.same(p.limits.cpuQuota, { quotaUs: 50000, periodUs: 100000 });
  p = plan({ size: 'standard-2x', cpus: 2 });
  t.equal(p.limits.cpuWeight, null);
  t.same(p.limits.cpuQuota, { quotaUs: 200000, periodUs: 100000 });
  p = plan({ size: 'performance-l', cpus: '1.5' }, 64);
  t.same(p.limits.cpuQuota, { quotaUs: 150000, periodUs: 100000 }, 'replaces the performance quota too');
  p = plan({ cpus: '32' }, 4);
  t.same(p.limits.cpuQuota, { quotaUs: 400000, periodUs: 100000 }, 'capped at the host');
  t.equal(p.limits.memoryBytes, 512 * MiB, 'memory untouched');
});

t.test('--pids replaces the process limit and RLIMIT_NPROC', async (t) => {
  let p = plan({ pids: '64' });
  t.equal(p.limits.pids, 64);
  t.equal(p.rlimits.nproc, 64);
  p = plan({ size: 'performance-m', pids: 100000 }, 64);
  t.equal(p.limits.pids, 100000);
  t.equal(p.rlimits.nproc, 100000);
  t.throws(() => plan({ pids: '0' }), { message: /--pids "0": must be a whole number from 1 to 4194304/ });
  t.throws(() => plan({ pids: '1.5' }), UsageError);
  t.throws(() => plan({ pids: '-3' }), UsageError);
  t.throws(() => plan({ pids: '4194305' }), UsageError);
});

t.test('bad --memory and --cpus fail the plan with a UsageError', async (t) => {
  t.throws(() => plan({ memory: 'lots' }), { name: 'UsageError', message: /--memory "lots": not a size/ });
  t.throws(() => plan({ memory: '1M' }), { name: 'UsageError', message: /too small; the minimum is 4M/ });
  t.throws(() => plan({ cpus: '0' }), { name: 'UsageError', message: /--cpus "0": must be a number of CPUs greater than 0/ });
  t.throws(() => plan({ cpus: 'two' }), UsageError);
});

t.test('a numeric memory option gets the same 4M minimum as a string (no 1-byte cgroup from planDyno({memory: 1}))', async (t) => {
  t.throws(() => plan({ memory: 1 }), { name: 'UsageError', message: /too small/ });
  t.throws(() => plan({ memory: 4 * MiB - 1 }), { name: 'UsageError', message: /too small/ });
});
