// `dynod export` as a user runs it (root, bin/dynod): the files on disk, their modes,
// `systemd-analyze verify` on the units, and the exported dynod run command lines run
// for real (the env file read back in the dyno, R10 from --boot-timeout).
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { DYNOD, dynod } from '../helpers/dynod';
import { tempApp } from '../helpers/app';

const PROCFILE = [
  'release: echo "released $DYNO"',
  'web: sleep 30',
  'worker: echo "$DYNO|$SECRET|$FROM_DOTENV|$OVERRIDE|$PORT|100%"; exit 3',
  '',
].join('\n');

function tempDir(t: Tap.Test, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An app with a .env, a config var (in a state dir of the test's own) and an -e file. */
async function sampleApp(t: Tap.Test): Promise<{ app: string; env: Record<string, string> }> {
  const app = tempApp(t, { Procfile: PROCFILE, '.env': 'FROM_DOTENV=dotenv\nOVERRIDE=from-dotenv\n', 'prod.env': 'OVERRIDE=from-e\n' }, 'dynod-export-');
  const env = { DYNOD_STATE_DIR: tempDir(t, 'dynod-export-state-') };
  const set = await dynod(['config:set', '--app', app, '--name', 'shop', 'SECRET=s3 $x "q"', 'OVERRIDE=from-config'], { env });
  t.equal(set.code, 0, set.stderr);
  return { app, env };
}

/** The words of an ExecStart= line as systemd splits them (the subset execWord writes). */
function execWords(line: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const m of line.matchAll(re)) {
    const raw = m[1] !== undefined
      ? m[1].replace(/\\(x[0-9a-f]{2}|.)/g, (_, e: string) => (e[0] === 'x' ? String.fromCharCode(parseInt(e.slice(1), 16)) : ({ n: '\n', t: '\t', r: '\r', a: '\x07' } as Record<string, string>)[e] ?? e))
      : m[2]!;
    words.push(raw.replace(/%%/g, '%').replace(/\$\$/g, '$'));
  }
  return words;
}

function execStart(unit: string): string[] {
  const line = /^ExecStart=(.*)$/m.exec(unit);
  if (!line) throw new Error(`no ExecStart= in ${unit}`);
  return execWords(line[1]!);
}

const mode = (p: string) => fs.statSync(p).mode & 0o777;

t.test('export systemd: units and a 0600 env file, verified by systemd-analyze, run as exported', async (t) => {
  const { app, env } = await sampleApp(t);
  const out = path.join(tempDir(t, 'dynod-export-out-'), 'units');
  const r = await dynod(['export', 'systemd', 'web=2,worker=1', '--app', app, '--name', 'shop', '-o', out, '-e', 'prod.env', '-p', '6100', '--boot-timeout', '1s'], { env });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '');
  const names = ['shop.target', 'shop-web.target', 'shop-web.1.service', 'shop-web.2.service', 'shop-worker.target', 'shop-worker.1.service', 'shop-release.service', 'shop.env'];
  t.same(fs.readdirSync(out).sort(), [...names].sort());
  const listed = r.stdout.split('\n').filter((l) => l && !l.startsWith('next:'));
  t.same(listed.map((l) => path.resolve(os.tmpdir(), l.replace(/ {2}\(0600: secrets\)$/, ''))), names.map((n) => path.join(out, n)), 'each file, as the path from the current directory');
  for (const n of names) t.equal(mode(path.join(out, n)), n === 'shop.env' ? 0o600 : 0o644, `${n} mode`);
  t.match(r.stdout, /^next: systemctl link .* systemctl enable --now shop\.target$/m);

  const envText = fs.readFileSync(path.join(out, 'shop.env'), 'utf8');
  t.match(envText, /^SECRET="s3 \\\$x \\"q\\""$/m, 'the config var, escaped');
  t.match(envText, /^OVERRIDE="from-e"$/m, '.env, then config vars, then -e');

  const web1 = fs.readFileSync(path.join(out, 'shop-web.1.service'), 'utf8');
  t.same(execStart(web1), [DYNOD, 'run', '--name', 'web.1', '--size', 'standard-1x', '--app', app, '--port', '6100', '--env-file', path.join(out, 'shop.env'), '--publish', '127.0.0.1:6101', '--boot-timeout', '1s', '--', '/bin/sh', '-c', 'sleep 30']);

  t.test('systemd-analyze verify', async (t) => {
    const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
    if (probe.error) return t.skip(`systemd-analyze is not installed (${probe.error.message})`);
    const version = Number(/systemd (\d+)/.exec(probe.stdout)?.[1] ?? 0);
    const units = names.filter((n) => n !== 'shop.env').map((n) => path.join(out, n));
    const v = spawnSync('systemd-analyze', ['verify', '--man=no', ...units], { encoding: 'utf8', cwd: out });
    t.equal(v.status, 0, v.stderr);
    // RestartSteps= and RestartMaxDelaySec= came in systemd 254; older ones name them and go on
    const lineOf = (u: string, key: string) => fs.readFileSync(path.join(out, u), 'utf8').split('\n').findIndex((l) => l.startsWith(`${key}=`)) + 1;
    const expected = version >= 254 ? [] : ['shop-web.1.service', 'shop-web.2.service', 'shop-worker.1.service'].flatMap((u) => [
      `${out}/${u}:${lineOf(u, 'RestartSteps')}: Unknown key 'RestartSteps' in section [Service], ignoring.`,
      `${out}/${u}:${lineOf(u, 'RestartMaxDelaySec')}: Unknown key 'RestartMaxDelaySec' in section [Service], ignoring.`,
    ]);
    t.same(`${v.stdout}${v.stderr}`.split('\n').filter(Boolean).sort(), expected.sort(), `systemd ${version}: nothing else to say`);
    // the check can fail: a broken copy is refused
    const broken = path.join(out, 'shop-worker.1.service');
    const good = fs.readFileSync(broken, 'utf8');
    fs.writeFileSync(broken, good.replace('ExecStart=', 'ExecStart="'));
    const b = spawnSync('systemd-analyze', ['verify', '--man=no', broken], { encoding: 'utf8' });
    fs.writeFileSync(broken, good);
    t.not(b.status, 0, 'unbalanced quoting is an error');
  });

  t.test("the worker's ExecStart, run: the env file read back in the dyno", async (t) => {
    const argv = execStart(fs.readFileSync(path.join(out, 'shop-worker.1.service'), 'utf8'));
    t.equal(argv[0], DYNOD);
    const w = await dynod(argv.slice(1), { env });
    t.equal(w.code, 3, w.stderr);
    t.equal(w.stdout, 'worker.1|s3 $x "q"|dotenv|from-e|6100|100%\n');
  });

  t.test("a web dyno's ExecStart, run: R10 when nothing listens within --boot-timeout", async (t) => {
    const w = await dynod(execStart(web1).slice(1), { env });
    t.equal(w.code, 137);
    t.equal(w.stderr, 'Error R10 (Boot timeout) -> Web process failed to bind to $PORT within 1 seconds of launch\nStopping process with SIGKILL\n');
  });

  t.test('the release unit runs the release command', async (t) => {
    const argv = execStart(fs.readFileSync(path.join(out, 'shop-release.service'), 'utf8'));
    const w = await dynod(argv.slice(1), { env });
    t.equal(w.code, 0, w.stderr);
    t.equal(w.stdout, 'released release.1\n');
  });

  t.test('exporting a smaller formation removes the units it no longer has, nothing else', async (t) => {
    fs.writeFileSync(path.join(out, 'other.service'), '[Service]\nExecStart=/bin/true\n');
    fs.writeFileSync(path.join(out, 'shop-mine.service'), '# hand-written\n[Service]\nExecStart=/bin/true\n');
    const again = await dynod(['export', 'systemd', 'web=1', '--app', app, '--name', 'shop', '-o', out, '-p', '6100'], { env });
    t.equal(again.code, 0, again.stderr);
    t.same(fs.readdirSync(out).sort(), ['other.service', 'shop-mine.service', 'shop-release.service', 'shop-web.1.service', 'shop-web.target', 'shop.env', 'shop.target']);
    t.match(again.stdout, /^removed .*shop-web\.2\.service \(not in this formation\)$/m);
    t.match(again.stdout, /^removed .*shop-worker\.target \(not in this formation\)$/m);
  });

  t.test('through systemd itself', async (t) => {
    const pid1 = fs.readFileSync('/proc/1/comm', 'utf8').trim();
    if (pid1 !== 'systemd') return t.skip(`PID 1 is ${pid1}, not systemd: units cannot be started here`);
    const argv = execStart(fs.readFileSync(path.join(out, 'shop-release.service'), 'utf8'));
    const unit = `dynod-export-test-${process.pid}`;
    const s = spawnSync('systemd-run', ['--wait', '--pipe', '--collect', `--unit=${unit}`, '-p', 'Delegate=yes', '-p', 'KillMode=mixed', '-p', `Environment=DYNOD_STATE_DIR=${env.DYNOD_STATE_DIR}`, ...argv], { encoding: 'utf8', timeout: 60_000 });
    t.equal(s.status, 0, s.stderr);
    t.equal(s.stdout, 'released release.1\n');
  });
});

t.test('export nomad: the job and a 0600 variable spec in ./export-nomad', async (t) => {
  const { app, env } = await sampleApp(t);
  const cwd = tempDir(t, 'dynod-export-cwd-');
  const r = await dynod(['export', 'nomad', '--app', app, '--name', 'shop'], { env, cwd });
  t.equal(r.code, 0, r.stderr);
  t.same(r.stdout.split('\n').slice(0, 2), ['export-nomad/shop.nomad.json', 'export-nomad/shop.vars.json  (0600: secrets)']);
  const dir = path.join(cwd, 'export-nomad');
  t.equal(mode(path.join(dir, 'shop.nomad.json')), 0o644);
  t.equal(mode(path.join(dir, 'shop.vars.json')), 0o600);
  const job = JSON.parse(fs.readFileSync(path.join(dir, 'shop.nomad.json'), 'utf8')) as { Job: { TaskGroups: Array<{ Name: string; Count: number }> } };
  t.same(job.Job.TaskGroups.map((g) => [g.Name, g.Count]), [['web', 1], ['worker', 1]]);
  t.notMatch(fs.readFileSync(path.join(dir, 'shop.nomad.json'), 'utf8'), /s3 /, 'no secret in the job');
  t.same(JSON.parse(fs.readFileSync(path.join(dir, 'shop.vars.json'), 'utf8')), {
    Items: { FROM_DOTENV: 'dotenv', OVERRIDE: 'from-config', SECRET: 's3 $x "q"' },
    Path: 'nomad/jobs/shop',
  });
  const first = fs.readFileSync(path.join(dir, 'shop.nomad.json'), 'utf8');
  const again = await dynod(['export', 'nomad', '--app', app, '--name', 'shop'], { env, cwd });
  t.equal(again.code, 0);
  t.equal(fs.readFileSync(path.join(dir, 'shop.nomad.json'), 'utf8'), first, 'exported again: the same bytes');
});

t.test('refusals on the command line: one line, exit 125, nothing written', async (t) => {
  const { app, env } = await sampleApp(t);
  const cwd = tempDir(t, 'dynod-export-cwd-');
  const cases: Array<[string[], string]> = [
    [['export', 'docker'], 'dynod: export docker: unknown engine; accepted: systemd, nomad\n'],
    [['export', 'systemd', 'web=0,worker=0'], `dynod: ${app}/Procfile: the formation runs no dyno (web=0,worker=0); give one, e.g. web=1\n`],
    [['export', 'systemd', 'clock=1'], "dynod: Couldn't find that process type (clock). Process types: web, worker\n"],
    [['export', 'nomad', '--size', 'huge'], 'dynod: unknown size "huge"; valid sizes: eco, basic, standard-1x, standard-2x, performance-m, performance-l, performance-l-ram, performance-xl, performance-2xl\n'],
  ];
  for (const [args, stderr] of cases) {
    const r = await dynod([...args, '--app', app], { env, cwd });
    t.equal(r.code, 125, args.join(' '));
    t.equal(r.stderr, stderr);
  }
  t.same(fs.readdirSync(cwd), [], 'no export directory');
});

t.test('dynod run --boot-timeout: a dyno that listens in time is left alone', async (t) => {
  const app = tempApp(t, {}, 'dynod-export-boot-');
  const listen = "require('net').createServer().listen(process.env.PORT, () => setTimeout(() => process.exit(0), 1500))";
  const r = await dynod(['run', '--app', app, '--boot-timeout', '20s', '--', 'node', '-e', listen]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, '');
});
