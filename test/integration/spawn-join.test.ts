// The addon's join contract on the path cgroup v2 takes (the child born in its
// cgroup, or nothing to write): spawn() releases the child inline and still calls
// onJoined exactly once, asynchronously, with null. On a v1 host (cgroup.procs to
// write) the threadpool path runs in every other integration test.
import t from 'tap';
import * as fs from 'node:fs';
import { native, buildFile } from '../../src/native';
import type { NativeExit, NativeRecord } from '../../src/addon';
import { compileSpawn } from '../../src/dyno/compile';
import { plan } from '../../src/index';
import { tempApp } from '../helpers/app';

t.test('nothing to write: onJoined once, after spawn() returned, and the dyno runs to its end', async (t) => {
  const app = tempApp(t);
  const p = plan({ command: ['sh', '-c', 'exit 7'], app, userns: 'host', net: 'host' });
  const devnull = fs.openSync('/dev/null', 'r+');
  const initFd = native().sealedCopy(buildFile('dynod-init'));
  t.teardown(() => { fs.closeSync(devnull); fs.closeSync(initFd); });
  const spawnPlan = compileSpawn(p, {
    hostname: 'join-test', cgroup: { intoDir: '', procsFiles: [] }, stdio: [devnull, devnull, devnull], initFd,
    appMountFd: -1, idBase: 0, seccompFd: -1, trace: false,
  });
  const n = native();
  let returned = false;
  const calls: Array<{ err: unknown; afterReturn: boolean }> = [];
  let exited!: Promise<NativeExit>;
  const joined = new Promise<void>((resolve) => {
    const r = n.spawn(spawnPlan, (err) => {
      calls.push({ err, afterReturn: returned });
      resolve();
    });
    returned = true;
    t.equal(r.intoCgroup, false);
    const records: NativeRecord[] = [];
    n.watchChannel(r.channel, (rec) => { if (rec) records.push(rec); });
    exited = new Promise<NativeExit>((res) => n.watchExit(r.pidfd, res)).then((e) => {
      t.same(records, [], 'no setup error');
      return e;
    });
  });
  await joined;
  const exit = await exited;
  await new Promise((r) => setTimeout(r, 50));
  t.same(calls, [{ err: null, afterReturn: true }], 'onJoined: once, asynchronously, with null');
  t.same(exit, { code: 7, signal: null });
});
