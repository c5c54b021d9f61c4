import { performance } from 'node:perf_hooks';

/**
 * Wall-clock time in ms since the epoch with microsecond resolution, for the log
 * timestamps. Date.now() only has milliseconds; the monotonic clock has more and
 * never goes back, but parts from the wall clock when the wall clock is stepped
 * (NTP, the admin) or the machine sleeps. So the monotonic clock measures from an
 * anchor on the wall clock (first Node's own, taken at process start in µs), and
 * the anchor is taken again when the two part by more than STEP_MS: smaller
 * differences are left alone, so that timestamps in the stream never go back
 * because of the ms rounding of Date.now() or a preemption between the readings.
 */
const STEP_MS = 20;

let anchorWall = performance.timeOrigin;
let anchorMono = 0;

function parted(mono: number, wall: number): boolean {
  // Date.now() rounds down: the wall time is in [wall, wall + 1)
  const t = anchorWall + (mono - anchorMono);
  return t < wall - STEP_MS || t > wall + 1 + STEP_MS;
}

export function wallClock(): number {
  let mono = performance.now();
  let wall = Date.now();
  if (parted(mono, wall)) {
    // read again: a preemption between the two readings is not a step
    mono = performance.now();
    wall = Date.now();
    if (parted(mono, wall)) {
      anchorWall = wall;
      anchorMono = mono;
    }
  }
  return anchorWall + (mono - anchorMono);
}
