import * as fs from 'node:fs';

/** One line of /proc/self/cgroup: hierarchy id, controllers, path. */
export interface CgroupMembership {
  id: number;
  controllers: string[];
  path: string;
}

export function parseProcCgroup(text: string): CgroupMembership[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id, ctrls, ...rest] = line.split(':');
      return { id: Number(id), controllers: ctrls ? ctrls.split(',') : [], path: rest.join(':') };
    });
}

export interface CgroupMount {
  mountPoint: string;
  /** the cgroup this mount shows as its root (not "/" inside containers) */
  root: string;
  fstype: 'cgroup' | 'cgroup2';
  /** super options, e.g. ["rw", "memory"] */
  options: string[];
}

/** The cgroup and cgroup2 mounts of /proc/self/mountinfo. */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const [fstype, , superOpts] = line.slice(sep + 3).split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    out.push({ mountPoint: unescapeMount(left[4]!), root: unescapeMount(left[3]!), fstype, options: (superOpts ?? '').split(',') });
  }
  return out;
}

/** The directory of cgroup `path` under a mount that shows `mount.root` as its top. */
export function cgroupDir(mount: CgroupMount, path: string): string {
  const rel = mount.root !== '/' && (path === mount.root || path.startsWith(`${mount.root}/`)) ? path.slice(mount.root.length) : path;
  return `${mount.mountPoint}${rel === '/' ? '' : rel}`;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function readProcSelf(): { cgroup: string; mountinfo: string } {
  return {
    cgroup: fs.readFileSync('/proc/self/cgroup', 'utf8'),
    mountinfo: fs.readFileSync('/proc/self/mountinfo', 'utf8'),
  };
}

/** mkdir -p that tolerates a concurrent rmdir of a parent by another dynod. */
export function ensureDir(dir: string): void {
  for (let attempt = 0; ; attempt++) {
    try {
      fs.mkdirSync(dir, { recursive: true });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 5) throw e;
    }
  }
}

/** True while a dynod process that owns cgroups named "<pid>-…" is alive. */
export function ownerAlive(name: string): boolean {
  const m = /^(\d+)-/.exec(name);
  if (!m) return true; // not ours to judge
  const pid = Number(m[1]);
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** rmdir with retries: a cgroup stays busy for a moment after its last process is reaped. */
export async function removeDir(dir: string, onBusy?: () => void): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      // children first (a dyno may have made sub-cgroups of its own on v2)
      for (const ent of fs.readdirSync(dir, { withFileTypes: true }))
        if (ent.isDirectory()) await removeDir(`${dir}/${ent.name}`, onBusy);
      fs.rmdirSync(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || attempt >= 200) throw e;
      if (attempt === 10) onBusy?.();
      await new Promise((r) => setTimeout(r, attempt < 10 ? 1 : 10));
    }
  }
}

export function writeFile(file: string, value: string | number): void {
  fs.writeFileSync(file, String(value));
}

export function tryWrite(file: string, value: string | number): boolean {
  try {
    fs.writeFileSync(file, String(value));
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES') return false;
    throw e;
  }
}

/** A "key N" line of a flat-keyed cgroup file (memory.events, memory.oom_control); 0 when absent. */
export function readCounter(file: string, key: string): number {
  try {
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(fs.readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Removes every "<pid>-…" cgroup under root whose dynod process is gone. */
export async function sweepDir(root: string, kill: (dir: string) => void): Promise<number> {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return 0;
  }
  let n = 0;
  for (const name of names) {
    const dir = `${root}/${name}`;
    if (ownerAlive(name) || !fs.statSync(dir).isDirectory()) continue;
    await removeDir(dir, () => kill(dir));
    n++;
  }
  return n;
}
