// The release phase, config vars and releases, one-off `run`, `exec`, R15, and a
// dynod that is SIGKILLed (root, real kernel).
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startFormation, get, WEB, freePortBase, alive, DYNOD } from '../helpers/formation';
import { spawnCollect, spawnDynod, waitFor } from '../helpers/dynod';
import type { DynoInfo } from '../../src/formation/types';

t.test('a failing release phase fails the start: its status, nothing else boots', async (t) => {
  const f = await startFormation(t, {
    files: { Procfile: 'release: echo migrating $DYNO; exit 3\nweb: sleep 60\n' },
  });
  const exit = await f.exited;
  t.same(exit, { code: 3, signal: null }, 'dynod start exits with the release status');
  t.match(f.log(), /app\[release\.1\]: migrating release\.1/);
  t.match(f.log(), /dynod\[release\.1\]: Process exited with status 3/);
  t.match(f.log(), /dynod\[dynod\]: Error: release phase of v1 exited with status 3/);
  t.notMatch(f.log(), /\[web\.1\]/, 'web never boots');
  const rel = await f.cli(['releases', '--name', f.app, '--json']);
  t.match(JSON.parse(rel.stdout), [{ version: 1, status: 'failed', releaseStatus: 3 }]);
});

t.test('no dyno boots during a release phase: a scale then only sets the count; one release phase at a time; a failed one leaves the config', async (t) => {
  const f = await startFormation(t, {
    files: { Procfile: 'release: echo release V=$V; sleep 2; [ "$V" != bad ]\nworker: echo "worker $DYNO V=$V"; exec sleep 1000\n' },
    args: ['worker=1', '--grace', '1s'],
  });
  await f.waitFor(/app\[release\.1\]: release V=/);
  // during the first release phase: a scale, and a config:set whose release phase must wait
  const scaled = await f.cli(['scale', '--name', f.app, 'worker=2']);
  t.equal(scaled.code, 0, scaled.stderr);
  const set = f.cli(['config:set', '--name', f.app, 'V=good']);
  await f.waitForCount(/dynod\[worker\.\d\]: State changed from starting to up/, 2, 30_000);
  t.equal((await set).code, 0);
  await f.waitForCount(/app\[worker\.\d\]: worker worker\.\d V=good/, 2, 30_000);
  const log = f.log();
  t.ok(log.indexOf('release.1]: Process exited') < log.indexOf('release.2]: Starting process'), 'release.2 ran after release.1');
  t.ok(log.indexOf('release.1]: Process exited') < log.indexOf('worker.1]: Starting process'), 'no worker before the first release phase passed');
  t.equal(f.lines.filter((l) => /dynod\[worker\.\d\]: Starting process/.test(l)).length, 4, 'two workers booted, then restarted once with v2: no duplicate');
  const ps = JSON.parse((await f.cli(['ps', '--name', f.app, '--json'])).stdout) as DynoInfo[];
  t.same(ps.map((d) => d.name).sort(), ['worker.1', 'worker.2']);
  // a failing release: a restart during its release phase boots with the running config, and keeps it
  const mark = f.lines.length;
  const bad = f.cli(['config:set', '--name', f.app, 'V=bad']);
  await f.waitFor(/app\[release\.3\]: release V=bad/, 20_000, mark);
  t.equal((await f.cli(['restart', '--name', f.app, '-d', 'worker.1'])).code, 0);
  t.equal((await bad).code, 125, 'the release failed');
  await f.waitFor(/app\[worker\.1\]: worker worker\.1 V=/, 20_000, mark);
  t.notMatch(f.lines.slice(mark).join('\n'), /worker worker\.\d V=bad/, 'no worker ever ran with the failed release\'s config');
  await f.interrupt();
});

t.test('release phase, config:set restarts with the new value, releases, run and exec', async (t) => {
  const base = await freePortBase();
  const f = await startFormation(t, {
    files: {
      Procfile: `release: echo release sees FOO=$FOO; [ -z "$FAIL" ]\nweb: ${WEB()}\n`,
    },
    args: ['-p', String(base), '--grace', '2s', '--publish-dynos'],
  });
  await f.waitFor(/dynod\[release\.1\]: Process exited with status 0/);
  await f.waitFor(/dynod\[web\.1\]: State changed from starting to up/);
  t.ok(f.lines.findIndex((l) => l.includes('release.1]: Process exited')) < f.lines.findIndex((l) => l.includes('web.1]: Starting process')), 'web boots after the release phase');
  t.equal(await get(base + 1), 'web.1 -');

  const mark = f.lines.length;
  // PORT too: a web dyno keeps the router's $PORT (it would not bind port 1), others see the config var
  const set = await f.cli(['config:set', '--name', f.app, 'FOO=bar baz', 'N=1', 'PORT=1']);
  t.equal(set.code, 0, set.stderr);
  t.match(set.stderr, /Setting FOO, N, PORT and restarting .*\.\.\. done, v2/);
  await f.waitFor(/app\[release\.2\]: release sees FOO=bar baz/, 20_000, mark);
  await f.waitFor(/dynod\[web\.1\]: State changed from starting to up/, 20_000, mark);
  t.equal(await get(base + 1), 'web.1 bar baz', 'web.1 restarted with the new config var');
  const got = await f.cli(['config:get', '--name', f.app, 'FOO']);
  t.equal(got.stdout, 'bar baz\n');
  // heroku's config:get KEY...: a line per key, empty for one that is not set
  const several = await f.cli(['config:get', '--name', f.app, 'FOO', 'NOPE', 'N']);
  t.equal(several.code, 0, several.stderr);
  t.equal(several.stdout, 'bar baz\n\n1\n');
  t.same(JSON.parse((await f.cli(['config:get', '--name', f.app, '--json', 'FOO', 'NOPE'])).stdout), [{ key: 'FOO', value: 'bar baz' }, { key: 'NOPE', value: null }]);
  // unsetting a key that is not set: no release, nothing restarts
  const pidOf = async () => (JSON.parse((await f.cli(['ps', '--name', f.app, '--json'])).stdout) as DynoInfo[]).find((d) => d.name === 'web.1')!.pid;
  const before = await pidOf();
  const none = await f.cli(['config:unset', '--name', f.app, 'NOPE']);
  t.equal(none.code, 0, none.stderr);
  t.match(none.stderr, /Unsetting NOPE on .*\.\.\. done, v2/);
  t.equal(await pidOf(), before, 'web.1 was not restarted');
  const stateFile = fs.readdirSync(path.join(f.env.DYNOD_STATE_DIR!, 'apps', f.app));
  t.ok(stateFile.length > 0, 'config lives in the state dir');
  const st = fs.statSync(path.join(f.env.DYNOD_STATE_DIR!, 'apps', f.app));
  t.equal(st.mode & 0o777, 0o700, "the app's config dir is root's only");

  const rels = JSON.parse((await f.cli(['releases', '--name', f.app, '--json'])).stdout) as Array<{ version: number; status: string }>;
  t.same(rels.map((r) => `${r.version}:${r.status}`).sort(), ['1:succeeded', '2:succeeded']);

  // one-off: the app's environment, run.N, attached, exit status passed through
  const one = await f.cli(['run', '--', 'sh', '-c', 'echo $DYNO $FOO $PORT; exit 7'], { cwd: f.dir });
  t.equal(one.code, 7, one.stderr);
  t.match(one.stdout, /^run\.\d{4} bar baz 1\n$/, 'a one-off gets run.N and the config vars, PORT included');
  t.match(f.log(), /dynod\[run\.\d{4}\]: Process exited with status 7/, 'its start and end are in the formation log');

  // exec inside web.1
  const ps = JSON.parse((await f.cli(['ps', '--name', f.app, '--json'])).stdout) as DynoInfo[];
  const web = ps.find((d) => d.name === 'web.1')!;
  const ex = await f.cli(['exec', '--name', f.app, '-d', 'web.1', '--', 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "; echo; hostname']);
  t.equal(ex.code, 0, ex.stderr);
  t.match(ex.stdout, /dynod-init/, "exec sees the dyno's PID 1");
  const host = fs.readFileSync(`/proc/${web.pid}/root/etc/hostname`, 'utf8').trim();
  t.match(ex.stdout, new RegExp(host), "exec runs with the dyno's hostname");

  // a failing release leaves the running dynos as they were
  const bad = await f.cli(['config:set', '--name', f.app, 'FOO=x', 'FAIL=1']);
  t.not(bad.code, 0, 'config:set fails when the release phase fails');
  t.match(bad.stderr, /release phase of v3 exited with status 1/);
  const after = JSON.parse((await f.cli(['ps', '--name', f.app, '--json'])).stdout) as DynoInfo[];
  t.equal(after.find((d) => d.name === 'web.1')!.pid, web.pid, 'web.1 was not restarted');
  t.equal(await get(base + 1), 'web.1 bar baz', 'and still has the previous config');
  const rels3 = JSON.parse((await f.cli(['releases', '--name', f.app, '--json'])).stdout) as Array<{ version: number; status: string }>;
  t.match(rels3.find((r) => r.version === 3), { status: 'failed' });
  await f.interrupt();
});

t.test('a new release whose web dyno crashes: the running one keeps serving, the new one is retried until one is up', async (t) => {
  const f = await startFormation(t, {
    files: { Procfile: `web: [ -z "$CRASH" ] || exit 2; ${WEB()}\n` },
    args: ['--grace', '1s', '--backoff-scale', '0.001'],
  });
  await f.waitFor(/dynod\[web\.1\]: State changed from starting to up/);
  t.equal(await get(f.port!), 'web.1 -');
  const mark = f.lines.length;
  const set = await f.cli(['config:set', '--name', f.app, 'CRASH=1', 'FOO=new']);
  t.equal(set.code, 0, set.stderr);
  // the first retry is at once (Heroku's first restart), the next after a cool-off
  await f.waitForCount(/dynod\[web\.1\]: Error: the new process crashed before it was up; the running one keeps serving/, 2, 20_000, mark);
  t.ok(f.lines.slice(mark).filter((l) => /dynod\[web\.1\]: Starting process/.test(l)).length >= 2, 'tried again');
  t.equal(await get(f.port!), 'web.1 -', 'the old one still serves');
  const ps = JSON.parse((await f.cli(['ps', '--name', f.app, '--json'])).stdout) as DynoInfo[];
  t.match(ps.find((d) => d.name === 'web.1'), { state: 'up' });
  // a release that boots: the next try takes over
  const fix = await f.cli(['config:unset', '--name', f.app, 'CRASH']);
  t.equal(fix.code, 0, fix.stderr);
  for (let i = 0; i < 100 && (await get(f.port!)) !== 'web.1 new'; i++) await new Promise((r) => setTimeout(r, 100));
  t.equal(await get(f.port!), 'web.1 new', 'the new release serves');
  await f.interrupt();
});

t.test('R15: a dyno over its memory is killed and restarted', async (t) => {
  const f = await startFormation(t, {
    files: { Procfile: 'hog: echo eating; head -c 3000m /dev/zero | tail; sleep 60\n' },
    args: ['-s', 'eco', '--backoff-scale', '0.001', '--grace', '1s'],
  });
  await f.waitFor(/dynod\[hog\.1\]: Error R15 \(Memory quota vastly exceeded\)/, 60_000);
  await f.waitFor(/dynod\[hog\.1\]: State changed from \w+ to crashed/, 30_000);
  await f.waitFor(/dynod\[hog\.1\]: State changed from crashed to starting/, 30_000);
  // a memory line before R15 shows what was used, never an empty cgroup's 0MB
  t.notMatch(f.log(), /Process running mem=0MB\(0\.0%\)/);
  await f.interrupt();
});

t.test('SIGKILL of dynod: its dynos die with it, and the next start of the app cleans up', async (t) => {
  const files = { Procfile: 'worker: echo up; while :; do sleep 0.2; done\n' };
  const f = await startFormation(t, { files });
  await f.waitFor(/State changed from starting to up/);
  const ps = JSON.parse((await f.cli(['ps', '--name', f.app, '--json'])).stdout) as DynoInfo[];
  const pid = ps[0]!.pid!;
  const tailing = spawnDynod(['logs', '--name', f.app, '-t', '-n', '1', '-s', 'app'], { env: f.envForCli(), cwd: f.dir });
  await tailing.waitForStdout(/app\[worker\.1\]: up\n/);
  f.proc.kill('SIGKILL');
  await f.exited;
  await waitFor(() => !alive(pid), 10_000, 'the dyno to die with dynod');
  const tail = await tailing.result;
  t.equal(tail.code, 125, 'logs -t does not end as if the formation had stopped');
  t.match(tail.stderr, new RegExp(`app ${f.app}: its dynod went away without stopping its formation \\(killed\\?\\); its dynos died with it`));
  const stale = await f.cli(['ps', '--name', f.app]);
  t.equal(stale.code, 125, 'a killed formation does not answer');
  t.match(stale.stderr, /does not answer|no formation/);
  // config verbs work on the store, as when no formation runs (a bad config var can be fixed before the next start)
  const set = await f.cli(['config:set', '--name', f.app, 'AFTER=kill']);
  t.equal(set.code, 0, set.stderr);
  t.equal((await f.cli(['config:get', '--name', f.app, 'AFTER'])).stdout, 'kill\n');
  t.equal((await f.cli(['config:set', '--name', f.app, 'AFTER=again'])).code, 0);
  // no dynod runs them: pending, not "executing"
  const offline = (await f.cli(['releases', '--name', f.app])).stdout;
  t.match(offline, /v3 +Set AFTER config vars release pending/);
  t.notMatch(offline, /executing/);
  // the same app starts again in the same run dir: the lock is free, the stale socket replaced
  // Ctrl-C once its worker is up (however slow the machine: a VM under emulation takes seconds)
  const next = spawnCollect(['/usr/bin/env', '-i', ...Object.entries(f.env).map(([k, v]) => `${k}=${v}`), DYNOD, 'start', '--name', f.app], { cwd: f.dir });
  await next.waitForStdout(/dynod\[worker\.1\]: State changed from starting to up/, 60_000);
  next.child.kill('SIGINT');
  const again = await next.result;
  t.equal(again.code, 0, again.stderr);
  // the two releases made while none ran: this app has no release phase, so nothing was to
  // run for either, and both succeeded with the start (with a release phase the older one
  // expires: the unit tests of the store)
  const rel = JSON.parse((await f.cli(['releases', '--name', f.app, '--json'])).stdout) as { version: number; status: string }[];
  t.same(rel.map((r) => [r.version, r.status]).sort((a, b) => Number(a[0]) - Number(b[0])), [[1, 'succeeded'], [2, 'succeeded'], [3, 'succeeded']]);
  t.match((await f.cli(['releases', '--name', f.app])).stdout, /v2 +Set AFTER config vars +root/);
});
