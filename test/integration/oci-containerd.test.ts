// containerd's runc shim with the runtime under test (issue 10, part 1): `ctr run
// --runc-binary <runtime>` runs the same image as the podman suite, judged from outside:
// exit statuses, the exact environment, the OOM kill, a terminal, exec, ps, pause and
// resume, kill (one process, then --all), and nothing left after.
//
//   DYNOD_OCI_RUNTIME=/usr/sbin/runc npx tap test/integration/oci-containerd.test.ts   (the reference)
//   npx tap test/integration/oci-containerd.test.ts                  (bin/dynod-oci, the default)
//
// The containerd is the suite's own (test/helpers/oci-containerd.ts), as are the runtime's
// --root (--runc-root) and the cgroups (below this process's own).
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { waitFor } from '../helpers/dynod';
import { RUNTIME, brief, cmd, inTerminal, whyNotOci, type Cmd } from '../helpers/oci';
import { Containerd } from '../helpers/oci-containerd';
import { Podman } from '../helpers/oci-podman';

const skip = whyNotOci(['containerd', 'containerd-shim-runc-v2', 'ctr', 'script']);
if (skip) {
  t.plan(0, skip);
} else {
  const cd = new Containerd();
  const id = (what: string) => `oci-${process.pid}-${what}`;
  t.teardown(async () => {
    const stuck = await cd.destroy();
    if (stuck.length) process.stderr.write(`oci-containerd teardown: ${stuck.join('; ')}\n`);
  });
  t.comment(`runtime under test: ${RUNTIME}; containerd in ${cd.dir}; cgroup parent ${cd.cgroup.path}`);

  t.before(async () => {
    const up = await cd.start();
    if (up.code !== 0) throw new Error(`containerd did not start: ${brief(up)}; its log: ${path.join(cd.dir, 'containerd.log')}`);
    const img = await cd.importImage();
    if (img.code !== 0) throw new Error(`ctr images import: ${brief(img)}`);
  });

  /** A task's state in `ctr tasks ls` (RUNNING, PAUSED, STOPPED), or '' when there is none. */
  const taskState = async (c: string) => {
    const r = await cd.ctr(['tasks', 'ls']);
    return r.stdout.split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f[0] === c)?.[2] ?? '';
  };
  /** The foreground `ctr run` once it ends, or a line saying it did not within ms. */
  const endsWithin = (run: Promise<Cmd>, ms: number) =>
    Promise.race([run, new Promise<Cmd>((res) => void setTimeout(() => res({ argv: ['ctr', 'run'], code: null, signal: null, stdout: '', stdoutBuf: Buffer.alloc(0), stderr: `still running ${ms} ms later`, ms, timedOut: true }), ms).unref())]);
  const taskPid = async (c: string) => {
    const r = await cd.ctr(['tasks', 'ls']);
    return Number(r.stdout.split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f[0] === c)?.[1] ?? 0);
  };

  t.test('ctr run: exit status, the exact environment, working directory, a missing command, the OOM kill', async (t) => {
    const [exit3, missing, oom] = await Promise.all([
      cd.run(id('exit3'), ['--rm', '--cwd', '/tmp'], ['sh', '-c', 'echo "started in $(pwd)"; exit 3']),
      cd.run(id('missing'), ['--rm'], ['/no/such/command']),
      cd.run(id('oom'), ['--rm', '--memory-limit', String(64 << 20)], ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=100M', 'count=1']),
    ]);
    t.equal(exit3.code, 3, `the command's status is ctr's: ${brief(exit3)}`);
    t.equal(exit3.stdout, 'started in /tmp\n', '--cwd');
    t.not(missing.code, 0, `a missing command fails (${brief(missing)})`);
    // the shim shows the runtime's error from its --log (JSON) file
    t.match(missing.stderr, /no\/such\/command|no such file/i, "ctr shows the runtime's error, naming what is missing");
    t.equal(oom.code, 137, `dd with a 100 MiB buffer under --memory-limit 64 MiB: killed (${brief(oom)})`);

    const c = id('env');
    const env = await cd.run(c, ['--env', 'FOO=bar baz', '--env', 'EMPTY=', '--env', 'MULTI=a=b=c'], ['env']);
    t.equal(env.code, 0, brief(env));
    const asked = cd.runtime.spec(c).process.env;
    // runc adds HOME (the user's home in the image's /etc/passwd) when process.env has none; podman sets it, ctr does not
    const want = asked.some((e) => e.startsWith('HOME=')) ? asked : [...asked, 'HOME=/root'];
    t.same(env.stdout.split('\n').filter(Boolean).sort(), [...want].sort(), "the command's environment is config.json's process.env, exactly, plus HOME from /etc/passwd (as runc does)");
    t.ok(asked.includes('FOO=bar baz') && asked.includes('MULTI=a=b=c'), 'control: the --env values are in config.json');
    t.equal((await cd.ctr(['containers', 'delete', c])).code, 0, 'ctr containers delete');
  });

  t.test('ctr run -t: a terminal through the console socket', async (t) => {
    const c = id('tty');
    const r = await cmd(inTerminal(['ctr', '-a', cd.sock, 'run', '--rm', '-t', ...cd.runFlags(c), cd.image, c, 'sh', '-c', 'tty; [ -t 0 ] && [ -t 1 ] && echo "both ends a tty"; exit 6']), { env: cd.env });
    t.equal(r.code, 6, brief(r));
    const out = r.stdout.replace(/\r|\0|\^@/g, '');
    t.match(out, /^\/dev\/pts\/\d+$/m, 'tty names a pty of the container');
    t.match(out, /^both ends a tty$/m, 'stdin and stdout are the terminal');
  });

  t.test('exec, ps, pause and resume, the limit on the host, kill: TERM to a handler, KILL --all to one that ignores it', async (t) => {
    const svc = id('svc');
    const stubborn = id('stubborn');
    // in the foreground: ctr's exit status is the container's
    const svcRun = cd.run(svc, ['--rm', '--memory-limit', String(64 << 20)], ['sh', '-c', 'trap "echo got-term; exit 42" TERM; echo up; sleep 600 & wait'], { timeoutMs: 120_000 });
    const stubRun = cd.run(stubborn, ['--rm'], ['sh', '-c', 'trap "" TERM; echo up; while :; do sleep 600 & wait; done'], { timeoutMs: 120_000 });
    await waitFor(async () => (await taskState(svc)) === 'RUNNING' && (await taskState(stubborn)) === 'RUNNING', 20_000, 'both tasks to run');

    const [status, user, missing, ps] = await Promise.all([
      cd.exec(['--exec-id', 'e1', svc, 'sh', '-c', 'X=y; echo "X=$X"; exit 9']),
      cd.exec(['--exec-id', 'e2', '--user', '1000', '--cwd', '/tmp', svc, 'sh', '-c', 'echo "$(id -u) $(pwd)"']),
      cd.exec(['--exec-id', 'e3', svc, '/no/such/command']),
      cd.ctr(['tasks', 'ps', svc]),
    ]);
    t.equal(status.code, 9, `exec: the status is the command's (${brief(status)})`);
    t.equal(status.stdout, 'X=y\n', 'its output');
    t.equal(user.stdout, '1000 /tmp\n', `exec --user --cwd (${brief(user)})`);
    t.not(missing.code, 0, `exec of a missing command fails (${brief(missing)})`);
    const pid = await taskPid(svc);
    t.ok(pid > 0 && ps.stdout.split('\n').some((l) => l.trim().split(/\s+/)[0] === String(pid)), `ctr tasks ps lists the task's pid ${pid} (${brief(ps)})`);
    t.equal(Podman.hostCgroupFile(pid, 'memory', 'memory.limit_in_bytes'), String(64 << 20), "the task's memory cgroup on the host: 64 MiB");
    const tty = await cmd(inTerminal(['ctr', '-a', cd.sock, 'tasks', 'exec', '--fifo-dir', path.join(cd.dir, 'fifo'), '-t', '--exec-id', 'e4', svc, 'sh', '-c', 'tty; exit 4']), { env: cd.env });
    t.equal(tty.code, 4, brief(tty));
    t.match(tty.stdout.replace(/\r|\0|\^@/g, ''), /^\/dev\/pts\/\d+$/m, 'exec -t: a terminal');

    t.equal((await cd.ctr(['tasks', 'pause', svc])).code, 0, 'ctr tasks pause');
    t.equal(await taskState(svc), 'PAUSED', 'paused');
    const freezer = () => (fs.existsSync('/sys/fs/cgroup/freezer') ? Podman.hostCgroupFile(pid, 'freezer', 'freezer.state') : Podman.hostCgroupFile(pid, 'freezer', 'cgroup.freeze'));
    t.match(freezer(), /^(FROZEN|1)$/, 'the freezer on the host');
    t.equal((await cd.ctr(['tasks', 'resume', svc])).code, 0, 'ctr tasks resume');
    t.equal(await taskState(svc), 'RUNNING', 'running again');

    t.equal((await cd.ctr(['tasks', 'kill', svc])).code, 0, 'ctr tasks kill (SIGTERM)');
    const svcDone = await endsWithin(svcRun, 10_000);
    t.equal(svcDone.code, 42, `the TERM handler's status (${brief(svcDone)})`);
    t.match(svcDone.stdout, /got-term/, 'the handler ran');

    t.equal((await cd.ctr(['tasks', 'kill', '-s', 'SIGTERM', stubborn])).code, 0, 'SIGTERM to the one that ignores it');
    await new Promise((r) => setTimeout(r, 500));
    t.equal(await taskState(stubborn), 'RUNNING', 'it ignored SIGTERM');
    t.equal((await cd.ctr(['tasks', 'kill', '--all', '-s', 'SIGKILL', stubborn])).code, 0, 'ctr tasks kill --all -s SIGKILL');
    const stubDone = await endsWithin(stubRun, 10_000);
    t.equal(stubDone.code, 137, `killed: 137 (${brief(stubDone)})`);
  });

  t.test('nothing is left: tasks, containers, runtime state, cgroups, processes, mounts', async (t) => {
    t.same(await cd.known(), [], 'containerd knows no task and no container');
    const states = fs.existsSync(cd.runcRoot) ? fs.readdirSync(cd.runcRoot).flatMap((ns) => fs.readdirSync(path.join(cd.runcRoot, ns)).map((e) => `${ns}/${e}`)) : [];
    t.same(states, [], `the runtime's --root (${cd.runcRoot}) holds no container`);
    t.same(cd.cgroup.children(), [], `no container cgroup under ${cd.cgroup.path}`);
    t.same(cd.cgroup.processes(), [], 'no process in those cgroups');
    t.comment(`what the shim called: ${cd.runtime.verbs(cd.dir)}`);
    if ((await cd.known()).length) return; // the teardown kills and deletes them, then stops containerd
    t.equal(await cd.stop(), 'exited 0', 'containerd stops on SIGTERM');
    const left = await cd.leftovers();
    t.same(left.processes, [], `no process mentions ${cd.dir} (containerd, shims, the runtime)`);
    t.same(left.mounts, [], `no mount under ${cd.dir}`);
    t.same(cd.cgroup.remove(), [], 'the cgroup parent goes away');
  });
}
