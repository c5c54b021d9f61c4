'use strict';
// P3 (crun side): N detached containers (`crun run -d`) of BUNDLE, measured the same
// way, then `crun kill` + `crun delete -f`. crun has no daemon and, run like this, no
// conmon: what stays per container is its init process (the command itself).
//   node p3-crun.js BUNDLE IDPREFIX N OUT.json
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const { hr, msSince, sleep, procStatusKiB, pssKiB, alive, memoryCgroupDir, cgroupMemoryBytes, memAvailableKiB } = require('./common');

const [bundle, prefix, nArg, out] = process.argv.slice(2);
const n = Number(nArg);
const crun = (...args) => spawnSync('crun', args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
// A detached container inherits crun's stdio: pipes would stay open as long as it runs.
const crunDetached = (...args) => spawnSync('crun', args, { stdio: 'ignore' });

(async () => {
  const ids = [];
  const pids = [];
  const res = { n };
  const memAvail0 = memAvailableKiB();
  try {
    const t = hr();
    for (let i = 0; i < n; i++) {
      const id = `${prefix}-${i}`;
      ids.push(id);
      const r = crunDetached('run', '-d', '-b', bundle, id);
      if (r.status !== 0) throw new Error(`crun run -d ${id} failed (status ${r.status})`);
    }
    res.startAllMs = msSince(t);
    await sleep(500);
    for (const id of ids) pids.push(JSON.parse(crun('state', id).stdout).pid);
    res.initRssKiB = pids.map((p) => procStatusKiB(p, 'VmRSS'));
    res.initPssKiB = pids.map((p) => pssKiB(p));
    res.cgroupDirs = pids.map((p) => memoryCgroupDir(p));
    res.cgroupBytes = res.cgroupDirs.map((d) => (d ? cgroupMemoryBytes(d) : NaN));
    res.memAvailDropKiB = memAvail0 - memAvailableKiB();
  } finally {
    const t = hr();
    for (const id of ids) crun('kill', id, 'KILL');
    for (const id of ids) {
      for (let k = 0; k < 50; k++) {
        if (crun('delete', '-f', id).status === 0) break;
        await sleep(20);
      }
    }
    res.stopAllMs = msSince(t);
    await sleep(200);
    const listed = crun('list', '-q').stdout.split('\n').filter((l) => l.startsWith(`${prefix}-`));
    res.leftContainers = listed;
    res.leftPids = pids.filter((p) => alive(p));
    res.leftCgroups = (res.cgroupDirs ?? []).filter((d) => d && fs.existsSync(d));
    fs.writeFileSync(out, JSON.stringify(res));
  }
  if (res.leftContainers.length || res.leftPids.length || res.leftCgroups.length) {
    console.error(`p3-crun: left behind: ${JSON.stringify({ c: res.leftContainers, p: res.leftPids, g: res.leftCgroups })}`);
    process.exit(1);
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
