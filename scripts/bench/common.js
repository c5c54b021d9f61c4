'use strict';
// Shared helpers of `npm run bench` (scripts/bench.js and the scripts it runs).
const fs = require('node:fs');

const hr = () => process.hrtime.bigint();
const msSince = (t) => Number(hr() - t) / 1e6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function stats(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = v.length;
  if (!n) return { n: 0, median: NaN, min: NaN, max: NaN };
  const median = n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return { n, median, min: v[0], max: v[n - 1] };
}

/** A /proc/<pid>/status field in KiB (VmRSS, VmHWM, ...); NaN when the process is gone. */
function procStatusKiB(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Proportional set size in KiB (shared pages split between the processes mapping them). */
function pssKiB(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

function children(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function alive(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(st);
  } catch {
    return false;
  }
}

/** The memory-controller cgroup of a process, as a directory under /sys/fs/cgroup/memory (v1) or the v2 mount. */
function memoryCgroupDir(pid) {
  try {
    const lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
    const v1 = lines.find((l) => l.split(':')[1].split(',').includes('memory'));
    if (v1) return `/sys/fs/cgroup/memory${v1.split(':')[2]}`;
    const v2 = lines.find((l) => l.startsWith('0::'));
    if (v2) return `/sys/fs/cgroup${v2.slice(3)}`;
  } catch { /* gone */ }
  return null;
}

function cgroupMemoryBytes(dir) {
  for (const f of ['memory.usage_in_bytes', 'memory.current']) {
    try {
      return Number(fs.readFileSync(`${dir}/${f}`, 'utf8').trim());
    } catch { /* next */ }
  }
  return NaN;
}

function memAvailableKiB() {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

function appendJson(file, obj) {
  fs.appendFileSync(file, `${JSON.stringify(obj, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
}

module.exports = { hr, msSince, sleep, stats, procStatusKiB, pssKiB, children, alive, memoryCgroupDir, cgroupMemoryBytes, memAvailableKiB, appendJson };
