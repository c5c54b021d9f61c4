// Resource limits: what the kernel enforces, read from inside the dyno and from the host.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { DYNOD, hostEnv, run, spawnCollect, spawnDynod, lines, waitFor } from '../helpers/dynod';
import { tempApp } from '../helpers/app';
import { CGROUP_V2, cgroupProcs, dynoCgroupDirs, dynodRoot, readTrim } from '../helpers/host';
import { runLib } from '../helpers/lib';
import { plan, start } from '../../src/index';

const MiB = 1024 * 1024;
const HOST_CPUS = os.availableParallelism();
// inside a dyno /sys/fs/cgroup is its own cgroup2 on v2, and one directory per v1 controller on v1
const IN_MEMORY_LIMIT = CGROUP_V2 ? '/sys/fs/cgroup/memory.max' : '/sys/fs/cgroup/memory/memory.limit_in_bytes';
const IN_PIDS_MAX = CGROUP_V2 ? '/sys/fs/cgroup/pids.max' : '/sys/fs/cgroup/pids/pids.max';

const FORK_BOMB = `
import os, time
n = 0
try:
    while True:
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        n += 1
except OSError as e:
    print(n, e.errno, flush=True)
time.sleep(1.5)
`;

t.test('memory: 256 MiB with --memory 128M is killed (137) with R15; the host saw the limit while it ran', async (t) => {
  const app = tempApp(t);
  const d = spawnDynod(['run', '--app', app, '--memory', '128M', '--', 'sh', '-c',
    `cat ${IN_MEMORY_LIMIT}; echo ready; sleep 1; exec python3 -c "b = bytearray(b'x') * (256 * 1024 * 1024); print(len(b))"`]);
  await d.waitForStdout(/ready\n/);
  const [dir] = dynoCgroupDirs('memory', d.pid);
  t.ok(dir, 'the dyno\'s memory cgroup exists while it runs');
  t.match(path.relative(dynodRoot('memory'), dir!), /^run\/run\.\d+-[0-9a-f]{8}$/, 'dynod/run/<name>-<id8>');
  if (CGROUP_V2) {
    t.equal(readTrim(`${dir}/memory.max`), String(128 * MiB));
    if (fs.existsSync(`${dir}/memory.swap.max`)) t.equal(readTrim(`${dir}/memory.swap.max`), String(128 * MiB), 'swap: up to twice the RAM in all (standard-1x ratio)');
    t.equal(readTrim(`${dir}/memory.oom.group`), '1', 'an OOM kill takes the whole dyno');
  } else {
    t.equal(readTrim(`${dir}/memory.limit_in_bytes`), String(128 * MiB));
    if (fs.existsSync(`${dir}/memory.memsw.limit_in_bytes`)) t.equal(readTrim(`${dir}/memory.memsw.limit_in_bytes`), String(256 * MiB), 'RAM+swap: twice the RAM (standard-1x ratio)');
  }
  // sh forks sleep right after "ready"
  t.equal(await waitFor(() => cgroupProcs(dir!).length === 3 && 3, 3000, 'sleep').catch(() => cgroupProcs(dir!).length), 3, 'init, sh and sleep are in it');
  const r = await d.result;
  t.equal(r.code, 137, `status (stderr: ${r.stderr})`);
  t.equal(r.stdout, `${128 * MiB}\nready\n`);
  t.equal(r.stderr, 'Error R15 (Memory quota vastly exceeded)\n');
  t.notOk(fs.existsSync(dir!), 'the cgroup is removed afterwards');
});

t.test('memory: staying under the limit is fine, and no R15 is reported', async (t) => {
  const app = tempApp(t);
  const r = await run(['python3', '-c', 'b = bytearray(b"x") * (64 * 1024 * 1024); print(len(b))'], ['--app', app, '--memory', '128M']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, `${64 * MiB}\n`);
  t.equal(r.stderr, '');
});

t.test('memory: the library reports oomKilled', async (t) => {
  const app = tempApp(t);
  const r = await runLib({ command: ['python3', '-c', 'b = bytearray(b"x") * (256 * 1024 * 1024)'], app, memory: '128M' });
  t.equal(r.exit.status, 137);
  if (CGROUP_V2) {
    // memory.oom.group kills the whole dyno, dynod-init (PID 1) included
    t.ok((r.exit.code === 137 && r.exit.signal === null) || (r.exit.code === null && r.exit.signal === 'SIGKILL'),
      `dynod-init exits 137 or is SIGKILLed with the dyno (code ${r.exit.code}, signal ${r.exit.signal})`);
  } else {
    t.equal(r.exit.code, 137, 'dynod-init exits 128+9 for its command');
    t.equal(r.exit.signal, null);
  }
  t.equal(r.exit.oomKilled, true);
  t.equal(r.exit.error, null);
});

t.test('pids: a fork bomb with --pids 64 stops at the limit; the host is unaffected', async (t) => {
  const app = tempApp(t);
  // as root, RLIMIT_NPROC does not apply: this is the cgroup's pids.max alone
  const d = spawnDynod(['run', '--app', app, '--pids', '64', '--user', 'root', '--', 'python3', '-c', FORK_BOMB]);
  await d.waitForStdout(/^\d+ \d+\n/);
  const [dir] = dynoCgroupDirs('pids', d.pid);
  t.ok(dir);
  t.equal(readTrim(`${dir}/pids.max`), '64');
  t.equal(readTrim(`${dir}/pids.current`), '64');
  t.equal(cgroupProcs(dir!).length, 64);
  // who refused the 63rd fork (pids.max or an RLIMIT_NPROC of the same value) is not the point
  t.comment(`pids.events: ${readTrim(`${dir}/pids.events`)}`);
  t.equal(execFileSync('sh', ['-c', 'echo host-can-fork']).toString(), 'host-can-fork\n');
  const r = await d.result;
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, '62 11\n', 'init + python + 62 children = 64; then EAGAIN');
  t.notOk(fs.existsSync(dir!));
});

t.test('pids: ulimit -u inside shows the limit', async (t) => {
  const app = tempApp(t);
  const r = await run(['bash', '-c', `ulimit -u; ulimit -Hu; cat ${IN_PIDS_MAX}; grep "Max processes" /proc/self/limits`], ['--app', app, '--pids', '64']);
  t.equal(r.code, 0, r.stderr);
  const out = lines(r.stdout);
  t.same(out.slice(0, 3), ['64', '64', '64']);
  t.match(out[3], /^Max processes\s+64\s+64\s+processes\s*$/);
});

t.test('pids: --pids above dynod\'s own hard RLIMIT_NPROC works with or without CAP_SYS_RESOURCE', async (t) => {
  const app = tempApp(t);
  // dynod started under a hard limit of 2000 processes; the dyno asks for 3000
  const argv = ['prlimit', '--nproc=2000:2000', '--', DYNOD, 'run', '--app', app, '--pids', '3000', '--', 'bash', '-c', `ulimit -u; ulimit -Hu; cat ${IN_PIDS_MAX}`];
  const r = await spawnCollect(argv, { env: hostEnv() }).result;
  t.equal(r.code, 0, r.stderr);
  const capSysResource = (BigInt(`0x${/^CapEff:\s+([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]}`) >> 24n) & 1n;
  const rlimit = capSysResource ? '3000' : '2000';
  t.same(lines(r.stdout), [rlimit, rlimit, '3000'], `RLIMIT_NPROC ${rlimit} (CAP_SYS_RESOURCE ${capSysResource ? 'held' : 'not held'}); pids.max 3000 either way`);
});

t.test('pids: another dyno\'s processes do not count against this dyno\'s limit', async (t) => {
  // RLIMIT_NPROC counts every process of the uid on the host. All dynos run as uid
  // 30000, so a busy neighbour must not eat into this dyno's process limit.
  const app = tempApp(t);
  const neighbour = await start({ command: ['sh', '-c', 'for i in $(seq 40); do sleep 30 & done; echo ready; wait'], app }, { stdout: 'pipe', stderr: 'ignore' });
  t.teardown(async () => {
    neighbour.kill('SIGKILL');
    await neighbour.wait();
  });
  await new Promise<void>((resolve) => {
    let buf = '';
    neighbour.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      if (buf.includes('ready')) resolve();
    });
  });
  const r = await run(['python3', '-c', FORK_BOMB], ['--app', app, '--pids', '64']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, '62 11\n', 'the neighbour\'s 41 processes must not matter');
});

t.test('cpu: --cpus 0.5 sets a quota of 50000/100000 and a busy loop gets about half a CPU', async (t) => {
  const app = tempApp(t);
  const busy = `
import time
d = ${CGROUP_V2
    ? "open('/sys/fs/cgroup/cpu.max').read().strip()"
    : "open('/sys/fs/cgroup/cpu/cpu.cfs_quota_us').read().strip() + ' ' + open('/sys/fs/cgroup/cpu/cpu.cfs_period_us').read().strip()"}
print(d)
t0 = time.monotonic(); c0 = time.process_time()
while time.monotonic() - t0 < 2:
    pass
print('%.3f' % ((time.process_time() - c0) / (time.monotonic() - t0)))
stat = dict(l.split() for l in open('${CGROUP_V2 ? '/sys/fs/cgroup/cpu.stat' : '/sys/fs/cgroup/cpu/cpu.stat'}'))
print(stat['nr_throttled'])
`;
  const r = await run(['python3', '-c', busy], ['--app', app, '--cpus', '0.5']);
  t.equal(r.code, 0, r.stderr);
  const [quota, ratio, throttled] = lines(r.stdout);
  t.equal(quota, '50000 100000');
  const share = Number(ratio);
  t.ok(share >= 0.3 && share <= 0.6, `CPU seconds per second: ${share} (expected about 0.5)`);
  t.ok(Number(throttled) >= 1, `throttled ${throttled} periods`);
});

t.test('cpu: --cpus above the host\'s CPU count is capped at the host\'s', async (t) => {
  const app = tempApp(t);
  const r = await run(['cat', CGROUP_V2 ? '/sys/fs/cgroup/cpu.max' : '/sys/fs/cgroup/cpu/cpu.cfs_quota_us'], ['--app', app, '--cpus', String(HOST_CPUS + 2)]);
  t.equal(r.stdout, CGROUP_V2 ? `${HOST_CPUS * 100000} 100000\n` : `${HOST_CPUS * 100000}\n`);
});

interface Expected {
  memory: number;
  memsw: number;
  shares: number;
  quota: number;
  pids: number;
}

const SIZE_CASES: Array<[string, Expected]> = [
  ['standard-1x', { memory: 512 * MiB, memsw: 1024 * MiB, shares: 1024, quota: -1, pids: 256 }],
  ['standard-2x', { memory: 1024 * MiB, memsw: 2048 * MiB, shares: 2048, quota: -1, pids: 512 }],
  ['performance-m', { memory: 2560 * MiB, memsw: 5120 * MiB, shares: 1024, quota: Math.min(2, HOST_CPUS) * 100000, pids: 16384 }],
];

/**
 * The same limits as v2 files: memory.max, memory.swap.max (the kill threshold
 * minus the RAM), cpu.weight (100 per 1024 v1 shares), cpu.max ("quota period",
 * "max" for none), pids.max.
 */
function v2Expected(want: Expected): string[] {
  return [want.memory, want.memsw - want.memory, want.shares / 1024 * 100, `${want.quota === -1 ? 'max' : want.quota} 100000`, want.pids].map(String);
}

for (const [size, want] of SIZE_CASES) {
  if (CGROUP_V2) {
    t.test(`--size ${size}: cgroup limits inside the dyno and on the host (cgroup v2)`, async (t) => {
      const app = tempApp(t);
      const inside = await run(['bash', '-c', 'cd /sys/fs/cgroup; cat memory.max memory.swap.max cpu.weight cpu.max pids.max; ulimit -u'], ['--app', app, '--size', size]);
      t.equal(inside.code, 0, inside.stderr);
      t.same(lines(inside.stdout), [...v2Expected(want), String(want.pids)]);

      const p = plan({ command: ['sleep', '0.5'], app, size });
      let host: string[] = [];
      const r = await runLib(p, (dyno) => {
        const dirs = dyno.cgroupDirs;
        const name = `run/${dyno.plan.name}-${dyno.id.slice(0, 8)}`;
        t.same(dirs, [path.join(dynodRoot('memory'), name)], 'one cgroup, dynod/run/<name>-<id8>');
        const [dir] = dirs as [string];
        host = ['memory.max', 'memory.swap.max', 'cpu.weight', 'cpu.max', 'pids.max'].map((f) => readTrim(`${dir}/${f}`));
      });
      t.equal(r.exit.status, 0);
      t.same(host, v2Expected(want));
      for (const d of r.dyno.cgroupDirs) t.notOk(fs.existsSync(d), `${d} removed`);
    });
    continue;
  }
  t.test(`--size ${size}: cgroup limits inside the dyno and on the host`, async (t) => {
    const app = tempApp(t);
    const inside = await run(['bash', '-c', 'cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes cpu/cpu.shares cpu/cpu.cfs_quota_us pids/pids.max; ulimit -u'], ['--app', app, '--size', size]);
    t.equal(inside.code, 0, inside.stderr);
    t.same(lines(inside.stdout), [want.memory, want.memsw, want.shares, want.quota, want.pids, want.pids].map(String));

    const p = plan({ command: ['sleep', '0.5'], app, size });
    let host: string[] = [];
    const r = await runLib(p, (dyno) => {
      const dirs = dyno.cgroupDirs;
      const name = `run/${dyno.plan.name}-${dyno.id.slice(0, 8)}`;
      t.same(dirs.slice(0, 3), ['memory', 'cpu', 'pids'].map((c) => path.join(dynodRoot(c), name)), 'one cgroup per controller, dynod/run/<name>-<id8>');
      t.same(dirs.slice(3), [], 'no cpuacct cgroup of its own (CPU time comes from cpu,cpuacct or /proc)');
      const [mem, cpu, pids] = dirs as [string, string, string];
      host = [
        readTrim(`${mem}/memory.limit_in_bytes`), readTrim(`${mem}/memory.memsw.limit_in_bytes`),
        readTrim(`${cpu}/cpu.shares`), readTrim(`${cpu}/cpu.cfs_quota_us`), readTrim(`${pids}/pids.max`),
      ];
    });
    t.equal(r.exit.status, 0);
    t.same(host, [want.memory, want.memsw, want.shares, want.quota, want.pids].map(String));
    for (const d of r.dyno.cgroupDirs) t.notOk(fs.existsSync(d), `${d} removed`);
  });
}
