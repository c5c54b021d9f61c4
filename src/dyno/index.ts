import { detectCgroups } from '../cgroup';
import { DynodError } from '../errors';
import { Dyno, type DynoExit, type StartOptions } from './dyno';
import { gatherHostFacts, resolveDir } from './host';
import type { DynoOptions } from './options';
import { planDyno, type DynoPlan } from './plan';

/** The complete plan for a dyno (what `dynod run --dry-run` prints). Needs no root. */
export function plan(options: DynoOptions): DynoPlan {
  const app = resolveDir('--app', options.app ?? process.cwd());
  const rootfs = options.rootfs !== undefined ? resolveDir('--rootfs', options.rootfs) : undefined;
  const facts = gatherHostFacts({ rootfs, cgroupView: detectCgroups().view });
  return planDyno(options, facts, app, rootfs);
}

function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new DynodError('must run as root (try sudo)', { step: 'permissions' });
}

/** Plans and starts a dyno; resolves once its command runs. */
export async function start(options: DynoOptions | DynoPlan, opts: StartOptions = {}): Promise<Dyno> {
  requireRoot();
  const p = 'mounts' in options ? options : plan(options);
  return Dyno.start(p, opts);
}

/** Runs a dyno to its end. Failures to start come back in DynoExit.error, not as a rejection. */
export async function run(options: DynoOptions | DynoPlan, opts: StartOptions = {}): Promise<{ dyno: Dyno | null; exit: DynoExit }> {
  let dyno: Dyno | null = null;
  try {
    requireRoot();
    const p = 'mounts' in options ? options : plan(options);
    dyno = await Dyno.start(p, { stdout: 'inherit', stderr: 'inherit', ...opts });
  } catch (e) {
    const err = DynodError.fromNative(e);
    return { dyno, exit: { status: err.exitCode, code: null, signal: null, oomKilled: false, error: err } };
  }
  return { dyno, exit: await dyno!.wait() };
}

export { Dyno };
