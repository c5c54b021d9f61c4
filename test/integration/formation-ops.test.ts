// More of `dynod start` (root, real kernel): the second Ctrl-C, cycling, runtime
// metrics, the JSON log, `dynod logs`, `apps`, detached and typed one-offs, the
// release timeout, and 10 dynos × 10,000 lines through the whole stream.
import t from 'tap';
import { startFormation } from '../helpers/formation';
import { spawnDynod } from '../helpers/dynod';
import type { LogLine } from '../../src/formation/types';

t.test('a second Ctrl-C skips the grace', async (t) => {
  const f = await startFormation(t, { files: { Procfile: "stubborn: trap '' TERM INT; while :; do sleep 0.2; done\n" }, args: ['--grace', '60s'] });
  await f.waitFor(/State changed from starting to up/);
  f.proc.kill('SIGINT');
  await f.waitFor(/Stopping all processes with SIGTERM/);
  f.proc.kill('SIGINT');
  const exit = await f.exited;
  t.same(exit, { code: 0, signal: null });
  t.match(f.log(), /dynod\[stubborn\.1\]: Process exited with status 137/, 'SIGKILLed without waiting 60 s');
});

t.test('cycling restarts a dyno after the period; runtime metrics lines', async (t) => {
  const f = await startFormation(t, {
    files: { Procfile: 'worker: echo booted; while :; do sleep 0.2; done\n' },
    args: ['--cycle', '1s', '--runtime-metrics', '500ms', '--grace', '1s'],
  });
  await f.waitFor(/dynod\[worker\.1\]: Cycling/, 15_000);
  await f.waitForCount(/app\[worker\.1\]: booted/, 2, 15_000);
  const m = await f.waitFor(/dynod\[worker\.1\]: source=worker\.1 dyno=dynod\.[0-9a-f-]+ sample#memory_total=[\d.]+MB sample#memory_rss=[\d.]+MB sample#memory_cache=[\d.]+MB sample#memory_swap=[\d.]+MB sample#memory_quota=512\.00MB/, 15_000);
  t.ok(m, 'a memory line with the quota of standard-1x');
  await f.waitFor(/sample#load_avg_1m=\d+\.\d\d sample#load_avg_5m=\d+\.\d\d sample#load_avg_15m=\d+\.\d\d/);
  await f.interrupt();
});

t.test('--log-format json; dynod logs with filters; apps', async (t) => {
  const f = await startFormation(t, {
    files: { Procfile: 'web: echo web says hi; sleep 1000\nworker: echo worker says hi; sleep 1000\n' },
    args: ['--log-format', 'json', '--boot-timeout', '60s'],
  });
  await f.waitFor(/"msg":"worker says hi"/);
  await f.waitFor(/"msg":"web says hi"/);
  const first = JSON.parse(f.lines[0]!) as Record<string, unknown>;
  t.match(first, { source: 'dynod', dyno: /^(web|worker)\.1$/, msg: 'State changed from down to starting' }, 'one JSON object per line');
  t.match(first.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);

  const app = await f.cli(['logs', '--name', f.app, '-s', 'app']);
  t.equal(app.code, 0, app.stderr);
  t.same(app.stdout.trim().split('\n').map((l) => l.replace(/^\S+ /, '')).sort(), ['app[web.1]: web says hi', 'app[worker.1]: worker says hi']);
  const one = await f.cli(['logs', '--name', f.app, '-d', 'worker.1', '-n', '1']);
  t.match(one.stdout.trim().split('\n'), [/ app\[worker\.1\]: worker says hi$/]);
  // heroku logs takes --dyno for --dyno-name
  t.same((await f.cli(['logs', '--name', f.app, '--dyno', 'worker.1', '-n', '1'])).stdout, one.stdout);
  const typed = await f.cli(['logs', '--name', f.app, '-p', 'web', '-s', 'dynod', '--json']);
  const lines = typed.stdout.trim().split('\n').map((l) => JSON.parse(l) as LogLine);
  t.ok(lines.length >= 2 && lines.every((l) => l.dyno === 'web.1' && l.source === 'dynod'), 'filters by type and source');
  const bad = await f.cli(['logs', '--name', f.app, '-s', 'heroku']);
  t.equal(bad.code, 125);
  t.match(bad.stderr, /--source heroku: accepted: app, dynod/);

  // -t: lines that come after the call. With -n 1 the server sends the latest line and
  // subscribes in one step: once that line is printed, the tail cannot miss what follows.
  const tailing = spawnDynod(['logs', '--name', f.app, '-t', '-n', '1', '-s', 'app'], { env: f.envForCli(), cwd: f.dir });
  await tailing.waitForStdout(/says hi\n/);
  const tail = tailing.result;
  const apps = await f.cli(['apps', '--json']);
  t.match(JSON.parse(apps.stdout), [{ app: f.app, appDir: f.dir, release: 1 }]);
  const det = await f.cli(['run', '--detach', '--', 'echo', 'detached output']);
  t.equal(det.code, 0, det.stderr);
  // the command as the dyno runs it and its log line shows it: quoted where the shell needs it
  t.match(det.stdout, /^Running `echo 'detached output'` on .*\.\.\. up, run\.\d{4}\n/);
  // the hint names the app as the verbs find it
  const hint = /Run (dynod logs .*) to view the output/.exec(det.stdout)![1]!.split(' ').slice(1);
  t.same(hint.slice(0, 3), ['logs', '--name', f.app]);
  await f.waitFor(/"source":"app","dyno":"run\.\d{4}","msg":"detached output"/);
  t.match(f.log(), /"msg":"Starting process with command `echo 'detached output'`"/, 'the same command line in the log');
  await f.waitFor(/"dyno":"run\.\d{4}","msg":"Process exited with status 0"/);
  await f.waitFor(/"dyno":"run\.\d{4}","msg":"State changed from up to down"/);
  const tailed = await Promise.race([tail, new Promise<null>((r) => setTimeout(() => r(null), 500))]);
  t.equal(tailed, null, 'logs -t keeps running');
  await f.interrupt();
  const tailEnd = await tail;
  t.equal(tailEnd.code, 0, 'logs -t ends when the formation does');
  t.match(tailEnd.stdout, / app\[run\.\d{4}\]: detached output\n/, 'logs -t printed the lines that came after it');
});

t.test('a Procfile type as the one-off command runs its command with the arguments appended', async (t) => {
  const f = await startFormation(t, { files: { Procfile: 'worker: sleep 1000\nargs: printf "%s|" first\n' }, args: ['worker=1,args=0'] });
  await f.waitFor(/dynod\[worker\.1\]: State changed from starting to up/);
  const r = await f.cli(['run', '--', 'args', 'a b', "c'd"]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, "first|a b|c'd|");
  await f.interrupt();
});

t.test('an attached one-off: ps lists it (ps run too), stop -d ends it through its client, and so does stop --all', async (t) => {
  const f = await startFormation(t, { files: { Procfile: 'worker: sleep 1000\n' }, args: ['worker=1', '--grace', '3s'] });
  await f.waitFor(/dynod\[worker\.1\]: State changed from starting to up/);
  let mark = f.lines.length;
  const one = f.cli(['run', '--', 'sh', '-c', 'trap "echo got TERM; exit 3" TERM; while :; do sleep 0.1; done']);
  const up = await f.waitFor(/dynod\[run\.\d+\]: State changed from starting to up/, 20_000, mark);
  const name = /\[(run\.\d+)\]/.exec(up)![1]!;
  const ps = await f.cli(['ps', '--name', f.app, 'run']);
  t.equal(ps.code, 0, ps.stderr);
  t.match(ps.stdout, new RegExp(`${name.replace('.', '\\.')} \\(Standard-1X\\): up`), 'ps run lists it');
  const ex = await f.cli(['exec', '--name', f.app, '-d', name, '--', 'true']);
  t.equal(ex.code, 125);
  t.match(ex.stderr, /runs attached to its dynod run/);
  const stop = await f.cli(['stop', '--name', f.app, '-d', name]);
  t.equal(stop.code, 0, stop.stderr);
  const r = await one;
  // Heroku's /bin/sh -c around the command has no trap: 143; the command's own trap ran
  t.equal(r.code, 143, 'its processes got SIGTERM');
  t.match(r.stdout, /got TERM/);
  t.match(f.log(), new RegExp(`dynod\\[${name.replace('.', '\\.')}\\]: Stopping all processes with SIGTERM`));
  t.notMatch((await f.cli(['ps', '--name', f.app])).stdout, new RegExp(name.replace('.', '\\.')), 'gone from ps');

  // what a formation's one-off cannot honour is refused, not dropped
  const net = await f.cli(['run', '--net', 'none', '--port', '9', '--', 'true']);
  t.equal(net.code, 125);
  t.match(net.stderr, /^dynod: --port, --net: not for a one-off of a running formation/);
  // a one-off whose options the dyno refuses ends at once with 125: no run.N left starting in ps
  const tiny = await f.cli(['run', '--memory', '1M', '--', 'true']);
  t.equal(tiny.code, 125);
  t.match(tiny.stderr, /^dynod: --memory 1M: too small; the minimum is 4M/);
  t.notMatch((await f.cli(['ps', '--name', f.app, 'run'])).stdout, /run\.\d+/, 'no one-off left in ps');
  // --name of dynod run names the dyno; the app's name there, from elsewhere, is refused with a hint
  const elsewhere = await f.cli(['run', '--name', f.app, '--', 'true'], { cwd: '/' });
  t.equal(elsewhere.code, 125);
  t.match(elsewhere.stderr, new RegExp(`^dynod: --name ${f.app}: for dynod run it names the dyno \\(\\$DYNO\\), and a formation of app ${f.app} runs: for a one-off in it, run from its directory or give --app DIR`));
  // stop -p run: every one-off, as ps run lists them
  mark = f.lines.length;
  const three = f.cli(['run', '--', 'sleep', '1000']);
  await f.waitFor(/dynod\[run\.\d+\]: State changed from starting to up/, 20_000, mark);
  const byType = await f.cli(['stop', '--name', f.app, '-p', 'run']);
  t.equal(byType.code, 0, byType.stderr);
  t.equal((await three).code, 143, 'stop -p run ends an attached one-off');
  const both = await f.cli(['stop', '--name', f.app, '--all', '-d', 'worker.1']);
  t.equal(both.code, 125);
  t.match(both.stderr, /--all stops the whole formation: it cannot be used with --dyno-name/);
  mark = f.lines.length;
  const two = f.cli(['run', '--', 'sleep', '1000']);
  await f.waitFor(/dynod\[run\.\d+\]: State changed from starting to up/, 20_000, mark);
  const all = await f.cli(['stop', '--name', f.app, '--all']);
  t.equal(all.code, 0, all.stderr);
  t.equal((await two).code, 143, 'the one-off ends with the formation (SIGTERM)');
  t.equal((await f.exited).code, 0);
});

t.test('an attached one-off that outlives the grace of a stop gets R12, as a formation dyno does', async (t) => {
  const f = await startFormation(t, { files: { Procfile: 'worker: sleep 1000\nstubborn: trap "" TERM INT; while :; do sleep 0.2; done\n' }, args: ['worker=1,stubborn=0', '--grace', '1s'] });
  await f.waitFor(/dynod\[worker\.1\]: State changed from starting to up/);
  const mark = f.lines.length;
  const one = f.cli(['run', '--', 'stubborn']);
  const up = await f.waitFor(/dynod\[run\.\d+\]: State changed from starting to up/, 20_000, mark);
  const name = /\[(run\.\d+)\]/.exec(up)![1]!.replace('.', '\\.');
  const all = await f.cli(['stop', '--name', f.app, '--all']);
  t.equal(all.code, 0, all.stderr);
  t.equal((await one).code, 137, 'SIGKILLed at the grace');
  t.equal((await f.exited).code, 0);
  t.match(f.log(), new RegExp(`dynod\\[${name}\\]: Error R12 \\(Exit timeout\\) -> At least one process failed to exit within 1 seconds of SIGTERM\\n.*dynod\\[${name}\\]: Stopping process with SIGKILL`));
});

t.test('the release phase times out', async (t) => {
  const f = await startFormation(t, { files: { Procfile: 'release: sleep 60\nweb: sleep 60\n' }, args: ['--release-timeout', '1s'] });
  const exit = await f.exited;
  t.not(exit.code, 0);
  t.match(f.log(), /dynod\[release\.1\]: Release phase timed out after 1 seconds/);
  t.match(f.log(), /release phase of v1 timed out/);
  t.notMatch(f.log(), /\[web\.1\]/);
});

t.test('10 dynos × 10,000 lines all arrive, none cut', async (t) => {
  const N = 10;
  const L = 10_000;
  const f = await startFormation(t, {
    files: { Procfile: `logger: awk 'BEGIN { for (i = 0; i < ${L}; i++) printf "%s line %d %s\\n", ENVIRON["DYNO"], i, "0123456789abcdef0123456789abcdef" }'; sleep 1000\n` },
    args: [`logger=${N}`],
  });
  const want = new Set<string>();
  for (let d = 1; d <= N; d++) for (let i = 0; i < L; i++) want.add(`app[logger.${d}]: logger.${d} line ${i} 0123456789abcdef0123456789abcdef`);
  await f.waitForCount(/app\[logger\.\d+\]: logger\.\d+ line 9999 /, N, 60_000);
  const got = f.lines.filter((l) => l.includes(' app[logger.')).map((l) => l.slice(l.indexOf(' ') + 1));
  t.equal(got.length, N * L, 'every line once');
  t.equal(got.filter((l) => !want.has(l)).length, 0, 'none cut or mixed');
  t.equal(new Set(got).size, N * L, 'no duplicates');
  for (let d = 1; d <= N; d++) {
    const mine = got.filter((l) => l.startsWith(`app[logger.${d}]`)).map((l) => Number(l.split(' ')[3]));
    if (mine.some((n, i) => n !== i)) t.fail(`logger.${d} lines out of order`);
  }
  await f.interrupt();
});

t.test('--allow-host-port: every dyno reaches that host port on its own 127.0.0.1', async (t) => {
  const http = await import('node:http');
  const server = http.createServer((_q, s) => s.end('host database says hi'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as import('node:net').AddressInfo).port;
  const f = await startFormation(t, {
    files: { Procfile: `worker: curl -s http://127.0.0.1:${port}/; echo; sleep 1000\n` },
    args: ['--allow-host-port', String(port)],
  });
  await f.waitFor(/app\[worker\.1\]: host database says hi/);
  await f.interrupt();
});
