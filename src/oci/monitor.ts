// `update` and `events`: a running container's resources, changed and watched
// through its cgroup.
import { UsageError } from '../errors';
import { parseBytes } from '../dyno/units';
import { load } from './lifecycle';
import { validateResources } from './linux-resources';
import { emptyResources, type ContainerResources } from './resources';
import type { CgroupStats } from '../cgroup';

function int(v: string, flag: string): number {
  if (!/^-?\d+$/.test(v.trim())) throw new UsageError(`--${flag} ${v}: expected an integer`);
  return Number(v);
}

export function updateCommand(root: string, id: string, f: Record<string, string | undefined>, readJson: (file: string, what: string) => unknown): void {
  const c = load(root, id);
  if (c.status === 'stopped') throw new UsageError(`container ${id} is stopped: nothing to update`);
  if (!c.cgroup) throw new UsageError(`container ${id} has no cgroup`);
  const r: ContainerResources = f.resources ? validateResources(readJson(f.resources, '--resources'), f.resources === '-' ? 'stdin' : f.resources, 'resources') : emptyResources();
  if (f.memory !== undefined) r.memory.limit = parseBytes(f.memory as never);
  if (f.memorySwap !== undefined) r.memory.swap = f.memorySwap === '-1' ? -1 : parseBytes(f.memorySwap as never);
  if (f.cpuShares !== undefined) r.cpu.shares = int(f.cpuShares, 'cpu-shares');
  if (f.cpuQuota !== undefined) r.cpu.quota = int(f.cpuQuota, 'cpu-quota');
  if (f.cpuPeriod !== undefined) r.cpu.period = int(f.cpuPeriod, 'cpu-period');
  if (f.cpusetCpus !== undefined) r.cpu.cpus = f.cpusetCpus;
  if (f.pidsLimit !== undefined) r.pids.limit = int(f.pidsLimit, 'pids-limit');
  c.cgroup.update(r);
}

/** runc's stats event (types.Stats), from the fields both cgroup versions have. */
function statsEvent(id: string, s: CgroupStats): Record<string, unknown> {
  const usec = s.cpu.usageUsec;
  return {
    type: 'stats',
    id,
    data: {
      cpu: { usage: { total: usec === null ? 0 : usec * 1000 }, throttling: {} },
      memory: {
        usage: { limit: s.memory.quotaBytes ?? 0, usage: s.memory.usedBytes ?? 0 },
        swap: { limit: s.memory.limitBytes ?? 0, usage: s.memory.swapBytes ?? 0 },
        cache: s.memory.cacheBytes ?? 0,
        raw: { rss: s.memory.rssBytes ?? 0 },
      },
      pids: { current: s.pids.current ?? 0, limit: s.pids.limit ?? 0 },
      blkio: {},
      hugetlb: {},
    },
  };
}

function parseInterval(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim());
  if (!m) throw new UsageError(`--interval ${v}: expected a duration such as 5s, 500ms or 1m`);
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms <= 0) throw new UsageError(`--interval ${v}: must be more than 0`);
  return ms;
}

export async function eventsCommand(root: string, id: string, f: { stats?: boolean; interval: string }): Promise<void> {
  const interval = parseInterval(f.interval);
  const first = load(root, id);
  if (first.status === 'stopped' || !first.cgroup) throw new UsageError(`container ${id} is stopped: no events`);
  const out = (e: unknown) => process.stdout.write(`${JSON.stringify(e)}\n`);
  if (f.stats) {
    out(statsEvent(id, first.cgroup.stats()));
    return;
  }
  let ooms = first.cgroup.oomKills();
  for (;;) {
    const c = load(root, id);
    if (c.status === 'stopped' || !c.cgroup) return;
    const n = c.cgroup.oomKills();
    if (n > ooms) out({ type: 'oom', id });
    ooms = n;
    out(statsEvent(id, c.cgroup.stats()));
    await new Promise((r) => setTimeout(r, interval));
  }
}
