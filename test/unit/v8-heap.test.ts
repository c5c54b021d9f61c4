// keepYoungGenerationSmall (dynod start's process): V8's young generation stays at its
// first size under an allocation burst that otherwise grows it to its maximum.
import t from 'tap';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';

const ROOT = path.resolve(__dirname, '../..');
const burst = (small: boolean) => `
  ${small ? `require(${JSON.stringify(path.join(ROOT, 'dist/cli/v8-heap.js'))}).keepYoungGenerationSmall();` : ''}
  const keep = [];
  for (let i = 0; i < 200; i++) { const a = []; for (let j = 0; j < 5000; j++) a.push({ i, j, s: 'x' + j }); keep.push(a); if (keep.length > 20) keep.shift(); }
  const ns = require('v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  process.stdout.write(String(ns.space_size));`;
const newSpace = (small: boolean) => Number(execFileSync(process.execPath, ['-e', burst(small)], { env: { PATH: process.env.PATH }, encoding: 'utf8' }));

t.test('the young generation stays small under an allocation burst', async (t) => {
  const grown = newSpace(false);
  const kept = newSpace(true);
  const MiB = 1024 * 1024;
  t.ok(grown >= 8 * MiB, `without it the burst grows the young generation (${(grown / MiB).toFixed(1)} MiB)`);
  t.ok(kept <= 4 * MiB, `with it the young generation stays at ${(kept / MiB).toFixed(1)} MiB`);
});
