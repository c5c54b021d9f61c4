// podman --runtime <the runtime under test> (issue 10, part 1): what users do with podman,
// judged from outside: exit statuses, the environment, memory and pids limits, a
// terminal through the console socket, exec, stop (TERM, then KILL), ps, logs, pause,
// update, kill, rm, the escape battery inside a container, and nothing left after.
//
//   DYNOD_OCI_RUNTIME=/usr/sbin/runc npx tap test/integration/oci-podman.test.ts   (the reference)
//   npx tap test/integration/oci-podman.test.ts                  (bin/dynod-oci, the default)
//
// podman, its storage and configuration are the suite's own (test/helpers/oci-podman.ts);
// the runtime is called through a wrapper that logs each call and gives it a --root of the
// suite's. Every container is named oci-<pid>-<what>.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { waitFor } from '../helpers/dynod';
import { RUNTIME, brief, cmd, inTerminal, onPath, whyNotOci } from '../helpers/oci';
import { Podman } from '../helpers/oci-podman';
import { escapeInContainer, buildProbe } from '../helpers/oci-escape';

const skip = whyNotOci(['podman', 'conmon', 'script']);
if (skip) {
  t.plan(0, skip);
} else {
  const pm = new Podman();
  const name = (what: string) => `oci-${process.pid}-${what}`;
  t.teardown(async () => {
    const stuck = await pm.destroy();
    if (stuck.length) process.stderr.write(`oci-podman teardown: ${stuck.join('; ')}\n`);
  });
  t.comment(`runtime under test: ${RUNTIME}; podman in ${pm.dir}; cgroup parent ${pm.cgroup.path}`);

  let probe: string | undefined;
  t.before(async () => {
    probe = buildProbe(pm.dir);
    const extra: Record<string, { from?: string; content?: string; mode?: number }> = { 'not-executable': { content: '#!/bin/sh\necho ran\n', mode: 0o644 } };
    if (probe) extra['probe'] = { from: probe, mode: 0o755 };
    const r = await pm.loadImage(extra);
    if (r.code !== 0) throw new Error(`the test image did not load: ${brief(r)}`);
  });


  t.test('podman run: exit statuses, the exact environment, user and working directory', async (t) => {
    const [exit3, missing, notExec, user] = await Promise.all([
      pm.run(['--rm'], ['sh', '-c', 'echo started; exit 3']),
      pm.run(['--rm'], ['/no/such/command']),
      pm.run(['--rm'], ['/not-executable']),
      pm.run(['--rm', '--user', '1000:1000', '--group-add', '5', '--workdir', '/tmp', '--hostname', 'oci-test'], ['sh', '-c', 'echo "$(id -u) $(id -g) $(id -G) $(pwd) $(hostname) $HOME"']),
    ]);
    t.equal(exit3.code, 3, `the command's status is podman's: ${brief(exit3)}`);
    t.equal(exit3.stdout, 'started\n', 'its output');
    // podman maps the runtime's error text: "no such file or directory" / "executable file not found" → 127, "permission denied" → 126
    t.equal(missing.code, 127, `a missing command: 127 (${brief(missing)})`);
    t.equal(notExec.code, 126, `a file without x permission: 126 (${brief(notExec)})`);
    t.equal(user.code, 0, brief(user));
    t.equal(user.stdout.trim(), '1000 1000 1000 5 /tmp oci-test /home/app', '--user 1000:1000 --group-add 5 --workdir /tmp --hostname: uid gid groups cwd hostname HOME');

    // The environment: exactly config.json's process.env (as the runtime got it), nothing added, nothing lost.
    const c = name('env');
    const created = await pm.podman(['create', ...pm.runFlags, '--name', c, '-e', 'FOO=bar baz', '-e', 'EMPTY=', '-e', 'MULTI=a=b=c', pm.image, 'env']);
    t.equal(created.code, 0, brief(created));
    const started = await pm.podman(['start', '-a', c]);
    t.equal(started.code, 0, brief(started));
    const asked = pm.runtime.spec(created.stdout.trim()).process.env;
    t.same(started.stdout.split('\n').filter(Boolean).sort(), [...asked].sort(), "the command's environment is config.json's process.env, exactly");
    t.ok(asked.includes('FOO=bar baz') && asked.includes('EMPTY=') && asked.includes('MULTI=a=b=c'), `control: config.json has the -e values (${asked.join(' ')})`);
    t.equal((await pm.podman(['rm', c])).code, 0, 'podman rm');
  });

  t.test('config.json through podman: read-only root, bind mounts, tmpfs, capabilities, no_new_privs, rlimits, sysctl, oom_score_adj', async (t) => {
    const ro = path.join(pm.dir, 'vol-ro');
    const rw = path.join(pm.dir, 'vol-rw');
    fs.mkdirSync(ro);
    fs.mkdirSync(rw);
    fs.writeFileSync(path.join(ro, 'hello'), 'from the host\n');
    const script = [
      'w() { if touch "$1" 2>/dev/null; then echo "$2 writable"; else echo "$2 refused"; fi; }',
      'w /rootfile root_w; w /data/x data_w; w /rw/x rw_w; w /scratch/x scratch_w',
      'echo "data $(cat /data/hello)"',
      'echo "scratch_kib $(df -k /scratch | awk \'NR==2 {print $2}\')"',
      'echo "caps $(awk \'/^CapEff/ {print $2}\' /proc/self/status) $(awk \'/^CapBnd/ {print $2}\' /proc/self/status)"',
      'echo "nnp $(awk \'/^NoNewPrivs/ {print $2}\' /proc/self/status)"',
      'echo "nofile $(ulimit -n) $(ulimit -Hn)"',
      'echo "forward $(cat /proc/sys/net/ipv4/ip_forward)"',
      'echo "oom $(cat /proc/self/oom_score_adj)"',
    ].join('\n');
    const r = await pm.run([
      '--rm', '--read-only', '-v', `${ro}:/data:ro`, '-v', `${rw}:/rw`, '--tmpfs', '/scratch:size=1m',
      '--cap-drop', 'all', '--cap-add', 'NET_BIND_SERVICE', '--security-opt', 'no-new-privileges',
      // --ulimit replaces podman's default_ulimits: nproc is given again (a host without CAP_SYS_RESOURCE cannot raise it)
      '--ulimit', 'nofile=100:200', '--ulimit', pm.ulimits.find((u) => u.startsWith('nproc='))!, '--sysctl', 'net.ipv4.ip_forward=1', '--oom-score-adj', '500',
    ], ['sh', '-c', script]);
    t.equal(r.code, 0, brief(r));
    const got = new Map(r.stdout.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]));
    t.equal(got.get('root_w'), 'refused', '--read-only: the root is read-only');
    t.equal(got.get('data_w'), 'refused', '-v …:ro: read-only');
    t.notOk(fs.existsSync(path.join(ro, 'x')), 'nothing was written through it');
    t.equal(got.get('data'), 'from the host', 'the bind mount shows the host directory');
    t.equal(got.get('rw_w'), 'writable', '-v: a writable bind mount');
    t.ok(fs.existsSync(path.join(rw, 'x')), '… whose write the host sees');
    t.equal(got.get('scratch_w'), 'writable', '--tmpfs: writable under a read-only root');
    t.equal(got.get('scratch_kib'), '1024', '--tmpfs size=1m: 1024 KiB');
    t.equal(got.get('caps'), '0000000000000400 0000000000000400', '--cap-drop all --cap-add NET_BIND_SERVICE: effective and bounding sets');
    t.equal(got.get('nnp'), '1', '--security-opt no-new-privileges');
    t.equal(got.get('nofile'), '100 200', '--ulimit nofile=100:200');
    t.equal(got.get('forward'), '1', '--sysctl net.ipv4.ip_forward=1 (in the container\'s network namespace)');
    t.equal(got.get('oom'), '500', '--oom-score-adj 500');
  });

  t.test('namespaces joined by path: --network ns:PATH, --pid and --ipc container:NAME', { skip: !onPath('ip') && 'needs ip (iproute2)' }, async (t) => {
    const ns = `dynod-oci-${process.pid}`;
    t.teardown(() => void spawnSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' }));
    const add = await cmd(['ip', 'netns', 'add', ns]);
    t.equal(add.code, 0, brief(add));
    // a mark the container can see: the namespace's loopback MTU (no dummy interfaces needed)
    t.equal((await cmd(['ip', '-n', ns, 'link', 'set', 'lo', 'mtu', '1234'])).code, 0, "the namespace's lo gets MTU 1234");
    const net = await pm.run(['--rm', '--network', `ns:/run/netns/${ns}`], ['cat', '/sys/class/net/lo/mtu']);
    t.equal(net.stdout.trim(), '1234', `--network ns:/run/netns/${ns}: the container is in that namespace (${brief(net)})`);

    const host = name('nshost');
    const up = await pm.run(['-d', '--name', host], ['sh', '-c', 'exec sleep 600']);
    t.equal(up.code, 0, brief(up));
    const [inHost, joined] = await Promise.all([
      pm.podman(['exec', host, 'sh', '-c', 'readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc']),
      pm.run(['--rm', '--ipc', `container:${host}`], ['sh', '-c', 'readlink /proc/self/ns/ipc']),
    ]);
    const [pidNs, ipcNs] = inHost.stdout.split('\n');
    t.equal(joined.stdout.trim(), ipcNs, `--ipc container:: the same IPC namespace (${brief(joined)})`);
    // Its /proc must be the joined namespace's: the other container's sleep, and no host process.
    const pidJoin = await pm.run(['--rm', '--pid', `container:${host}`], ['sh', '-c', 'readlink /proc/self/ns/pid; pidof sleep; ls /proc | grep -c "^[0-9]"']);
    const j = pidJoin.stdout.split('\n');
    t.equal(j[0], pidNs, `--pid container:: the same pid namespace (${brief(pidJoin)})`);
    t.match(j[1] ?? '', /^\d+$/, "… it sees the other container's sleep, one");
    t.ok(Number(j[2]) < 10, `… and no host process in its /proc (${j[2]} pids)`);
    t.equal((await pm.podman(['rm', '-f', '-t', '0', host])).code, 0, 'podman rm -f');
    t.equal((await cmd(['ip', 'netns', 'delete', ns])).code, 0, 'ip netns delete');
  });

  t.test('--uidmap/--gidmap: a user namespace whose root is a host id range', async (t) => {
    const c = name('userns');
    const up = await pm.run(['-d', '--name', c, '--uidmap', '0:200000:65536', '--gidmap', '0:200000:65536'], ['sh', '-c', 'id -u; cat /proc/self/uid_map; touch /made && echo writable; exec sleep 600']);
    t.equal(up.code, 0, brief(up));
    const pid = await pm.pid(c);
    t.ok(pid > 0, `the container runs (pid ${pid})`);
    const hostUid = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)?.[1];
    t.equal(hostUid, '200000', "its root is host uid 200000");
    t.match(fs.readFileSync(`/proc/${pid}/uid_map`, 'utf8'), /^\s*0\s+200000\s+65536\s*$/m, 'the map as asked');
    const logs = await pm.podman(['logs', c]);
    t.match(logs.stdout, /^0\n\s*0\s+200000\s+65536\n/m, `inside: uid 0 and the map (${brief(logs)})`);
    t.match(logs.stdout, /writable/, 'its root can write its rootfs (podman chowned it to the range)');
    t.equal((await pm.podman(['rm', '-f', '-t', '0', c])).code, 0, 'podman rm -f');
  });

  t.test('--memory 64m: the OOM kill is exit 137; --pids-limit 20 stops a fork loop; limits on the host side', async (t) => {
    const c = name('limits');
    const [oom, up] = await Promise.all([
      pm.run(['--rm', '--memory', '64m'], ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=100M', 'count=1']),
      pm.run(['-d', '--name', c, '--memory', '64m', '--pids-limit', '20'], ['sleep', '600']),
    ]);
    t.equal(oom.code, 137, `dd with a 100 MiB buffer under --memory 64m: killed (${brief(oom)})`);
    t.equal(up.code, 0, brief(up));
    const pid = await pm.pid(c);
    t.ok(pid > 0, `the container runs (pid ${pid})`);
    t.equal(Podman.hostCgroupFile(pid, 'memory', 'memory.limit_in_bytes'), String(64 << 20), "the container's memory cgroup on the host: 64 MiB");
    t.equal(Podman.hostCgroupFile(pid, 'pids', 'pids.max'), '20', "the container's pids cgroup on the host: 20");
    if (probe) {
      const fork = await pm.podman(['exec', c, '/probe', 'forkbomb']);
      const m = /^forkbomb COUNT:(\d+) (\S+)/m.exec(fork.stdout);
      t.ok(m && Number(m[1]) < 20 && Number(m[1]) >= 5 && m[2] === 'EAGAIN', `fork until it fails: 5 ≤ COUNT < 20, EAGAIN (${brief(fork)})`);
    } else {
      t.comment('no static probe (gcc -static failed): the fork loop is skipped, pids.max is still checked');
    }
    const execOom = await pm.podman(['exec', c, 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=100M', 'count=1']);
    t.equal(execOom.code, 137, `an exec'd process past the limit is OOM-killed: 137 (${brief(execOom)})`);
    const running = await pm.podman(['inspect', '-f', '{{.State.Running}}', c]);
    t.equal(running.stdout.trim(), 'true', 'the container itself still runs');
    t.equal((await pm.podman(['rm', '-f', '-t', '0', c])).code, 0, 'podman rm -f');
  });

  t.test('-it: a terminal through the console socket', async (t) => {
    const it = await cmd(inTerminal(['podman', 'run', '-it', '--rm', ...pm.runFlags, pm.image, 'sh']), { env: pm.env, input: 'tty; [ -t 0 ] && [ -t 1 ] && echo "both ends a tty"; echo "in=$((6*7))"; exit 7\n' });
    const out = it.stdout.replace(/\r/g, '');
    t.equal(it.code, 7, `the shell's status through podman and script: ${brief(it)}`);
    t.match(out, /^\/dev\/pts\/\d+$/m, 'tty names a pty of the container');
    t.match(out, /^both ends a tty$/m, 'stdin and stdout are the terminal');
    t.match(out, /^in=42$/m, 'input typed into the terminal reached the shell');
    const tOnly = await cmd(inTerminal(['podman', 'run', '-t', '--rm', ...pm.runFlags, pm.image, 'sh', '-c', '[ -t 1 ] && echo "stdout is a tty"; exit 5']), { env: pm.env });
    t.equal(tOnly.code, 5, brief(tOnly));
    t.match(tOnly.stdout.replace(/\r/g, ''), /^stdout is a tty$/m, '-t without -i: a terminal all the same');
  });

  t.test('exec, then stop: TERM to a container that handles it, KILL after -t to one that ignores it', async (t) => {
    const svc = name('svc');
    const stubborn = name('stubborn');
    const [a, b] = await Promise.all([
      pm.run(['-d', '--name', svc], ['sh', '-c', 'trap "echo got-term; exit 42" TERM; echo up; sleep 600 & wait']),
      pm.run(['-d', '--name', stubborn], ['sh', '-c', 'trap "" TERM; echo up; while :; do sleep 600 & wait; done']),
    ]);
    t.equal(a.code, 0, brief(a));
    t.equal(b.code, 0, brief(b));
    await waitFor(async () => (await pm.podman(['logs', svc])).stdout.includes('up') && (await pm.podman(['logs', stubborn])).stdout.includes('up'), 10_000, 'both containers to say up');

    const [env, user, missing, notExec, samePid, cg] = await Promise.all([
      pm.podman(['exec', '-e', 'X=y', svc, 'sh', '-c', 'echo "X=$X"; exit 9']),
      pm.podman(['exec', '--user', '1000', '--workdir', '/tmp', svc, 'sh', '-c', 'echo "$(id -u) $(pwd)"']),
      pm.podman(['exec', svc, '/no/such/command']),
      pm.podman(['exec', svc, '/not-executable']),
      pm.podman(['exec', svc, 'sh', '-c', 'p=$(pidof sleep) && kill -0 $p && echo "sees sleep $p"']),
      // v1: the memory hierarchy's line; v2: the one line (0::); hybrid hosts show both
      pm.podman(['exec', svc, 'sh', '-c', 'for p in self 1; do grep -E ":memory:|^0::" /proc/$p/cgroup | tr "\\n" " "; echo; done']),
    ]);
    t.equal(env.code, 9, `exec: the status is the command's (${brief(env)})`);
    t.equal(env.stdout, 'X=y\n', 'exec -e');
    t.equal(user.stdout, '1000 /tmp\n', `exec --user --workdir (${brief(user)})`);
    t.equal(missing.code, 127, `exec of a missing command: 127 (${brief(missing)})`);
    t.equal(notExec.code, 126, `exec of a file without x permission: 126 (${brief(notExec)})`);
    t.match(samePid.stdout, /^sees sleep \d+$/m, `exec joins the container's pid namespace (${brief(samePid)})`);
    const cgl = cg.stdout.trim().split('\n').map((l) => l.trim());
    t.ok(cgl.length === 2 && cgl[0] !== '' && cgl[0] === cgl[1], `exec joins the container's memory cgroup (${cgl.join(' | ')})`);

    const tty = await cmd(inTerminal(['podman', 'exec', '-t', svc, 'sh', '-c', 'tty; exit 4']), { env: pm.env });
    t.equal(tty.code, 4, brief(tty));
    t.match(tty.stdout.replace(/\r/g, ''), /^\/dev\/pts\/\d+$/m, 'exec -t: a terminal');
    const det = await pm.podman(['exec', '-d', svc, 'sh', '-c', 'echo detached > /tmp/d']);
    t.equal(det.code, 0, brief(det));
    await waitFor(async () => (await pm.podman(['exec', svc, 'cat', '/tmp/d'])).stdout === 'detached\n', 10_000, 'exec -d to write its file');
    t.pass('exec -d ran its command');

    const [stopped, killed] = await Promise.all([pm.podman(['stop', '-t', '10', svc]), pm.podman(['stop', '-t', '1', stubborn])]);
    t.equal(stopped.code, 0, brief(stopped));
    t.ok(stopped.ms < 5000, `TERM was delivered at once: stop took ${stopped.ms} ms (grace 10 s)`);
    t.equal((await pm.podman(['inspect', '-f', '{{.State.ExitCode}}', svc])).stdout.trim(), '42', "the handler's exit status");
    t.match((await pm.podman(['logs', svc])).stdout, /got-term/, 'the TERM handler ran');
    t.equal(killed.code, 0, brief(killed));
    t.ok(killed.ms >= 1000 && killed.ms < 6000, `the one that ignores TERM was killed after the 1 s grace: ${killed.ms} ms`);
    t.equal((await pm.podman(['inspect', '-f', '{{.State.ExitCode}}', stubborn])).stdout.trim(), '137', 'killed: 137');
    t.equal((await pm.podman(['rm', svc, stubborn])).code, 0, 'podman rm');
  });

  t.test('ps, logs, pause and unpause, update, kill, rm', async (t) => {
    const c = name('life');
    const up = await pm.run(['-d', '--name', c], ['sh', '-c', 'echo line-out; echo line-err >&2; exec sleep 600']);
    t.equal(up.code, 0, brief(up));
    const id = up.stdout.trim();
    const logs = await waitFor(async () => {
      const r = await pm.podman(['logs', c]);
      return r.stdout.includes('line-out') && r.stderr.includes('line-err') && r;
    }, 10_000, 'both lines in podman logs');
    t.pass(`podman logs: stdout and stderr (${brief(logs)})`);
    const ps = await pm.podman(['ps', '--format', 'json']);
    const list = JSON.parse(ps.stdout || '[]') as Array<{ Names: string[]; State: string }>;
    t.same(list.filter((x) => x.Names.includes(c)).map((x) => x.State), ['running'], 'podman ps: running');

    const pid = await pm.pid(c);
    const frozen = () => (fs.existsSync('/sys/fs/cgroup/freezer') ? Podman.hostCgroupFile(pid, 'freezer', 'freezer.state') : Podman.hostCgroupFile(pid, 'freezer', 'cgroup.freeze'));
    t.equal((await pm.podman(['pause', c])).code, 0, 'podman pause');
    t.equal((await pm.podman(['inspect', '-f', '{{.State.Status}}', c])).stdout.trim(), 'paused', 'paused');
    t.match(frozen(), /^(FROZEN|1)$/, 'the freezer on the host');
    t.equal((await pm.podman(['unpause', c])).code, 0, 'podman unpause');
    t.equal((await pm.podman(['inspect', '-f', '{{.State.Status}}', c])).stdout.trim(), 'running', 'running again');
    t.match(frozen(), /^(THAWED|0)$/, 'thawed on the host');

    const upd = await pm.podman(['update', '--memory', '100m', '--cpu-shares', '512', c]);
    t.equal(upd.code, 0, brief(upd));
    t.equal(Podman.hostCgroupFile(pid, 'memory', 'memory.limit_in_bytes'), String(100 << 20), 'podman update --memory 100m: the host cgroup follows');
    if (fs.existsSync('/sys/fs/cgroup/cpu/cpu.shares')) t.equal(Podman.hostCgroupFile(pid, 'cpu', 'cpu.shares'), '512', 'podman update --cpu-shares 512');

    t.equal((await pm.podman(['kill', '-s', 'KILL', c])).code, 0, 'podman kill -s KILL');
    const w = await pm.podman(['wait', c]);
    t.equal(w.stdout.trim(), '137', `podman wait: 137 (${brief(w)})`);
    t.equal((await pm.podman(['rm', c])).code, 0, 'podman rm');
    const all = await pm.podman(['ps', '-a', '--format', '{{.ID}}']);
    t.notOk(all.stdout.includes(id.slice(0, 12)), 'gone from podman ps -a');
    t.notOk(pm.runtime.state().includes(id), "gone from the runtime's state root");
  });

  t.test('the escape battery inside a container', { skip: probe === undefined && 'no static probe (gcc -static failed)' }, async (t) => {
    // DYNOD_OCI_TEST_INIT=1: podman's --init (catatonit as PID 1), to see the PID-1-is-an-init path judged under runc
    const init = process.env.DYNOD_OCI_TEST_INIT === '1' ? ['--init'] : [];
    const names: string[] = [];
    await escapeInContainer(t, pm.dir, (params, probes, timeoutMs) => {
      names.push(name(`escape${names.length}`));
      return pm.run(['--rm', '--name', names.at(-1)!, ...init, '-e', `ESCAPE_TAG=${params.tag}`], ['/probe', ...params.args, ...probes], { timeoutMs });
    });
    // a probe run that timed out (a stopped PID 1) must not spill into the leftover checks
    await pm.podman(['rm', '-f', '-t', '0', '--ignore', ...names]);
  });

  t.test('nothing is left: containers, runtime state, cgroups, processes, mounts, namespaces', async (t) => {
    const left = await pm.leftovers();
    t.same(left.containers, [], 'podman ps -a: no container');
    t.same(left.runtimeState, [], `the runtime's --root (${pm.runtime.stateRoot}) is empty`);
    t.same(left.containerCgroups, [], `no container cgroup under ${pm.cgroup.path} (podman's own conmon/ aside)`);
    t.same(left.cgroupProcesses, [], 'no process in those cgroups');
    t.same(left.processes, [], `no process mentions ${pm.dir} (conmon, the runtime)`);
    t.same(left.mounts, [], `no mount under ${pm.dir}`);
    t.same(left.netns, [], 'no new /run/netns entry');
    t.same(left.nsfs, [], 'no new namespace pinned by a mount');
    t.comment(`what podman called: ${pm.runtime.verbs(pm.dir)}`);
    const stuck = pm.cgroup.remove();
    t.same(stuck, [], 'the cgroup parent and what podman made in it go away (rmdir: nothing runs there)');
  });
}
