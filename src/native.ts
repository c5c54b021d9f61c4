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

let addon: DynodAddon | undefined;

export function native(): DynodAddon {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  addon ??= require(buildFile('dynod.node')) as DynodAddon;
  return addon;
}
