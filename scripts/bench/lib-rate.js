'use strict';
// L (part of `npm run bench`): library start rate and what one long-lived Node process
// keeps per start. N dynos of /bin/true one after another through the library
// (run() = start() + wait(), net 'none': loopback only, as the anchors), after WARM unmeasured ones; every EVERY starts a sample of
//   fds  open file descriptors, counted from /proc/self/fd (and grouped by what they
//        point to: "user:[…]" is a namespace fd, "anon_inode:[…]" an eventfd/pidfd, …)
//   rss  process.memoryUsage().rss right after a full gc (run with --expose-gc; without
//        it the RSS is taken as it is, and the output says so)
// Appends one JSON line to OUT: rate, per-start times, the samples, and the fd kinds
// that grew between the first and the last sample. Nothing here is part of dynod.
//   node --expose-gc lib-rate.js ROOT APP N WARM EVERY OUT.json
const fs = require('node:fs');
const { hr, msSince, stats, appendJson } = require('./common');

const [root, app, nArg, warmArg, everyArg, out] = process.argv.slice(2);
const n = Number(nArg);
const warm = Number(warmArg);
const every = Number(everyArg);
const tLoad = hr();
const { run } = require(root);
const requireMs = msSince(tLoad);

function fdKinds() {
  const kinds = {};
  let count = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let target;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the directory's own fd, closed by now
    }
    count++;
    // "user:[4026532001]" → "user:[…]"; "/dev/null" stays; "socket:[123]" → "socket:[…]"
    const kind = target.replace(/\[\d+\]$/, '[…]').replace(/^\/proc\/\d+\//, '/proc/<pid>/');
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  return { count, kinds };
}

function sample(i) {
  if (global.gc) global.gc();
  const { count, kinds } = fdKinds();
  const mu = process.memoryUsage();
  return { i, fds: count, kinds, rssKiB: mu.rss / 1024, heapUsedKiB: mu.heapUsed / 1024, externalKiB: mu.external / 1024 };
}

async function one(i) {
  const { exit } = await run({ command: ['/bin/true'], app, net: 'none' }, { stdout: 'ignore', stderr: 'ignore' });
  if (exit.status !== 0) throw new Error(`dyno ${i} exited with status ${exit.status}: ${exit.error?.message ?? ''}`);
}

(async () => {
  for (let i = 0; i < warm; i++) await one(-1 - i);
  const samples = [sample(0)];
  const per = [];
  let busyMs = 0; // time spent in starts only (samples excluded)
  for (let i = 1; i <= n; i++) {
    const a = hr();
    await one(i);
    const d = msSince(a);
    per.push(d);
    busyMs += d;
    if (i % every === 0 || i === n) samples.push(sample(i));
  }
  const first = samples[0];
  const last = samples[samples.length - 1];
  const grew = {};
  for (const k of new Set([...Object.keys(first.kinds), ...Object.keys(last.kinds)])) {
    const d = (last.kinds[k] ?? 0) - (first.kinds[k] ?? 0);
    if (d) grew[k] = d;
  }
  const per1000 = (x) => (x * 1000) / n;
  const res = {
    n,
    warm,
    gc: !!global.gc,
    requireMs,
    busyMs,
    startsPerSec: (n * 1000) / busyMs,
    perStart: stats(per),
    fdsBefore: first.fds,
    fdsAfter: last.fds,
    fdsPer1000: per1000(last.fds - first.fds),
    fdGrowthByKind: grew,
    rssBeforeKiB: first.rssKiB,
    rssAfterKiB: last.rssKiB,
    rssPer1000KiB: per1000(last.rssKiB - first.rssKiB),
    // the second half alone: growth that keeps going once allocator and JIT have settled
    rssPer1000SecondHalfKiB: (() => {
      const mid = samples.reduce((b, s) => (Math.abs(s.i - n / 2) < Math.abs(b.i - n / 2) ? s : b));
      return mid.i < n ? ((last.rssKiB - mid.rssKiB) * 1000) / (n - mid.i) : NaN;
    })(),
    heapUsedPer1000KiB: per1000(last.heapUsedKiB - first.heapUsedKiB),
    samples: samples.map(({ kinds, ...s }) => s),
  };
  appendJson(out, res);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
