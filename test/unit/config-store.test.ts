import t, { type Test } from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { UsageError } from '../../src/errors';
import { ConfigStore, RELEASES_WITH_VARS, appNameFrom, parseConfigSetArgs, parseConfigUnsetArgs, validateAppName, validateConfigKey } from '../../src/formation/config-store';
import { checkConfigSize, configSize } from '../../src/formation/config-vars';
import { withLock, writeFileAtomic } from '../../src/formation/state-file';
import { native } from '../../src/native';

// ============================================================================
// Config vars and releases on disk (src/formation/config-store.ts, state-file.ts),
// app names and config:set/unset arguments. A temp dir stands in for /var/lib/dynod.
// ============================================================================

const FIXTURE = path.join(__dirname, 'fixtures', 'config-writer.ts');
const T0 = new Date('2025-01-07T10:00:00.000Z');

function tempRoot(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-config-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A store whose clock ticks one second per release, from T0. */
function store(root: string, app = 'myapp'): ConfigStore {
  let tick = 0;
  return new ConfigStore(app, root, { now: () => new Date(T0.getTime() + 1000 * tick++) });
}

function mode(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

/** Runs the fixture in a Node of its own (TypeScript through tap's loader). */
function writer(args: string[]): ChildProcess {
  const loader = process.execArgv.filter((a) => a.includes('@tapjs/typescript'));
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return spawn(process.execPath, [...loader, FIXTURE, ...args], { env, cwd: path.join(__dirname, '..', '..'), stdio: ['pipe', 'pipe', 'pipe'] });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}

function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('ready\n')) resolve();
    });
    child.on('close', () => reject(new Error(`writer exited before it was ready: ${out}`)));
  });
}

// ---------------------------------------------------------------------------
// app names

t.test("app names: Heroku's characters, a letter first, a letter or digit last, at most 30", async (t) => {
  for (const ok of ['myapp', 'a', 'my-app-2', 'x'.repeat(30)]) t.equal(validateAppName(ok), ok, ok);
  const msg = (name: string) => `app name ${JSON.stringify(name)} is invalid: it must start with a letter, end with a letter or digit, and contain only lowercase letters, digits and dashes (at most 30 characters)`;
  for (const bad of ['', 'MyApp', 'my_app', '2app', '-app', 'app-', '../etc', 'a/b', 'x'.repeat(31), 'café']) {
    t.throws(() => validateAppName(bad), new UsageError(msg(bad)), JSON.stringify(bad));
  }
  t.throws(() => new ConfigStore('../x', '/tmp'), new UsageError(msg('../x')), 'the store refuses it too');
});

t.test('app names from a directory: lowercased, other characters as one dash, a letter first, 30 at most', async (t) => {
  t.equal(appNameFrom('/srv/My_Cool.App'), 'my-cool-app');
  t.equal(appNameFrom('/srv/my-app/'), 'my-app');
  t.equal(appNameFrom('/srv/2048'), 'app-2048');
  t.equal(appNameFrom('/srv/--Café  Crème--'), 'cafe-creme');
  t.equal(appNameFrom('/srv/___'), 'app');
  t.equal(appNameFrom('/'), 'app');
  t.equal(appNameFrom('/srv/' + 'abcdefghij'.repeat(2) + '-klmnopqrs-tuv'), 'abcdefghijabcdefghij-klmnopqrs', 'cut to 30, no dash left at the end');
  t.equal(appNameFrom('.'), validateAppName(appNameFrom('.')), 'always valid');
});

// ---------------------------------------------------------------------------
// config:set / config:unset arguments and keys

t.test('config:set arguments: KEY=VALUE, "=" allowed in values, the last repeat wins', async (t) => {
  t.same(parseConfigSetArgs(['RACK_ENV=production=foo', 'EMPTY=', 'URL=postgres://u:p@h/db?a=b']),
    { RACK_ENV: 'production=foo', EMPTY: '', URL: 'postgres://u:p@h/db?a=b' });
  t.same(Object.entries(parseConfigSetArgs(['A=1', 'B=2', 'A=3'])), [['B', '2'], ['A', '3']]);
  t.same(parseConfigSetArgs(['PORT=8080', 'HEROKU_APP_NAME=x', '_X=1', 'lower_case=1']), { PORT: '8080', HEROKU_APP_NAME: 'x', _X: '1', lower_case: '1' });
});

t.test("config:set arguments: heroku's messages for a missing or malformed argument", async (t) => {
  t.throws(() => parseConfigSetArgs([]), new UsageError('Must specify KEY and VALUE to set: dynod config:set KEY1=VALUE1 [KEY2=VALUE2 ...]'));
  t.throws(() => parseConfigSetArgs(['A=1', 'WRONG']), new UsageError('WRONG is invalid. Must be in the format FOO=bar.'));
  t.throws(() => parseConfigSetArgs(['=bar']), new UsageError('=bar is invalid. Must be in the format FOO=bar.'));
  t.throws(() => parseConfigSetArgs(['A=x\0y']), new UsageError('A: a config var value may not contain a NUL byte'));
});

t.test('config var keys: letters, digits and _ (no digit first); __, DYNOD_ and DYNO reserved', async (t) => {
  const chars = 'Config var keys may only contain letters, digits and _, and may not start with a digit.';
  t.throws(() => validateConfigKey('FOO-BAR'), new UsageError(`FOO-BAR is invalid. ${chars}`));
  t.throws(() => validateConfigKey('1A'), new UsageError(`1A is invalid. ${chars}`));
  t.throws(() => validateConfigKey('A.B'), new UsageError(`A.B is invalid. ${chars}`));
  t.throws(() => parseConfigSetArgs(['FOO BAR=1']), new UsageError(`FOO BAR is invalid. ${chars}`));
  t.throws(() => validateConfigKey('__X'), new UsageError('__X is invalid. Keys starting with __ are reserved.'));
  t.throws(() => validateConfigKey('DYNOD_STATE_DIR'), new UsageError('DYNOD_STATE_DIR is invalid. Keys starting with DYNOD_ are reserved for dynod.'));
  t.throws(() => validateConfigKey('DYNO'), new UsageError('DYNO is invalid. dynod sets DYNO in every dyno (its name, e.g. web.1).'));
  t.doesNotThrow(() => validateConfigKey('DYNO_TYPE'));
});

t.test('config:unset arguments: at least one key, duplicates once', async (t) => {
  t.same(parseConfigUnsetArgs(['A', 'B', 'A']), ['A', 'B']);
  t.same(parseConfigUnsetArgs(['not-a-valid-key']), ['not-a-valid-key'], 'any name: unsetting it does nothing');
  t.throws(() => parseConfigUnsetArgs([]), new UsageError('Must specify KEY to unset: dynod config:unset KEY1 [KEY2 ...]'));
  t.throws(() => parseConfigUnsetArgs(['A=1']), new UsageError('A=1 is invalid. Must be a config var key, e.g. FOO.'));
});

t.test('size: keys and values in UTF-8 bytes, at most 32 KB per app', async (t) => {
  t.equal(configSize({ AB: 'é' }), 4);
  t.doesNotThrow(() => checkConfigSize('myapp', { K: 'x'.repeat(32767) }));
  t.throws(() => checkConfigSize('myapp', { K: 'x'.repeat(32768) }),
    new UsageError('config vars of myapp would take 32769 bytes; the limit is 32768 bytes (32 KB) of keys and values per app'));
});

// ---------------------------------------------------------------------------
// the store

t.test('a new app: no vars, no releases, and nothing written by reading', async (t) => {
  const root = tempRoot(t);
  const s = store(root);
  t.same(s.vars(), {});
  t.same(s.releases(), []);
  t.equal(s.current(), null);
  t.equal(fs.existsSync(path.join(root, 'apps')), false);
  t.equal(s.dir, path.join(root, 'apps', 'myapp'));
});

t.test('DYNOD_STATE_DIR is the default root', async (t) => {
  const root = tempRoot(t);
  const saved = process.env.DYNOD_STATE_DIR;
  t.teardown(() => {
    if (saved === undefined) delete process.env.DYNOD_STATE_DIR;
    else process.env.DYNOD_STATE_DIR = saved;
  });
  process.env.DYNOD_STATE_DIR = root;
  t.equal(new ConfigStore('myapp').file, path.join(root, 'apps', 'myapp', 'releases.json'));
  delete process.env.DYNOD_STATE_DIR;
  t.equal(new ConfigStore('myapp').file, '/var/lib/dynod/apps/myapp/releases.json');
});

t.test('the app directory is 0700, the file and its lock 0600, whatever the umask', async (t) => {
  const root = tempRoot(t);
  const old = process.umask(0);
  t.teardown(() => process.umask(old));
  const s = store(root);
  s.set({ SECRET: 's3cret' }, 'root');
  t.equal(mode(s.dir), 0o700);
  t.equal(mode(s.file), 0o600);
  t.equal(mode(path.join(s.dir, 'releases.lock')), 0o600);
  t.equal(mode(path.join(root, 'apps')), 0o755, 'parents are plain directories');
});

t.test('a looser app directory is tightened; a leftover temp file does not give its mode away', async (t) => {
  const root = tempRoot(t);
  const s = store(root);
  fs.mkdirSync(s.dir, { recursive: true, mode: 0o755 });
  fs.chmodSync(s.dir, 0o755);
  fs.writeFileSync(`${s.file}.tmp`, 'half a file', { mode: 0o644 });
  fs.chmodSync(`${s.file}.tmp`, 0o644);
  s.set({ A: '1' }, 'root');
  t.equal(mode(s.dir), 0o700);
  t.equal(mode(s.file), 0o600);
  t.equal(fs.existsSync(`${s.file}.tmp`), false);
});

t.test('an app "directory" that is a symlink is refused', async (t) => {
  const root = tempRoot(t);
  const elsewhere = path.join(root, 'elsewhere');
  fs.mkdirSync(elsewhere, { mode: 0o700 });
  fs.mkdirSync(path.join(root, 'apps'));
  fs.symlinkSync(elsewhere, path.join(root, 'apps', 'myapp'));
  const s = store(root);
  t.throws(() => s.set({ A: '1' }), { name: 'DynodError', message: `write config: ${s.dir} is not a directory`, code: 'ENOTDIR' });
  t.same(fs.readdirSync(elsewhere), []);
});

t.test('an app directory owned by someone else is refused (root only: needs chown)', { skip: process.geteuid?.() !== 0 && 'not root' }, async (t) => {
  const root = tempRoot(t);
  const s = store(root);
  fs.mkdirSync(s.dir, { recursive: true, mode: 0o700 });
  fs.chownSync(s.dir, 65534, 65534);
  t.throws(() => s.set({ A: '1' }), { name: 'DynodError', message: `write config: ${s.dir} is owned by uid 65534, not by dynod's uid 0`, code: 'EPERM' });
  t.equal(fs.existsSync(s.file), false);
});

t.test('each set/unset is a release: version+1, Heroku descriptions, pending, who and when', async (t) => {
  const root = tempRoot(t);
  const s = store(root);
  t.same(s.set({ FOO: '1', BAR: '2' }, 'alice'), { version: 1, description: 'Set FOO, BAR config vars', createdAt: '2025-01-07T10:00:00.000Z', status: 'pending', user: 'alice' });
  t.same(s.set({ FOO: '1' }, 'bob'), { version: 2, description: 'Set FOO config vars', createdAt: '2025-01-07T10:00:01.000Z', status: 'pending', user: 'bob' }, 'the same value again still makes a release');
  t.same(s.unset(['FOO', 'NOPE'], 'alice'), { version: 3, description: 'Remove FOO config vars', createdAt: '2025-01-07T10:00:02.000Z', status: 'pending', user: 'alice' }, 'only the keys that were set are named');
  t.same(s.vars(), { BAR: '2' });
  t.same(s.unset(['NOPE', 'FOO'], 'alice'), { version: 3, description: 'Remove FOO config vars', createdAt: '2025-01-07T10:00:02.000Z', status: 'pending', user: 'alice' }, 'nothing to unset: no release, the newest comes back');
  t.same(s.releases().map((r) => [r.version, r.description]), [[1, 'Set FOO, BAR config vars'], [2, 'Set FOO config vars'], [3, 'Remove FOO config vars']]);
  t.same(s.varsOf(1), { FOO: '1', BAR: '2' });
  t.same(s.varsOf(3), { BAR: '2' });
  t.throws(() => s.varsOf(4), new UsageError('release v4 of myapp does not exist'));
  t.same(new ConfigStore('myapp', root).vars(), { BAR: '2' }, 'another store instance reads the same');
});

t.test('the user defaults to the sudo user behind root, else our own', async (t) => {
  const root = tempRoot(t);
  const saved = process.env.SUDO_USER;
  t.teardown(() => {
    if (saved === undefined) delete process.env.SUDO_USER;
    else process.env.SUDO_USER = saved;
  });
  process.env.SUDO_USER = 'carol';
  const r = store(root).set({ A: '1' });
  t.equal(r.user, process.geteuid?.() === 0 ? 'carol' : os.userInfo().username);
  delete process.env.SUDO_USER;
  t.equal(store(root).set({ A: '2' }).user, os.userInfo().username);
});

t.test('set refuses what the arguments parser refuses, and writes nothing', async (t) => {
  const root = tempRoot(t);
  const s = store(root);
  t.throws(() => s.set({}), new UsageError('Must specify KEY and VALUE to set: dynod config:set KEY1=VALUE1 [KEY2=VALUE2 ...]'));
  t.throws(() => s.set({ 'A-B': '1' }), new UsageError('A-B is invalid. Config var keys may only contain letters, digits and _, and may not start with a digit.'));
  t.throws(() => s.set({ DYNO: 'web.1' }), UsageError);
  t.throws(() => s.unset([]), new UsageError('Must specify KEY to unset: dynod config:unset KEY1 [KEY2 ...]'));
  t.equal(fs.existsSync(s.file), false);
});

t.test('32 KB per app: a set that would pass it makes no release', async (t) => {
  const root = tempRoot(t);
  const s = store(root);
  s.set({ BIG: 'x'.repeat(32765) }, 'root');
  t.throws(() => s.set({ A: '1' }, 'root'), new UsageError('config vars of myapp would take 32770 bytes; the limit is 32768 bytes (32 KB) of keys and values per app'));
  t.same(s.releases().map((r) => r.version), [1]);
  t.same(Object.keys(s.vars()), ['BIG']);
});

t.test('a failed release keeps the previous one running, and its vars at hand', async (t) => {
  const root = tempRoot(t);
  const s = store(root);
  s.set({ DATABASE_URL: 'postgres://old' }, 'root');
  s.mark(1, 'succeeded', 0);
  s.set({ DATABASE_URL: 'postgres://new' }, 'root');
  t.equal(s.current()?.version, 1, 'pending: v1 still runs');
  s.mark(2, 'failed', 1);
  t.same(s.current(), { version: 1, description: 'Set DATABASE_URL config vars', createdAt: '2025-01-07T10:00:00.000Z', status: 'succeeded', releaseStatus: 0, user: 'root' });
  t.same(s.releases()[1], { version: 2, description: 'Set DATABASE_URL config vars', createdAt: '2025-01-07T10:00:01.000Z', status: 'failed', releaseStatus: 1, user: 'root' });
  t.same(s.varsOf(s.current()!.version), { DATABASE_URL: 'postgres://old' }, 'what the dynos keep running with');
  t.same(s.vars(), { DATABASE_URL: 'postgres://new' }, "the app's config vars are the newest release's, as on Heroku");
  s.set({ OTHER: '1' }, 'root');
  t.same(s.varsOf(3), { DATABASE_URL: 'postgres://new', OTHER: '1' }, 'the next set builds on the newest vars');
  s.mark(3, 'succeeded');
  t.equal(s.current()?.version, 3);
  t.equal(s.releases()[2]!.releaseStatus, undefined, 'no exit status given, none recorded');
  t.throws(() => s.mark(9, 'succeeded'), new UsageError('release v9 of myapp does not exist'));
});

t.test('a success expires the older releases still pending (made while no dynod ran): they never run', async (t) => {
  const s = store(tempRoot(t));
  s.set({ A: '1' }, 'root');
  s.mark(1, 'succeeded', 0);
  s.set({ B: '2' }, 'root');
  s.set({ C: '3' }, 'root');
  s.unset(['A'], 'root');
  s.mark(3, 'failed', 1);
  s.mark(4, 'succeeded', 0);
  t.same(s.releases().map((r) => [r.version, r.status]), [[1, 'succeeded'], [2, 'expired'], [3, 'failed'], [4, 'succeeded']], 'v2 never ran; the failed v3 stays failed');
  s.set({ D: '4' }, 'root');
  s.mark(5, 'failed', 2);
  t.same(s.releases().map((r) => r.status), ['succeeded', 'expired', 'failed', 'succeeded', 'failed'], 'a failure expires nothing');
  s.set({ E: '5' }, 'root');
  s.mark(4, 'succeeded', 0);
  t.equal(s.releases()[5]!.status, 'pending', 'a newer pending release is not expired by an older success');
  t.equal(s.current()?.version, 4);
});

t.test('an app without a release phase: its success makes the older pending releases succeed too, not expire', async (t) => {
  const s = store(tempRoot(t));
  s.set({ A: '1' }, 'root');
  s.set({ B: '2' }, 'root');
  s.mark(2, 'succeeded', null, 'succeeded');
  t.same(s.releases().map((r) => [r.version, r.status]), [[1, 'succeeded'], [2, 'succeeded']]);
});

t.test('the initial release: made once, pending, no vars', async (t) => {
  const root = tempRoot(t);
  const s = store(root);
  const v1 = s.ensureInitialRelease('root');
  t.same(v1, { version: 1, description: 'Initial release', createdAt: '2025-01-07T10:00:00.000Z', status: 'pending', user: 'root' });
  t.same(s.ensureInitialRelease('root'), v1);
  t.same(s.varsOf(1), {});
  s.set({ A: '1' }, 'root');
  t.equal(s.ensureInitialRelease('root').version, 2, 'with releases, the newest');
  t.same(store(tempRoot(t)).unset(['A'], 'root'), { version: 1, description: 'Initial release', createdAt: '2025-01-07T10:00:00.000Z', status: 'pending', user: 'root' }, 'an unset on a new app gives the initial release');
});

t.test('vars of old releases are dropped after the last 100, except the current one', async (t) => {
  const root = tempRoot(t);
  const s = store(root);
  s.set({ A: '0' }, 'root');
  s.mark(1, 'succeeded');
  for (let i = 1; i <= RELEASES_WITH_VARS + 1; i++) s.set({ A: String(i) }, 'root');
  t.equal(s.releases().length, RELEASES_WITH_VARS + 2);
  t.same(s.varsOf(1), { A: '0' }, 'the current release keeps its vars');
  t.throws(() => s.varsOf(2), { name: 'DynodError', message: `config vars of myapp v2 are no longer kept (dynod keeps those of the last ${RELEASES_WITH_VARS} releases)` });
  t.same(s.varsOf(3), { A: '2' });
  t.same(s.vars(), { A: String(RELEASES_WITH_VARS + 1) });
});

t.test('a file that is not a releases file is an error naming it', async (t) => {
  const root = tempRoot(t);
  const s = store(root);
  fs.mkdirSync(s.dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(s.file, '{"releases": 3}');
  t.throws(() => s.vars(), { name: 'DynodError', message: `read config: ${s.file}: not a dynod releases file (schema 1 with a releases list)`, code: 'EINVAL' });
  fs.writeFileSync(s.file, '{');
  t.throws(() => s.releases(), { message: new RegExp(`^read config: ${s.file}: not JSON \\(`) });
});

// ---------------------------------------------------------------------------
// atomicity and locking

t.test('writeFileAtomic: a crash before the rename leaves the old file whole', async (t) => {
  const root = tempRoot(t);
  const file = path.join(root, 'state.json');
  writeFileAtomic(file, 'old\n');
  t.throws(() => writeFileAtomic(file, 'new\n', { beforeRename: () => { throw new Error('crash'); } }), { message: 'crash' });
  t.equal(fs.readFileSync(file, 'utf8'), 'old\n');
  t.equal(fs.readFileSync(`${file}.tmp`, 'utf8'), 'new\n', 'the new content was written and synced before');
  writeFileAtomic(file, 'newer\n');
  t.equal(fs.readFileSync(file, 'utf8'), 'newer\n');
  t.equal(fs.existsSync(`${file}.tmp`), false);
});

t.test('a writer SIGKILLed between its temp file and the rename loses only its own change', async (t) => {
  const root = tempRoot(t);
  const s = store(root);
  s.set({ A: '1' }, 'root');
  const before = fs.readFileSync(s.file, 'utf8');
  const res = await exited(writer(['crash', root, 'myapp']));
  t.equal(res.signal, 'SIGKILL', `the writer died where it should (${res.stderr})`);
  t.equal(fs.readFileSync(s.file, 'utf8'), before, 'the old file, byte for byte');
  t.match(fs.readFileSync(`${s.file}.tmp`, 'utf8'), /"CRASHED": "1"/, 'the crashed write had reached its temp file');
  t.same(s.releases().map((r) => r.version), [1]);
  // the kernel dropped the dead writer's flock: the next writer goes on at once
  t.same(s.set({ B: '2' }, 'root').version, 2);
  t.same(s.vars(), { A: '1', B: '2' });
  t.equal(fs.existsSync(`${s.file}.tmp`), false);
});

t.test('two processes making 50 releases each at once lose nothing', async (t) => {
  const root = tempRoot(t);
  const a = writer(['sets', root, 'myapp', 'A', '50']);
  const b = writer(['sets', root, 'myapp', 'B', '50']);
  const done = [exited(a), exited(b)];
  await Promise.all([ready(a), ready(b)]);
  // both go from one moment, so their read-modify-writes overlap
  a.stdin!.end('go\n');
  b.stdin!.end('go\n');
  const results = await Promise.all(done);
  for (const r of results) t.same([r.code, r.signal], [0, null], r.stderr);
  const s = new ConfigStore('myapp', root);
  const releases = s.releases();
  t.same(releases.map((r) => r.version), Array.from({ length: 100 }, (_, i) => i + 1), 'versions 1..100, none twice, none skipped');
  const vars = s.vars();
  for (const p of ['A', 'B']) {
    for (let i = 0; i < 50; i++) t.equal(vars[`${p}_${i}`], String(i), `${p}_${i}`);
    t.equal(releases.filter((r) => r.user === p).length, 50, `${p}: 50 releases`);
  }
  t.equal(Object.keys(vars).length, 100);
  const switches = releases.filter((r, i) => i > 0 && r.user !== releases[i - 1]!.user).length;
  t.comment(`the writers took turns ${switches} times`);
});

t.test('withLock waits for another holder, then gives up naming the lock file', async (t) => {
  const root = tempRoot(t);
  const lock = path.join(root, 'x.lock');
  const fd = fs.openSync(lock, 'w');
  t.equal(native().flock(fd, true), true);
  t.throws(() => withLock(lock, 'write config', () => 'ran', 50),
    { name: 'DynodError', message: `write config: ${lock} is locked by another dynod process (waited 0.05 s)`, code: 'EWOULDBLOCK' });
  const probe = fs.openSync(lock, 'r');
  t.equal(native().flock(probe, true), false, 'the holder still has it');
  fs.closeSync(probe);
  fs.closeSync(fd);
  t.equal(withLock(lock, 'write config', () => 'ran', 50), 'ran', 'free once its holder closed it');
});

t.test('withLock releases the lock when fn throws', async (t) => {
  const root = tempRoot(t);
  const lock = path.join(root, 'x.lock');
  t.throws(() => withLock(lock, 'step', () => { throw new Error('inside'); }), { message: 'inside' });
  t.equal(withLock(lock, 'step', () => 'again', 50), 'again');
});
