import * as path from 'node:path';
import { rmdirIfEmpty } from './hierarchy';

/** How long the directories above dyno cgroups stay after their last dyno ends. */
export const PARENTS_IDLE_MS = 1000;

/**
 * The directories above dyno cgroups (dynod/ and dynod/<group>/, in each hierarchy)
 * outlive a dyno by PARENTS_IDLE_MS: making and removing them around every dyno cost
 * ~0.2 ms per start on cgroup v1 (two levels in three hierarchies, mkdir and rmdir),
 * which a manager restarting dynos or a loop of one-offs pays each time. They go when
 * the idle time is over, at close(), and when the process exits; what a killed
 * process leaves (empty directories), the next dynod's sweep removes. A directory
 * still in use stays: rmdir of a non-empty cgroup fails, and nothing else is done.
 */
export class IdleParents {
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private readonly onExit = () => this.flush();

  constructor(private readonly idleMs = PARENTS_IDLE_MS) {}

  /** dirs may be empty now (a dyno's cgroup under them is gone). */
  release(dirs: string[]): void {
    if (this.pending.size === 0) process.once('exit', this.onExit);
    for (const d of dirs) this.pending.add(d);
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.idleMs);
      this.timer.unref();
    }
  }

  /** rmdir of every released directory that is empty, deepest first. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.size === 0) return;
    process.off('exit', this.onExit);
    const dirs = [...this.pending].sort((a, b) => b.split(path.sep).length - a.split(path.sep).length);
    this.pending.clear();
    for (const d of dirs) {
      try {
        rmdirIfEmpty(d);
      } catch {
        /* best effort: the sweep of the next start takes what is left */
      }
    }
  }
}
