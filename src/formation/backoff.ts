/**
 * Heroku's crash-restart policy (heroku-dynos.md section 2): the first crash restarts
 * at once, then cool-offs of up to 20, 40, 60, 180 and 320 minutes, then every 320
 * minutes; reset by a boot that stays up, a restart, or a new release. "Up to" is read
 * as a random delay between half the step and the step, so a crash loop never spins.
 * `scale` shrinks every duration (0.001 turns 20 min into 1.2 s, for tests).
 */
export type RestartPolicy = 'heroku' | 'always' | 'never';

export const RESTART_POLICIES: readonly RestartPolicy[] = ['heroku', 'always', 'never'];
export const COOL_OFF_MINUTES = [20, 40, 60, 180, 320] as const;
/** how long a boot must stay up before its crash count is forgotten (Kubernetes uses 10 min too) */
export const STABLE_MINUTES = 10;

const MINUTE_MS = 60_000;

export class Backoff {
  /** crashes since the last reset */
  crashes = 0;

  constructor(
    readonly policy: RestartPolicy,
    readonly scale: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before restarting after one more crash, or null when the policy never restarts. */
  next(): number | null {
    const n = this.crashes++;
    if (this.policy === 'never') return null;
    if (this.policy === 'always' || n === 0) return 0;
    const step = COOL_OFF_MINUTES[Math.min(n - 1, COOL_OFF_MINUTES.length - 1)]! * MINUTE_MS * this.scale;
    return Math.round(step * (0.5 + 0.5 * this.random()));
  }

  /** The bounds next() draws from for the crash after `crashes` (for tests and `ps`). */
  static bounds(crashes: number, scale: number): [number, number] {
    if (crashes === 0) return [0, 0];
    const step = COOL_OFF_MINUTES[Math.min(crashes - 1, COOL_OFF_MINUTES.length - 1)]! * MINUTE_MS * scale;
    return [Math.round(step * 0.5), Math.round(step)];
  }

  reset(): void {
    this.crashes = 0;
  }

  get stableMs(): number {
    return STABLE_MINUTES * MINUTE_MS * this.scale;
  }
}
