import { isDeepStrictEqual } from 'node:util';
import type { CgroupView } from '../cgroup';
import { UsageError } from '../errors';
import { gatherHostFacts, resolveDir } from '../dyno/host';
import { checkOptionTypes, type DynoOptions } from '../dyno/options';
import { planDyno, type DynoPlan, type MountsMemo } from '../dyno/plan';

/** Plans this process built: frozen, so what start() gets is what plan() returned. */
const built = new WeakSet<object>();

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/**
 * Mount lists already built, frozen, by their JSON text. A plan's mounts are ~90 % of
 * it (~120 objects) and the same for every dyno of an app: a formation's 60 dynos
 * share one list instead of holding 60 copies (0.6 MiB of a manager's heap). Bounded:
 * a host with more distinct lists than this just builds them again.
 */
const mountLists = new Map<string, DynoPlan['mounts']>();
const MOUNT_LISTS_MAX = 32;

function sharedMounts(mounts: DynoPlan['mounts']): DynoPlan['mounts'] {
  const key = JSON.stringify(mounts);
  const known = mountLists.get(key);
  if (known) return known;
  if (mountLists.size >= MOUNT_LISTS_MAX) mountLists.clear();
  mountLists.set(key, deepFreeze(mounts));
  return mounts;
}

/**
 * The same lists by what they are built from (planDyno's key: the host facts' stamp,
 * the app, the network): a repeated start skips building and serialising its list.
 */
const listsByInput = new Map<string, DynoPlan['mounts']>();

const mountsMemo: MountsMemo = (key, build) => {
  if (key === null) return sharedMounts(build());
  const known = listsByInput.get(key);
  if (known) return known;
  const list = sharedMounts(build());
  if (listsByInput.size >= MOUNT_LISTS_MAX) listsByInput.clear();
  listsByInput.set(key, list);
  return list;
};

/** Options → a frozen plan, with this host's facts. */
export function buildPlan(options: DynoOptions, view: CgroupView): DynoPlan {
  checkOptionTypes(options);
  const app = resolveDir('--app', options.app ?? process.cwd());
  const rootfs = options.rootfs !== undefined ? resolveDir('--rootfs', options.rootfs) : undefined;
  const plan = deepFreeze(planDyno(options, gatherHostFacts({ rootfs, cgroupView: view }), app, rootfs, mountsMemo));
  built.add(plan);
  return plan;
}

/** Where two plain values first differ, as a path like `mounts[3].options`. */
export function firstDifference(a: unknown, b: unknown, at = 'plan'): string | null {
  if (isDeepStrictEqual(a, b)) return null;
  if (!a || !b || typeof a !== 'object' || typeof b !== 'object' || Array.isArray(a) !== Array.isArray(b)) return at;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], Array.isArray(a) ? `${at}[${k}]` : `${at}.${k}`);
    if (d) return d;
  }
  return at;
}

/**
 * The plan start() runs. One built here is taken as it is; any other (a plan read
 * back from `--dry-run` JSON, an edited copy) must be exactly what dynod builds
 * from the options it names as its source, on this host, now.
 */
export function checkPlan(plan: DynoPlan, view: CgroupView): DynoPlan {
  if (built.has(plan)) return plan;
  const source = (plan as { source?: unknown }).source;
  if (!source || typeof source !== 'object' || !Array.isArray((source as DynoOptions).command))
    throw new UsageError('plan: not a dynod plan (no "source" with the options it was built from); make plans with plan()');
  const again = buildPlan(source as DynoOptions, view);
  const diff = firstDifference(plan, again);
  if (diff) throw new UsageError(`plan: ${diff} is not what dynod builds from the plan's source options on this host; make plans with plan()`);
  return again;
}
