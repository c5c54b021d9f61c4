'use strict';
// P2 (dynod side): N dynos one after another from this one Node process, through the
// library: run({command: ['/bin/true'], app, net: 'none'}, {stdout: 'ignore', stderr: 'ignore'}).
//   node p2-dynod.js ROOT APP N OUT.jsonl
const { hr, msSince, stats, appendJson } = require('./common');

const [root, app, nArg, out] = process.argv.slice(2);
const n = Number(nArg);
const tLoad = hr();
const { run } = require(root);
const requireMs = msSince(tLoad);

(async () => {
  const per = [];
  const t = hr();
  for (let i = 0; i < n; i++) {
    const a = hr();
    const { exit } = await run({ command: ['/bin/true'], app, net: 'none' }, { stdout: 'ignore', stderr: 'ignore' });
    per.push(msSince(a));
    if (exit.status !== 0) throw new Error(`dyno ${i} exited with status ${exit.status}: ${exit.error?.message ?? ''}`);
  }
  const totalMs = msSince(t);
  appendJson(out, { n, requireMs, totalMs, firstMs: per[0], rest: stats(per.slice(1)) });
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
