import { native } from '../native';
import type { Formation } from '../formation/manager';
import { log } from '../log';

/** How long a formation's dynos keep their states before the manager trims its memory. */
export const SETTLE_MS = 500;

/** What trimWhenSettled watches: a formation's state changes and its dynos' states. */
export type Settling = Pick<Formation, 'onChange' | 'select'>;

/**
 * Once a start, scale or restart has settled (no dyno starting or stopping for
 * SETTLE_MS), the manager gives back the memory the burst left unused (native
 * trimMemory: a full V8 collection, then malloc_trim). glibc and V8 keep it otherwise,
 * V8 until its memory reducer runs seconds later: a start of 60 dynos left ~6-8 MiB of
 * the manager's RSS behind (docs/benchmarks.md, formation). It costs one pause of
 * ~20-25 ms per settled burst, not per request. `dynod start` owns its process; the
 * library never does this to an embedder.
 * Returns a function that stops it.
 */
export function trimWhenSettled(formation: Settling, opts: { settleMs?: number; trim?: () => [number, number] } = {}): () => void {
  const settleMs = opts.settleMs ?? SETTLE_MS;
  const trim = opts.trim ?? (() => native().trimMemory());
  let timer: NodeJS.Timeout | null = null;
  const arm = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      // still moving: its next state change arms the timer again
      if (formation.select({}).some((s) => s.state === 'starting' || s.state === 'stopping')) return;
      const [before, after] = trim();
      log.debug({ rssBefore: before, rssAfter: after }, 'memory trimmed');
    }, settleMs);
    timer.unref();
  };
  const off = formation.onChange(arm);
  return () => {
    off();
    if (timer) clearTimeout(timer);
    timer = null;
  };
}
