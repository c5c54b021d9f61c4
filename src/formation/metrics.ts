import type { Dyno } from '../dyno/dyno';

/**
 * Heroku's log-runtime-metrics (heroku-dynos.md section 6): per dyno, every 20 s, a
 * load line and a memory line. Heroku's load average counts runnable tasks; a dyno's
 * cgroup gives CPU time, so the load here is CPU-seconds per second, averaged over
 * 1, 5 and 15 minutes the way the kernel does (exponential decay per sample).
 */
interface LoadState {
  cpuUsec: number;
  at: number;
  avg: [number, number, number];
}

const WINDOWS_S = [60, 300, 900] as const;

export class MetricsState {
  private readonly load = new Map<string, LoadState>();

  /** One sample: the dyno's load averages after it. */
  sample(id: string, cpuUsec: number, now: number): [number, number, number] {
    const prev = this.load.get(id);
    if (!prev) {
      const s: LoadState = { cpuUsec, at: now, avg: [0, 0, 0] };
      this.load.set(id, s);
      return s.avg;
    }
    const dt = (now - prev.at) / 1000;
    const load = dt > 0 ? (cpuUsec - prev.cpuUsec) / 1e6 / dt : 0;
    prev.avg = prev.avg.map((a, i) => {
      const k = Math.exp(-dt / WINDOWS_S[i]!);
      return a * k + load * (1 - k);
    }) as [number, number, number];
    prev.cpuUsec = cpuUsec;
    prev.at = now;
    return prev.avg;
  }

  /** Forgets dynos that are not in `live` (they ended): the map never outgrows the formation. */
  prune(live: Set<string>): void {
    for (const id of this.load.keys()) if (!live.has(id)) this.load.delete(id);
  }

  clear(): void {
    this.load.clear();
  }
}

const mb = (bytes: number | null) => `${((bytes ?? 0) / 1048576).toFixed(2)}MB`;

/** The two log-runtime-metrics lines of one dyno now (none when its cgroup cannot be read). */
export function runtimeMetricLines(source: string, dyno: Dyno, state: MetricsState, now: number): string[] {
  let s;
  try {
    s = dyno.stats();
  } catch {
    return [];
  }
  const [l1, l5, l15] = state.sample(dyno.id, s.cpu.usageUsec ?? 0, now);
  const who = `source=${source} dyno=dynod.${dyno.id}`;
  const m = s.memory;
  return [
    `${who} sample#load_avg_1m=${l1.toFixed(2)} sample#load_avg_5m=${l5.toFixed(2)} sample#load_avg_15m=${l15.toFixed(2)}`,
    `${who} sample#memory_total=${mb((m.rssBytes ?? 0) + (m.cacheBytes ?? 0) + (m.swapBytes ?? 0))} sample#memory_rss=${mb(m.rssBytes)} sample#memory_cache=${mb(m.cacheBytes)} sample#memory_swap=${mb(m.swapBytes)} sample#memory_quota=${mb(m.quotaBytes)}`,
  ];
}
