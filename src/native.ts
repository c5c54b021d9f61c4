import * as path from 'node:path';
import * as fs from 'node:fs';
import type { DynodAddon } from './addon';

export type * from './addon';

const root = path.resolve(__dirname, '..');

export function buildFile(name: string): string {
  for (const dir of ['build/Release', 'build/Debug']) {
    const p = path.join(root, dir, name);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`dynod: ${name} is not built; run \`npm rebuild dynod\` (needs g++ and make)`);
}

/** The addon as built: spawn and enter take their request as JSON text. */
type RawAddon = Omit<DynodAddon, 'spawn' | 'enter'> & {
  spawn(planJson: string): ReturnType<DynodAddon['spawn']>;
  enter(requestJson: string): ReturnType<DynodAddon['enter']>;
};

let addon: DynodAddon | undefined;

/** The addon if this process has loaded it already, else null (loading it is a dlopen). */
export function loadedNative(): DynodAddon | null {
  return addon ?? null;
}

export function native(): DynodAddon {
  if (!addon) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const raw = require(buildFile('dynod.node')) as RawAddon;
    // A spawn plan has ~900 fields: one JSON text crosses the seam faster than a
    // lookup per field (native/json.h). The addon checks every field of it as before.
    // Called without its argument, the addon says how it is used.
    const json =
      <R>(f: (text: string) => R) =>
      (arg: unknown): R =>
        arg === undefined ? (f as unknown as () => R)() : f(JSON.stringify(arg));
    // Ops already serialised (spawnRequest keeps a plan's op list as JSON text) are
    // spliced into the request as they are.
    const spawn: DynodAddon['spawn'] = (plan) => {
      const ops = (plan as { ops?: unknown } | null | undefined)?.ops as { opsJson?: unknown } | undefined;
      if (!ops || typeof ops.opsJson !== 'string') return json(raw.spawn)(plan);
      const { ops: _, ...rest } = plan;
      return raw.spawn(`{"ops":${ops.opsJson},${JSON.stringify(rest).slice(1)}`);
    };
    addon = { ...raw, spawn, enter: json(raw.enter) };
  }
  return addon;
}
