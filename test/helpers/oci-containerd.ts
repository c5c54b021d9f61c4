// A containerd of the suite's own: root, state, socket, plugins' dirs in a temp dir, the
// CRI plugin off, started as a child of the test and stopped at the end. `ctr run
// --runc-binary <runtime under test> --runc-root <the suite's>` starts containers through
// containerd's io.containerd.runc.v2 shim, which calls the runtime with --root, --log and
// --log-format json, as with a runtimes.<name> entry with BinaryName in config.toml.
//
// What containerd 1.6 still writes outside the temp dir: the shim's socket directory
// /run/containerd/s (a fixed path); it is removed at the end when this suite made it.
// ctr's FIFOs go to the suite's dir: every `ctr run` and `ctr tasks exec` here passes --fifo-dir.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { hostEnv, waitFor } from './dynod';
import { CgroupParent, RuntimeWrapper, cmd, killStragglers, mountsUnder, processesGone, unmountUnder, type Cmd, type CmdOpts } from './oci';
import { buildOciArchive } from './oci-image';

// ctr's default --fifo-dir and the shim's fixed socket dir (ctr calls here pass --fifo-dir; the fifo entry is a safety net)
const SHARED_DIRS = ['/run/containerd', '/run/containerd/s', '/run/containerd/fifo'];

export class Containerd {
  readonly dir: string;
  readonly sock: string;
  readonly runtime: RuntimeWrapper;
  readonly cgroup: CgroupParent;
  readonly runcRoot: string;
  readonly image = 'localhost/dynod-oci-test:1';
  private daemon: ChildProcess | undefined;
  private readonly sharedBefore = SHARED_DIRS.filter((d) => fs.existsSync(d));
  readonly env = hostEnv();

  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-oci-ctr-'));
    fs.chmodSync(this.dir, 0o755);
    // the shim passes --root itself: the wrapper only logs
    this.runtime = new RuntimeWrapper(this.dir, false);
    this.runcRoot = path.join(this.dir, 'runc-root');
    this.cgroup = new CgroupParent(`dynod-oci-test-ctr-${process.pid}`);
    this.sock = path.join(this.dir, 'containerd.sock');
    const q = JSON.stringify;
    fs.writeFileSync(path.join(this.dir, 'config.toml'), [
      'version = 2',
      `root = ${q(path.join(this.dir, 'root'))}`,
      `state = ${q(path.join(this.dir, 'state'))}`,
      `disabled_plugins = ${q(['io.containerd.grpc.v1.cri', 'io.containerd.snapshotter.v1.btrfs', 'io.containerd.snapshotter.v1.zfs', 'io.containerd.snapshotter.v1.devmapper', 'io.containerd.snapshotter.v1.aufs', 'io.containerd.tracing.processor.v1.otlp', 'io.containerd.internal.v1.tracing'])}`,
      '[grpc]', `  address = ${q(this.sock)}`,
      '[ttrpc]', `  address = ${q(`${this.sock}.ttrpc`)}`,
      '[debug]', '  address = ""',
      '[metrics]', '  address = ""',
      '[plugins."io.containerd.internal.v1.opt"]', `  path = ${q(path.join(this.dir, 'opt'))}`,
      '',
    ].join('\n'));
  }

  /** Starts the daemon and waits until it answers. */
  async start(): Promise<Cmd> {
    const log = fs.openSync(path.join(this.dir, 'containerd.log'), 'a');
    this.daemon = spawn('containerd', ['--config', path.join(this.dir, 'config.toml')], { env: this.env, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    let last: Cmd | undefined;
    try {
      await waitFor(async () => {
        last = await this.ctr(['version']);
        return last.code === 0 || this.daemon!.exitCode !== null;
      }, 20_000, 'containerd to answer', 100);
    } catch { /* last says why */ }
    return last!;
  }

  ctr(args: string[], opts: CmdOpts = {}): Promise<Cmd> {
    return cmd(['ctr', '-a', this.sock, ...args], { env: this.env, ...opts });
  }

  /** `ctr run` flags that point containerd's runc shim at the runtime under test, with the suite's cgroup parent. */
  runFlags(id: string): string[] {
    return ['--runc-binary', this.runtime.path, '--runc-root', this.runcRoot, '--cgroup', path.posix.join(this.cgroup.path, id), '--fifo-dir', path.join(this.dir, 'fifo')];
  }

  /** `ctr tasks exec --fifo-dir … ARGS…` */
  exec(args: string[], opts: CmdOpts = {}): Promise<Cmd> {
    return this.ctr(['tasks', 'exec', '--fifo-dir', path.join(this.dir, 'fifo'), ...args], opts);
  }

  /** `ctr run FLAGS… IMAGE ID COMMAND…` */
  run(id: string, flags: string[], command: string[], opts: CmdOpts = {}): Promise<Cmd> {
    return this.ctr(['run', ...this.runFlags(id), ...flags, this.image, id, ...command], opts);
  }

  async importImage(): Promise<Cmd> {
    const archive = buildOciArchive(path.join(this.dir, 'image'), this.image);
    const r = await this.ctr(['images', 'import', archive]);
    fs.rmSync(path.join(this.dir, 'image'), { recursive: true, force: true });
    return r;
  }

  /** Containers and tasks containerd still knows, one line each. */
  async known(): Promise<string[]> {
    const c = await this.ctr(['containers', 'ls', '-q']);
    const tk = await this.ctr(['tasks', 'ls', '-q']);
    return [...c.stdout.split('\n').filter(Boolean).map((x) => `container ${x}`), ...tk.stdout.split('\n').filter(Boolean).map((x) => `task ${x}`)];
  }

  /** Stops the daemon (TERM, then KILL after 10 s); returns how it ended. */
  async stop(): Promise<string> {
    const d = this.daemon;
    if (!d || d.exitCode !== null || d.signalCode !== null) return 'not running';
    const ended = new Promise<string>((res) => d.once('exit', (code, sig) => res(`exited ${code ?? sig}`)));
    d.kill('SIGTERM');
    const timer = setTimeout(() => d.kill('SIGKILL'), 10_000);
    const how = await ended;
    clearTimeout(timer);
    return how;
  }

  /** The shared dirs under /run/containerd this suite made (removed by destroy when empty). */
  sharedMade(): string[] {
    return SHARED_DIRS.filter((d) => !this.sharedBefore.includes(d) && fs.existsSync(d));
  }

  /** Teardown: every task and container gone, the daemon stopped, cgroups, shared dirs and the temp dir removed. Returns what had to be forced or would not go. */
  async destroy(): Promise<string[]> {
    if (this.daemon && this.daemon.exitCode === null) {
      for (const line of await this.known()) {
        const [kind, id] = line.split(' ');
        if (kind === 'task') await this.ctr(['tasks', 'kill', '-a', '-s', 'SIGKILL', id!]);
      }
      for (const line of await this.known()) {
        const [kind, id] = line.split(' ');
        await this.ctr(kind === 'task' ? ['tasks', 'delete', '-f', id!] : ['containers', 'delete', id!]);
      }
      await this.stop();
    }
    const killed = (await processesGone(this.dir, 5000)).length || this.cgroup.processes().length ? await killStragglers(this.dir, this.cgroup) : [];
    unmountUnder(this.dir);
    const stuck = [...killed.map((k) => `killed ${k}`), ...this.cgroup.remove()];
    for (const d of this.sharedMade().reverse()) {
      try {
        fs.rmdirSync(d);
      } catch { /* in use by another containerd: its own */ }
    }
    this.runtime.keepCalls(this.dir, 'containerd');
    fs.rmSync(this.dir, { recursive: true, force: true });
    return stuck;
  }

  /** What is left under the suite's paths: mounts and processes. */
  async leftovers(): Promise<{ mounts: string[]; processes: string[] }> {
    return { processes: await processesGone(this.dir, 5000), mounts: mountsUnder(this.dir) };
  }
}
