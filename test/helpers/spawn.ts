// A dyno's native spawn plan for tests that drive the addon directly.
import * as fs from 'node:fs';
import { native, buildFile } from '../../src/native';
import type { NativeSpawnPlan } from '../../src/addon';
import { compileSpawn } from '../../src/dyno/compile';
import { plan } from '../../src/index';
import { tempApp } from './app';

/** The plan of `command` with stdio on /dev/null, no cgroup unless procsFiles; fds closed at teardown. */
export function spawnPlan(t: Tap.Test, command: string[], o: { userns: 'host' | 'private'; net: 'host' | 'none'; idBase?: number; procsFiles?: string[] }): NativeSpawnPlan {
  const p = plan({ command, app: tempApp(t), userns: o.userns, net: o.net });
  const devnull = fs.openSync('/dev/null', 'r+');
  const initFd = native().sealedCopy(buildFile('dynod-init'));
  t.teardown(() => { fs.closeSync(devnull); fs.closeSync(initFd); });
  return compileSpawn(p, {
    hostname: 'spawn-test', cgroup: { intoDir: '', procsFiles: o.procsFiles ?? [] }, stdio: [devnull, devnull, devnull], initFd,
    appMountFd: -1, idBase: o.idBase ?? 0, seccompFd: -1, trace: false,
  });
}

/** The pids of this process's children (every thread's). */
export function children(): string[] {
  return fs.readdirSync('/proc/self/task').flatMap((tid) => fs.readFileSync(`/proc/self/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
}
