// The dyno's filesystem: a copy-on-write /app, a private /tmp, a read-only root, --rootfs.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { sh, run, lines } from '../helpers/dynod';
import { snapshotTree, tempApp } from '../helpers/app';

function app(t: Parameters<typeof tempApp>[0]): string {
  return tempApp(t, {
    Procfile: 'web: ./bin/web\n',
    'data/owned.txt': { content: 'orig\n', mode: 0o644, uid: 0, gid: 0 },
    'bin/web': { content: '#!/bin/sh\necho web\n', mode: 0o755 },
  });
}

t.test('/app writes vanish after the dyno and the host app dir is untouched', async (t) => {
  const dir = app(t);
  const before = snapshotTree(dir);
  const r = await sh(
    'echo more >> /app/data/owned.txt && cat /app/data/owned.txt && stat -c "%u:%g %a" /app/data/owned.txt && ' +
      'rm /app/bin/web && mkdir /app/data/new && echo x > /app/data/new/f && chmod 600 /app/Procfile && ls -A /app /app/bin /app/data',
    ['--app', dir],
  );
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '');
  t.equal(r.stdout, 'orig\nmore\n30000:30000 644\n/app:\nProcfile\nbin\ndata\n\n/app/bin:\n\n/app/data:\nnew\nowned.txt\n');
  t.same(snapshotTree(dir), before, 'the host app dir is exactly as before');
  t.same(fs.readdirSync(dir).sort(), ['Procfile', 'bin', 'data'], 'no overlay upper or work dir left in the app dir');

  const again = await sh('cat /app/data/owned.txt; ls -A /app/bin /app/data; stat -c %a /app/Procfile', ['--app', dir]);
  t.equal(again.code, 0, again.stderr);
  t.equal(again.stdout, 'orig\n/app/bin:\nweb\n\n/app/data:\nowned.txt\n644\n', 'the next dyno starts from the pristine app');
});

t.test('the dyno user can write to a root-owned file under /app (copy-on-write)', async (t) => {
  const dir = app(t);
  t.equal(fs.statSync(path.join(dir, 'data/owned.txt')).uid, 0);
  const r = await sh('id -u; printf new > /app/data/owned.txt && cat /app/data/owned.txt', ['--app', dir]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, '30000\nnew');
  t.equal(fs.readFileSync(path.join(dir, 'data/owned.txt'), 'utf8'), 'orig\n');
});

t.test('the dyno user can create files directly in /app, its $HOME', async (t) => {
  // On Heroku /app belongs to the dyno's user: apps write $HOME/.cache, tmp files next to the code, ...
  const dir = app(t);
  const r = await sh('stat -c "%U %a" /app; touch /app/new-file && echo created; mkdir -p "$HOME/.cache/x" && echo cache', ['--app', dir]);
  t.equal(r.stderr, '');
  t.equal(r.stdout, 'dyno 755\ncreated\ncache\n');
  t.equal(r.code, 0, `status (stderr: ${r.stderr})`);
  t.same(fs.readdirSync(dir).sort(), ['Procfile', 'bin', 'data']);
});

t.test('an app dir owned by another uid is writable too, and left as it was', async (t) => {
  const dir = tempApp(t, { 'f.txt': { content: 'x', uid: 1234, gid: 1234 } });
  fs.chownSync(dir, 1234, 1234);
  fs.chmodSync(dir, 0o700);
  const before = snapshotTree(dir);
  const r = await sh('stat -c "%u:%g" /app/f.txt; echo y >> /app/f.txt && cat /app/f.txt', ['--app', dir]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, '30000:30000\nx' + 'y\n');
  t.same(snapshotTree(dir), before);
});

t.test('two dynos don\'t see each other\'s /app writes', async (t) => {
  const dir = app(t);
  const script = (me: string) => `echo ${me} > /app/data/marker-${me}; sleep 1; ls /app/data; cat /app/data/marker-*`;
  const [a, b] = await Promise.all([sh(script('a'), ['--app', dir]), sh(script('b'), ['--app', dir])]);
  t.equal(a.code, 0, a.stderr);
  t.equal(b.code, 0, b.stderr);
  t.equal(a.stdout, 'marker-a\nowned.txt\na\n');
  t.equal(b.stdout, 'marker-b\nowned.txt\nb\n');
  t.same(fs.readdirSync(path.join(dir, 'data')), ['owned.txt']);
});

t.test('/tmp is a private, empty, sticky tmpfs', async (t) => {
  const dir = app(t);
  const marker = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-host-marker-'));
  t.teardown(() => fs.rmSync(marker, { recursive: true, force: true }));
  const script = (me: string) => `ls -A /tmp; stat -f -c %T /tmp; stat -c "%a %U" /tmp; echo ${me} > /tmp/${me}; sleep 1; ls -A /tmp`;
  const [a, b] = await Promise.all([sh(script('a'), ['--app', dir]), sh(script('b'), ['--app', dir, '--user', 'root'])]);
  t.equal(a.code, 0, a.stderr);
  t.equal(b.code, 0, b.stderr);
  t.equal(a.stdout, 'tmpfs\n1777 root\na\n', 'nothing of the host\'s /tmp, nothing of the other dyno');
  t.equal(b.stdout, 'tmpfs\n1777 root\nb\n');
  t.notOk(fs.existsSync(path.join(os.tmpdir(), 'a')), 'the host /tmp got nothing');
  t.notOk(fs.existsSync(path.join(os.tmpdir(), 'b')));
});

t.test('the root filesystem and the host stack are read-only, even for root', async (t) => {
  const dir = app(t);
  for (const user of ['dyno', 'root']) {
    const r = await sh('for f in /x /usr/x /bin/x /etc/x /etc/passwd /sys/x /proc/x; do if touch $f 2>/dev/null; then echo "wrote $f"; fi; done; echo end', ['--app', dir, '--user', user]);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, 'end\n', `as ${user}`);
  }
  const ro = await sh('touch /usr/x', ['--app', dir, '--user', 'root']);
  t.equal(ro.code, 1, `status (stderr: ${ro.stderr})`);
  t.equal(ro.stderr, "touch: cannot touch '/usr/x': Read-only file system\n");
});

t.test('/dev holds only the safe devices', async (t) => {
  const dir = app(t);
  const r = await sh('ls -A /dev; echo x > /dev/null && head -c 4 /dev/zero | wc -c; /bin/echo x > /dev/full', ['--app', dir]);
  t.equal(r.code, 1, `status (stderr: ${r.stderr})`);
  t.equal(r.stdout, ['fd', 'full', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero', '4'].join('\n') + '\n');
  t.equal(r.stderr, '/bin/echo: write error: No space left on device\n');
});

/** A tiny root filesystem: busybox when the host has busybox-static, else /bin/sh with its libraries from ldd. */
function tinyRootfs(t: Parameters<typeof tempApp>[0]): { dir: string; kind: string } {
  const dir = tempApp(t, {}, 'dynod-rootfs-');
  fs.mkdirSync(path.join(dir, 'bin'));
  if (fs.existsSync('/bin/busybox') && /statically linked|static-pie/.test(execFileSync('file', ['-L', '/bin/busybox']).toString())) {
    fs.copyFileSync('/bin/busybox', path.join(dir, 'bin/busybox'));
    fs.chmodSync(path.join(dir, 'bin/busybox'), 0o755);
    for (const a of ['sh', 'ls', 'cat', 'id', 'touch', 'ps', 'hostname', 'stat']) fs.symlinkSync('busybox', path.join(dir, 'bin', a));
    return { dir, kind: 'busybox' };
  }
  const sh = fs.realpathSync('/bin/sh');
  fs.copyFileSync(sh, path.join(dir, 'bin/sh'));
  fs.chmodSync(path.join(dir, 'bin/sh'), 0o755);
  for (const m of execFileSync('ldd', [sh]).toString().matchAll(/(\/\S+)/g)) {
    const lib = m[1]!;
    fs.mkdirSync(path.join(dir, path.dirname(lib)), { recursive: true });
    fs.copyFileSync(lib, path.join(dir, lib));
  }
  return { dir, kind: 'sh+ldd' };
}

t.test('--rootfs runs the dyno in a tiny root filesystem', async (t) => {
  const { dir: rootfs, kind } = tinyRootfs(t);
  t.comment(`rootfs from ${kind}`);
  const appDir = app(t);
  const before = snapshotTree(rootfs);
  const script = kind === 'busybox'
    ? 'ls -A /; id -u; cat /etc/hostname; [ -e /usr ] && echo has-usr; touch /bin/x 2>/dev/null || echo ro-root; echo t > /tmp/t && echo tmp-ok; cat /app/data/owned.txt'
    : 'echo /*; [ -e /usr ] && echo has-usr; read h < /etc/hostname; echo $h; (: > /bin/x) 2>/dev/null || echo ro-root; echo t > /tmp/t && echo tmp-ok; read o < /app/data/owned.txt; echo $o';
  const r = await run(['sh', '-c', script], ['--rootfs', rootfs, '--app', appDir]);
  t.equal(r.code, 0, r.stderr);
  const out = lines(r.stdout);
  const host = execFileSync('hostname').toString().trim();
  if (kind === 'busybox') {
    t.same(out.slice(0, 7), ['app', 'bin', 'dev', 'etc', 'proc', 'sys', 'tmp']);
    t.equal(out[7], '30000');
    t.match(out[8], /^[0-9a-f-]{36}$/);
    t.not(out[8], host);
    t.same(out.slice(9), ['ro-root', 'tmp-ok', 'orig']);
  } else {
    t.match(out[0], /^\/app \/bin \/dev \/etc /);
    t.match(out[1], /^[0-9a-f-]{36}$/);
    t.same(out.slice(2), ['ro-root', 'tmp-ok', 'orig']);
  }
  t.same(snapshotTree(rootfs), before, 'the rootfs directory is untouched (the dirs dynod needs live in an overlay)');
});
