// An OCI container's cgroup on v2: one directory, controllers enabled down to it as
// runc does; device rules as an eBPF program (native/devices.cc); pause with
// cgroup.freeze.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ContainerResources } from '../oci/resources';
import type { ContainerCgroup } from './container';
import type { CgroupStats } from './types';
import { DEFAULT_PARENT, containerDirs, type CgroupHost } from './container-host';
import { applyWrites, inContainer, makeDir, pollUntil, removeSharedParent, signalTree, undoMade, type Made } from './container-fs';
import { fieldOf, v2Writes, type CgroupWrite } from './container-limits';
import { accessBits, containerDeviceState, type DeviceState } from './devices';
import { readProcsDeep, removeTree, tryRead, tryWrite, writeFile } from './hierarchy';
import { readV2Files } from './v2';
import { v2Stats } from './stats';
import { native } from '../native';
import { DynodError } from '../errors';

/** What a container's limits need enabled in each parent's cgroup.subtree_control. */
const CONTROLLERS = ['cpu', 'cpuset', 'memory', 'pids'];

/**
 * Enables in `dir` the controllers its children need, where `dir` has them and
 * has not enabled them yet. Best effort, one at a time, as runc's
 * CreateCgroupPath: a cgroup that holds processes cannot pass controllers down,
 * and the limit written later names what is missing.
 */
function enableControllers(dir: string): void {
  const words = (f: string) => (tryRead(`${dir}/${f}`, 'create cgroup') ?? '').trim().split(/\s+/);
  const available = words('cgroup.controllers');
  const enabled = words('cgroup.subtree_control');
  for (const c of CONTROLLERS) {
    if (!available.includes(c) || enabled.includes(c)) continue;
    try {
      fs.writeFileSync(`${dir}/cgroup.subtree_control`, `+${c}`);
    } catch { /* see above */ }
  }
}

/** The cgroup.events key "frozen" is 1. */
function eventsFrozen(dir: string): boolean {
  return /^frozen 1$/m.test(tryRead(`${dir}/cgroup.events`, 'freeze cgroup') ?? '');
}

export class ContainerV2 implements ContainerCgroup {
  readonly version = 2 as const;
  private removing: Promise<void> | undefined;

  constructor(readonly path: string, private readonly dir: string) {}

  static create(host: CgroupHost, checked: string, r: ContainerResources, reuse: boolean): ContainerV2 {
    const [part] = containerDirs(host, checked, []);
    const { hierarchy, dir } = part!;
    const devices = containerDeviceState(r.devices);
    let made: Made | undefined;
    try {
      made = makeDir(hierarchy.mountPoint, dir, reuse, (d, isLeaf) => !isLeaf && enableControllers(d));
      const cg = new ContainerV2(checked.startsWith('/') ? checked : `/${path.relative(hierarchy.mountPoint, dir)}`, dir);
      cg.write(r);
      cg.setDevices(devices);
      return cg;
    } catch (e) {
      if (made) undoMade(made);
      throw e;
    }
  }

  get intoDir(): string {
    return this.dir;
  }

  get procsFiles(): string[] {
    return [`${this.dir}/cgroup.procs`];
  }

  get dirs(): string[] {
    return [this.dir];
  }

  readonly view = { version: 2 } as const;

  exists(): boolean {
    return fs.existsSync(this.dir);
  }

  private write(r: ContainerResources): void {
    const writes = v2Writes(r, (_c, file) => tryRead(`${this.dir}/${file}`, 'read cgroup'));
    applyWrites(writes, () => this.dir, (w: CgroupWrite, dir) => {
      const parent = path.dirname(dir);
      return new DynodError(
        `${fieldOf(w.file)}: the ${w.controller} controller is not enabled for ${dir} (no ${w.file}); enable it in ${parent}/cgroup.subtree_control (a cgroup that holds processes cannot pass controllers down)`,
        { step: 'set cgroup limits', code: 'ENOENT', detail: `${dir}/${w.file}` },
      );
    });
  }

  private setDevices(state: DeviceState): void {
    const exceptions = state.exceptions.map((e) => ({ type: e.type, major: e.major ?? -1, minor: e.minor ?? -1, access: accessBits(e.access) }));
    try {
      native().cgroupDeviceFilter(this.dir, state.defaultAllow, exceptions);
    } catch (e) {
      const err = DynodError.from(e, 'set device rules');
      throw new DynodError(`linux.resources.devices: ${err.message}`, { step: err.step, syscall: err.syscall, errno: err.errno, code: err.code, detail: err.detail }, undefined, { cause: e });
    }
  }

  update(r: ContainerResources): void {
    this.write(r);
    if (r.devices.length > 0) this.setDevices(containerDeviceState(r.devices));
  }

  stats(): CgroupStats {
    return v2Stats(readV2Files(this.dir));
  }

  oomKills(): number {
    return v2Stats(readV2Files(this.dir, ['memory.events'])).oomKills;
  }

  pids(): number[] {
    return readProcsDeep(this.dir);
  }

  /** cgroup.freeze, then cgroup.events until "frozen 1" (10 s, as runc's wait). */
  async freeze(): Promise<void> {
    writeFile(`${this.dir}/cgroup.freeze`, 1);
    if (await pollUntil(() => eventsFrozen(this.dir), 10_000)) return;
    tryWrite(`${this.dir}/cgroup.freeze`, 0, 'freeze cgroup');
    throw new DynodError(`pause: ${this.dir} did not freeze within 10 s; thawed again`, { step: 'freeze cgroup', code: 'ETIMEDOUT', detail: this.dir });
  }

  thaw(): void {
    writeFile(`${this.dir}/cgroup.freeze`, 0);
  }

  frozen(): boolean {
    return (tryRead(`${this.dir}/cgroup.freeze`, 'read cgroup') ?? '').trim() === '1' && eventsFrozen(this.dir);
  }

  signalAll(sig: number): void {
    // cgroup.kill (5.14+) reaches every process at once, forks included
    if (sig === 9 && tryWrite(`${this.dir}/cgroup.kill`, 1, 'signal container')) return;
    signalTree(this.dir, sig);
  }

  /** cgroup.kill or SIGKILLs (v2 delivers them to frozen processes too), then rmdir deepest first. */
  remove(): Promise<void> {
    return (this.removing ??= (async () => {
      await removeTree(this.dir, true, inContainer);
      removeSharedParent(this.dir, DEFAULT_PARENT);
    })());
  }
}
