import t from 'tap';
import { sizesCommand } from '../../src/cli/sizes';
import { toOptions, type RunFlags } from '../../src/cli/run';
import { main } from '../../src/cli/main';
import { SIZES } from '../../src/dyno/sizes';
import { CommandError, DynodError, EXIT_DYNOD_ERROR, EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, UsageError } from '../../src/errors';
import type { NativeErrorData } from '../../src/addon';

// ============================================================================
// The CLI without running a dyno: `dynod sizes`, option parsing into DynoOptions, usage errors.

const TABLE = `SIZE               MEMORY   KILLED AT  CPU                  PROCESSES  OPEN FILES
eco                512 MB   1024 MB    1x share             256        10000
basic              512 MB   1024 MB    1x share             256        10000
standard-1x        512 MB   1024 MB    1x share             256        10000
standard-2x        1024 MB  2 GB       2x share             512        10000
performance-m      2.5 GB   5 GB       2 vCPU (dedicated)   16384      10000
performance-l      14 GB    28 GB      8 vCPU (dedicated)   32768      10000
performance-l-ram  30 GB    36 GB      4 vCPU (dedicated)   24576      10000
performance-xl     62 GB    74 GB      8 vCPU (dedicated)   32768      10000
performance-2xl    126 GB   151 GB     16 vCPU (dedicated)  65536      10000
`;

/** Runs main() with stdout/stderr captured; restores process.exitCode. */
async function cli(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  const saved = process.exitCode;
  process.exitCode = 0;
  process.stdout.write = ((s: string | Uint8Array) => ((stdout += String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => ((stderr += String(s)), true)) as typeof process.stderr.write;
  try {
    await main(['node', 'dynod', ...args]);
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = saved;
  return { stdout, stderr, code };
}

t.test('dynod sizes: the table', async (t) => {
  t.equal(sizesCommand(false), TABLE);
  const lines = TABLE.trimEnd().split('\n');
  t.equal(lines.length, SIZES.length + 1);
  for (const l of lines) t.equal(l, l.trimEnd(), 'no trailing spaces');
});

t.test('dynod sizes --json: every size with its numbers and the open-file limit', async (t) => {
  const json = JSON.parse(sizesCommand(true));
  t.same(json, SIZES.map((s) => ({ ...s, nofile: 10000 })));
  t.same(json[3], { name: 'standard-2x', label: 'Standard-2X', memoryMiB: 1024, killMiB: 2048, cpuShare: 2, vcpus: null, processLimit: 512, dedicated: false, nofile: 10000 });
  t.same(json[6], { name: 'performance-l-ram', label: 'Performance-L-RAM', memoryMiB: 30720, killMiB: 36864, cpuShare: null, vcpus: 4, processLimit: 24576, dedicated: true, nofile: 10000 });
  t.ok(sizesCommand(true).endsWith('}\n]\n'), 'ends with a newline');
});

t.test('main: dynod sizes and dynod sizes --json print to stdout and exit 0', async (t) => {
  let r = await cli('sizes');
  t.same(r, { stdout: TABLE, stderr: '', code: 0 });
  r = await cli('sizes', '--json');
  t.equal(r.code, 0);
  t.same(JSON.parse(r.stdout), JSON.parse(sizesCommand(true)));
});

t.test('main: usage errors print "dynod: ..." and exit 125', async (t) => {
  let r = await cli('run', '--user', 'nobody', '--', 'true');
  t.equal(r.code, 125);
  t.match(r.stderr, /^dynod: option '--user <user>' argument 'nobody' is invalid/);
  r = await cli('run', '-e', '1A=x', '--', 'true');
  t.equal(r.code, 125);
  t.equal(r.stderr, 'dynod: -e "1A=x": expected KEY=VALUE with KEY of letters, digits and _ (not starting with a digit)\n');
  r = await cli('nosuchcommand');
  t.equal(r.code, 125);
  t.match(r.stderr, /^dynod: unknown command 'nosuchcommand'/);
  t.equal(r.stdout, '');
});

const flags = (f: Partial<RunFlags> = {}): RunFlags => ({ env: [], envFile: [], publish: [], ...f });

t.test('toOptions: flags become DynoOptions, -e pairs become env, later -e wins', async (t) => {
  const o = toOptions(['node', 'server.js'], flags({
    size: 'performance-m', memory: '1G', cpus: '1', pids: '100', app: '/srv/app', name: 'web.1', port: '8080',
    env: ['A=1', 'B=x=y', 'A=2', 'EMPTY='], envFile: ['.env', 'more.env'], user: 'root', net: 'host', publish: ['8080'],
  }));
  t.same(o.command, ['node', 'server.js']);
  t.equal(o.size, 'performance-m');
  t.equal(o.memory, '1G');
  t.equal(o.cpus, 1, 'numbers for the library');
  t.equal(o.pids, 100);
  t.equal(o.app, '/srv/app');
  t.equal(o.name, 'web.1');
  t.equal(o.port, 8080);
  t.same(o.env, { A: '2', B: 'x=y', EMPTY: '' });
  t.same(o.envFile, ['.env', 'more.env']);
  t.equal(o.user, 'root');
  t.equal(o.net, 'host');
  t.same(o.publish, ['8080']);
  t.equal(o.interactive, false);
  t.equal(o.tty, false);
  t.equal(o.rows, undefined);
  t.equal(o.cols, undefined);
});

t.test('toOptions: TERM comes from dynod\'s own environment', async (t) => {
  const saved = process.env.TERM;
  t.teardown(() => { if (saved === undefined) delete process.env.TERM; else process.env.TERM = saved; });
  process.env.TERM = 'screen-256color';
  t.equal(toOptions(['sh'], flags()).term, 'screen-256color');
  delete process.env.TERM;
  t.equal(toOptions(['sh'], flags()).term, undefined);
});

t.test('toOptions: a terminal only with -i, a terminal on stdin, and not --no-tty', async (t) => {
  const desc = Object.getOwnPropertyDescriptor(process.stdin, 'isTTY');
  t.teardown(() => { if (desc) Object.defineProperty(process.stdin, 'isTTY', desc); else delete (process.stdin as { isTTY?: boolean }).isTTY; });
  Object.defineProperty(process.stdin, 'isTTY', { value: false, configurable: true, writable: true });
  t.same([toOptions(['sh'], flags({ interactive: true })).interactive, toOptions(['sh'], flags({ interactive: true })).tty], [true, false], 'stdin not a terminal');
  Object.defineProperty(process.stdin, 'isTTY', { value: true, configurable: true, writable: true });
  t.equal(toOptions(['sh'], flags({ interactive: true })).tty, true, '-i with a terminal');
  t.equal(toOptions(['sh'], flags({ interactive: true, tty: false })).tty, false, '--no-tty');
  t.equal(toOptions(['sh'], flags({})).tty, false, 'no -i');
});

t.test('toOptions: a malformed -e is a usage error naming the pair', async (t) => {
  t.throws(() => toOptions(['sh'], flags({ env: ['OK=1', 'NOEQUALS'] })), { name: 'UsageError', message: '-e "NOEQUALS": expected KEY=VALUE with KEY of letters, digits and _ (not starting with a digit)' });
  t.throws(() => toOptions(['sh'], flags({ env: ['MY-VAR=1'] })), { name: 'UsageError' });
});

// ============================================================================
// Errors (src/errors.ts): messages and exit codes

const data = (over: Partial<NativeErrorData & { message: string }> = {}): NativeErrorData & { message?: string } => ({
  step: 'bind /usr',
  syscall: 'mount',
  errno: 1,
  code: 'EPERM',
  detail: '/newroot/usr',
  ...over,
});

t.test("the exported exit codes are the statuses dynod's errors really give (docker run's 125/126/127)", async (t) => {
  // What an embedder compares exit.status with must be what the CLI and the error classes use.
  const usage = await cli('run', '--memory', 'lots', '--', 'true');
  t.equal(usage.code, EXIT_DYNOD_ERROR, 'a usage error through main()');
  t.equal(usage.code, 125, "docker run's status for its own errors");
  const notFound = new CommandError('nosuch', data({ step: 'exec', syscall: 'execve', code: 'ENOENT', errno: 2 })).exitCode;
  t.equal(notFound, EXIT_NOT_FOUND);
  t.equal(notFound, 127, "a shell's status for command not found");
  const notExec = new CommandError('./x', data({ step: 'exec', syscall: 'execve', code: 'EACCES', errno: 13 })).exitCode;
  t.equal(notExec, EXIT_NOT_EXECUTABLE);
  t.equal(notExec, 126, "a shell's status for found but not executable");
  t.equal(DynodError.fromStep(data()).exitCode, EXIT_DYNOD_ERROR, 'a setup step failure');
});

t.test('DynodError.fromStep: "step: syscall detail: CODE (why)"', async (t) => {
  let e = DynodError.fromStep(data({ message: 'Operation not permitted' }));
  t.equal(e.message, 'bind /usr: mount /newroot/usr: EPERM (Operation not permitted)');
  t.type(e, DynodError);
  t.type(e, Error);
  t.equal(e.name, 'DynodError');
  t.equal(e.step, 'bind /usr');
  t.equal(e.syscall, 'mount');
  t.equal(e.errno, 1);
  t.equal(e.code, 'EPERM');
  t.equal(e.detail, '/newroot/usr');
  t.equal(e.exitCode, 125);

  e = DynodError.fromStep(data({ detail: '', message: 'Operation not permitted' }));
  t.equal(e.message, 'bind /usr: mount: EPERM (Operation not permitted)', 'no detail, no extra space');

  e = DynodError.fromStep(data());
  t.equal(e.message, 'bind /usr: mount /newroot/usr: EPERM (EPERM)', 'without a message the code stands in');
  e = DynodError.fromStep(data({ message: '' }));
  t.equal(e.message, 'bind /usr: mount /newroot/usr: EPERM (EPERM)');

  e = DynodError.fromStep({ step: 'set RLIMIT_NPROC', syscall: 'setrlimit', errno: 22, code: 'EINVAL', detail: '', message: 'Invalid argument' });
  t.equal(e.message, 'set RLIMIT_NPROC: setrlimit: EINVAL (Invalid argument)');
});

t.test('DynodError.fromNative keeps DynodErrors, re-types addon errors, wraps anything else', async (t) => {
  const own = new DynodError('x');
  t.equal(DynodError.from(own), own);
  const u = new UsageError('bad');
  t.equal(DynodError.from(u), u);
  const native = Object.assign(new Error('scratch tmpfs: mount /tmp: EPERM (Operation not permitted)'), data({ step: 'scratch tmpfs', detail: '/tmp' }));
  const e = DynodError.from(native);
  t.type(e, DynodError);
  t.equal(e.message, native.message);
  t.equal(e.step, 'scratch tmpfs');
  t.equal(e.code, 'EPERM');
  t.equal(e.errno, 1);
  t.equal(DynodError.from(new TypeError('boom')).message, 'boom');
  t.equal(DynodError.from('text').message, 'text');
  t.equal(DynodError.from('text').step, '');
});

t.test('UsageError: step "usage", exit 125', async (t) => {
  const e = new UsageError('--size: nope');
  t.type(e, DynodError);
  t.equal(e.name, 'UsageError');
  t.equal(e.message, '--size: nope');
  t.equal(e.step, 'usage');
  t.equal(e.exitCode, 125);
  t.equal(e.code, '');
  t.equal(e.errno, 0);
});

t.test('CommandError: not found is 127, like a shell', async (t) => {
  for (const code of ['ENOENT', 'ENOTDIR']) {
    const e = new CommandError('nosuch', data({ step: 'exec', syscall: 'execve', code, errno: code === 'ENOENT' ? 2 : 20, detail: 'nosuch' }));
    t.equal(e.message, 'nosuch: command not found', code);
    t.equal(e.exitCode, 127, code);
    t.equal(e.name, 'CommandError');
    t.type(e, DynodError);
    t.equal(e.code, code);
    t.equal(e.step, 'exec');
  }
});

t.test('CommandError: found but not runnable is 126', async (t) => {
  let e = new CommandError('./script.sh', data({ step: 'exec', syscall: 'execve', code: 'EACCES', errno: 13, message: 'Permission denied' }));
  t.equal(e.message, './script.sh: cannot execute: EACCES (Permission denied)');
  t.equal(e.exitCode, 126);
  e = new CommandError('/app/bin', data({ step: 'exec', syscall: 'execve', code: 'ENOEXEC', errno: 8 }));
  t.equal(e.message, '/app/bin: cannot execute: ENOEXEC (ENOEXEC)');
  t.equal(e.exitCode, 126);
});
