// An OCI container's cgroup on v1: one directory per hierarchy; device rules in
// devices.allow/deny; pause in the freezer hierarchy.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ContainerResources } from '../oci/resources';
import type { ContainerCgroup } from './container';
import type { CgroupStats, CgroupView } from './types';
import { CONTAINER_V1_CONTROLLERS, DEFAULT_PARENT, containerDirs, type CgroupHost, type ContainerDir } from './container-host';
import { applyWrites, inContainer, makeDir, removeSharedParent, signalTree, undoMade, type Made } from './container-fs';
import { fieldOf, v1Writes, type CgroupWrite } from './container-limits';
import { containerDeviceState, deviceTransition, parseDevicesList, sameDeviceState, type DeviceState } from './devices';
import { cgroupError, errCode, readProcsDeep, removeTree, tryRead, writeFile } from './hierarchy';
import { readV1Files, treeCpuNs } from './v1';
import { v1Stats } from './stats';
import { DynodError } from '../errors';

type Controller = (typeof CONTAINER_V1_CONTROLLERS)[number];

/** The controllers whose hierarchy must be there for what `r` sets (devices: any rule but "allow all"). */
function neededControllers(r: ContainerResources, devices: DeviceState | null): Map<Controller, string> {
  const out = new Map<Controller, string>();
  const m = r.memory;
  if (m.limit !== null || m.swap !== null || m.reservation !== null || m.disableOOMKiller !== null) out.set('memory', 'linux.resources.memory');
  if (r.cpu.shares !== null || r.cpu.quota !== null || r.cpu.period !== null) out.set('cpu', 'linux.resources.cpu');
  if (r.cpu.cpus !== null || r.cpu.mems !== null) out.set('cpuset', 'linux.resources.cpu.cpus/mems');
  if (r.pids.limit !== null) out.set('pids', 'linux.resources.pids');
  if (devices && !(devices.defaultAllow && devices.exceptions.length === 0)) out.set('devices', 'linux.resources.devices');
  return out;
}

/** A new cpuset cgroup has empty cpus and mems (no task may join it then): its parent's are copied, as runc does. */
function fillCpuset(dir: string): void {
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    if ((tryRead(`${dir}/${file}`, 'create cgroup') ?? '').trim() !== '') continue;
    const parent = (tryRead(`${path.dirname(dir)}/${file}`, 'create cgroup') ?? '').trim();
    writeFile(`${dir}/${file}`, parent);
  }
}

/** Thaws a freezer directory and every one below it (a frozen v1 task does not die of SIGKILL). */
function thawTree(dir: string): void {
  try {
    fs.writeFileSync(`${dir}/freezer.state`, 'THAWED');
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) thawTree(`${dir}/${e.name}`);
  } catch (e) {
    if (errCode(e) !== 'ENOENT') throw cgroupError('remove cgroup', 'write', `${dir}/freezer.state`, e);
  }
}

export class ContainerV1 implements ContainerCgroup {
  readonly version = 1 as const;
  readonly intoDir = '';
  private removing: Promise<void> | undefined;

  constructor(readonly path: string, private readonly parts: ContainerDir[]) {}

  static create(host: CgroupHost, checked: string, r: ContainerResources, reuse: boolean): ContainerV1 {
    const cpuset = r.cpu.cpus !== null || r.cpu.mems !== null;
    const parts = containerDirs(host, checked, CONTAINER_V1_CONTROLLERS.filter((c) => c !== 'cpuset' || cpuset));
    if (parts.length === 0) throw new DynodError(`create cgroup: no cgroup v1 hierarchy of ${CONTAINER_V1_CONTROLLERS.join(', ')} is mounted here`, { step: 'create cgroup', code: 'ENOENT' });
    const devices = containerDeviceState(r.devices);
    ContainerV1.checkMounted(parts, neededControllers(r, devices));
    const made: Made[] = [];
    try {
      for (const p of parts) {
        const isCpuset = p.hierarchy.controllers.includes('cpuset');
        made.push(makeDir(p.hierarchy.mountPoint, p.dir, reuse, (d) => isCpuset && d !== p.hierarchy.mountPoint && fillCpuset(d)));
      }
      const primary = parts.find((p) => p.hierarchy.controllers.includes('memory')) ?? parts[0]!;
      const cgPath = checked.startsWith('/') ? checked : `/${path.relative(primary.hierarchy.mountPoint, primary.dir)}`;
      const cg = new ContainerV1(cgPath, parts);
      cg.write(r);
      cg.setDevices(devices);
      return cg;
    } catch (e) {
      for (const m of made.reverse()) undoMade(m);
      throw e;
    }
  }

  private static checkMounted(parts: ContainerDir[], needed: Map<Controller, string>): void {
    for (const [controller, field] of needed)
      if (!parts.some((p) => p.hierarchy.controllers.includes(controller)))
        throw new DynodError(`${field}: the cgroup v1 ${controller} controller is not mounted on this host (mount it, or leave the field out)`, { step: 'create cgroup', code: 'ENOENT', detail: controller });
  }

  get dirs(): string[] {
    return this.parts.map((p) => p.dir);
  }

  get procsFiles(): string[] {
    return this.dirs.map((d) => `${d}/cgroup.procs`);
  }

  get view(): CgroupView {
    return { version: 1, hierarchies: this.parts.map((p) => ({ dir: path.basename(p.hierarchy.mountPoint), options: p.hierarchy.options })) };
  }

  private dirOf(controller: string): string | null {
    return this.parts.find((p) => p.hierarchy.controllers.includes(controller))?.dir ?? null;
  }

  /** memory's directory lists every process (each is in every hierarchy); any will do without it */
  private get primary(): string | null {
    return this.dirOf('memory') ?? this.parts[0]?.dir ?? null;
  }

  exists(): boolean {
    return this.dirs.some((d) => fs.existsSync(d));
  }

  private write(r: ContainerResources): void {
    const read = (c: CgroupWrite['controller'], file: string) => {
      const dir = this.dirOf(c);
      return dir === null ? null : tryRead(`${dir}/${file}`, 'read cgroup');
    };
    const writes = v1Writes(r, read);
    applyWrites(writes, (c) => this.dirOf(c)!, (w, dir) =>
      new DynodError(`${fieldOf(w.file)}: ${dir} has no ${w.file} (this kernel's ${w.controller} controller lacks it)`, { step: 'set cgroup limits', code: 'ENOENT', detail: `${dir}/${w.file}` }),
    );
  }

  private setDevices(target: DeviceState): void {
    const dir = this.dirOf('devices');
    if (dir === null) return; // only "allow all" gets here (checkMounted)
    const list = () => tryRead(`${dir}/devices.list`, 'set device rules') ?? '';
    for (const w of deviceTransition(parseDevicesList(list()), target)) {
      const file = `${dir}/${w.file}`;
      try {
        fs.writeFileSync(file, w.line);
      } catch (e) {
        throw cgroupError('linux.resources.devices', 'write', `${file} (${JSON.stringify(w.line)})`, e);
      }
    }
    // the kernel takes a rule it cannot honour (e.g. one the parent lacks) without a word in some cases
    const now = parseDevicesList(list());
    if (!sameDeviceState(now, target))
      throw new DynodError(`linux.resources.devices: ${dir}/devices.list does not hold the rules written (the parent cgroup may deny some of them)`, { step: 'set device rules', detail: dir });
  }

  update(r: ContainerResources): void {
    const devices = r.devices.length > 0 ? containerDeviceState(r.devices) : null;
    const needed = neededControllers(r, devices);
    if (needed.has('cpuset') && this.dirOf('cpuset') === null)
      throw new DynodError('linux.resources.cpu.cpus/mems: the container was created without a cpuset cgroup (its config set neither), so these cannot be set now', { step: 'set cgroup limits', code: 'ENOENT', detail: 'cpuset' });
    ContainerV1.checkMounted(this.parts, needed);
    this.write(r);
    if (devices) this.setDevices(devices);
  }

  stats(): CgroupStats {
    const acct = this.dirOf('cpuacct');
    const stats = v1Stats(readV1Files(this.dirOf('memory'), acct, this.dirOf('pids')));
    // without a cpuacct hierarchy, /proc has the CPU time of the tree (dynod's own way on such hosts)
    if (acct === null) stats.cpu.usageUsec = Math.floor(treeCpuNs(this.pids()) / 1000);
    return stats;
  }

  oomKills(): number {
    return v1Stats(readV1Files(this.dirOf('memory'), null, null, ['memory.oom_control'])).oomKills;
  }

  pids(): number[] {
    const dir = this.primary;
    return dir === null ? [] : readProcsDeep(dir);
  }

  private freezerDir(): string {
    const dir = this.dirOf('freezer');
    if (dir === null) throw new DynodError('pause: the cgroup v1 freezer controller is not mounted on this host, so a container cannot be paused', { step: 'freeze cgroup', code: 'ENOENT', detail: 'freezer' });
    return dir;
  }

  /**
   * FROZEN until freezer.state says so; FREEZING may stick while processes fork, so
   * as runc: write again, and thaw for a moment now and then.
   */
  async freeze(): Promise<void> {
    const dir = this.freezerDir();
    const file = `${dir}/freezer.state`;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    try {
      for (let i = 0; i < 1000; i++) {
        if (i % 50 === 49) {
          writeFile(file, 'THAWED');
          await sleep(10);
        }
        writeFile(file, 'FROZEN');
        if (i % 25 === 24) await sleep(1);
        const state = (tryRead(file, 'freeze cgroup') ?? '').trim();
        if (state === 'FROZEN') return;
        if (state !== 'FREEZING') throw new DynodError(`pause: ${file} says ${JSON.stringify(state)} while freezing`, { step: 'freeze cgroup', detail: file });
      }
    } catch (e) {
      this.thawQuietly(file);
      throw e;
    }
    this.thawQuietly(file);
    throw new DynodError(`pause: ${dir} stayed FREEZING (processes kept appearing); thawed again`, { step: 'freeze cgroup', code: 'EBUSY', detail: file });
  }

  private thawQuietly(file: string): void {
    try { fs.writeFileSync(file, 'THAWED'); } catch { /* the error that got here says more */ }
  }

  thaw(): void {
    writeFile(`${this.freezerDir()}/freezer.state`, 'THAWED');
  }

  frozen(): boolean {
    const dir = this.dirOf('freezer');
    return dir !== null && (tryRead(`${dir}/freezer.state`, 'read cgroup') ?? '').trim() === 'FROZEN';
  }

  signalAll(sig: number): void {
    const dir = this.primary;
    if (dir !== null) signalTree(dir, sig);
  }

  remove(): Promise<void> {
    return (this.removing ??= (async () => {
      const freezer = this.dirOf('freezer');
      const primary = this.primary;
      // as runc: freeze so nothing forks past the kill, kill, thaw so the frozen die
      if (freezer !== null && primary !== null && fs.existsSync(freezer) && readProcsDeep(primary).length > 0) {
        try {
          await this.freeze();
        } catch { /* killing anyway */ }
        signalTree(primary, 9);
        thawTree(freezer);
      }
      // the memory directory last: its cgroup.procs lists every process of the others
      const dirs = this.dirs.filter((d) => d !== primary).concat(primary ?? []);
      for (const d of dirs) await removeTree(d, false, inContainer);
      for (const d of dirs) removeSharedParent(d, DEFAULT_PARENT);
    })());
  }
}
