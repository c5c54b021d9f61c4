// dynod-oci's command line: runc's, as containerd's go-runc and podman's conmon call
// it (docs/oci.md). Global flags come before the verb. Errors go to stderr and, with
// --log, to that file too (as JSON lines with --log-format json, which containerd
// reads back), and end the process with 125 (a `run` or `exec` ends with the status
// of its command).
import * as fs from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { DynodError, EXIT_DYNOD_ERROR, UsageError } from '../errors';
import { kill, list, load, pause, pids, remove, resume, start, stateOf } from './lifecycle';
import { DEFAULT_ROOT, OCI_VERSION } from './state';
import { exitStatus, waitForwarding } from './process-io';

// Each verb is a process of its own: the ones podman calls most (start, state, delete)
// do not load the config, plan and compile code that create and exec need.
const createContainer: typeof import('./create').createContainer = (o) => (require('./create') as typeof import('./create')).createContainer(o);
const execInContainer: typeof import('./exec').execInContainer = (o) => (require('./exec') as typeof import('./exec')).execInContainer(o);
const monitor = () => require('./monitor') as typeof import('./monitor');
const features = () => (require('./features') as typeof import('./features')).features();

interface Globals {
  root: string;
  log?: string;
  logFormat: 'text' | 'json';
  debug?: boolean;
  systemdCgroup?: boolean;
}

let globals: Globals = { root: DEFAULT_ROOT, logFormat: 'text' };

function logLine(level: 'error' | 'warning', msg: string): void {
  process.stderr.write(`dynod-oci: ${level === 'warning' ? 'warning: ' : ''}${msg}\n`);
  if (!globals.log) return;
  const line = globals.logFormat === 'json' ? JSON.stringify({ level, msg, time: new Date().toISOString() }) : `time="${new Date().toISOString()}" level=${level} msg=${JSON.stringify(msg)}`;
  try {
    fs.appendFileSync(globals.log, `${line}\n`);
  } catch {
    // the log is a courtesy; stderr has the message
  }
}

const warn = (m: string) => logLine('warning', m);

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function readJsonArg(file: string, what: string): unknown {
  let text: string;
  try {
    text = file === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${what} ${file}: not JSON (${(e as Error).message})`);
  }
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2))).join('').trimEnd()).join('\n') + '\n';
}

/** Runs a container to its end in the foreground (runc run): create, start, wait, delete. */
async function runForeground(id: string, flags: { bundle: string; pidFile?: string; consoleSocket?: string; detach?: boolean; keep?: boolean; preserveFds?: string }): Promise<number> {
  const root = globals.root;
  const created = await createContainer({ root, id, bundle: flags.bundle, pidFile: flags.pidFile, consoleSocket: flags.consoleSocket, preserveFds: Number(flags.preserveFds ?? 0) });
  const exited = flags.detach ? null : exitStatus(created.pidfd);
  try {
    await start(root, id, warn);
  } catch (e) {
    await remove(root, id, true, warn).catch(() => {});
    throw e;
  }
  if (!exited) {
    fs.closeSync(created.pidfd);
    return 0;
  }
  try {
    return await waitForwarding(created.pidfd, exited);
  } finally {
    if (!flags.keep) await remove(root, id, true, warn);
  }
}

function program(): Command {
  const p = new Command('dynod-oci')
    .description('an OCI runtime (runc\'s command line) that runs containers as dynos')
    .version(`dynod-oci version ${require('../../package.json').version as string}\nspec: ${OCI_VERSION}`, '-v, --version')
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .showSuggestionAfterError(false)
    // global flags before the verb, the verb's after it, and a command after the id is the command's
    .enablePositionalOptions()
    .option('--root <dir>', 'where container state is kept', DEFAULT_ROOT)
    .option('--log <file>', 'also write errors and warnings to this file')
    .addOption(new Option('--log-format <format>', 'text or json').choices(['text', 'json']).default('text'))
    .option('--debug', 'more output (accepted for runc compatibility)')
    .option('--systemd-cgroup', 'use systemd cgroups (not supported: dynod-oci manages cgroupfs paths)')
    .option('--rootless <value>', 'accepted for runc compatibility; dynod-oci runs as root', 'auto')
    .option('--criu <path>', 'accepted for runc compatibility (no checkpoint support)')
    .hook('preAction', (cmd) => {
      globals = cmd.opts() as Globals;
      if (globals.systemdCgroup)
        throw new UsageError('--systemd-cgroup: the systemd cgroup driver is not supported by dynod-oci; use cgroupfs (podman --cgroup-manager cgroupfs; containerd SystemdCgroup = false)');
      if (process.getuid?.() !== 0) throw new DynodError('must run as root', { step: 'permissions' });
    });

  p.command('create')
    .description('create a container from a bundle; its process waits for start')
    .argument('<id>')
    .option('-b, --bundle <dir>', 'the bundle directory (config.json and the rootfs)', '.')
    .option('--pid-file <file>', 'write the container process\'s pid here')
    .option('--console-socket <path>', 'AF_UNIX socket that receives the terminal\'s master fd')
    .option('--no-pivot', 'accepted for runc compatibility (dynod-oci always uses pivot_root)')
    .option('--no-new-keyring', 'accepted: dynod-oci never creates a session keyring')
    .option('--preserve-fds <n>', 'the container gets fds 3..3+N-1 of dynod-oci (N at most 6)', '0')
    .option('--pidfd-socket <path>', 'not supported')
    .action(async (id: string, f: { bundle: string; pidFile?: string; consoleSocket?: string; preserveFds: string; pidfdSocket?: string }) => {
      if (f.pidfdSocket) throw new UsageError('--pidfd-socket: not supported by dynod-oci');
      const c = await createContainer({ root: globals.root, id, bundle: f.bundle, pidFile: f.pidFile, consoleSocket: f.consoleSocket, preserveFds: Number(f.preserveFds) });
      fs.closeSync(c.pidfd);
    });

  p.command('start')
    .description('run the command of a created container')
    .argument('<id>')
    .action((id: string) => start(globals.root, id, warn));

  p.command('run')
    .description('create and start a container; without --detach, wait for it and delete it')
    .argument('<id>')
    .option('-b, --bundle <dir>', 'the bundle directory', '.')
    .option('--pid-file <file>', 'write the container process\'s pid here')
    .option('--console-socket <path>', 'AF_UNIX socket that receives the terminal\'s master fd')
    .option('-d, --detach', 'leave the container running')
    .option('--keep', 'do not delete the container after it exits')
    .option('--no-pivot', 'accepted for runc compatibility')
    .option('--no-new-keyring', 'accepted for runc compatibility')
    .option('--preserve-fds <n>', 'the container gets fds 3..3+N-1 of dynod-oci (N at most 6)', '0')
    .action(async (id: string, f: Parameters<typeof runForeground>[1]) => {
      process.exitCode = await runForeground(id, f);
    });

  p.command('state')
    .description('print the state of a container as JSON')
    .argument('<id>')
    .action((id: string) => print(stateOf(globals.root, id)));

  p.command('kill')
    .description('send a signal (default TERM) to the container process')
    .argument('<id>')
    .argument('[signal]', 'name or number', 'TERM')
    .option('-a, --all', 'signal every process of the container')
    .action((id: string, sig: string, f: { all?: boolean }) => kill(globals.root, id, sig, !!f.all));

  p.command('delete')
    .description('delete a stopped container (--force: any)')
    .argument('<id>')
    .option('-f, --force', 'kill it first when it still runs')
    .action((id: string, f: { force?: boolean }) => remove(globals.root, id, !!f.force, warn));

  p.command('exec')
    .description('run a new process in a running container')
    .passThroughOptions()
    .argument('<id>')
    .argument('[command...]', 'the command, when no --process is given')
    .option('-p, --process <file>', 'the process as config.json\'s process object (JSON)')
    .option('-d, --detach', 'return once the process runs')
    .option('--pid-file <file>', 'write the process\'s pid here')
    .option('--console-socket <path>', 'AF_UNIX socket that receives the terminal\'s master fd')
    .option('-t, --tty', 'give the process a terminal')
    .option('--cwd <dir>', 'working directory', '/')
    .option('-e, --env <KEY=VALUE>', 'an environment variable (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('-u, --user <uid[:gid]>', 'user and group ids', '0:0')
    .option('--preserve-fds <n>', 'only 0 is supported', '0')
    .action(async (id: string, command: string[], f: { process?: string; detach?: boolean; pidFile?: string; consoleSocket?: string; tty?: boolean; cwd: string; env: string[]; user: string; preserveFds: string }) => {
      if (Number(f.preserveFds)) throw new UsageError(`exec --preserve-fds ${f.preserveFds}: not supported by dynod-oci (create and run take it); accepted: 0`);
      let proc: unknown;
      let where = 'exec';
      if (f.process) {
        proc = readJsonArg(f.process, '--process');
        where = f.process;
      } else {
        if (command.length === 0) throw new UsageError('exec: give a command, or --process FILE');
        const [uid, gid] = f.user.split(':');
        proc = { args: command, cwd: f.cwd, env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...f.env], terminal: !!f.tty, user: { uid: Number(uid), gid: Number(gid ?? uid) } };
      }
      process.exitCode = await execInContainer({ root: globals.root, id, process: proc, where, detach: !!f.detach, pidFile: f.pidFile, consoleSocket: f.consoleSocket });
    });

  p.command('ps')
    .description('list the processes of a container')
    .argument('<id>')
    .addOption(new Option('-f, --format <format>', 'table or json').choices(['table', 'json']).default('table'))
    .action((id: string, f: { format: string }) => {
      const list = pids(globals.root, id);
      if (f.format === 'json') return void process.stdout.write(`${JSON.stringify(list)}\n`);
      const rows = [['PID', 'CMD']];
      for (const pid of list) {
        let cmd = '';
        try { cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim(); } catch { /* gone meanwhile */ }
        rows.push([String(pid), cmd]);
      }
      process.stdout.write(table(rows));
    });

  p.command('list')
    .description('list containers')
    .addOption(new Option('-f, --format <format>', 'table or json').choices(['table', 'json']).default('table'))
    .option('-q, --quiet', 'ids only')
    .action((f: { format: string; quiet?: boolean }) => {
      const all = list(globals.root);
      if (f.quiet) return void process.stdout.write(all.map((s) => `${String(s.id)}\n`).join(''));
      if (f.format === 'json') return void process.stdout.write(`${JSON.stringify(all)}\n`);
      const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']];
      for (const s of all) rows.push([String(s.id), String(s.pid), String(s.status), String(s.bundle), String(s.created), 'root']);
      process.stdout.write(table(rows));
    });

  p.command('pause').description('freeze every process of a container').argument('<id>').action((id: string) => pause(globals.root, id));
  p.command('resume').description('thaw a paused container').argument('<id>').action((id: string) => resume(globals.root, id));

  p.command('update')
    .description('change the resources of a container')
    .argument('<id>')
    .option('-r, --resources <file>', 'linux.resources as JSON ("-": stdin)')
    .option('--memory <bytes>', 'memory limit')
    .option('--memory-swap <bytes>', 'memory plus swap')
    .option('--cpu-shares <n>')
    .option('--cpu-quota <us>')
    .option('--cpu-period <us>')
    .option('--cpuset-cpus <list>')
    .option('--pids-limit <n>')
    .action((id: string, f: Record<string, string | undefined>) => monitor().updateCommand(globals.root, id, f, readJsonArg));

  p.command('events')
    .description('print stats (and OOM events) of a container as JSON lines')
    .argument('<id>')
    .option('--stats', 'print the stats once and exit')
    .option('--interval <duration>', 'between stats, e.g. 5s', '5s')
    .action((id: string, f: { stats?: boolean; interval: string }) => monitor().eventsCommand(globals.root, id, f));

  p.command('features')
    .description('print what this runtime supports, as JSON (the runtime spec\'s features document)')
    .action(() => print(features()));

  for (const verb of ['checkpoint', 'restore']) p.command(verb).allowUnknownOption().argument('[args...]').action(() => { throw new UsageError(`${verb}: not supported by dynod-oci (no CRIU)`); });
  return p;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return; // --help, --version
      logLine('error', e.message.replace(/^error: /, ''));
      process.exitCode = EXIT_DYNOD_ERROR;
      return;
    }
    const err = DynodError.from(e);
    logLine('error', err.message);
    process.exitCode = err.exitCode;
  }
}

// for tests: the load() of a state dir
export { load };
