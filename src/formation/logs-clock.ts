import { performance } from 'node:perf_hooks';

/**
 * Wall-clock time in ms since the epoch with microsecond resolution, for the log
 * timestamps. Date.now() only has milliseconds; the monotonic clock has more but
 * drifts from the wall clock (a step by NTP or the admin, a suspend). So the
 * monotonic clock measures from an anchor on the wall clock, and the anchor is
 * taken again whenever the two disagree by more than a millisecond or so. The
 * first anchor is Node's own (the process start, in microseconds).
 */
let anchorWall = performance.timeOrigin;
let anchorMono = 0;

export function wallClock(): number {
  const wall = Date.now();
  const t = anchorWall + (performance.now() - anchorMono);
  // Date.now() is the wall time rounded down: t belongs in [wall, wall + 1)
  if (t < wall - 1 || t > wall + 2) {
    anchorWall = wall;
    anchorMono = performance.now();
    return wall;
  }
  return t;
}
