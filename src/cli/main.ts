import { Command, CommanderError, Option } from 'commander';
import { runCommand, type RunFlags } from './run';
import { sizesCommand } from './sizes';
import { DynodError, EXIT_DYNOD_ERROR } from '../errors';

const collect = (v: string, prev: string[]) => [...prev, v];

function program(): Command {
  const p = new Command('dynod')
    .description('Heroku-style dynos on any Linux host, without Docker')
    .version(require('../../package.json').version as string)
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .showSuggestionAfterError(false);

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
    .addOption(new Option('--net <mode>', 'network: private (own namespace, loopback only) or host').choices(['private', 'host']).default('private'))
    .option('-p, --publish <[addr:]port>', "forward a host port to the dyno's $PORT (repeatable)", collect, [])
    .option('-i, --interactive', 'keep stdin open; with a terminal on stdin, give the dyno a terminal')
    .option('--no-tty', 'with -i, never allocate a terminal')
    .addOption(new Option('--userns <mode>', 'user namespace: private (ids mapped to a host range of its own) or host').choices(['private', 'host']).default('private'))
    .option('--seccomp <profile>', 'seccomp: default, unconfined, or a profile in Docker\'s JSON format', 'default')
    .option('--dry-run [what]', 'print the dyno plan as JSON ("plan", the default) or what executes ("native": ops, id maps, capabilities, init argv) and run nothing')
    .action(async (command: string[], flags: RunFlags) => {
      process.exitCode = await runCommand(command, flags);
    });

  p.command('sizes')
    .description('list dyno sizes and their limits')
    .option('--json', 'print JSON')
    .action((flags: { json?: boolean }) => {
      process.stdout.write(sizesCommand(!!flags.json));
    });
  return p;
}

function fail(message: string): void {
  process.stderr.write(`dynod: ${message}\n`);
  process.exitCode = EXIT_DYNOD_ERROR;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv);
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

if (require.main === module) void main(process.argv);
