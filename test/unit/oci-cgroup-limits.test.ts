// linux.resources → cgroup files (src/cgroup/container-limits.ts): conversions and write order, no kernel.
import t from 'tap';
import { cpuWeightFromShares, v1Writes, v2CpuMax, v2SwapMax, v2Writes, type CgroupWrite } from '../../src/cgroup/container-limits';
import { emptyResources, type ContainerResources } from '../../src/oci/resources';

const MiB = 1024 * 1024;

function res(edit: (r: ContainerResources) => void): ContainerResources {
  const r = emptyResources();
  edit(r);
  return r;
}

/** A cgroup whose files hold `files` (others missing). */
const reader = (files: Record<string, string>) => (_c: CgroupWrite['controller'], f: string) => files[f] ?? null;
const pairs = (ws: CgroupWrite[]) => ws.map((w) => `${w.file}=${w.value}`);

t.test('cpu.shares → cpu.weight as runc maps it: ends and default kept', async (t) => {
  t.equal(cpuWeightFromShares(2), 1);
  t.equal(cpuWeightFromShares(1), 1, 'below the range');
  t.equal(cpuWeightFromShares(3), 2);
  t.equal(cpuWeightFromShares(1024), 100, "v1's default is v2's default");
  t.equal(cpuWeightFromShares(512), 59);
  t.equal(cpuWeightFromShares(262143), 10000);
  t.equal(cpuWeightFromShares(262144), 10000);
  t.equal(cpuWeightFromShares(1_000_000), 10000, 'above the range');
});

t.test('v2 swap: OCI counts memory+swap, v2 swap alone', async (t) => {
  t.equal(v2SwapMax(null, null, false), null, 'nothing set');
  t.equal(v2SwapMax(null, 64 * MiB, true), null, 'limit alone leaves swap');
  t.equal(v2SwapMax(null, -1, true), 'max', 'unlimited memory, swap unset: unlimited swap');
  t.equal(v2SwapMax(-1, 64 * MiB, true), 'max');
  t.equal(v2SwapMax(128 * MiB, 64 * MiB, true), String(64 * MiB));
  t.equal(v2SwapMax(64 * MiB, 64 * MiB, true), '0', 'equal: no swap');
  t.throws(() => v2SwapMax(32 * MiB, 64 * MiB, true), /memory\+swap must be at least the memory limit/);
  t.throws(() => v2SwapMax(128 * MiB, null, false), /linux\.resources\.memory\.swap .*needs a memory limit/);
  t.throws(() => v2SwapMax(128 * MiB, -1, true), /needs a memory limit/);
});

t.test('v2 cpu.max: "quota period", max for -1, a field left out keeps the current one', async (t) => {
  t.equal(v2CpuMax(null, null, 'max 100000'), null);
  t.equal(v2CpuMax(50000, 100000, 'max 100000'), '50000 100000');
  t.equal(v2CpuMax(-1, 100000, null), 'max 100000');
  t.equal(v2CpuMax(20000, null, 'max 250000'), '20000 250000', 'quota only: the period stays');
  t.equal(v2CpuMax(null, 50000, '20000 100000'), '20000 50000', 'period only: the quota stays');
  t.equal(v2CpuMax(30000, null, null), '30000', 'no file to read: the kernel keeps its period');
});

t.test('v2 writes: every field in its file, swap before memory.max as runc', async (t) => {
  const r = res((r) => {
    r.memory = { limit: 64 * MiB, swap: 96 * MiB, reservation: 32 * MiB, disableOOMKiller: false };
    r.cpu = { shares: 1024, quota: 50000, period: 100000, cpus: '0-1', mems: '0' };
    r.pids.limit = 100;
  });
  t.same(pairs(v2Writes(r, reader({}))), [
    `memory.swap.max=${32 * MiB}`, `memory.max=${64 * MiB}`, `memory.low=${32 * MiB}`,
    'cpu.weight=100', 'cpu.max=50000 100000', 'cpuset.cpus=0-1', 'cpuset.mems=0', 'pids.max=100',
  ]);
  t.same(v2Writes(emptyResources(), reader({})), [], 'nothing set, nothing written');
  t.same(pairs(v2Writes(res((r) => (r.pids.limit = 0)), reader({}))), ['pids.max=max'], 'pids 0: unlimited');
  t.same(pairs(v2Writes(res((r) => (r.pids.limit = -1)), reader({}))), ['pids.max=max'], 'pids -1: unlimited');
  t.same(pairs(v2Writes(res((r) => (r.memory.limit = -1)), reader({}))), ['memory.swap.max=max', 'memory.max=max']);
  t.same(pairs(v2Writes(res((r) => (r.memory.limit = 0)), reader({}))), [], 'OCI 0 is unset');
});

t.test('v2 update of swap alone uses the memory.max in force', async (t) => {
  t.same(pairs(v2Writes(res((r) => (r.memory.swap = 100 * MiB)), reader({ 'memory.max': `${60 * MiB}\n` }))), [`memory.swap.max=${40 * MiB}`]);
  t.throws(() => v2Writes(res((r) => (r.memory.swap = 100 * MiB)), reader({ 'memory.max': 'max\n' })), /needs a memory limit/);
});

t.test('v2: swap "max" or "0" is not required (no swap accounting asks nothing), a real limit is', async (t) => {
  const w = (swap: number, limit: number) => v2Writes(res((r) => { r.memory.swap = swap; r.memory.limit = limit; }), reader({})).find((x) => x.file === 'memory.swap.max')!;
  t.equal(w(-1, 64 * MiB).required, false);
  t.equal(w(64 * MiB, 64 * MiB).required, false);
  t.equal(w(128 * MiB, 64 * MiB).required, true);
});

t.test('v2 refuses disableOOMKiller with the field named', async (t) => {
  t.throws(() => v2Writes(res((r) => (r.memory.disableOOMKiller = true)), reader({})), /^linux\.resources\.memory\.disableOOMKiller: cgroup v2 has no way/);
  t.same(v2Writes(res((r) => (r.memory.disableOOMKiller = false)), reader({})), [], 'false asks for what v2 does');
});

t.test('v1 memory and swap: written in an order the kernel accepts (memsw >= limit at each step)', async (t) => {
  const both = res((r) => { r.memory.limit = 64 * MiB; r.memory.swap = 128 * MiB; });
  const memsw = { 'memory.memsw.limit_in_bytes': '9223372036854771712\n' };
  t.same(pairs(v1Writes(both, reader({ ...memsw, 'memory.limit_in_bytes': '9223372036854771712\n' }))),
    [`memory.limit_in_bytes=${64 * MiB}`, `memory.memsw.limit_in_bytes=${128 * MiB}`], 'a new cgroup (huge limits): limit first, then memsw');
  t.same(pairs(v1Writes(both, reader({ ...memsw, 'memory.limit_in_bytes': `${32 * MiB}\n` }))),
    [`memory.memsw.limit_in_bytes=${128 * MiB}`, `memory.limit_in_bytes=${64 * MiB}`], 'growing from 32M: memsw first');
  const unlimited = res((r) => (r.memory.limit = -1));
  t.same(pairs(v1Writes(unlimited, reader({ ...memsw, 'memory.limit_in_bytes': `${32 * MiB}\n` }))),
    ['memory.memsw.limit_in_bytes=-1', 'memory.limit_in_bytes=-1'], 'unlimited memory takes unlimited swap along, swap first');
  t.same(pairs(v1Writes(unlimited, reader({}))), ['memory.limit_in_bytes=-1'], 'no swap accounting: the limit alone');
  t.throws(() => v1Writes(both, reader({ 'memory.limit_in_bytes': '1\n' })), /^linux\.resources\.memory\.swap: this kernel does not account swap/);
  t.throws(() => v1Writes(res((r) => { r.memory.limit = 64 * MiB; r.memory.swap = 32 * MiB; }), reader(memsw)), /must be at least the memory limit/);
});

t.test('v1 other fields: reservation, OOM killer, cpu, cpuset, pids', async (t) => {
  const r = res((r) => {
    r.memory.reservation = 16 * MiB;
    r.memory.disableOOMKiller = true;
    r.cpu = { shares: 512, quota: -1, period: 250000, cpus: '1', mems: '0' };
    r.pids.limit = 0;
  });
  t.same(pairs(v1Writes(r, reader({}))), [
    `memory.soft_limit_in_bytes=${16 * MiB}`, 'memory.oom_control=1',
    'cpu.shares=512', 'cpu.cfs_period_us=250000', 'cpu.cfs_quota_us=-1',
    'cpuset.cpus=1', 'cpuset.mems=0', 'pids.max=max',
  ]);
  t.same(v1Writes(emptyResources(), reader({})), []);
});
