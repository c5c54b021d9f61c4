// Who the command runs as, with which privileges and which environment.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sh, run, lines } from '../helpers/dynod';
import { tempApp } from '../helpers/app';
import { statusFields } from '../helpers/host';

/** Docker's default capability set, which --user root keeps. */
// Docker's default set without CAP_NET_RAW (bit 13), as podman
const DOCKER_DEFAULT_CAPS = '00000000a80405fb';

function envOf(stdout: string): Record<string, string> {
  // `env -0` keeps values with newlines intact
  const out: Record<string, string> = {};
  for (const entry of stdout.split('\0').filter(Boolean)) {
    const i = entry.indexOf('=');
    out[entry.slice(0, i)] = entry.slice(i + 1);
  }
  return out;
}

t.test('the command runs as dyno (uid 30000) without any capability, with no_new_privs', async (t) => {
  const app = tempApp(t);
  const r = await sh('id; cat /proc/self/status', ['--app', app]);
  t.equal(r.code, 0, r.stderr);
  const [id, ...status] = lines(r.stdout);
  t.equal(id, 'uid=30000(dyno) gid=30000(dyno) groups=30000(dyno)');
  const f = statusFields(status.join('\n'));
  t.equal(f.Uid, '30000\t30000\t30000\t30000');
  t.equal(f.Gid, '30000\t30000\t30000\t30000');
  t.equal(f.Groups, '30000');
  for (const c of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) t.equal(f[c], '0000000000000000', c);
  t.equal(f.NoNewPrivs, '1');
});

t.test('--user root gives uid 0 with Docker\'s default capabilities only', async (t) => {
  const app = tempApp(t);
  const r = await sh('id; cat /proc/self/status', ['--app', app, '--user', 'root']);
  t.equal(r.code, 0, r.stderr);
  const [id, ...status] = lines(r.stdout);
  t.equal(id, 'uid=0(root) gid=0(root) groups=0(root)');
  const f = statusFields(status.join('\n'));
  t.equal(f.Uid, '0\t0\t0\t0');
  t.equal(f.CapInh, '0000000000000000');
  t.equal(f.CapPrm, DOCKER_DEFAULT_CAPS);
  t.equal(f.CapEff, DOCKER_DEFAULT_CAPS);
  t.equal(f.CapBnd, DOCKER_DEFAULT_CAPS);
  t.equal(f.CapAmb, '0000000000000000');
  t.equal(f.NoNewPrivs, '1');
  // no CAP_SYS_ADMIN: root cannot mount or change the hostname
  const m = await sh('mount -t tmpfs none /tmp 2>/dev/null || echo no-mount; hostname evil 2>/dev/null || echo no-hostname', ['--app', app, '--user', 'root']);
  t.equal(m.stdout, 'no-mount\nno-hostname\n');
  // no CAP_NET_RAW (podman's default): no packet or raw socket to forge ARP or a source address with
  const py = 'import socket\nfor f, t, p in ((socket.AF_PACKET, socket.SOCK_RAW, 0x0806), (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)):\n  try:\n    socket.socket(f, t, p); print("opened")\n  except PermissionError as e:\n    print(e.errno)';
  const raw = await run(['python3', '-c', py], ['--app', app, '--user', 'root']);
  t.equal(raw.code, 0, raw.stderr);
  t.equal(raw.stdout, '1\n1\n', 'EPERM for AF_PACKET and SOCK_RAW');
});

t.test('umask is 0022, cwd is /app, and the rlimits are the plan\'s', async (t) => {
  const app = tempApp(t);
  for (const user of ['dyno', 'root']) {
    const r = await sh('umask; pwd; ulimit -n; cd /tmp && touch f && mkdir d && stat -c %a f d', ['--app', app, '--user', user]);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, '0022\n/app\n10000\n644\n755\n', user);
  }
  const b = await run(['bash', '-c', 'ulimit -u; ulimit -Hu'], ['--app', app]);
  t.equal(b.stdout, '256\n256\n', 'standard-1x: 256 processes');
});

t.test('the environment is exactly PATH, HOME, PORT, DYNO and LANG; never the host\'s', async (t) => {
  const app = tempApp(t);
  const r = await run(['env', '-0'], ['--app', app], { env: { HOST_SECRET: 'leak', AWS_SECRET_ACCESS_KEY: 'leak', TERM: undefined, HOME: '/root', LANG: 'de_DE.UTF-8' } });
  t.equal(r.code, 0, r.stderr);
  const env = envOf(r.stdout);
  t.same(Object.keys(env).sort(), ['DYNO', 'HOME', 'LANG', 'PATH', 'PORT']);
  t.equal(env.PATH, '/usr/local/bin:/usr/bin:/bin');
  t.equal(env.HOME, '/app');
  t.equal(env.PORT, '5000');
  t.equal(env.LANG, 'C.UTF-8');
  t.match(env.DYNO, /^run\.\d{4}$/);
});

t.test('TERM passes through when set', async (t) => {
  const app = tempApp(t);
  const r = await run(['env', '-0'], ['--app', app], { env: { TERM: 'xterm-256color' } });
  t.equal(r.code, 0, r.stderr);
  const env = envOf(r.stdout);
  t.same(Object.keys(env).sort(), ['DYNO', 'HOME', 'LANG', 'PATH', 'PORT', 'TERM']);
  t.equal(env.TERM, 'xterm-256color');
});

t.test('DYNO defaults to run.NNNN and differs between runs; --name sets it; --port sets PORT', async (t) => {
  const app = tempApp(t);
  const names = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const r = await sh('echo $DYNO', ['--app', app]);
    t.match(r.stdout, /^run\.[1-9]\d{3}\n$/);
    names.add(r.stdout);
  }
  t.ok(names.size >= 2, `random run numbers: ${[...names].join(' ').replace(/\n/g, '')}`);
  const named = await sh('echo $DYNO $PORT', ['--app', app, '--name', 'web.1', '--port', '8080']);
  t.equal(named.code, 0, named.stderr);
  t.equal(named.stdout, 'web.1 8080\n');
  const short = await sh('echo $DYNO', ['--app', app, '-n', 'worker.3']);
  t.equal(short.stdout, 'worker.3\n');
});

t.test('-e and --env-file add variables; -e wins, later files win', async (t) => {
  const app = tempApp(t);
  const files = tempApp(t, {
    'a.env': '# comment\nexport A=from-a\nSHARED=a\nQUOTED="line1\\nline2"\nSINGLE=\'$NOT_EXPANDED\'\nSPACED = spaced value # comment\n',
    'b.env': 'SHARED=b\nB=from-b\n',
  });
  const r = await run(['env', '-0'], [
    '--app', app,
    '--env-file', path.join(files, 'a.env'),
    '--env-file', path.join(files, 'b.env'),
    '-e', 'B=from-e',
    '-e', 'WITH_EQ=x=y=z',
    '-e', 'EMPTY=',
    '--env', 'PORT=9999',
  ]);
  t.equal(r.code, 0, r.stderr);
  const env = envOf(r.stdout);
  t.same(Object.keys(env).sort(), ['A', 'B', 'DYNO', 'EMPTY', 'HOME', 'LANG', 'PATH', 'PORT', 'QUOTED', 'SHARED', 'SINGLE', 'SPACED', 'WITH_EQ']);
  t.equal(env.A, 'from-a');
  t.equal(env.SHARED, 'b');
  t.equal(env.B, 'from-e');
  t.equal(env.QUOTED, 'line1\nline2');
  t.equal(env.SINGLE, '$NOT_EXPANDED');
  t.equal(env.SPACED, 'spaced value');
  t.equal(env.WITH_EQ, 'x=y=z');
  t.equal(env.EMPTY, '');
  t.equal(env.PORT, '9999', '-e can override PORT');
});

t.test('a host .env in the app dir is not read implicitly', async (t) => {
  const app = tempApp(t, { '.env': 'IMPLICIT=1\n' });
  const r = await sh('echo "${IMPLICIT-unset}"', ['--app', app]);
  t.equal(r.stdout, 'unset\n');
  t.ok(fs.existsSync(path.join(app, '.env')));
});
