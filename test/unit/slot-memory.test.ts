// R14 and R15 from a dyno's memory readings (this host has no swap, so R14 cannot
// happen for real here: the kernel kills at the quota). A fake dyno gives the readings.
import t from 'tap';
import { Slot, type SlotContext } from '../../src/formation/slot';
import { Backoff } from '../../src/formation/backoff';
import type { Dyno } from '../../src/dyno/dyno';
import type { CgroupStats } from '../../src/cgroup';

const MB = 1048576;

function harness() {
  const lines: string[] = [];
  const ctx = {
    engine: null as never,
    logs: { attach() {}, system: (d: string, m: string) => lines.push(`${d}: ${m}`) },
    group: 'app',
    options: () => ({ command: ['true'] }),
    bootTimeoutMs: 1000,
    graceMs: 1000,
    cycleMs: 0,
    changed() {},
  } satisfies SlotContext;
  const slot = new Slot(ctx, 'worker', 1, 'standard-1x', 'x', new Backoff('heroku', 1), null);
  let stats: CgroupStats;
  const kills: string[] = [];
  const fake = { stats: () => stats, kill: (s: string) => (kills.push(s), true) } as unknown as Dyno;
  slot.current = fake;
  slot.state = 'up';
  const set = (rss: number, swap: number, oomKills = 0) => {
    stats = {
      memory: { usedBytes: rss, rssBytes: rss, cacheBytes: 0, swapBytes: swap, quotaBytes: 512 * MB, limitBytes: 1024 * MB },
      cpu: { usageUsec: 0 },
      pids: { current: 1, limit: 256 },
      oomKills,
    };
  };
  return { slot, lines, kills, set };
}

t.test('R14 over the quota, at most once a minute', async (t) => {
  const h = harness();
  h.set(400 * MB, 0);
  h.slot.checkMemory(1_000_000);
  t.same(h.lines, [], 'under the quota: nothing');
  h.set(400 * MB, 200 * MB);
  h.slot.checkMemory(1_000_000);
  t.same(h.lines, ['worker.1: Process running mem=600MB(117.2%)', 'worker.1: Error R14 (Memory quota exceeded)'], 'RSS + swap over the quota');
  h.slot.checkMemory(1_030_000);
  t.equal(h.lines.length, 2, 'not again within a minute');
  h.slot.checkMemory(1_060_000);
  t.equal(h.lines.length, 4, 'again after a minute');
  t.same(h.kills, [], 'R14 does not kill');
});

t.test('R15: a process OOM-killed in a dyno that lives on kills the dyno', async (t) => {
  const h = harness();
  h.set(500 * MB, 0, 1);
  h.slot.checkMemory(1_000_000);
  t.same(h.lines, ['worker.1: Process running mem=500MB(97.7%)', 'worker.1: Error R15 (Memory quota vastly exceeded)', 'worker.1: Stopping process with SIGKILL']);
  t.same(h.kills, ['SIGKILL']);
  h.slot.checkMemory(1_000_500);
  t.equal(h.kills.length, 1, 'once per OOM kill');
});

t.test('R15 read after the kill emptied the cgroup: no "mem=0MB" line', async (t) => {
  const h = harness();
  h.set(200 * 1024, 0, 1);
  h.slot.checkMemory(1_000_000);
  t.same(h.lines, ['worker.1: Error R15 (Memory quota vastly exceeded)', 'worker.1: Stopping process with SIGKILL']);
});
