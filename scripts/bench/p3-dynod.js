'use strict';
// P3 (dynod side): host memory per running dyno. Starts N dynos running COMMAND from
// this one Node process through the library, measures, stops them all, checks that
// nothing is left.
//   node p3-dynod.js ROOT APP N OUT.json COMMAND...
const fs = require('node:fs');
const { hr, msSince, sleep, stats, procStatusKiB, pssKiB, children, alive, memoryCgroupDir, cgroupMemoryBytes, memAvailableKiB } = require('./common');

const [root, app, nArg, out, ...command] = process.argv.slice(2);
const n = Number(nArg);
const { start } = require(root);

(async () => {
  await sleep(200);
  const baseRss = procStatusKiB(process.pid, 'VmRSS');
  const basePss = pssKiB(process.pid);
  const memAvail0 = memAvailableKiB();
  const dynos = [];
  const res = { n, command, baseRssKiB: baseRss, basePssKiB: basePss };
  try {
    const t = hr();
    for (let i = 0; i < n; i++) dynos.push(await start({ command, app }, { stdout: 'ignore', stderr: 'ignore' }));
    res.startAllMs = msSince(t);
    await sleep(500);
    res.nodeRssKiB = procStatusKiB(process.pid, 'VmRSS');
    res.nodePssKiB = pssKiB(process.pid);
    res.initRssKiB = dynos.map((d) => procStatusKiB(d.pid, 'VmRSS'));
    res.initPssKiB = dynos.map((d) => pssKiB(d.pid));
    const cmdPids = dynos.map((d) => children(d.pid)[0]);
    res.cmdRssKiB = cmdPids.map((p) => procStatusKiB(p, 'VmRSS'));
    res.cmdPssKiB = cmdPids.map((p) => pssKiB(p));
    res.cgroupBytes = dynos.map((d) => {
      const dir = d.cgroupDirs.find((x) => /\/memory\//.test(x)) ?? memoryCgroupDir(d.pid);
      return dir ? cgroupMemoryBytes(dir) : NaN;
    });
    res.memAvailDropKiB = memAvail0 - memAvailableKiB();
  } finally {
    const t = hr();
    const exits = await Promise.all(dynos.map((d) => d.stop(5000)));
    res.stopAllMs = msSince(t);
    res.stopped = exits.length;
    await sleep(200);
    res.leftPids = dynos.filter((d) => alive(d.pid)).map((d) => d.pid);
    res.leftCgroups = dynos.flatMap((d) => d.cgroupDirs.filter((dir) => fs.existsSync(dir)));
    fs.writeFileSync(out, JSON.stringify(res));
  }
  const s = stats(res.initRssKiB);
  if (res.leftPids.length || res.leftCgroups.length) {
    console.error(`p3-dynod: left behind: pids ${res.leftPids.join(' ')} cgroups ${res.leftCgroups.join(' ')}`);
    process.exit(1);
  }
  if (!(s.n === n)) {
    console.error(`p3-dynod: only ${s.n} of ${n} dyno inits were measurable`);
    process.exit(1);
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
