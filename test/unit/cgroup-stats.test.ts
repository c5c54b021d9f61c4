// CgroupStats from the texts of cgroup files (src/cgroup/stats.ts): the same shape on v1 and v2.
import t from 'tap';
import { parseKeyed, parseValue, v1Stats, v2Stats, type V1Files, type V2Files } from '../../src/cgroup/stats';

const MiB = 1024 * 1024;

// Linux 6.1, a dyno of --memory 512M with 1G RAM+swap, a little swapped out.
const V2_MEMORY_STAT = `anon 104857600
file 20971520
kernel 1245184
kernel_stack 147456
pagetables 380928
sock 0
shmem 0
file_mapped 9437184
file_dirty 0
file_writeback 0
swapcached 0
anon_thp 0
inactive_anon 104710144
active_anon 147456
inactive_file 15728640
active_file 5242880
unevictable 0
pgfault 30471
pgmajfault 2
`;
const V2_FILES: V2Files = {
  'memory.current': '127926272\n',
  'memory.stat': V2_MEMORY_STAT,
  'memory.swap.current': '4194304\n',
  'memory.max': `${512 * MiB}\n`,
  'memory.swap.max': `${512 * MiB}\n`,
  'cpu.stat': 'usage_usec 1834211\nuser_usec 1500000\nsystem_usec 334211\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n',
  'pids.current': '7\n',
  'pids.max': '256\n',
  'memory.events': 'low 0\nhigh 0\nmax 31\noom 2\noom_kill 1\noom_group_kill 0\n',
};

t.test('v2: memory.current, memory.stat anon/file, memory.swap.current, memory.max (+ swap.max), cpu.stat, pids, memory.events', async (t) => {
  t.same(v2Stats(V2_FILES), {
    memory: { usedBytes: 127926272, rssBytes: 104857600, cacheBytes: 20971520, swapBytes: 4 * MiB, quotaBytes: 512 * MiB, limitBytes: 1024 * MiB },
    cpu: { usageUsec: 1834211 },
    pids: { current: 7, limit: 256 },
    oomKills: 1,
  });
});

t.test('v2 without swap accounting, and with no limits: null, not 0', async (t) => {
  const s = v2Stats({ ...V2_FILES, 'memory.swap.current': null, 'memory.swap.max': null, 'pids.max': 'max\n' });
  t.equal(s.memory.swapBytes, null);
  t.equal(s.memory.limitBytes, null, 'no kill threshold known without memory.swap.max');
  t.equal(s.memory.quotaBytes, 512 * MiB);
  t.equal(s.pids.limit, null, '"max" is no limit');
  const u = v2Stats({ ...V2_FILES, 'memory.max': 'max\n', 'memory.swap.max': 'max\n' });
  t.equal(u.memory.quotaBytes, null);
  t.equal(u.memory.limitBytes, null);
  const none = v2Stats(Object.fromEntries(Object.keys(V2_FILES).map((k) => [k, null])) as V2Files);
  t.same(none, { memory: { usedBytes: null, rssBytes: null, cacheBytes: null, swapBytes: null, quotaBytes: null, limitBytes: null }, cpu: { usageUsec: null }, pids: { current: null, limit: null }, oomKills: 0 });
});

// Linux 5.15, cgroup v1 with swap accounting.
const V1_MEMORY_STAT = `cache 20971520
rss 104857600
rss_huge 0
shmem 0
mapped_file 9437184
swap 4194304
pgpgin 40000
pgpgout 10000
hierarchical_memory_limit 536870912
hierarchical_memsw_limit 1073741824
total_cache 20971520
total_rss 104857600
total_rss_huge 0
total_shmem 0
total_mapped_file 9437184
total_swap 4194304
total_inactive_anon 104710144
`;
const V1_FILES: V1Files = {
  'memory.usage_in_bytes': '127926272\n',
  'memory.stat': V1_MEMORY_STAT,
  'memory.limit_in_bytes': `${512 * MiB}\n`,
  'memory.memsw.limit_in_bytes': `${1024 * MiB}\n`,
  'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n',
  'cpuacct.usage': '1834211999\n',
  'pids.current': '7\n',
  'pids.max': '256\n',
};

t.test('v1: memory.usage_in_bytes, memory.stat total_*, the limits, cpuacct.usage in µs, pids, oom_control', async (t) => {
  t.same(v1Stats(V1_FILES), {
    memory: { usedBytes: 127926272, rssBytes: 104857600, cacheBytes: 20971520, swapBytes: 4 * MiB, quotaBytes: 512 * MiB, limitBytes: 1024 * MiB },
    cpu: { usageUsec: 1834211 },
    pids: { current: 7, limit: 256 },
    oomKills: 3,
  });
});

t.test('v1 without swap accounting or cpuacct; "unlimited" is null', async (t) => {
  const s = v1Stats({
    ...V1_FILES,
    'memory.stat': V1_MEMORY_STAT.replace(/^(total_)?swap .*\n/gm, '').replace(/^hierarchical_memsw.*\n/m, ''),
    'memory.memsw.limit_in_bytes': null,
    'memory.limit_in_bytes': '9223372036854771712\n',
    'cpuacct.usage': null,
    'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\n',
  });
  t.equal(s.memory.swapBytes, null);
  t.equal(s.memory.limitBytes, null);
  t.equal(s.memory.quotaBytes, null, 'PAGE_COUNTER_MAX is no limit');
  t.equal(s.cpu.usageUsec, null);
  t.equal(s.oomKills, 0, 'kernels before 4.13 have no oom_kill line');
});

t.test('parseKeyed and parseValue', async (t) => {
  t.same([...parseKeyed('a 1\nb  2\n\nbad line\nc -3\nd 4 5\n')], [['a', 1], ['b', 2], ['c', -3]]);
  t.same([...parseKeyed(null)], []);
  t.equal(parseValue('42\n'), 42);
  t.equal(parseValue('max\n'), null);
  t.equal(parseValue(''), null);
  t.equal(parseValue(null), null);
  t.equal(parseValue('-1\n'), null, 'v1 cfs_quota_us -1: none');
});
