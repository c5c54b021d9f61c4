'use strict';
// Phase breakdown of a dyno start in a warm Node process (the library, as P2 uses
// it): WARM unmeasured starts, then N starts with {trace: true} of FIRSTINSN, a
// static program whose first action prints CLOCK_MONOTONIC. dynod's trace marks are
// milliseconds since the Dyno's own origin `t0` (process.hrtime.bigint(), also
// CLOCK_MONOTONIC: see mark() in src/dyno/dyno.ts), so the program's stamp converts
// to the same axis as (stamp - t0) / 1e6.
//   node trace-lib.js ROOT APP N WARM FIRSTINSN(path inside the dyno) TMPFILE OUT.jsonl
const fs = require('node:fs');
const { hr, appendJson } = require('./common');

const [root, app, nArg, warmArg, firstinsn, tmp, out] = process.argv.slice(2);
const n = Number(nArg);
const warm = Number(warmArg);
const { start } = require(root);

(async () => {
  for (let i = 0; i < warm + n; i++) {
    const fd = fs.openSync(tmp, 'w');
    const a = hr();
    let d;
    try {
      d = await start({ command: [firstinsn], app, net: 'none' }, { stdout: fd, stderr: 'ignore', trace: true });
    } finally {
      fs.closeSync(fd);
    }
    const exit = await d.wait();
    const b = hr();
    if (exit.status !== 0) throw new Error(`dyno exited with ${exit.status}`);
    if (i < warm) continue;
    // t0 is a private field of Dyno; when it is not reachable, the request time is the closest stand-in.
    const t0 = typeof d.t0 === 'bigint' ? d.t0 : a;
    const stamp = BigInt(fs.readFileSync(tmp, 'utf8').trim());
    appendJson(out, {
      t0Exact: typeof d.t0 === 'bigint',
      requestMs: Number(a - t0) / 1e6,
      traces: d.traces,
      firstInsnMs: Number(stamp - t0) / 1e6,
      waitResolvedMs: Number(b - t0) / 1e6,
    });
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
