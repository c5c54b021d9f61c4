import * as fs from 'node:fs';

/** State (field 3) and start time (field 22) of a process from /proc/<pid>/stat; null when there is no such process. */
export function readProcStat(pid: number): { state: string; startTime: number } | null {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // the command (field 2) may hold spaces and parentheses: field 3 follows the last ')'
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const startTime = Number(f[19]);
  return f[0] && Number.isSafeInteger(startTime) ? { state: f[0], startTime } : null;
}

/** Whether pid is still the process that started at startTime, and not a zombie (a reused pid is another process). */
export function stillRunning(pid: number, startTime: number): boolean {
  const s = readProcStat(pid);
  return s !== null && s.startTime === startTime && s.state !== 'Z' && s.state !== 'X';
}
