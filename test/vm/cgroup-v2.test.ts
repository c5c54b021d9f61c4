// dynod's cgroup v2 path, proven on a kernel whose only hierarchy is cgroup2 at
// /sys/fs/cgroup: run it in the VM with `scripts/vm-test -- test/vm` (it runs
// there by default too). Hybrid and v1 hosts skip the whole file.
//
// Everything is read straight from the kernel's files, independently of
// src/cgroup, which is what is under test. Runs as root.
import t from 'tap';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const CG = '/sys/fs/cgroup';
const ROOT = path.resolve(__dirname, '..', '..');
const DYNOD = path.join(ROOT, 'bin', 'dynod');
const MiB = 1024 * 1024;
/** Node under TCG is ~20x slower than on a host. */
const SLOW = 180_000;

const skip = !fs.existsSync(`${CG}/cgroup.controllers`)
  ? `no cgroup v2 hierarchy at ${CG} (v1 or hybrid host): run scripts/vm-test`
  : process.getuid?.() !== 0
    ? 'needs root'
    : null;

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Running {
  pid: number;
  result: Promise<Result>;
  waitForStdout(re: RegExp): Promise<void>;
  /** closes dynod's stdin (with -i, the dyno's too) */
  endInput(): void;
}

/** The environment dynod gets: ours without tap's loaders. */
function env(): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (k !== 'NODE_OPTIONS' && !k.startsWith('TAP') && !k.startsWith('_TAPJS') && !k.startsWith('DYNOD_')) out[k] = v;
  return out;
}

/**
 * Starts ./bin/dynod ARGS. With `cgroup`, a shell moves itself into that cgroup
 * and then execs dynod, so dynod is born there as its only process.
 */
function dynod(args: string[], o: { cgroup?: string; input?: boolean; cwd?: string } = {}): Running {
  const pre = o.cgroup ? `echo $$ > '${o.cgroup}/cgroup.procs' || exit 99; ` : '';
  const child = spawn('sh', ['-c', `${pre}exec "$@"`, 'sh', DYNOD, ...args], {
    cwd: o.cwd ?? os.tmpdir(),
    env: env(),
    stdio: [o.input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (b: Buffer) => {
    stdout += b.toString();
    for (const w of waiters) w();
  });
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 2 * SLOW);
  let done = false;
  const result = new Promise<Result>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      done = true;
      clearTimeout(timer);
      for (const w of waiters) w();
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    pid: child.pid!,
    result,
    endInput: () => child.stdin?.end(),
    waitForStdout: (re) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (re.test(stdout)) {
            waiters.delete(check);
            resolve();
          } else if (done) {
            waiters.delete(check);
            reject(new Error(`dynod exited before printing ${re}: stdout ${JSON.stringify(stdout)}, stderr ${JSON.stringify(stderr)}`));
          }
        };
        waiters.add(check);
        check();
      }),
  };
}

function read(file: string): string {
  return fs.readFileSync(file, 'utf8').trim();
}

function procs(dir: string): number[] {
  return read(`${dir}/cgroup.procs`).split('\n').filter(Boolean).map(Number);
}

function words(file: string): string[] {
  return read(file).split(/\s+/).filter(Boolean);
}

/** This process's cgroup v2 path ("0::/path"). */
function ownPath(pid: number | 'self' = 'self'): string {
  const line = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
  return line ? line.slice(3) : '';
}

function subdirs(dir: string): string[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

/** Every cgroup below base, as paths relative to it. */
function allCgroups(base = CG): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of subdirs(path.join(base, rel))) {
      out.push(path.join(rel, name));
      walk(path.join(rel, name));
    }
  };
  walk('');
  return out.sort();
}

/** Removes a test cgroup tree, deepest first (once its processes are gone). */
function removeTree(dir: string): void {
  for (const name of subdirs(dir)) removeTree(path.join(dir, name));
  for (let i = 0; ; i++) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || i > 200) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

/** dynod/<group>/<name>-<id8>; `dynod run` names its dynos run.NNNN */
const DYNO_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*-[0-9a-f]{8}$/;

if (skip) {
  t.plan(0, skip);
} else {
  const own = ownPath();
  const ownDir = path.join(CG, own);
  const root = path.join(ownDir, 'dynod');
  const before = allCgroups();
  const testCgroups: string[] = [];
  const testCgroup = (name: string) => {
    const dir = path.join(CG, `dynod-vmtest-${process.pid}-${name}`);
    fs.mkdirSync(dir);
    testCgroups.push(dir);
    return dir;
  };
  const app = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-vm-app-'));
  t.teardown(() => {
    for (const d of testCgroups) {
      try { removeTree(d); } catch { /* reported by the last test */ }
    }
    fs.rmSync(app, { recursive: true, force: true });
  });

  t.test('the kernel: cgroup2 only, with cpu, memory and pids delegated to this cgroup', async (t) => {
    const mounts = fs.readFileSync('/proc/self/mounts', 'utf8');
    t.match(mounts, new RegExp(`^cgroup2 ${CG} cgroup2 `, 'm'));
    t.notMatch(mounts, /^\S+ \S+ cgroup /m, 'no cgroup v1 hierarchy is mounted');
    const controllers = words(`${ownDir}/cgroup.controllers`);
    for (const c of ['cpu', 'memory', 'pids']) t.ok(controllers.includes(c), `${c} available in ${own}`);
    const { detectCgroups } = await import('../../src/cgroup');
    const backend = detectCgroups();
    t.equal(backend.version, 2, 'dynod picks its v2 backend');
    t.same(backend.roots, [root], 'dyno cgroups go to <own>/dynod');
  });

  t.test('dynod run --memory 128M: memory.max inside the dyno is 134217728', async (t) => {
    const r = await dynod(['run', '--app', app, '--memory', '128M', '--', 'cat', '/sys/fs/cgroup/memory.max']).result;
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, `${128 * MiB}\n`);
    t.equal(r.stderr, '');
  });

  t.test('a running dyno: <own>/dynod/run/<name>-<id8> with its limits written (standard-2x); stale cgroups are swept', async (t) => {
    // Left by dynods that no longer exist (nobody holds their lock): an older one's, and a current one's.
    const stale = path.join(root, '99999999-deadbeef');
    fs.mkdirSync(stale, { recursive: true });
    const staleNew = path.join(root, 'web', 'web.1-deadbeef');
    fs.mkdirSync(staleNew, { recursive: true });
    const d = dynod(['run', '--app', app, '--size', 'standard-2x', '-i', '--no-tty', '--',
      'sh', '-c', 'cat /proc/self/cgroup; cat /sys/fs/cgroup/cpu.weight; echo ready; read x; echo bye'], { input: true });
    await d.waitForStdout(/ready\n/);
    const mine = subdirs(path.join(root, 'run'));
    t.equal(mine.length, 1, 'one cgroup for the dyno');
    const dir = path.join(root, 'run', mine[0] ?? 'none');
    t.match(mine[0], /^run\.\d+-[0-9a-f]{8}$/, 'named <dyno name>-<first 8 hex of the dyno id>');
    t.equal(ownPath(d.pid), own, 'dynod itself stays in its own cgroup (here the harness\'s)');
    t.notOk(fs.existsSync(stale), 'the stale cgroup of an older dynod is removed');
    t.notOk(fs.existsSync(path.join(root, 'web')), 'the stale cgroup of a dead dynod is removed, with its empty group');
    for (const c of ['cpu', 'memory', 'pids']) {
      t.ok(words(`${ownDir}/cgroup.subtree_control`).includes(c), `${c} enabled in <own>`);
      t.ok(words(`${root}/cgroup.subtree_control`).includes(c), `${c} enabled in <own>/dynod`);
      t.ok(words(`${root}/run/cgroup.subtree_control`).includes(c), `${c} enabled in <own>/dynod/run`);
    }
    t.equal(read(`${dir}/memory.max`), String(1024 * MiB), 'memory.max: 1 GiB');
    t.equal(read(`${dir}/memory.swap.max`), String(1024 * MiB), 'memory.swap.max: up to the 2 GiB kill threshold');
    t.equal(read(`${dir}/memory.oom.group`), '1', 'an OOM kill takes the whole dyno');
    t.equal(read(`${dir}/cpu.weight`), '200', 'cpu.weight: standard-2x has twice the default share');
    t.equal(read(`${dir}/cpu.max`), 'max 100000', 'no CPU quota for a shared size');
    t.equal(read(`${dir}/pids.max`), '512');
    t.ok(procs(dir).length >= 2, 'dynod-init and sh are in it');
    t.ok(procs(dir).every((p) => ownPath(p) === path.join(own, 'dynod', 'run', mine[0]!)), '/proc/<pid>/cgroup agrees');
    d.endInput();
    const r = await d.result;
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, '0::/\n200\nready\nbye\n', 'the dyno sees its own cgroup as / (cgroup namespace) and its own cpu.weight');
    t.notOk(fs.existsSync(dir), 'the cgroup is removed after the dyno');
    t.notOk(fs.existsSync(root), 'and so is the <own>/dynod parent with its last dyno (as on v1)');
  });

  t.test('--cpus 0.5 writes cpu.max "50000 100000"; --pids 42 writes pids.max', async (t) => {
    const r = await dynod(['run', '--app', app, '--cpus', '0.5', '--pids', '42', '--',
      'cat', '/sys/fs/cgroup/cpu.max', '/sys/fs/cgroup/cpu.weight', '/sys/fs/cgroup/pids.max']).result;
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, '50000 100000\n100\n42\n', 'quota, the default weight, the process limit');
  });

  t.test('the library: PID 1 is born in its cgroup (clone3 CLONE_INTO_CGROUP)', async (t) => {
    const { plan, start } = await import('../../src/index');
    const p = plan({ command: ['cat', '/proc/self/cgroup', '/sys/fs/cgroup/memory.max'], app, memory: '64M' });
    const dyno = await start(p, { stdout: 'pipe', stderr: 'pipe' });
    let out = '';
    dyno.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    t.equal(dyno.cgroupVersion, 2);
    t.equal(dyno.bornInCgroup, true, 'clone3 put the child straight into the cgroup');
    t.same(dyno.cgroupDirs, [path.join(root, 'run', `${p.name}-${dyno.id.slice(0, 8)}`)]);
    const exit = await dyno.wait();
    await new Promise((r) => setImmediate(r));
    t.equal(exit.status, 0);
    t.equal(out, `0::/\n${64 * MiB}\n`);
    t.notOk(fs.existsSync(dyno.cgroupDirs[0]!), 'removed afterwards');
  });

  t.test('R15: node allocating 256 MB under --memory 128M is killed (137)', async (t) => {
    const r = await dynod(['run', '--app', app, '--memory', '128M', '--',
      'node', '-e', 'const b = Buffer.alloc(256 * 1024 * 1024, 1); console.log(b.length)']).result;
    t.equal(r.code, 137);
    t.equal(r.stdout, '', 'it never got to print');
    t.match(r.stderr, /^Error R15 \(Memory quota vastly exceeded\)$/m);
  });

  t.test('R15 through the library: oomKilled; memory.oom.group kills PID 1 too, so code is null and signal SIGKILL', async (t) => {
    const { run } = await import('../../src/index');
    const { exit } = await run({ command: ['node', '-e', 'Buffer.alloc(256 * 1024 * 1024, 1)'], app, memory: '128M' }, { stdout: 'ignore', stderr: 'ignore' });
    t.equal(exit.status, 137);
    t.equal(exit.oomKilled, true);
    t.equal(exit.error, null);
    // v1 has no oom.group: there only the allocating process dies and dynod-init exits 137.
    t.same([exit.code, exit.signal], [null, 'SIGKILL'], 'the whole dyno, dynod-init included, was killed');
  });

  t.test('8 dynos at once through the library: the shared <own>/dynod comes and goes, limits hold in every one', async (t) => {
    const { plan, start } = await import('../../src/index');
    const N = 8;
    const runs = Array.from({ length: N }, async (_, i) => {
      // staggered, so that some are created while others remove the shared parent
      await new Promise((r) => setTimeout(r, i * 150));
      const p = plan({ command: ['sh', '-c', `cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; sleep 0.${i % 3}`], app, memory: `${64 + i}M`, pids: 100 + i });
      const dyno = await start(p, { stdout: 'pipe', stderr: 'pipe' });
      let out = '';
      dyno.stdout!.on('data', (b: Buffer) => (out += b.toString()));
      const closed = new Promise((r) => dyno.stdout!.on('close', r));
      const exit = await dyno.wait();
      await closed;
      return { exit, out };
    });
    const results = await Promise.all(runs);
    results.forEach(({ exit, out }, i) => {
      t.equal(exit.status, 0, `dyno ${i}: ${exit.error?.message ?? ''}`);
      t.equal(out, `${(64 + i) * MiB}\n${100 + i}\n`, `dyno ${i}: its own limits`);
    });
    // the shared parents stay a moment for the next dyno (src/cgroup/idle-parents.ts), then go
    const { PARENTS_IDLE_MS } = await import('../../src/cgroup/idle-parents');
    for (const deadline = Date.now() + PARENTS_IDLE_MS + 10_000; fs.existsSync(root) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
    t.notOk(fs.existsSync(root), `nothing left, the parent included (once idle for ${PARENTS_IDLE_MS} ms)`);
  });

  t.test('--net host works on cgroup v2 (a tmpfs between the bound host /sys/fs/cgroup and the dyno\'s cgroup2)', async (t) => {
    for (const userns of ['private', 'host']) {
      const r = await dynod(['run', '--app', app, '--net', 'host', '--userns', userns, '--memory', '96M', '--',
        'sh', '-c', 'cat /sys/fs/cgroup/memory.max; cat /proc/self/cgroup']).result;
      t.equal(r.code, 0, `--userns ${userns}: ${r.stderr}`);
      t.equal(r.stdout, `${96 * MiB}\n0::/\n`, `--userns ${userns}: its own cgroup at /sys/fs/cgroup`);
    }
  });

  t.test('pids.max is enforced: 40 background sleeps under --pids 20 fail to fork', async (t) => {
    const r = await dynod(['run', '--app', app, '--pids', '20', '--user', 'root', '--',
      'sh', '-c', 'for i in $(seq 1 40); do sleep 3 & done; echo all-forked']).result;
    t.not(r.code, 0);
    t.notMatch(r.stdout, /all-forked/);
    t.match(r.stderr, /fork/i);
  });

  t.test('alone in a non-root cgroup without controllers enabled: dynod moves itself to dynod-supervisor', async (t) => {
    const cg = testCgroup('alone');
    t.same(words(`${cg}/cgroup.subtree_control`), [], 'no controllers enabled yet');
    const d = dynod(['run', '--app', app, '--memory', '64M', '-i', '--no-tty', '--',
      'sh', '-c', 'cat /sys/fs/cgroup/memory.max; echo ready; read x; echo bye'], { cgroup: cg, input: true });
    await d.waitForStdout(/ready\n/);
    t.same(procs(cg), [], 'nothing left in the cgroup itself (no internal processes)');
    t.same(procs(`${cg}/dynod-supervisor`), [d.pid], 'dynod moved to the leaf dynod-supervisor');
    for (const c of ['cpu', 'memory', 'pids']) {
      t.ok(words(`${cg}/cgroup.subtree_control`).includes(c), `${c} enabled in the cgroup`);
      t.ok(words(`${cg}/dynod/cgroup.subtree_control`).includes(c), `${c} enabled in its dynod/`);
    }
    const mine = subdirs(`${cg}/dynod/run`);
    t.equal(mine.length, 1);
    t.match(mine[0], /^run\.\d+-[0-9a-f]{8}$/);
    t.equal(read(`${cg}/dynod/run/${mine[0]}/memory.max`), String(64 * MiB));
    d.endInput();
    const r = await d.result;
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, `${64 * MiB}\nready\nbye\n`);
    t.same(subdirs(cg), ['dynod-supervisor'], 'the dyno cgroup and dynod/ are gone; the (now empty) dynod-supervisor leaf stays');
    t.same(procs(`${cg}/dynod-supervisor`), []);
  });

  t.test('in a cgroup that holds another process: dynod refuses with a clear message (125)', async (t) => {
    const cg = testCgroup('shared');
    const other = spawn('sh', ['-c', `echo $$ > '${cg}/cgroup.procs' && exec sleep 600`], { stdio: 'ignore' });
    t.teardown(() => { other.kill('SIGKILL'); });
    for (let i = 0; i < 500 && procs(cg).length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    t.same(procs(cg), [other.pid]);
    const r = await dynod(['run', '--app', app, '--', 'true'], { cgroup: cg }).result;
    t.equal(r.code, 125);
    t.equal(r.stdout, '');
    t.match(r.stderr, new RegExp(`^dynod: cgroup ${cg} holds other processes \\(${other.pid}\\), so its controllers cannot be delegated to dynod; run dynod in a cgroup of its own\\n$`));
    t.same(subdirs(cg), [], 'it leaves nothing behind in that cgroup');
    t.same(procs(cg), [other.pid], 'the other process is untouched');
    other.kill('SIGKILL');
    await new Promise((r) => other.once('close', r));
  });

  t.test('in a cgroup whose parent delegates no controllers: a clear error about cgroup v2 (125)', async (t) => {
    const parent = testCgroup('undelegated');
    const cg = path.join(parent, 'leaf');
    fs.mkdirSync(cg);
    t.same(words(`${cg}/cgroup.controllers`), [], 'no controllers available there');
    const r = await dynod(['run', '--app', app, '--', 'true'], { cgroup: cg }).result;
    t.equal(r.code, 125);
    t.match(r.stderr, /^dynod: cgroup v2: .*leaf.* lacks the cpu, memory and pids controllers/m);
    t.notMatch(r.stderr, /v1/, 'no talk of cgroup v1 on a v2-only host');
  });

  t.test('nothing is left in /sys/fs/cgroup', async (t) => {
    for (const d of testCgroups) removeTree(d);
    const left = allCgroups().filter((c) => !before.includes(c));
    const dynos = left.filter((c) => DYNO_NAME.test(path.basename(c)));
    t.same(dynos, [], 'no dyno cgroup is left');
    t.same(left, [], 'no cgroup at all is left, <own>/dynod included');
  });
}
