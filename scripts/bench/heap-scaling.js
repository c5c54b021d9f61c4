'use strict';
// H (part of `npm run bench`): does a library start cost more when the calling
// process holds more memory? N run() of /bin/true (net 'none') after WARM unmeasured
// ones, in a Node process that first fills EXTRA MiB; prints one JSON line
// {extraMiB, rssMiB, medianMs, fork}. Run once per configuration: the clone that
// shares dynod's memory is the default, DYNOD_SPAWN_FORK=1 (read once per process)
// forks as before.
//   node heap-scaling.js ROOT APP EXTRA_MIB N WARM
const [root, app, extra, n, warm] = process.argv.slice(2);
const { run } = require(root);
(async () => {
  const held = Number(extra) > 0 ? Buffer.alloc(Number(extra) * 1024 * 1024, 1) : null;
  const times = [];
  for (let i = 0; i < Number(n) + Number(warm); i++) {
    const t0 = process.hrtime.bigint();
    const r = await run({ command: ['/bin/true'], app, net: 'none' }, { stdout: 'ignore', stderr: 'ignore' });
    if (r.exit.status !== 0) throw new Error(`start ${i}: status ${r.exit.status} ${r.exit.error?.message ?? ''}`);
    if (i >= Number(warm)) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  process.stdout.write(`${JSON.stringify({ extraMiB: Number(extra), rssMiB: Math.round(process.memoryUsage().rss / 1048576), medianMs: times[times.length >> 1], fork: process.env.DYNOD_SPAWN_FORK === '1', held: held ? held.length : 0 })}\n`);
})().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
