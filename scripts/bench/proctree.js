'use strict';
// The processes a benchmarked runner made, read from /proc: so that every one of them can be
// checked gone between rounds (and, if one is left, killed by its PID, never by name).
const fs = require('node:fs');

/** Every process on the host: pid → {ppid, pgrp, starttime, comm, state, cpuTicks, childTicks}. */
function allProcesses() {
  const out = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let st;
    try {
      st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // comm may hold spaces and parentheses: the fields after it start at the last ')'
    const close = st.lastIndexOf(')');
    const comm = st.slice(st.indexOf('(') + 1, close);
    const f = st.slice(close + 2).split(' ');
    // utime + stime; cutime + cstime: the CPU of its children already reaped
    const cpuTicks = Number(f[11]) + Number(f[12]);
    const childTicks = Number(f[13]) + Number(f[14]);
    out.set(Number(d), { ppid: Number(f[1]), pgrp: Number(f[2]), starttime: f[19], comm, state: f[0], cpuTicks, childTicks });
  }
  return out;
}

/**
 * The descendants of `roots` (roots included) and every member of the process groups
 * `groups`, as pid → {starttime, comm}: a pid with its start time names one process even
 * after the pid is reused.
 */
function snapshot(roots, groups = []) {
  const all = allProcesses();
  const kids = new Map();
  for (const [pid, p] of all) {
    if (!kids.has(p.ppid)) kids.set(p.ppid, []);
    kids.get(p.ppid).push(pid);
  }
  const seen = new Map();
  const todo = roots.filter((r) => all.has(r));
  for (const [pid, p] of all) if (groups.includes(p.pgrp)) todo.push(pid);
  while (todo.length) {
    const pid = todo.pop();
    if (seen.has(pid) || !all.has(pid)) continue;
    const p = all.get(pid);
    seen.set(pid, { starttime: p.starttime, comm: p.comm, ppid: p.ppid, cpuTicks: p.cpuTicks, childTicks: p.childTicks });
    for (const k of kids.get(pid) ?? []) todo.push(k);
  }
  return seen;
}

function merge(into, more) {
  for (const [pid, p] of more) if (!into.has(pid)) into.set(pid, p);
  return into;
}

/** The processes of a snapshot that still run (same pid and start time, not a zombie). */
function survivors(snap) {
  const left = [];
  for (const [pid, p] of snap) {
    try {
      const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      if (f[19] === p.starttime && f[0] !== 'Z') left.push({ pid, ...p });
    } catch { /* gone */ }
  }
  return left;
}

/** SIGKILL the survivors of a snapshot, by PID; returns how many there were. */
function killSurvivors(snap) {
  const left = survivors(snap);
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch { /* gone meanwhile */ }
  }
  return left;
}

const TICK_MS = 1000 / (Number(require('node:child_process').spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100);

/**
 * CPU time (user + sys) in ms of a fresh snapshot: the manager's own, and the whole tree's
 * (every process in it, plus what the manager's reaped children used).
 */
function cpuOf(snap, managerPid) {
  let tree = 0;
  for (const p of snap.values()) tree += p.cpuTicks;
  const m = snap.get(managerPid);
  return { managerMs: m ? m.cpuTicks * TICK_MS : NaN, treeMs: (tree + (m ? m.childTicks : 0)) * TICK_MS };
}

module.exports = { allProcesses, snapshot, merge, survivors, killSurvivors, cpuOf };
