import t from 'tap';
import { DEFAULT_SIZE, SIZES, findSize } from '../../src/dyno/sizes';
import { UsageError } from '../../src/errors';

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
