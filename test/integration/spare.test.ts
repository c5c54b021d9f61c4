// Spare namespaces (native/spare.h, src/engine/spare-ns.ts): after a start, the engine
// makes the next dyno's user and network namespaces with a helper (`dynod-spare`)
// parked in them, and the next start's PID 1 is cloned by that helper. That dyno must
// be what any other is: namespaces of its own, owned by its user namespace, its id
// range mapped, dynod-init as PID 1; and the spare must never outlive the engine.
// Root, real kernel; checked from inside the dyno and from the host.
import t from 'tap';
import * as fs from 'node:fs';
import { Engine, type Dyno } from '../../src/index';
import { tempApp } from '../helpers/app';
import { children, spawnPlan } from '../helpers/spawn';
import { native } from '../../src/native';

/** Our children named dynod-spare (the parked helpers). */
function spares(): number[] {
  const comm = (pid: number) => { try { return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return ''; } };
  return children().map(Number).filter((pid) => comm(pid) === 'dynod-spare');
}

const tick = () => new Promise((r) => setImmediate(r));
const NS = ['user', 'net', 'pid', 'mnt', 'uts', 'ipc', 'cgroup'];
const SCRIPT = `for n in ${NS.join(' ')}; do readlink /proc/self/ns/$n; done; cat /proc/self/uid_map; tr '\\0' ' ' < /proc/1/cmdline; echo; id -u; echo $$; cat /sys/class/net/lo/flags`;

async function inside(engine: Engine, app: string): Promise<{ dyno: Dyno; ns: string[]; map: string; init: string; uid: string; pid: string; lo: string; status: number }> {
  const dyno = await engine.start({ command: ['sh', '-c', SCRIPT], app, net: 'none' }, { stdout: 'pipe', stderr: 'inherit', trace: true });
  let out = '';
  dyno.stdout!.on('data', (b: Buffer) => (out += b));
  const exit = await dyno.wait();
  const l = out.trim().split('\n');
  return { dyno, ns: l.slice(0, NS.length), map: l[NS.length]!.trim().replace(/\s+/g, ' '), init: l[NS.length + 1]!, uid: l[NS.length + 2]!, pid: l[NS.length + 3]!, lo: l[NS.length + 4]!, status: exit.status };
}

t.test('a start after the second is cloned through a spare, and its dyno is like any other', async (t) => {
  const app = tempApp(t);
  const engine = new Engine();
  t.teardown(() => engine.close());
  const first = await inside(engine, app);
  t.notOk(first.dyno.traces.some((p) => p.phase === 'spare namespaces'), 'the first start makes its own namespaces');
  await tick();
  t.same(spares(), [], 'no spare after an engine\'s first start (a one-shot `dynod run` makes none)');
  // The second start runs on while the third is made: namespaces are told apart by inode,
  // and the kernel reuses the inodes of namespaces that are gone.
  const running = await engine.start({ command: ['sleep', '30'], app, net: 'none' }, { stdout: 'ignore', stderr: 'ignore', trace: true });
  t.teardown(() => running.stop(0));
  t.notOk(running.traces.some((p) => p.phase === 'spare namespaces'), 'the second start makes its own namespaces too');
  await tick();
  t.equal(spares().length, 1, 'one spare is parked after it');
  const helper = spares()[0]!;
  const helperUser = fs.readlinkSync(`/proc/${helper}/ns/user`);
  t.not(helperUser, fs.readlinkSync('/proc/self/ns/user'), 'the spare sits in a user namespace of its own');
  t.not(fs.readlinkSync(`/proc/${helper}/ns/net`), fs.readlinkSync('/proc/self/ns/net'), 'and a network namespace of its own');
  // lo up gives it ::1 (seen from the host in the namespace's own /proc/PID/net), where IPv6 is on
  const v6 = (pid: number | 'self') => { try { return fs.readFileSync(`/proc/${pid}/net/if_inet6`, 'utf8'); } catch { return ''; } };
  if (/ lo$/m.test(v6('self'))) t.match(v6(helper), / lo$/m, 'the spare brought its loopback up already');
  else t.comment('no IPv6 on lo here: the spare\'s loopback is checked from inside the dyno only');

  const second = await inside(engine, app);
  t.ok(second.dyno.traces.some((p) => p.phase === 'spare namespaces'), 'the third start took the spare');
  t.equal(second.status, 0);
  t.equal(second.ns[0], helperUser, 'its user namespace is the spare\'s');
  for (const [i, n] of NS.entries()) {
    t.not(second.ns[i], fs.readlinkSync(`/proc/self/ns/${n}`), `${n}: not the host's`);
    t.not(second.ns[i], fs.readlinkSync(`/proc/${running.pid}/ns/${n}`), `${n}: not the running dyno's`);
  }
  t.match(second.map, /^0 \d+ 65536$/, 'its id range is mapped (0-65535 inside)');
  t.not(second.map, '0 0 4294967295', 'not the host\'s ids');
  t.match(second.init, /^dynod-init /, 'PID 1 is dynod-init');
  t.equal(second.pid, '2', 'the command is PID 2, below its init');
  t.equal(second.uid, '30000', 'the command runs as the dyno user');
  t.equal(Number(second.lo) & 1, 1, `its loopback is up (flags ${second.lo})`);
  t.notOk(spares().includes(helper), 'the spare that was used is gone');
  if (second.dyno.cgroupVersion === 2) t.ok(second.dyno.bornInCgroup, 'cgroup v2: PID 1 was born in its cgroup (CLONE_INTO_CGROUP, from the spare)');

  // Its setup ran as the namespaces' owner (the hostname was set, /proc mounted), and its
  // root holds its capabilities there: binding port 80 takes CAP_NET_BIND_SERVICE in the
  // user namespace that owns the network namespace.
  const root = await engine.start({ command: ['sh', '-c', "hostname; node -e \"require('net').createServer().listen(80, '127.0.0.1', () => { console.log('bound 80'); process.exit(0); })\""], app, net: 'none', user: 'root' }, { stdout: 'pipe', stderr: 'pipe', trace: true });
  let out = '';
  let err = '';
  root.stdout!.on('data', (b: Buffer) => (out += b));
  root.stderr!.on('data', (b: Buffer) => (err += b));
  const e = await root.wait();
  t.ok(root.traces.some((p) => p.phase === 'spare namespaces'), 'through a spare');
  t.equal(e.status, 0, `root's commands ran ${err.trim()}`);
  t.equal(out, `${root.hostname}\nbound 80\n`, 'its hostname is its own, and its root binds port 80 in its network namespace');

  await engine.close();
  t.same(spares(), [], 'no spare after close()');
});

/** An engine after two starts: its spare parked (checked), the helper's pid. */
async function withSpare(t: Tap.Test): Promise<{ app: string; engine: Engine; helper: number }> {
  const app = tempApp(t);
  const engine = new Engine();
  t.teardown(() => engine.close());
  await inside(engine, app);
  await inside(engine, app);
  await tick();
  const [helper] = spares();
  t.ok(helper, 'a spare is parked');
  return { app, engine, helper: helper! };
}

t.test('a spare killed while parked: the next start makes its own clone', async (t) => {
  const { app, engine, helper } = await withSpare(t);
  process.kill(helper, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 20));
  const r = await inside(engine, app);
  t.equal(r.status, 0, 'the start succeeded');
  t.match(r.map, /^0 \d+ 65536$/, 'with its id range mapped by dynod');
  await tick();
  t.equal(spares().length, 1, 'and a new spare is parked');
  await engine.close();
  t.same(spares(), [], 'none after close()');
});

t.test('a start that fails after it took the spare ends the spare and frees its id range', async (t) => {
  const { engine, helper } = await withSpare(t);
  const ids = (engine as unknown as { ids: { size: number } }).ids;
  t.equal(ids.size, 1, 'the spare holds one id range');
  // The app directory goes after the plan is made: the start fails at its /app mount.
  const gone = tempApp(t);
  const plan = engine.plan({ command: ['true'], app: gone, net: 'none' });
  fs.rmSync(gone, { recursive: true });
  await t.rejects(engine.start(plan));
  t.notOk(spares().includes(helper), 'the spare it took is gone');
  await tick();
  t.equal(ids.size, spares().length, 'and so is its id range: the only one held is the next spare\'s');
  await engine.close();
  t.equal(ids.size, 0, 'none after close()');
});

t.test('the addon: a spare whose maps are not the spawn\'s is ended and the clone made as without one', async (t) => {
  const n = native();
  const map = (base: number) => `0 ${base} 65536\n`;
  const run = async (spareMap: string, base: number) => {
    const sp = spawnPlan(t, ['true'], { userns: 'private', net: 'none', idBase: base });
    sp.spare = n.spareMake(spareMap, spareMap);
    t.equal(spares().length, 1, 'the spare is parked (named: spareMake returns once it is)');
    const r = n.spawn(sp);
    const exit = await new Promise<{ code: number | null; signal: number | null }>((res) => n.watchExit(r.pidfd, res));
    t.same({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, 'the dyno ran');
    t.equal(n.spareDiscard(sp.spare), false, 'the spawn took the spare');
    t.same(spares(), [], 'and ended it');
    return r.viaSpare;
  };
  t.equal(await run(map(4_000_000_000), 4_000_000_000), true, 'the same maps: cloned by the spare');
  t.equal(await run(map(4_000_100_000), 4_000_000_000), false, 'other maps: cloned without it');
  t.throws(() => n.spareMake('', '0 1 1\n'), { name: 'TypeError', message: /^spareMake: uidMap must be/ });
});
