// stdin, stdout and stderr between dynod and the dyno.
import t from 'tap';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { DYNOD, hostEnv, run, sh } from '../helpers/dynod';
import { tempApp } from '../helpers/app';

const sha256 = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex');

t.test('-i passes stdin through: cat echoes it', async (t) => {
  const app = tempApp(t);
  const r = await run(['cat'], ['--app', app, '-i'], { input: 'hello\nworld\n' });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'hello\nworld\n');
  const fd0 = await sh('readlink /proc/self/fd/0', ['--app', app, '-i', '--no-tty'], { input: '' });
  t.match(fd0.stdout, /^(pipe|socket):\[\d+\]\n$/, 'stdin is what dynod got');
});

t.test('-i passes 8 MiB of binary stdin intact', async (t) => {
  const app = tempApp(t);
  const data = crypto.randomBytes(8 * 1024 * 1024);
  const r = await sh('sha256sum | cut -d" " -f1', ['--app', app, '-i'], { input: data });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, `${sha256(data)}\n`);
});

t.test('without -i stdin is /dev/null, even when dynod\'s stdin stays open', async (t) => {
  const app = tempApp(t);
  const r = await sh('readlink /proc/self/fd/0; cat; echo end', ['--app', app], { input: 'must not arrive\n' });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, '/dev/null\nend\n');
  const open = await run(['cat'], ['--app', app], { keepStdinOpen: true, timeoutMs: 10_000 });
  t.equal(open.timedOut, false, 'cat did not wait for the host\'s stdin');
  t.equal(open.code, 0, `status (stderr: ${open.stderr})`);
  t.equal(open.stdout, '');
});

t.test('50 MB of output, nothing lost', async (t) => {
  const app = tempApp(t);
  const size = 50 * 1024 * 1024;
  const r = await sh(`head -c ${size} /dev/urandom > /tmp/blob && sha256sum /tmp/blob | cut -d" " -f1 >&2 && cat /tmp/blob`, ['--app', app], { timeoutMs: 60_000 });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdoutBuf.length, size);
  t.equal(`${sha256(r.stdoutBuf)}\n`, r.stderr, 'the sha256 the dyno computed matches what dynod delivered');
  t.comment(`50 MB in ${r.ms} ms`);
});

t.test('10 MB on stderr, nothing lost (the dyno\'s stdio must stay blocking)', async (t) => {
  // dynod's Node makes its own stderr (and stdin, with -i) O_NONBLOCK; the dyno shares
  // those open file descriptions, so a fast writer gets EAGAIN and its output is lost.
  const app = tempApp(t);
  const size = 10 * 1024 * 1024;
  const r = await sh(`head -c ${size} /dev/zero >&2; echo "head status $?"; grep flags /proc/self/fdinfo/2`, ['--app', app]);
  t.equal(r.code, 0, `status (stderr: ${r.stderr})`);
  t.equal(r.stderr.length, size);
  const [status, flags] = r.stdout.split('\n');
  t.equal(status, 'head status 0');
  t.equal(parseInt(flags!.replace(/^flags:\s+/, ''), 8) & 0o4000, 0, `stderr is blocking in the dyno (${flags})`);
});

t.test('`dynod run ... 2>&1 | slow-reader` gets every byte', async (t) => {
  const app = tempApp(t);
  const size = 20 * 1024 * 1024;
  const out = execFileSync('sh', ['-c', `"${DYNOD}" run --app "${app}" -- head -c ${size} /dev/zero 2>&1 | (sleep 1; wc -c)`], { env: hostEnv() }).toString();
  t.equal(out.trim(), String(size));
});

t.test('output written just before exit is not lost; stdout and stderr stay apart', async (t) => {
  const app = tempApp(t);
  const results = await Promise.all(Array.from({ length: 5 }, () => sh('echo out; echo err >&2; printf tail; exit 4', ['--app', app])));
  for (const r of results) {
    t.equal(r.code, 4, `status (stderr: ${r.stderr})`);
    t.equal(r.stdout, 'out\ntail');
    t.equal(r.stderr, 'err\n');
  }
});

t.test('stdout redirected to a file on the host', async (t) => {
  const app = tempApp(t);
  const out = path.join(tempApp(t), 'out.txt');
  execFileSync('sh', ['-c', `"${DYNOD}" run --app "${app}" -- sh -c 'seq 1 100000' > "${out}"`], { env: hostEnv() });
  const text = fs.readFileSync(out, 'utf8');
  t.equal(text.length, Array.from({ length: 100000 }, (_, i) => `${i + 1}\n`).join('').length);
  t.equal(sha256(text), sha256(Array.from({ length: 100000 }, (_, i) => `${i + 1}\n`).join('')));
});
