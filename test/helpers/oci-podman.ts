// A podman of the suite's own: its configuration, storage, state, locks and events in a
// temp dir (CONTAINERS_CONF and CONTAINERS_STORAGE_CONF name files there, which podman
// reads instead of the machine's), the runtime under test registered in
// [engine.runtimes] under its own name, and cgroups below this process's cgroup.
//
// What podman still writes outside the temp dir: its blob-info cache
// (/var/lib/containers/cache/blob-info-cache-v1.boltdb, a cache any image copy by root
// updates; podman 4.3 has no setting for it).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hostEnv } from './dynod';
import { CgroupParent, RuntimeWrapper, cmd, killStragglers, mountsUnder, netnsNames, nsfsMounts, processesGone, unmountUnder, RUNTIME_NAME, type Cmd, type CmdOpts } from './oci';
import { buildOciArchive, type ImageFile } from './oci-image';

/** Limits podman asks the runtime to set: its defaults (1048576) need CAP_SYS_RESOURCE, which a test host may lack. */
function defaultUlimits(): string[] {
  const limits = fs.readFileSync('/proc/self/limits', 'utf8');
  const hard = (what: string) => {
    const v = new RegExp(`^${what}\\s+\\S+\\s+(\\S+)`, 'm').exec(limits)?.[1];
    return v === undefined || v === 'unlimited' ? 1024 : Math.min(Number(v), 1024);
  };
  return [`nofile=${hard('Max open files')}:${hard('Max open files')}`, `nproc=${hard('Max processes')}:${hard('Max processes')}`];
}

export interface Leftovers {
  containers: string[];
  runtimeState: string[];
  containerCgroups: string[];
  cgroupProcesses: string[];
  processes: string[];
  mounts: string[];
  netns: string[];
  nsfs: string[];
}

export class Podman {
  readonly dir: string;
  readonly runtime: RuntimeWrapper;
  readonly cgroup: CgroupParent;
  readonly env: NodeJS.ProcessEnv;
  readonly image = 'localhost/dynod-oci-test:1';
  /** default_ulimits of the suite's containers.conf (nofile=…, nproc=…) */
  readonly ulimits = defaultUlimits();
  private readonly netnsBefore = netnsNames();
  private readonly nsfsBefore = nsfsMounts();

  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-oci-podman-'));
    fs.chmodSync(this.dir, 0o755);
    this.runtime = new RuntimeWrapper(this.dir);
    this.cgroup = new CgroupParent(`dynod-oci-test-podman-${process.pid}`);
    const d = (rel: string) => {
      const p = path.join(this.dir, rel);
      fs.mkdirSync(p, { recursive: true });
      return p;
    };
    const list = (xs: string[]) => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;
    const conf = path.join(this.dir, 'containers.conf');
    fs.writeFileSync(conf, [
      '[containers]',
      // the runtime makes a network namespace with loopback only: no bridge, no firewall rules on the host
      'netns = "none"',
      `default_ulimits = ${list(this.ulimits)}`,
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = ${JSON.stringify(path.join(this.dir, 'events.log'))}`,
      `tmp_dir = ${JSON.stringify(d('libpod-tmp'))}`,
      `volume_path = ${JSON.stringify(d('volumes'))}`,
      `image_copy_tmp_dir = ${JSON.stringify(d('var-tmp'))}`,
      // podman's default (shm) locks live in /dev/shm/libpod_lock, shared with the machine's podman
      'lock_type = "file"',
      `runtime = ${JSON.stringify(RUNTIME_NAME)}`,
      // podman passes --log-format=json --log FILE to these (and reads errors from FILE)
      `runtime_supports_json = ${list([...new Set(['crun', 'runc', 'kata', 'runsc', 'krun', RUNTIME_NAME])])}`,
      '[engine.runtimes]',
      `${JSON.stringify(RUNTIME_NAME)} = [${JSON.stringify(this.runtime.path)}]`,
      '[network]',
      `network_config_dir = ${JSON.stringify(d('networks'))}`,
      '',
    ].join('\n'));
    const storage = path.join(this.dir, 'storage.conf');
    fs.writeFileSync(storage, ['[storage]', 'driver = "overlay"', `graphroot = ${JSON.stringify(d('storage'))}`, `runroot = ${JSON.stringify(d('storage-run'))}`, ''].join('\n'));
    this.env = hostEnv({ CONTAINERS_CONF: conf, CONTAINERS_STORAGE_CONF: storage, TMPDIR: path.join(this.dir, 'var-tmp'), CONTAINER_HOST: undefined, CONTAINER_CONNECTION: undefined });
  }

  podman(args: string[], opts: CmdOpts = {}): Promise<Cmd> {
    return cmd(['podman', ...args], { env: this.env, ...opts });
  }

  /** What every `podman run` and `create` of the suites gets: no registry, our cgroup parent. */
  get runFlags(): string[] {
    return ['--pull', 'never', '--cgroup-parent', this.cgroup.path];
  }

  /** `podman run FLAGS… IMAGE COMMAND…` */
  run(flags: string[], command: string[], opts: CmdOpts = {}): Promise<Cmd> {
    return this.podman(['run', ...this.runFlags, ...flags, this.image, ...command], opts);
  }

  /** Builds the test image (busybox + extra files) and makes it podman's. */
  async loadImage(extra: Record<string, ImageFile> = {}): Promise<Cmd> {
    const archive = buildOciArchive(path.join(this.dir, 'image'), this.image, extra);
    const r = await this.podman(['pull', '-q', `oci-archive:${archive}`]);
    if (r.code === 0) await this.podman(['tag', r.stdout.trim(), this.image]);
    fs.rmSync(path.join(this.dir, 'image'), { recursive: true, force: true });
    return r;
  }

  /** The container's main process as the host sees it (0 when not running). */
  async pid(name: string): Promise<number> {
    const r = await this.podman(['inspect', '-f', '{{.State.Pid}}', name]);
    return Number(r.stdout.trim()) || 0;
  }

  /** A cgroup v1 file (or the v2 one) of a container's main process, read on the host. */
  static hostCgroupFile(pid: number, controller: string, file: string): string {
    const line = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => (l.split(':')[1] ?? '').split(',').includes(controller));
    const v2 = line === undefined;
    const rel = v2 ? fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'))!.slice(3) : line!.split(':').slice(2).join(':');
    const base = v2 ? '/sys/fs/cgroup' : `/sys/fs/cgroup/${controller}`;
    return fs.readFileSync(path.join(base, rel, v2 ? file.replace(/^memory\.limit_in_bytes$/, 'memory.max') : file), 'utf8').trim();
  }

  /** Everything a run of the suite may have left: containers, runtime state, cgroups, processes, mounts, namespaces. */
  async leftovers(): Promise<Leftovers> {
    const ps = await this.podman(['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
    const conmonOrRuntime = await processesGone(this.dir, 5000);
    return {
      containers: ps.stdout.split('\n').filter(Boolean),
      runtimeState: this.runtime.state(),
      // conmon's cgroup (<parent>/conmon) is podman's, not the runtime's
      containerCgroups: this.cgroup.children().filter((c) => c !== 'conmon'),
      cgroupProcesses: this.cgroup.processes(),
      processes: conmonOrRuntime,
      mounts: mountsUnder(this.dir),
      netns: [...netnsNames()].filter((n) => !this.netnsBefore.has(n)),
      nsfs: [...nsfsMounts()].filter((n) => !this.nsfsBefore.has(n)),
    };
  }

  /** Teardown: every container gone, the cgroup parent removed, the temp dir removed. Returns what had to be forced or would not go. */
  async destroy(): Promise<string[]> {
    await this.podman(['rm', '-a', '-f', '-t', '0'], { timeoutMs: 30_000 });
    const killed = (await processesGone(this.dir, 5000)).length || this.cgroup.processes().length ? await killStragglers(this.dir, this.cgroup) : [];
    unmountUnder(this.dir);
    const stuck = this.cgroup.remove();
    this.runtime.keepCalls(this.dir, 'podman');
    fs.rmSync(this.dir, { recursive: true, force: true });
    return [...killed.map((k) => `killed ${k}`), ...stuck];
  }
}
