// Exit statuses, signal forwarding, reaping, and PID 1's handling of signals.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { sh, run, spawnDynod, lines, DYNOD } from '../helpers/dynod';
import { tempApp } from '../helpers/app';
import { hostProcesses, statusFields } from '../helpers/host';

t.test('exit statuses: the command\'s, 126, 127, and 128+N for a signal', async (t) => {
  const app = tempApp(t, { 'not-executable.sh': { content: '#!/bin/sh\necho hi\n', mode: 0o644 } });
  const cases: Array<[string, string[], number]> = [
    ['true', ['true'], 0],
    ['exit 3', ['sh', '-c', 'exit 3'], 3],
    ['exit 255', ['sh', '-c', 'exit 255'], 255],
    ['a non-executable file', ['./not-executable.sh'], 126],
    ['a directory', ['/app'], 126],
    ['a missing command', ['no-such-command-xyz'], 127],
    ['a missing path', ['/app/nope/nope'], 127],
    ['SIGKILL itself', ['sh', '-c', 'kill -KILL $$'], 137],
    ['SIGTERM itself', ['sh', '-c', 'kill -TERM $$'], 143],
    ['SIGSEGV itself', ['sh', '-c', 'kill -SEGV $$'], 139],
  ];
  const results = await Promise.all(cases.map(([, cmd]) => run(cmd, ['--app', app])));
  cases.forEach(([what, , status], i) => t.equal(results[i]!.code, status, `${what}: ${results[i]!.stderr}`));
});

t.test('the CLI ends without Node\'s teardown (src/cli/exit.ts) and keeps every byte and the status: a pipe, a file, its own messages', async (t) => {
  const app = tempApp(t);
  const r = await sh('seq 1 400000; echo done >&2; exit 3', ['--app', app, '--net', 'none']);
  t.equal(r.code, 3, r.stderr);
  t.equal(lines(r.stdout).length, 400000);
  t.equal(lines(r.stdout)[399999], '400000');
  t.equal(r.stderr, 'done\n');
  const out = path.join(t.testdir({}), 'out.txt');
  const fd = fs.openSync(out, 'w');
  const f = spawnSync(DYNOD, ['run', '--app', app, '--net', 'none', '--', 'seq', '1', '300000'], { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
  fs.closeSync(fd);
  t.equal(f.status, 0, f.stderr);
  t.equal(lines(fs.readFileSync(out, 'utf8')).length, 300000);
  // dynod's own line about the dyno comes out whole before the end, with 127
  const missing = await run(['no-such-command-xyz'], ['--app', app, '--net', 'none']);
  t.equal(missing.code, 127);
  t.match(missing.stderr, /^dynod: no-such-command-xyz: command not found\n$/);
});

t.test('SIGTERM to dynod reaches the dyno: a shell that traps TERM and exits 0 makes dynod exit 0', async (t) => {
  const app = tempApp(t);
  const d = spawnDynod(['run', '--app', app, '--', 'sh', '-c', 'trap "echo got-term; exit 0" TERM; echo ready; while :; do sleep 0.1; done']);
  await d.waitForStdout(/ready\n/);
  d.child.kill('SIGTERM');
  const r = await d.result;
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'ready\ngot-term\n');
});

t.test('SIGINT, SIGHUP, SIGUSR1 and SIGUSR2 are forwarded too', async (t) => {
  const app = tempApp(t);
  const d = spawnDynod(['run', '--app', app, '--', 'sh', '-c',
    'trap "echo usr1" USR1; trap "echo usr2" USR2; trap "echo hup" HUP; trap "echo int; exit 7" INT; echo ready; while :; do sleep 0.05; done']);
  await d.waitForStdout(/ready\n/);
  for (const [sig, re] of [['SIGUSR1', /usr1\n$/], ['SIGUSR2', /usr2\n$/], ['SIGHUP', /hup\n$/]] as const) {
    d.child.kill(sig);
    await d.waitForStdout(re);
  }
  d.child.kill('SIGINT');
  const r = await d.result;
  t.equal(r.code, 7, r.stderr);
  t.equal(r.stdout, 'ready\nusr1\nusr2\nhup\nint\n');
});

t.test('a forwarded SIGTERM reaches every process of the dyno, not only the command', async (t) => {
  const app = tempApp(t);
  // The parent's trap is set before its children start: child-ready never comes before it.
  const d = spawnDynod(['run', '--app', app, '--', 'bash', '-c',
    'trap "wait \\$S; echo sleep-status-\\$?; wait; echo parent-done; exit 0" TERM; ' +
      'sleep 60 & S=$!; sh -c "trap \\"echo child-got-term; exit 0\\" TERM; echo child-ready; while :; do sleep 0.05; done" & ' +
      'while :; do sleep 0.05; done']);
  await d.waitForStdout(/child-ready\n/);
  d.child.kill('SIGTERM');
  const r = await d.result;
  t.equal(r.code, 0, r.stderr);
  const out = lines(r.stdout);
  t.equal(out[0], 'child-ready');
  t.same(out.slice(1, 3).sort(), ['child-got-term', 'sleep-status-143'], 'both children got SIGTERM (in either order)');
  t.equal(out[3], 'parent-done');
  t.equal(out.length, 4);
  t.ok(r.ms < 10_000, `took ${r.ms} ms`);
});

t.test('SIGTERM to a command that does not trap it: 143, promptly', async (t) => {
  const app = tempApp(t);
  const d = spawnDynod(['run', '--app', app, '--', 'sh', '-c', 'echo ready; exec sleep 60']);
  await d.waitForStdout(/ready\n/);
  const t0 = Date.now();
  d.child.kill('SIGTERM');
  const r = await d.result;
  t.equal(r.code, 143, r.stderr);
  t.equal(r.stderr, '');
  t.ok(Date.now() - t0 < 3000);
});

t.test('orphans are reaped: no zombie is left', async (t) => {
  const app = tempApp(t);
  const r = await sh('(sleep 0.1 &) ; sleep 1; ps -eo stat | grep -c Z', ['--app', app]);
  t.equal(r.stdout, '0\n');
  t.equal(r.code, 1, 'grep -c found nothing');
  const many = await sh('for i in $(seq 30); do (sleep 0.05 &) ; done; sleep 1; ps -eo pid=,stat= > /tmp/ps; grep -c Z /tmp/ps; wc -l < /tmp/ps', ['--app', app]);
  t.same(lines(many.stdout), ['0', '3'], 'no zombie; only init, sh and ps are left');
});

t.test('orphans are adopted by PID 1 (dynod-init)', async (t) => {
  const app = tempApp(t);
  const r = await sh('(sleep 2 & echo $! > /tmp/pid) ; sleep 0.2; ps -o ppid= -p $(cat /tmp/pid)', ['--app', app]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout.trim(), '1');
});

t.test('the dyno ends with its command: background processes are killed', async (t) => {
  const app = tempApp(t);
  const marker = `${Math.floor(Math.random() * 1e6)}.${process.pid}`;
  const r = await sh(`sleep ${marker} & echo started`, ['--app', app]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'started\n');
  t.ok(r.ms < 5000, `dynod returned after ${r.ms} ms`);
  const left = hostProcesses().filter((p) => p.cmdline === `sleep ${marker}`);
  t.same(left, [], 'the background sleep is gone from the host');
});

t.test('SIGPIPE is not ignored in the dyno (Node ignores it in dynod)', async (t) => {
  const app = tempApp(t);
  const r = await sh('grep -E "^Sig(Ign|Blk)" /proc/self/status; yes | head -n 1; echo "${PIPESTATUS:-done}"', ['--app', app]);
  t.equal(r.code, 0, r.stderr);
  const f = statusFields(r.stdout);
  t.equal(f.SigIgn, '0000000000000000');
  t.equal(f.SigBlk, '0000000000000000');
  t.match(r.stdout, /\ny\ndone\n$/);
  const b = await run(['bash', '-c', 'yes | head -n 1 >/dev/null; echo ${PIPESTATUS[0]}'], ['--app', app]);
  t.equal(b.stdout, '141\n', 'yes died of SIGPIPE (128+13)');
});

t.test('a stop signal to dynod gives the dyno its grace; a second one is SIGKILL (Heroku\'s second Ctrl-C)', async (t) => {
  const app = tempApp(t);
  const d = spawnDynod(['run', '--app', app, '--', 'sh', '-c', 'trap "" TERM INT; echo up; while :; do sleep 0.1; done'], { timeoutMs: 20_000 });
  await d.waitForStdout(/^up$/m);
  d.child.kill('SIGTERM');
  const first = await Promise.race([d.result.then(() => 'ended'), new Promise((r) => setTimeout(() => r('running'), 700))]);
  t.equal(first, 'running', 'a dyno that ignores SIGTERM keeps its grace');
  const t0 = Date.now();
  d.child.kill('SIGTERM');
  const r = await d.result;
  t.equal(r.code, 137, `SIGKILL after the second signal (${r.stderr})`);
  t.ok(Date.now() - t0 < 5_000, 'at once, not after the 30 s grace');
});
