// `dynod start` as a user drives it (root, real kernel): a formation of real
// dynos comes up, `ps` shows it, `scale` changes it, `restart` replaces, `stop`
// and Ctrl-C stop gracefully, nothing is left after.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startFormation, get, WEB, freePortBase, alive } from '../helpers/formation';
import type { DynoInfo } from '../../src/formation/types';
import { dynod } from '../helpers/dynod';

function psJson(stdout: string): DynoInfo[] {
  return JSON.parse(stdout) as DynoInfo[];
}

/** Host pids of every process in the dyno whose PID 1 is `pid` (its cgroup, read through /proc). */
function cgroupOf(pid: number): string {
  return fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
}

t.test('web=2,worker=1 comes up, ps shows it, scale changes it, restart replaces, Ctrl-C stops', async (t) => {
  const base = await freePortBase();
  const f = await startFormation(t, {
    files: {
      Procfile: `# a comment\r\nweb: ${WEB()}\r\nworker: trap 'echo worker got TERM; exit 0' TERM; echo worker $DYNO up; while :; do sleep 0.2; done\r\n`,
      '.env': 'FOO=from-dotenv\n',
    },
    args: ['web=2,worker=1', '-p', String(base), '--grace', '5s', '--publish-dynos'],
  });
  await f.waitForCount(/dynod\[(web|worker)\.\d\]: State changed from starting to up/, 3);
  t.equal(await get(base + 1), 'web.1 from-dotenv', 'web.1 answers on PORT+1 with its $DYNO and the .env');
  t.equal(await get(base + 2), 'web.2 from-dotenv', 'web.2 answers on PORT+2');
  t.match(f.log(), /app\[worker\.1\]: worker worker\.1 up/, "the worker's output is in the stream as app[worker.1]");
  t.match(f.log(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 dynod\[web\.1\]: Starting process with command `exec node/m, "Heroku's line format");

  const ps = await f.cli(['ps', '--name', f.app, '--json']);
  t.equal(ps.code, 0, ps.stderr);
  const dynos = psJson(ps.stdout);
  t.same(dynos.map((d) => `${d.name}:${d.state}`).sort(), ['web.1:up', 'web.2:up', 'worker.1:up']);
  const web1 = dynos.find((d) => d.name === 'web.1')!;
  t.ok(web1.pid && alive(web1.pid), 'ps gives the host pid of PID 1');
  t.match(cgroupOf(web1.pid!), new RegExp(`dynod/${f.app}/web\\.1-`), 'web.1 runs in the app\'s cgroup group');
  const text = await f.cli(['ps', '--name', f.app]);
  t.match(text.stdout, /=== web \(Standard-1X\): exec node .* \(2\)\n\nweb\.1: up \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d [+-]\d{4} \(~ \d+s ago\)/, "Heroku's ps format");
  const nobody = await dynod(['ps', '--name', f.app], { uid: 65534, gid: 65534, env: f.envForCli() });
  t.equal(nobody.code, 125, 'the control socket is root\'s only');
  t.match(nobody.stderr, /permission denied; a formation's control socket is root's only \(try sudo\)/);
  const byDir = await f.cli(['ps', '--json'], { cwd: f.dir });
  t.equal(byDir.code, 0, 'the app is found from its directory too');

  // scale
  let mark = f.lines.length;
  const sc = await f.cli(['scale', '--name', f.app, 'web=3', 'worker-1']);
  t.equal(sc.code, 0, sc.stderr);
  t.match(sc.stdout, /Scaling dynos\.\.\. done, now running web at 3:Standard-1X, worker at 0:Standard-1X/);
  await f.waitFor(/dynod\[web\.3\]: State changed from starting to up/, 20_000, mark);
  await f.waitFor(/app\[worker\.1\]: worker got TERM/, 20_000, mark);
  await f.waitFor(/dynod\[worker\.1\]: Process exited with status 0/, 20_000, mark);
  t.equal(await get(base + 3), 'web.3 from-dotenv', 'web.3 answers after scale');
  const unknown = await f.cli(['scale', '--name', f.app, 'nope=2']);
  t.equal(unknown.code, 125);
  t.match(unknown.stderr, /Couldn't find that process type \(nope\)\./);
  const noArgs = await f.cli(['scale', '--name', f.app]);
  t.match(noArgs.stdout.trim(), /^web=3:Standard-1X worker=0:Standard-1X$/);

  // restart one dyno: a new life, new pid
  mark = f.lines.length;
  const r = await f.cli(['restart', '--name', f.app, '-d', 'web.2']);
  t.equal(r.code, 0, r.stderr);
  await f.waitFor(/dynod\[web\.2\]: State changed from starting to up/, 20_000, mark);
  const after = psJson((await f.cli(['ps', '--name', f.app, '--json'])).stdout);
  const web2 = after.find((d) => d.name === 'web.2')!;
  t.not(web2.pid, dynos.find((d) => d.name === 'web.2')!.pid, 'web.2 has a new PID 1');
  const web2Lines = f.lines.slice(mark).filter((l) => l.includes('dynod[web.2]')).map((l) => l.replace(/^\S+ dynod\[web\.2\]: /, ''));
  t.match(web2Lines.slice(0, 4), ['Restarting', /^Starting process with command/, 'State changed from starting to up', 'Stopping all processes with SIGTERM'], 'preboot: the new web.2 is up before the old one gets SIGTERM');

  // Ctrl-C: every dyno stops, dynod exits 0, nothing left
  const pids = after.map((d) => d.pid!).filter(Boolean);
  const exit = await f.interrupt('SIGINT');
  t.same(exit, { code: 0, signal: null }, 'Ctrl-C: dynod exits 0 after a graceful stop');
  t.match(f.log(), /dynod\[web\.1\]: Process exited with status 143/, 'web.1 ended by SIGTERM');
  t.match(f.log(), /dynod\[web\.1\]: State changed from up to down/);
  for (const pid of pids) t.notOk(alive(pid), `pid ${pid} is gone`);
  t.notOk(fs.existsSync(`${f.env.DYNOD_RUN_DIR}/${f.app}`), 'its run directory is removed');
});

t.test('scale down: a web dyno sent SIGTERM gets no new request and its idle router connections close, so an app that drains exits at once', async (t) => {
  const base = await freePortBase();
  // keep-alive longer than the grace: only the router closing its pooled connections lets close() finish
  const app = "const s=require('http').createServer((q,r)=>setTimeout(()=>r.end(process.env.DYNO),q.url==='/slow'?1500:0));s.keepAliveTimeout=120000;s.listen(process.env.PORT,()=>console.log('listening'));process.on('SIGTERM',()=>{console.log('draining');s.close(()=>{console.log('drained');process.exit(0)})})";
  const f = await startFormation(t, { files: { Procfile: `web: exec node -e "${app}"\n` }, args: ['web=2', '-p', String(base), '--grace', '20s'] });
  await f.waitForCount(/dynod\[web\.\d\]: State changed from starting to up/, 2);
  // requests through the router until both dynos have answered: each holds pooled connections
  const seen = new Set<string>();
  for (let i = 0; i < 200 && seen.size < 2; i++) seen.add(await get(base));
  t.same([...seen].sort(), ['web.1', 'web.2']);
  const mark = f.lines.length;
  // requests in flight when SIGTERM comes: they finish, then their connections close
  const slow = Promise.all(Array.from({ length: 8 }, () => get(base, '/slow')));
  await new Promise((r) => setTimeout(r, 300));
  const scaled = await f.cli(['scale', '--name', f.app, 'web=1']);
  t.equal(scaled.code, 0, scaled.stderr);
  t.equal((await slow).length, 8, 'the requests in flight were answered');
  await f.waitFor(/app\[web\.2\]: drained/, 10_000, mark);
  await f.waitFor(/dynod\[web\.2\]: Process exited with status 0/, 10_000, mark);
  t.notMatch(f.lines.slice(mark).join('\n'), /R12/, 'no R12: it did not wait for the grace');
  for (let i = 0; i < 10; i++) t.equal(await get(base), 'web.1', 'only web.1 answers');
  await f.interrupt();
});

t.test('stop: TERM ignored gets R12 at the grace; a daemonising worker leaves no orphan', async (t) => {
  const f = await startFormation(t, {
    files: {
      Procfile: [
        "stubborn: trap '' TERM; echo ready; while :; do sleep 0.2; done",
        // double fork: the daemon's parent exits, it is reparented inside the dyno
        "daemon: (setsid sh -c 'trap \"\" TERM; while :; do sleep 0.2; done' &) ; echo forked; while :; do sleep 0.2; done",
      ].join('\n'),
    },
    args: ['--grace', '1s'],
  });
  await f.waitForCount(/State changed from starting to up/, 2);
  await f.waitFor(/app\[daemon\.1\]: forked/);
  const dynos = psJson((await f.cli(['ps', '--name', f.app, '--json'])).stdout);
  const daemon = dynos.find((d) => d.name === 'daemon.1')!;
  const cg = cgroupOf(daemon.pid!).split('\n').find((l) => l.includes(`dynod/${f.app}/`))!;
  const procsFile = cg.startsWith('0::') ? `/sys/fs/cgroup${cg.slice(3)}/cgroup.procs` : `/sys/fs/cgroup/pids${cg.split(':')[2]}/cgroup.procs`;
  const inside = fs.readFileSync(procsFile, 'utf8').trim().split('\n').map(Number);
  t.ok(inside.length >= 4, `the daemon's processes are in its cgroup (${inside.length})`);
  // stop -d: the dyno comes back, its replacement started as the old one gets SIGTERM, not after the grace
  const mark = f.lines.length;
  const one = await f.cli(['stop', '--name', f.app, '-d', 'stubborn.1']);
  t.equal(one.code, 0, one.stderr);
  const after = f.lines.slice(mark);
  const started = after.findIndex((l) => /dynod\[stubborn\.1\]: Starting process/.test(l));
  const r12 = after.findIndex((l) => /dynod\[stubborn\.1\]: Error R12/.test(l));
  t.ok(started >= 0 && r12 > started, 'the replacement starts before the old one is killed at the grace');
  t.ok(r12 >= 0, 'the verb returns once the old one has ended');
  await f.waitFor(/dynod\[stubborn\.1\]: State changed from starting to up/, 20_000, mark);
  const stop = await f.cli(['stop', '--name', f.app, '--all']);
  t.equal(stop.code, 0, stop.stderr);
  t.notOk(fs.existsSync(path.join(f.env.DYNOD_RUN_DIR!, f.app)), 'stop --all returns once the formation is done (its grace given)');
  const exit = await f.exited;
  t.same(exit, { code: 0, signal: null });
  t.match(f.log(), /dynod\[stubborn\.1\]: Error R12 \(Exit timeout\) -> At least one process failed to exit within 1 seconds of SIGTERM/);
  t.match(f.log(), /dynod\[stubborn\.1\]: Stopping process with SIGKILL/);
  t.match(f.log(), /dynod\[stubborn\.1\]: Process exited with status 137/);
  for (const pid of inside) t.notOk(alive(pid), `daemon process ${pid} is gone`);
  t.notOk(fs.existsSync(procsFile), "the daemon's cgroup is removed");
});

t.test('crash restarts follow the scaled backoff; R10 for a web dyno that never binds', async (t) => {
  const base = await freePortBase();
  const f = await startFormation(t, {
    files: { Procfile: 'web: echo not listening; sleep 60\nworker: echo crash; exit 3\n' },
    args: ['-p', String(base), '--boot-timeout', '1s', '--backoff-scale', '0.001', '--grace', '1s'],
  });
  await f.waitFor(/dynod\[web\.1\]: Error R10 \(Boot timeout\) -> Web process failed to bind to \$PORT within 1 seconds of launch/, 20_000);
  await f.waitFor(/dynod\[web\.1\]: State changed from starting to crashed/);
  // worker: crash 1 restarts at once, crash 2 after 0.6-1.2 s, crash 3 after 1.2-2.4 s
  await f.waitForCount(/dynod\[worker\.1\]: State changed from crashed to starting/, 3, 30_000);
  const times = (re: RegExp) => f.lines.filter((l) => re.test(l) && l.includes('[worker.1]')).map((l) => Date.parse(l.slice(0, 26) + 'Z'));
  const crashed = times(/State changed from \w+ to crashed/);
  const restarted = times(/State changed from crashed to starting/);
  const gaps = restarted.slice(0, 3).map((r, i) => r - crashed[i]!);
  t.ok(gaps[0]! < 500, `first crash restarts at once (${gaps[0]} ms)`);
  t.ok(gaps[1]! >= 600 - 5, `second waits at least half of 20 min × 0.001 (${gaps[1]} ms)`);
  t.ok(gaps[2]! >= 1200 - 5, `third waits at least half of 40 min × 0.001 (${gaps[2]} ms)`);
  t.match(f.log(), /dynod\[worker\.1\]: Process exited with status 3/);
  const ps = psJson((await f.cli(['ps', '--name', f.app, '--json'])).stdout);
  t.ok(ps.find((d) => d.name === 'worker.1')!.restarts >= 3, 'ps counts the restarts');
  await f.interrupt();
});
