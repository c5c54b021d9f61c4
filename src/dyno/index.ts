import { getDefaultEngine, type RunResult } from '../engine/engine';
import type { Dyno, StartOptions } from './dyno';
import type { DynoOptions } from './options';
import type { DynoPlan } from './plan';

// The module-level API: the process's default engine (see Engine for several).

/** The complete plan for a dyno (what `dynod run --dry-run` prints). Needs no root. */
export function plan(options: DynoOptions): DynoPlan {
  return getDefaultEngine().plan(options);
}

/** Starts a dyno (from options or a plan); resolves once its command runs. */
export function start(what: DynoOptions | DynoPlan, opts: StartOptions = {}): Promise<Dyno> {
  return getDefaultEngine().start(what, opts);
}

/** Runs a dyno to its end. Failures to start come back in exit.error, not as a rejection. */
export function run(what: DynoOptions | DynoPlan, opts: StartOptions = {}): Promise<RunResult> {
  return getDefaultEngine().run(what, opts);
}
