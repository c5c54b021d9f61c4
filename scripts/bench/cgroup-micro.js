'use strict';
// The cost of a dyno's cgroup work alone, through dynod's own cgroup backend
// (detectCgroups() from the library) with the limits of a default dyno:
//   create  mkdir + limit files in every hierarchy (Dyno's constructor)
//   join    writing a pid into every cgroup.procs (what the parent does on v1, or
//           on v2 when CLONE_INTO_CGROUP is refused), after GAP ms of quiet (cold)
//           and right after another join (warm)
//   remove  rmdir of every directory once the process is gone (Dyno.finish)
//   node cgroup-micro.js ROOT APP N GAPMS OUT.json
const fs = require('node:fs');
const { spawn } = require('node:child_process');
const { hr, msSince, sleep } = require('./common');

const [root, app, nArg, gapArg, out] = process.argv.slice(2);
const n = Number(nArg);
const gap = Number(gapArg);
const { randomUUID } = require('node:crypto');
const { plan } = require(root);
// an internal of the library: the cgroup backend on its own
const { detectCgroups } = require(`${root}/dist/cgroup`);

function waitExit(child) {
  return new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
}

(async () => {
  const backend = detectCgroups();
  const limits = plan({ command: ['/bin/true'], app }).limits;
  const res = { version: backend.version, create: [], remove: [], joinCold: [], joinWarm: [], joinFiles: 0 };
  for (let i = 0; i < n; i++) {
    let t = hr();
    const cgA = backend.create({ group: 'bench', name: `c${i}a`, id: randomUUID() }, limits);
    res.create.push(msSince(t));
    t = hr();
    const cgB = backend.create({ group: 'bench', name: `c${i}b`, id: randomUUID() }, limits);
    res.create.push(msSince(t));
    res.joinFiles = cgA.procsFiles.length;
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await sleep(gap);
      let a = hr();
      for (const f of cgA.procsFiles) fs.writeFileSync(f, String(child.pid));
      res.joinCold.push(msSince(a));
      // the next dyno's join, right after this one
      a = hr();
      for (const f of cgB.procsFiles) fs.writeFileSync(f, String(child.pid));
      res.joinWarm.push(msSince(a));
    } finally {
      child.kill('SIGKILL');
      await waitExit(child);
    }
    for (const cg of [cgA, cgB]) {
      const r = hr();
      await cg.remove();
      res.remove.push(msSince(r));
    }
  }
  fs.writeFileSync(out, JSON.stringify(res));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
