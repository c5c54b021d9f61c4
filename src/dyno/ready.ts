import * as fs from 'node:fs';

// Readiness as Heroku's router sees it: something in the dyno listens on $PORT.
// Read from the host in /proc/<pid>/net/tcp{,6}, which show the socket table of
// <pid>'s network namespace: no setns, no connection attempt the app would see.

const LISTEN = '0A';

/** Inodes of listening TCP sockets on `port` in a /proc/<pid>/net/tcp{,6} text. */
export function listeningInodes(table: string, port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const out: string[] = [];
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    if (f.length < 10 || f[3] !== LISTEN) continue;
    if (f[1]!.slice(f[1]!.lastIndexOf(':') + 1) === hexPort) out.push(f[9]!);
  }
  return out;
}

function read(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Whether a process of the dyno listens on `port`. With a private network
 * namespace every socket in it is the dyno's; with the host's network, only a
 * listening socket held by one of `pids` (the dyno's processes) counts.
 */
export function listensOn(pid1: number, port: number, ownNamespace: boolean, pids: () => number[]): boolean {
  const inodes = [...listeningInodes(read(`/proc/${pid1}/net/tcp`), port), ...listeningInodes(read(`/proc/${pid1}/net/tcp6`), port)];
  if (inodes.length === 0) return false;
  if (ownNamespace) return true;
  const wanted = new Set(inodes.map((i) => `socket:[${i}]`));
  for (const pid of pids()) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (wanted.has(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))) return true;
      } catch {
        // closed meanwhile
      }
    }
  }
  return false;
}
