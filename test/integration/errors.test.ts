// Every error dynod reports: one line on stderr, "dynod: " first, and its exit status.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dynod, run, spawnDynod, lines } from '../helpers/dynod';
import { tempApp } from '../helpers/app';
import { DYNO_CONTROLLERS, unownedDynoLeaves } from '../helpers/host';

const SIZE_LIST = 'eco, basic, standard-1x, standard-2x, performance-m, performance-l, performance-l-ram, performance-xl, performance-2xl';

/** dynod fails with exactly this one line and status 125, running nothing. */
async function usageError(t: tap.Test, args: string[], message: string, status = 125): Promise<void> {
  const r = await dynod(args);
  t.equal(r.code, status, `${args.join(' ')}: status`);
  t.equal(r.stdout, '', `${args.join(' ')}: nothing on stdout`);
  t.equal(r.stderr, `dynod: ${message}\n`, `${args.join(' ')}: one line`);
}

t.test('an unknown size names the valid ones', async (t) => {
  await usageError(t, ['run', '-s', 'standard-3x', '--', 'true'], `unknown size "standard-3x"; valid sizes: ${SIZE_LIST}`);
  await usageError(t, ['run', '--size', 'huge', '--dry-run', '--', 'true'], `unknown size "huge"; valid sizes: ${SIZE_LIST}`);
});

t.test('a missing --app or --rootfs directory', async (t) => {
  const file = path.join(tempApp(t, { f: 'x' }), 'f');
  await usageError(t, ['run', '--app', '/nope', '--', 'true'], '--app /nope: no such directory');
  await usageError(t, ['run', '--rootfs', '/nope', '--', 'true'], '--rootfs /nope: no such directory');
  await usageError(t, ['run', '--app', file, '--', 'true'], `--app ${file}: not a directory`);
  const colon = tempApp(t, {}, 'dynod-a:b-');
  await usageError(t, ['run', '--app', colon, '--', 'true'], `--app ${colon}: the path contains a character overlayfs cannot take (",", ":", "\\" or a newline)`);
});

t.test('bad --memory, --cpus, --pids and --port values', async (t) => {
  const cases: Array<[string[], string]> = [
    [['--memory', '12Q'], '--memory "12Q": not a size; use bytes or a number with K, M, G or T (e.g. 128M)'],
    [['--memory', '-1'], '--memory "-1": not a size; use bytes or a number with K, M, G or T (e.g. 128M)'],
    [['--memory', '1k'], '--memory 1k: too small; the minimum is 4M'],
    [['--memory', '9999999T'], '--memory 9999999T: too large; the maximum is 1024T'],
    [['--cpus', '0'], '--cpus "0": must be a number of CPUs greater than 0 (e.g. 0.5 or 2)'],
    [['--cpus', 'abc'], '--cpus "abc": must be a number of CPUs greater than 0 (e.g. 0.5 or 2)'],
    [['--cpus', '-2'], '--cpus "-2": must be a number of CPUs greater than 0 (e.g. 0.5 or 2)'],
    [['--pids', '0'], '--pids "0": must be a whole number from 1 to 4194304'],
    [['--pids', '1.5'], '--pids "1.5": must be a whole number from 1 to 4194304'],
    [['--pids', 'x'], '--pids "x": must be a whole number from 1 to 4194304'],
    [['--port', '70000'], '--port "70000": must be a whole number from 1 to 65535'],
    [['--port', '0'], '--port "0": must be a whole number from 1 to 65535'],
    [['--port', 'http'], '--port "http": must be a whole number from 1 to 65535'],
  ];
  await Promise.all(cases.map(([flags, msg]) => usageError(t, ['run', ...flags, '--', 'true'], msg)));
});

t.test('bad -e, --publish, --user, --net and --name values', async (t) => {
  const cases: Array<[string[], string]> = [
    [['-e', '1A=b'], '-e "1A=b": expected KEY=VALUE with KEY of letters, digits and _ (not starting with a digit)'],
    [['-e', 'NOVALUE'], '-e "NOVALUE": expected KEY=VALUE with KEY of letters, digits and _ (not starting with a digit)'],
    [['--env', 'A-B=1'], '-e "A-B=1": expected KEY=VALUE with KEY of letters, digits and _ (not starting with a digit)'],
    [['--publish', 'abc'], '--publish "abc": expected [ADDR:]HOSTPORT with a port from 1 to 65535 (e.g. 8080 or 127.0.0.1:8080)'],
    [['-p', '70000'], '--publish "70000": expected [ADDR:]HOSTPORT with a port from 1 to 65535 (e.g. 8080 or 127.0.0.1:8080)'],
    [['--publish', 'host:80'], '--publish "host:80": expected [ADDR:]HOSTPORT with a port from 1 to 65535 (e.g. 8080 or 127.0.0.1:8080)'],
    [['--user', 'bob'], "option '--user <user>' argument 'bob' is invalid. Allowed choices are dyno, root."],
    [['--net', 'bridge'], "option '--net <mode>' argument 'bridge' is invalid. Allowed choices are private, none, host."],
    [['--allow-host-port', '0'], '--allow-host-port "0": must be a whole number from 1 to 65535'],
    [['--name', 'a/b'], '--name "a/b": use letters, digits, ".", "_" and "-" (e.g. web.1), at most 63 characters'],
  ];
  await Promise.all(cases.map(([flags, msg]) => usageError(t, ['run', ...flags, '--', 'true'], msg)));
});

t.test('dynod start: a boot or release timeout under 100 ms is refused', async (t) => {
  const app = tempApp(t, { Procfile: 'web: true\n' });
  await usageError(t, ['start', '--app', app, '--boot-timeout', '0'], '--boot-timeout 0: at least 100ms');
  await usageError(t, ['start', '--app', app, '--release-timeout', '50ms'], '--release-timeout 50ms: at least 100ms');
});

t.test('dynod start: --allow-host-port equal to the dynos\' $PORT is refused before any dyno starts', async (t) => {
  const app = tempApp(t, { Procfile: 'web: true\n' });
  await usageError(t, ['start', '--app', app, '-p', '43011', '--allow-host-port', '43011'], "--allow-host-port 43011: that is the dyno's $PORT (the app listens there); choose another port or --port");
  await usageError(t, ['start', '--app', app, '--allow-host-port', '5000'], "--allow-host-port 5000: that is the dyno's $PORT (the app listens there); choose another port or --port");
  await usageError(t, ['start', '--app', app, '--allow-host-port', 'x'], '--allow-host-port "x": must be a whole number from 1 to 65535');
});

t.test('an invalid app name is named as such by start and by every verb', async (t) => {
  const app = tempApp(t, { Procfile: 'web: true\n' });
  for (const args of [['start', '--app', app, '--name', ''], ['ps', '--name', 'bad/name'], ['stop', '--all', '--name', './x'], ['config', '--name', 'Bad']]) {
    const r = await dynod(args);
    t.equal(r.code, 125, `${args.join(' ')}: status`);
    t.match(r.stderr, /^dynod: app name ".*" is invalid: it must start with a letter/, `${args.join(' ')}: one line naming the rule`);
    t.equal(r.stderr.split('\n').length, 2);
  }
});

t.test('bad --env-file values', async (t) => {
  const dir = tempApp(t, { 'bad.env': 'A=1\nthis is not an assignment\n', 'quote.env': 'A="open\n' });
  await usageError(t, ['run', '--env-file', '/nope', '--', 'true'], '--env-file /nope: no such file');
  await usageError(t, ['run', '--env-file=/nope', '--', 'true'], '--env-file /nope: no such file');
  await usageError(t, ['run', '--env-file', dir, '--', 'true'], `--env-file ${dir}: is a directory`);
  await usageError(t, ['run', '--env-file', path.join(dir, 'bad.env'), '--', 'true'], `${path.join(dir, 'bad.env')}:2: no "="; expected KEY=VALUE`);
  await usageError(t, ['run', '--env-file', path.join(dir, 'quote.env'), '--', 'true'], `${path.join(dir, 'quote.env')}:1: unterminated double quote; expected KEY=VALUE`);
});

t.test('usage errors: no command, unknown option, unknown subcommand', async (t) => {
  await usageError(t, ['run'], "missing required argument 'command'");
  await usageError(t, ['run', '--bogus', '--', 'true'], "unknown option '--bogus'");
  await usageError(t, ['nope'], "unknown command 'nope'");
});

t.test('not root: "must run as root (try sudo)"', async (t) => {
  const app = tempApp(t);
  const r = await dynod(['run', '--app', app, '--', 'true'], { uid: 65534, gid: 65534 });
  t.equal(r.code, 125, `status (stderr: ${r.stderr})`);
  t.equal(r.stdout, '');
  t.equal(r.stderr, 'dynod: must run as root (try sudo)\n');
});

t.test('a missing command: 127 and one line; a non-executable file: 126 and one line; nothing left behind', async (t) => {
  const app = tempApp(t, { 'not-executable.sh': { content: '#!/bin/sh\necho hi\n', mode: 0o644 } });
  const cases: Array<[string[], number, string]> = [
    [['no-such-command-xyz'], 127, 'no-such-command-xyz: command not found'],
    [['/app/missing/bin'], 127, '/app/missing/bin: command not found'],
    [['./not-executable.sh'], 126, './not-executable.sh: cannot execute: EACCES (Permission denied)'],
    [['/app'], 126, '/app: cannot execute: EACCES (Permission denied)'],
  ];
  for (const [cmd, status, msg] of cases) {
    const d = spawnDynod(['run', '--app', app, '--name', 'errcheck.1', '--', ...cmd]);
    const r = await d.result;
    t.equal(r.code, status, cmd[0]);
    t.equal(r.stdout, '');
    t.equal(r.stderr, `dynod: ${msg}\n`);
    // each distinct directory once: memory, cpu and pids on v1, the one unified directory on v2
    for (const c of DYNO_CONTROLLERS) t.same(unownedDynoLeaves(c, (leaf) => leaf.startsWith('errcheck.1-')), [], `no ${c} cgroup left`);
  }
});

t.test('--dry-run prints the plan as JSON and runs nothing (it works unprivileged)', async (t) => {
  const app = tempApp(t);
  const flags = ['--app', app, '--memory', '64M', '--cpus', '1.5', '--pids', '100', '-e', 'A=1', '--user', 'root', '--name', 'web.2', '--port', '3000'];
  const r = await dynod(['run', '--dry-run', ...flags, '--', 'sh', '-c', 'exit 9'], { uid: 65534, gid: 65534 });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '');
  const plan = JSON.parse(r.stdout);
  t.hasProps(plan, ['app', 'command', 'cwd', 'env', 'killBytes', 'limits', 'mounts', 'name', 'namespaces', 'network', 'root', 'rlimits', 'size', 'stdin', 'terminalSize', 'tty', 'umask', 'user']);
  t.same(plan.command, ['sh', '-c', 'exit 9']);
  // (a user namespace is dynod's choice)
  t.same(plan.namespaces.filter((n: string) => n !== 'user'), ['pid', 'mount', 'uts', 'ipc', 'net', 'cgroup']);
  t.same(plan.limits, { memoryBytes: 64 * 1024 * 1024, memorySwapBytes: 128 * 1024 * 1024, cpuWeight: null, cpuQuota: { quotaUs: 150000, periodUs: 100000 }, pids: 100 });
  t.same(plan.env, { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/app', PORT: '3000', DYNO: 'web.2', LANG: 'C.UTF-8', A: '1' });
  t.same(plan.user, { name: 'root', uid: 0, gid: 0 });
  t.equal(plan.umask, 0o022);
  t.equal(plan.cwd, '/app');
  t.same(plan.app, { source: app, target: '/app' });
  t.same(plan.root, { kind: 'host-stack' });
  t.same({ ...plan.network, dns: null }, { mode: 'private', publish: [], allowHostPorts: [], dns: null });
  t.ok(plan.network.dns && plan.network.dns.upstreams.length > 0, `the DNS forwarder asks the host's resolvers (${plan.network.dns?.upstreams.join(' ')})`);
  t.notOk('id' in plan || 'hostname' in plan, 'a plan is a template: each start has its own id and hostname');
  const byTarget = new Map<string, { type: string; source?: string; options: string[] }>(plan.mounts.map((m: { target: string }) => [m.target, m]));
  t.equal(plan.mounts[0].target, '/');
  t.equal(plan.mounts[0].type, 'root-tmpfs');
  t.match(byTarget.get('/app'), { type: 'overlay', source: app });
  t.match(byTarget.get('/usr'), { type: 'bind', source: '/usr', options: ['ro', 'nodev'] });
  t.match(byTarget.get('/proc'), { type: 'proc' });
  t.match(byTarget.get('/tmp'), { type: 'tmpfs' });
  t.match(byTarget.get('/etc/hostname'), { type: 'file', content: '{{HOSTNAME}}\n' });
  t.notOk([...byTarget.keys()].some((k) => /^\/(root|home|var|run)(\/|$)/.test(k)), 'no host secret paths planned');

  const host = await dynod(['run', '--dry-run', '--app', app, '--net', 'host', '--', 'true'], { uid: 65534, gid: 65534 });
  t.same(JSON.parse(host.stdout).namespaces.filter((n: string) => n !== 'user'), ['pid', 'mount', 'uts', 'ipc', 'cgroup']);
});

t.test('--dry-run with a bad option still fails with one line', async (t) => {
  await usageError(t, ['run', '--dry-run', '--pids', 'lots', '--', 'true'], '--pids "lots": must be a whole number from 1 to 4194304');
});

t.test('--dry-run does not start the dyno', async (t) => {
  const app = tempApp(t);
  const marker = `dry-${process.pid}`;
  const r = await run(['sleep', '30'], ['--dry-run', '--app', app, '--name', marker]);
  t.equal(r.code, 0, `status (stderr: ${r.stderr})`);
  t.ok(r.ms < 5000, `returned after ${r.ms} ms`);
  const found = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8') === 'sleep\x0030\x00' && fs.readFileSync(`/proc/${p}/environ`, 'utf8').includes(`DYNO=${marker}`);
    } catch {
      return false;
    }
  });
  t.same(found, []);
  t.same(lines(r.stderr), []);
});

t.test('--dry-run native prints what executes: clone flags, id maps, the op list, dynod-init options with the capability mask', async (t) => {
  const app = tempApp(t);
  const r = await dynod(['run', '--dry-run', 'native', '--app', app, '--user', 'root', '--', 'sh', '-c', 'exit 9'], { uid: 65534, gid: 65534 });
  t.equal(r.code, 0, r.stderr);
  const n = JSON.parse(r.stdout);
  t.equal(n.cloneFlags & 0x10000000, 0x10000000, 'CLONE_NEWUSER');
  t.match(n.uidMap, /^0 \d+ 65536\n$/);
  t.ok(n.ops.some((o: { op: string; target?: string }) => o.op === 'pivot'), 'the op list');
  t.ok(n.ops.some((o: { op: string; name?: string }) => o.op === 'hostname'), 'the hostname op (per start)');
  t.ok(n.argv.includes('--uid=0'), 'dynod-init options');
  t.ok(n.argv.includes('--caps=a80405fb'), "Docker's capabilities but NET_RAW as dynod-init's mask");
  t.same(n.argv.slice(n.argv.indexOf('--') + 1), ['sh', '-c', 'exit 9']);
  const p = await dynod(['run', '--dry-run', '--app', app, '--', 'true'], { uid: 65534, gid: 65534 });
  t.notOk('ops' in JSON.parse(p.stdout), 'plain --dry-run is the plan');
  const w = await dynod(['run', '--dry-run', 'echo', 'hi'], { uid: 65534, gid: 65534, cwd: app });
  t.same(JSON.parse(w.stdout).command, ['echo', 'hi'], '--dry-run COMMAND: the first word is the command, not an option value');
});
