// Namespaces: what a dyno's processes can see of the host, and what they cannot.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { sh, lines } from '../helpers/dynod';
import { tempApp } from '../helpers/app';
import { runLib } from '../helpers/lib';
import { CGROUP_V2 } from '../helpers/host';
import { plan } from '../../src/index';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

t.test('PID 1 is dynod-init and ps shows only the dyno\'s own processes', async (t) => {
  const app = tempApp(t);
  const r = await sh('tr "\\0" "\\n" </proc/1/cmdline | head -n 1; ps -eo pid=,ppid=,user=,args=', ['--app', app]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '');
  const [argv0, ...ps] = lines(r.stdout);
  t.equal(argv0, 'dynod-init');
  const rows = ps.map((l) => l.trim().split(/\s+/));
  t.equal(rows.length, 3, `exactly init, sh and ps:\n${ps.join('\n')}`);
  t.same(rows[0]!.slice(0, 4), ['1', '0', 'root', 'dynod-init']);
  t.same(rows[1]!.slice(0, 5), ['2', '1', 'dyno', 'sh', '-c']);
  t.same(rows[2]!.slice(1, 4), ['2', 'dyno', 'ps']);
});

t.test('/proc lists only the dyno\'s processes', async (t) => {
  const app = tempApp(t);
  // echo is a builtin: only init and sh exist while the glob expands
  const r = await sh('echo /proc/[0-9]*', ['--app', app]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, '/proc/1 /proc/2\n');
});

t.test('the hostname is the start\'s id and not the host\'s', async (t) => {
  const app = tempApp(t);
  const p = plan({ command: ['sh', '-c', 'hostname; cat /etc/hostname; uname -n; grep -c "127.0.1.1	$(hostname)$" /etc/hosts'], app });
  const r = await runLib(p);
  t.equal(r.exit.status, 0, r.stderr);
  t.match(r.dyno.id, UUID);
  t.not(r.dyno.id, os.hostname());
  t.same(lines(r.stdout), [r.dyno.id, r.dyno.id, r.dyno.id, '1']);
});

t.test('every dyno gets its own hostname through the CLI too', async (t) => {
  const app = tempApp(t);
  const [a, b] = await Promise.all([sh('hostname', ['--app', app]), sh('hostname', ['--app', app])]);
  t.match(a.stdout.trim(), UUID);
  t.match(b.stdout.trim(), UUID);
  t.not(a.stdout, b.stdout);
  t.not(a.stdout.trim(), os.hostname());
  t.equal(os.hostname(), fs.readFileSync('/proc/sys/kernel/hostname', 'utf8').trim(), 'the host keeps its own hostname');
});

t.test('the dyno has its own pid, mount, uts, ipc, net and cgroup namespaces', async (t) => {
  const app = tempApp(t);
  const kinds = ['pid', 'mnt', 'uts', 'ipc', 'net', 'cgroup', 'user'];
  const r = await sh(`for n in ${kinds.join(' ')}; do readlink /proc/self/ns/$n; done`, ['--app', app]);
  t.equal(r.code, 0, r.stderr);
  const inside = lines(r.stdout);
  t.equal(inside.length, kinds.length);
  kinds.forEach((k, i) => {
    const host = fs.readlinkSync(`/proc/self/ns/${k}`);
    // the user namespace is dynod's choice (the host's, or one per dyno)
    if (k === 'user') t.comment(`user namespace: ${inside[i] === host ? 'the host\'s' : 'its own'}`);
    else t.not(inside[i], host, `own ${k} namespace`);
    t.match(inside[i], new RegExp(`^${k}:\\[\\d+\\]$`));
  });
});

t.test('the dyno\'s cgroups are the roots of its cgroup namespace', async (t) => {
  const app = tempApp(t);
  const r = await sh('cat /proc/self/cgroup', ['--app', app]);
  t.equal(r.code, 0, r.stderr);
  if (CGROUP_V2) {
    t.same(lines(r.stdout), ['0::/'], 'one cgroup2 line, at the root of its namespace');
    return;
  }
  const byCtrl = Object.fromEntries(lines(r.stdout).map((l) => {
    const [, c, ...p] = l.split(':');
    return [c, p.join(':')];
  }));
  for (const c of ['memory', 'pids']) t.equal(byCtrl[c], '/', c);
  const cpu = Object.keys(byCtrl).find((k) => k.split(',').includes('cpu'))!;
  t.equal(byCtrl[cpu], '/', 'cpu');
});

t.test('host paths are invisible', async (t) => {
  const app = tempApp(t);
  const secret = ['/root', '/etc/shadow', '/etc/gshadow', '/etc/sudoers', '/home', '/var', '/run', '/boot', '/opt', '/srv', '/mnt', '/media', '/work', '/.oldroot', '/newroot', '/upper'];
  const script = `for p in ${secret.join(' ')}; do if [ -e "$p" ] || [ -L "$p" ]; then echo "visible: $p"; fi; done; ls -A /`;
  for (const user of ['dyno', 'root']) {
    const r = await sh(script, ['--app', app, '--user', user]);
    t.equal(r.code, 0, r.stderr);
    const out = lines(r.stdout);
    t.same(out.filter((l) => l.startsWith('visible:')), [], `nothing of the host shows (as ${user})`);
    const expected = ['app', 'dev', 'etc', 'proc', 'sys', 'tmp'];
    for (const d of ['usr', 'bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
      try {
        fs.lstatSync(`/${d}`);
        expected.push(d);
      } catch { /* not on this host */ }
    }
    t.same(out.filter((l) => !l.startsWith('visible:')).sort(), expected.sort(), `ls -A / (as ${user})`);
  }
});

t.test('/etc holds generated identity files, not the host\'s', async (t) => {
  const app = tempApp(t);
  const r = await sh('cat /etc/passwd; echo --; cat /etc/group; echo --; getent passwd 30000', ['--app', app]);
  t.equal(r.code, 0, r.stderr);
  t.equal(
    r.stdout,
    'root:x:0:0:root:/root:/bin/bash\ndyno:x:30000:30000:dyno:/app:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n--\n' +
      'root:x:0:\ntty:x:5:\ndyno:x:30000:\nnogroup:x:65534:\n--\ndyno:x:30000:30000:dyno:/app:/bin/bash\n',
  );
});

t.test('the host\'s processes cannot be signalled or seen from inside', async (t) => {
  const app = tempApp(t);
  // our own pid on the host does not exist in the dyno (or is some dyno process)
  const r = await sh(`kill -0 ${process.pid} 2>/dev/null && echo reachable || echo unreachable; cat /proc/${process.pid}/cmdline 2>/dev/null | tr "\\0" " "; echo`, ['--app', app, '--user', 'root']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'unreachable\n\n');
});
