// limitsFor, seen through planDyno: a size (and --memory/--cpus/--pids) → cgroup limits.
import t from 'tap';
import { planDyno, type DynoPlan } from '../../src/dyno/plan';
import type { DynoOptions } from '../../src/dyno/options';
import { SIZES } from '../../src/dyno/sizes';
import { CPU_PERIOD_US, cpuQuotaFor } from '../../src/cgroup';
import { UsageError } from '../../src/errors';
import { APP, fakeFacts } from './fixtures/facts';

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
  t.equal(CPU_PERIOD_US, 100000);
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

t.test('BUG: a numeric --memory bypasses the 4M minimum (planDyno({memory: 1}) gives a 1-byte cgroup)', async (t) => {
  t.throws(() => plan({ memory: 1 }), { name: 'UsageError', message: /too small/ });
  t.throws(() => plan({ memory: 4 * MiB - 1 }), { name: 'UsageError', message: /too small/ });
});
