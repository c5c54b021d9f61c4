import type { BackendSource } from './types';

export const enum Route {
  /** there are web dynos to pick from */
  Dyno,
  /** none yet, one is booting: wait (H20 after the boot timeout) */
  Boot,
  /** web dynos exist but all crashed: H10 */
  Crashed,
  /** no web dyno: H14 */
  None,
}

/** vegur's lookup step: where can this request go at all? */
export function lookup(listed: number, source: BackendSource): Route {
  if (listed > 0) return Route.Dyno;
  if (source.booting()) return Route.Boot;
  if (source.crashed()) return Route.Crashed;
  return Route.None;
}
