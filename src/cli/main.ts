import { Command, CommanderError, Option } from 'commander';
import { runCommand, type RunFlags } from './run';
import { sizesCommand } from './sizes';
import { DynodError, EXIT_DYNOD_ERROR } from '../errors';
import { parsePositiveInt } from '../dyno/units';
import { exitWhenDone } from './exit';

export { exitWhenDone };

const collect = (v: string, prev: string[]) => [...prev, v];

/**
 * The command line. `dynod run` (argv[2], there are no global options before it) gets a
 * program with that command alone: building the other fifteen commands and their
 * options is ~1.5 ms of every one-off's start (docs/benchmarks.md, CLI start-up).
 */
function program(argv: string[]): Command {
  const p = new Command('dynod')
    .description('Heroku-style dynos on any Linux host, without Docker')
    .version(require('../../package.json').version as string)
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .showSuggestionAfterError(false);
  runCommandLine(p);
  if (argv[2] === 'run') return p;
  formationCommands(p);
  exportAndSizes(p);
  return p;
}

function runCommandLine(p: Command): void {
  p.command('run')
    .description('run COMMAND in a new one-off dyno')
    .usage('[options] -- COMMAND [ARGS...]')
    .argument('<command...>', 'the command and its arguments')
    .option('-s, --size <size>', 'dyno size (see `dynod sizes`)', 'standard-1x')
    .option('--memory <bytes>', 'override the RAM quota, e.g. 128M')
    .option('--cpus <n>', 'override the CPU: a quota of N CPUs, e.g. 0.5')
    .option('--pids <n>', 'override the process limit')
    .option('--app <dir>', 'app directory, mounted copy-on-write at /app (default: current directory)')
    .option('--rootfs <dir>', 'a complete root filesystem instead of the host stack')
    .option('-n, --name <name>', '$DYNO (default: run.N)')
    .option('--port <port>', '$PORT', '5000')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect, [])
    .option('--env-file <file>', 'read environment variables from a .env file (repeatable)', collect, [])
    .addOption(new Option('--user <user>', 'user the command runs as').choices(['dyno', 'root']).default('dyno'))
    .addOption(new Option('--net <mode>', 'network: private (own namespace, reaches the outside, not other dynos nor the host), none (loopback only) or host').choices(['private', 'none', 'host']).default('private'))
    .option('-p, --publish <[addr:]port>', "forward a host port to the dyno's $PORT (repeatable)", collect, [])
    .option('--allow-host-port <port>', "let the dyno reach the host's 127.0.0.1:PORT at its own 127.0.0.1:PORT (repeatable)", collect, [])
    .option('-i, --interactive', 'keep stdin open; with a terminal on stdin, give the dyno a terminal')
    .option('--no-tty', 'with -i, never allocate a terminal')
    .addOption(new Option('--userns <mode>', 'user namespace: private (ids mapped to a host range of its own) or host').choices(['private', 'host']).default('private'))
    .option('--seccomp <profile>', 'seccomp: default, unconfined, or a profile in Docker\'s JSON format', 'default')
    .option('--detach', 'with a formation of the app running: run in the background, output to its log')
    .option('--boot-timeout <duration>', 'SIGKILL the dyno (R10) when nothing listens on $PORT within this, e.g. 60s')
    .option('--dry-run [what]', 'print the dyno plan as JSON ("plan", the default) or what executes ("native": ops, id maps, capabilities, init argv) and run nothing')
    .action(async (command: string[], flags: RunFlags) => {
      process.exitCode = await runCommand(command, flags);
    });
}

function exportAndSizes(p: Command): void {
  p.command('export')
    .description("write what runs the app's formation on systemd or Nomad, every process still a dyno (docs/export.md)")
    .argument('<engine>', 'systemd or nomad')
    .argument('[formation]', 'web=2,worker=1, web=2:standard-2x, or type names (default: one of each type except release)')
    .option('-o, --out <dir>', 'where the files go (default: ./export-ENGINE); systemd units name the env file there by its absolute path')
    .option('-f, --procfile <file>', 'the Procfile (default: APP/Procfile)')
    .option('-e, --env <files>', 'comma-separated .env files applied after the config vars')
    .option('--app <dir>', 'the app directory (default: the current directory); on the target host it must be at the same path, unless --artifact')
    .option('--name <app>', "the app's name (default: the app directory's base name)")
    .option('-p, --port <port>', '$PORT in every dyno; systemd publishes web.N on host port PORT+N', '5000')
    .option('--bind <addr>', 'systemd: the address web dynos are published on', '127.0.0.1')
    .option('-s, --size <size>', 'the size of types the formation does not size', 'standard-1x')
    .option('--boot-timeout <duration>', 'a web dyno must listen on $PORT within this (R10)', '60s')
    .option('--dynod <path>', 'the dynod command on the target hosts (default: this bin/dynod)')
    .option('--artifact <url>', "nomad: a go-getter URL of the app's tarball each client fetches (default: the app is at --app on every client)")
    .option('--datacenters <list>', 'nomad: comma-separated datacenters of the job', '*')
    .action((engine: string, formation: string | undefined, flags: import('./export').ExportFlags) => {
      const { exportCommand } = require('./export') as typeof import('./export');
      process.exitCode = exportCommand(engine, formation, flags);
    });

  p.command('sizes')
    .description('list dyno sizes and their limits')
    .option('--json', 'print JSON')
    .action((flags: { json?: boolean }) => {
      process.stdout.write(sizesCommand(!!flags.json));
    });
}

const appOptions = (c: Command) =>
  c.option('--app <dir>', 'the app directory (default: the current directory)').option('--name <app>', "the app's name (default: the app directory's base name)").option('--json', 'print JSON');

/** Lazily loaded: `dynod run` pays nothing for the formation's verbs. */
const verbs = () => require('./verbs') as typeof import('./verbs');

function formationCommands(p: Command): void {
  p.command('start')
    .description('run the Procfile formation in the foreground (like heroku local), every process a dyno')
    .argument('[formation]', 'web=2,worker=1, web=2:standard-2x, or type names (default: one of each type except release)')
    .option('-f, --procfile <file>', 'the Procfile (default: APP/Procfile)')
    .option('-e, --env <files>', 'comma-separated .env files applied after the config vars')
    .option('--app <dir>', 'the app directory, mounted copy-on-write at /app (default: the current directory)')
    .option('--name <app>', "the app's name (default: the app directory's base name)")
    .option('-p, --port <port>', "the router's port, and $PORT in web dynos", '5000')
    .option('--bind <addr>', 'the address the router listens on', '127.0.0.1')
    .option('--tls <mode>', 'self-signed: a TLS listener with a development certificate dynod makes and keeps')
    .option('--tls-cert <file>', 'a TLS listener with this PEM certificate (and --tls-key)')
    .option('--tls-key <file>', 'the PEM key of --tls-cert')
    .option('--tls-port <port>', 'the TLS listener\'s port', '5443')
    .option('--publish-dynos', 'also publish web.N on host port PORT+N, straight to that dyno')
    .option('-s, --size <size>', 'the size of types the formation does not size', 'standard-1x')
    .option('--boot-timeout <duration>', 'a web dyno must listen on $PORT within this (R10)', '60s')
    .option('--grace <duration>', 'between SIGTERM and SIGKILL when a dyno stops (R12)', '30s')
    .addOption(new Option('--restart <policy>', 'crash restarts: heroku (at once, then growing cool-offs), always (at once), never').default('heroku'))
    .option('--backoff-scale <factor>', "multiply Heroku's cool-offs (0.001: 20 min becomes 1.2 s)", '1')
    .option('--runtime-metrics [interval]', "log Heroku's log-runtime-metrics lines per dyno, every 20 s (or the interval given)")
    .option('--release-timeout <duration>', 'the release phase fails after this (Heroku: 1 h)', '1h')
    .option('--cycle <duration>', 'restart each dyno after this long, plus a random 0-15% (Heroku: 24h)')
    .option('--log-format <format>', 'text (Heroku\'s format) or json', 'text')
    .option('--allow-host-port <port>', "127.0.0.1:PORT inside every dyno reaches the host's 127.0.0.1:PORT (repeatable)", collect, [])
    .addOption(new Option('--net <mode>', "the dynos' network: private (reaches the outside, not each other) or none (loopback only)").choices(['private', 'none']).default('private'))
    .option('--color', 'colour the log even when stdout is not a terminal')
    .option('--no-color', 'never colour the log')
    .action(async (formation: string | undefined, flags: import('./start').StartFlags) => {
      const { startCommand } = require('./start') as typeof import('./start');
      process.exitCode = await startCommand(formation, flags);
    });
  appOptions(p.command('ps').description('list the dynos of a running formation').argument('[types...]', 'only these process types'))
    .action(async (types: string[], f) => void (process.exitCode = await verbs().psCommand(types, f)));
  appOptions(p.command('scale').description('change the formation: web=3 worker+1 web-1 web=2:standard-2x (none: print it)').argument('[changes...]'))
    .action(async (changes: string[], f) => void (process.exitCode = await verbs().scaleCommand(changes, f)));
  appOptions(p.command('restart').description('restart dynos (all, -p TYPE or -d NAME)'))
    .option('-d, --dyno-name <dyno>', 'one dyno, e.g. web.1')
    .option('-p, --process-type <type>', 'every dyno of a type')
    .action(async (f) => void (process.exitCode = await verbs().restartCommand({ ...f, dyno: f.dynoName })));
  appOptions(p.command('stop').description('stop dynos (-d NAME, -p TYPE; formation dynos are started again), or --all the formation'))
    .option('-d, --dyno-name <dyno>', 'one dyno, e.g. web.1')
    .option('-p, --process-type <type>', 'every dyno of a type')
    .option('--all', 'stop the whole formation (as Ctrl-C in its terminal)')
    .action(async (f) => void (process.exitCode = await verbs().stopCommand({ ...f, dyno: f.dynoName })));
  appOptions(p.command('logs').description("the formation's log (the last 1500 lines are kept)"))
    .option('-t, --tail', 'keep printing new lines')
    .option('-n, --num <n>', 'how many lines', '100')
    .option('-s, --source <source>', 'app or dynod')
    .option('-d, --dyno-name <dyno>', 'one dyno, e.g. web.1')
    // heroku logs takes --dyno as an alias of --dyno-name
    .addOption(new Option('--dyno <dyno>').hideHelp())
    .option('-p, --process-type <type>', 'every dyno of a type')
    .action(async (f) => void (process.exitCode = await verbs().logsCommand({ ...f, dyno: f.dynoName ?? f.dyno })));
  appOptions(p.command('config').description("the app's config vars")).option('-s, --shell', 'KEY=value lines for a shell or .env')
    .action((f) => void (process.exitCode = verbs().configCommand(f)));
  appOptions(p.command('config:get').description('config vars by key, one line each').argument('<keys...>')).option('-s, --shell', 'KEY=value')
    .action((keys: string[], f) => void (process.exitCode = verbs().configGetCommand(keys, f)));
  appOptions(p.command('config:set').description('set config vars: a new release, and a running formation restarts with them').argument('<pairs...>', 'KEY=VALUE'))
    .action(async (pairs: string[], f) => void (process.exitCode = await verbs().configSetCommand(pairs, f)));
  appOptions(p.command('config:unset').description('unset config vars: a new release').argument('<keys...>'))
    .action(async (keys: string[], f) => void (process.exitCode = await verbs().configUnsetCommand(keys, f)));
  appOptions(p.command('releases').description("the app's releases, newest first"))
    .option('-n, --num <n>', 'how many', (v) => parsePositiveInt(v, '--num', 1, 1000), 15)
    .action((f) => void (process.exitCode = verbs().releasesCommand(f)));
  p.command('apps').description('the formations running on this host').option('--json', 'print JSON')
    .action(async (f) => void (process.exitCode = await verbs().appsCommand(f)));
  appOptions(p.command('exec').description('run COMMAND inside a running dyno (its namespaces, cgroup, user, limits)').usage('[options] -- COMMAND [ARGS...]').argument('<command...>'))
    .option('-d, --dyno-name <dyno>', 'the dyno', 'web.1')
    .option('-i, --interactive', 'keep stdin open; with a terminal on stdin, give the command a terminal')
    .action(async (command: string[], f) => void (process.exitCode = await verbs().execCommand(command, { ...f, dyno: f.dynoName })));
}

function fail(message: string): void {
  process.stderr.write(`dynod: ${message}\n`);
  process.exitCode = EXIT_DYNOD_ERROR;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await program(argv).parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') {
        process.exitCode = 0;
        return;
      }
      fail(e.message.replace(/^error: /, ''));
    } else if (e instanceof DynodError) {
      fail(e.message);
    } else {
      fail(e instanceof Error ? (e.stack ?? e.message) : String(e));
    }
  }
}

if (require.main === module) {
  exitWhenDone(); // as the bundle's entry (scripts/build-cli.js)
  void main(process.argv);
}
