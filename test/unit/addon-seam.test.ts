// The N-API seam checks its input: a malformed plan (or argument) is a TypeError
// naming the function and the field's path, thrown before anything is cloned.
// No root needed: nothing here reaches the kernel.
import t from 'tap';
import { children } from '../helpers/spawn';
import { native } from '../../src/native';
import type { NativeSpawnPlan } from '../../src/addon';
import { compileSpawn } from '../../src/dyno/compile';
import { planDyno } from '../../src/dyno/plan';
import { APP, fakeFacts } from './fixtures/facts';

/** A plan the addon accepts (all cases below break one field of a copy). */
function goodPlan(): NativeSpawnPlan {
  const plan = planDyno({ command: ['true'], net: 'host' }, fakeFacts(), APP);
  return compileSpawn(plan, {
    hostname: 'seam', cgroup: { intoDir: '', procsFiles: [] }, stdio: [0, 1, 2], initFd: 0, appMountFd: -1, idBase: 0x40000000, seccompFd: -1, trace: false,
  });
}

/** Our own children, from every thread: a clone would show up here. */

type Edit = (p: any) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

const at = (plan: NativeSpawnPlan, op: string) => plan.ops.findIndex((o) => o.op === op);

t.test('spawn: a bad field is a TypeError naming it, before any clone', async (t) => {
  const base = goodPlan();
  const mount = at(base, 'mount');
  const mkdir = at(base, 'mkdir');
  const setattr = at(base, 'setattr');
  t.ok(mount >= 0 && mkdir >= 0 && setattr >= 0, 'the plan has mount, mkdir and setattr ops');
  const cases: Array<[string, Edit, string]> = [
    ['a number for a path', (p) => (p.ops[mount].target = 42), `spawn: plan.ops[${mount}].target must be a string`],
    ['a missing nullable field', (p) => delete p.ops[mount].fstype, `spawn: plan.ops[${mount}].fstype must be a string or null`],
    ['a string for flags', (p) => (p.ops[mount].flags = '4096'), `spawn: plan.ops[${mount}].flags must be an integer in 0..4294967295`],
    ['a fractional mode', (p) => (p.ops[mkdir].mode = 0.5), `spawn: plan.ops[${mkdir}].mode must be an integer in 0..4095`],
    ['uid without gid', (p) => (p.ops[mkdir].uid = 0), `spawn: plan.ops[${mkdir}].gid must be given when the other of uid and gid is`],
    ['setattr\'s old mode field', (p) => (p.ops[setattr].mode = 1), `spawn: plan.ops[${setattr}] has an unknown field "mode"`],
    ['setattr without recursive', (p) => delete p.ops[setattr].recursive, `spawn: plan.ops[${setattr}].recursive must be a boolean`],
    ['a dropped op', (p) => (p.ops[0] = { op: 'chdir', step: 'x', path: '/' }), 'spawn: plan.ops[0].op must be one of'],
    ['an op that is not an object', (p) => (p.ops[1] = 'mount'), 'spawn: plan.ops[1] must be an object'],
    ['a NUL inside a path', (p) => (p.ops[mount].target = '/a\0b'), `spawn: plan.ops[${mount}].target must be a string without NUL characters`],
    ['a string for cloneFlags', (p) => (p.cloneFlags = '0'), 'spawn: plan.cloneFlags must be an integer in 0..4294967295'],
    ['a missing trace', (p) => delete p.trace, 'spawn: plan.trace must be a boolean'],
    ['two stdio fds', (p) => (p.stdio = [0, 1]), 'spawn: plan.stdio must be an array of 3 fds'],
    ['a negative stdio fd', (p) => (p.stdio[2] = -1), 'spawn: plan.stdio[2] must be an integer in 0..2147483647'],
    ['a missing initFd', (p) => delete p.initFd, 'spawn: plan.initFd must be an integer in 0..2147483647'],
    ['a number in argv', (p) => (p.argv[1] = 3), 'spawn: plan.argv[1] must be a string'],
    ['an empty argv', (p) => (p.argv = []), 'spawn: plan.argv must be a non-empty array of strings'],
    ['a fractional rlimit', (p) => (p.rlimits[1].soft = 1.5), 'spawn: plan.rlimits[1].soft must be an integer in -1..'],
    ['cgroupProcs not an array', (p) => (p.cgroupProcs = '/x/cgroup.procs'), 'spawn: plan.cgroupProcs must be an array'],
    ['a cgroup to join without a join-cgroup op', (p) => { p.cgroupProcs = ['/x/cgroup.procs']; p.ops = p.ops.filter((o: { op: string }) => o.op !== 'join-cgroup'); }, 'spawn: plan.ops must be a list with a join-cgroup op when cgroupProcs is not empty'],
  ];
  const before = children();
  for (const [what, edit, message] of cases) {
    const plan = structuredClone(base);
    edit(plan);
    t.throws(() => native().spawn(plan), { name: 'TypeError', message: new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`) }, what);
  }
  t.same(children(), before, 'no process was cloned');
  t.throws(() => native().spawn(null as never), { name: 'TypeError', message: 'spawn: plan must be an object' });
  t.throws(() => (native().spawn as (...a: unknown[]) => unknown)(), { name: 'TypeError', message: 'Usage: spawn(plan)' });
});

t.test('spawn and enter take their request as JSON text, parsed strictly (native/json.h)', async (t) => {
  const raw = require('../../src/native').buildFile('dynod.node'); // eslint-disable-line @typescript-eslint/no-require-imports
  const addon = require(raw) as { spawn(text: unknown): unknown; enter(text: unknown): unknown }; // eslint-disable-line @typescript-eslint/no-require-imports
  const before = children();
  const good = JSON.stringify(goodPlan());
  const bad: Array<[string, unknown, RegExp]> = [
    ['not a string', {}, /^spawn: plan must be the JSON text of an object/],
    ['cut short', good.slice(0, 200), /^spawn: plan must be the JSON text of an object \(not JSON at byte \d+\)/],
    ['trailing text', `${good} x`, /not JSON at byte \d+/],
    ['a single-quoted string', good.replace('"cloneFlags"', "'cloneFlags'"), /not JSON at byte/],
    ['a raw control character in a string', good.replace('"step":"', '"step":"\u0001'), /not JSON at byte/],
    ['a bad escape', good.replace('"step":"', '"step":"\\x'), /not JSON at byte/],
    ['a number with a leading zero', good.replace(/"initFd":\d+/, '"initFd":01'), /not JSON at byte/],
    ['an array at the top', `[${good}]`, /^spawn: plan must be an object/],
    ['nesting past 64 levels', `${'['.repeat(70)}${']'.repeat(70)}`, /not JSON at byte/],
  ];
  for (const [what, text, message] of bad) t.throws(() => addon.spawn(text), { name: 'TypeError', message }, what);
  t.throws(() => addon.enter('{"pid": 1'), { name: 'TypeError', message: /^enter: request must be the JSON text of an object \(not JSON/ });
  // JSON's escapes decode to the UTF-8 that N-API's conversion gives: a pair to one
  // character, a lone surrogate to U+FFFD; the field check sees the decoded text.
  const withNul = good.replace(/"step":"[^"]*"/, '"step":"a\\u0000b"');
  t.throws(() => addon.spawn(withNul), { name: 'TypeError', message: /^spawn: plan\.ops\[0\]\.step must be a string without NUL characters/ }, '\\u0000 is a NUL');
  t.same(children(), before, 'no process was cloned');
});

t.test('the other entry points check their arguments too', async (t) => {
  const n = native();
  t.throws(() => n.signal('3' as never, 15), { name: 'TypeError', message: 'signal: pidfd must be an integer in 0..2147483647' });
  t.throws(() => n.signal(3, 65), { name: 'TypeError', message: 'signal: signal must be an integer in 0..64' });
  t.throws(() => n.lockRange(0, -1), { name: 'TypeError', message: /^lockRange: index must be an integer/ });
  t.throws(() => n.flock(0, 1 as never), { name: 'TypeError', message: 'flock: exclusive must be a boolean' });
  t.throws(() => n.resizePty(0, 24, 70000), { name: 'TypeError', message: 'resizePty: cols must be an integer in 0..65535' });
  t.throws(() => n.idmapMount(7 as never, '', ''), { name: 'TypeError', message: 'idmapMount: path must be a string' });
  t.throws(() => n.idmapMount('/', 3 as never, ''), { name: 'TypeError', message: 'idmapMount: uidMap must be a string' });
  t.throws(() => n.watchExit(-1, () => {}), { name: 'TypeError', message: 'watchExit: fd must be an integer in 0..2147483647' });
  t.throws(() => n.netnsDiagSocket(-2), { name: 'TypeError', message: 'netnsDiagSocket: pidfd must be an integer in 0..2147483647' });
  t.throws(() => n.tcpListening(3, 0), { name: 'TypeError', message: 'tcpListening: port must be an integer in 1..65535' });
  t.throws(() => n.tcpListening('3' as never, 80), { name: 'TypeError', message: 'tcpListening: diagFd must be an integer in 0..2147483647' });
  const action = { kind: 'allow' as const, value: 0 };
  const filter = { defaultAction: action, badArchAction: action, arches: [], enosysAboveKnown: false, rules: [{ syscall: 'read', action, args: [{ index: 0, op: 'eq' as const, value: 1n, valueTwo: 0n }] }] };
  t.throws(() => n.compileSeccomp({ ...filter, rules: [{ ...filter.rules[0]!, args: [{ index: 0, op: 'eq', value: 1 as never, valueTwo: 0n }] }] }),
    { name: 'TypeError', message: 'compileSeccomp: filter.rules[0].args[0].value must be a bigint in 0..2^64-1' });
  t.throws(() => n.compileSeccomp({ ...filter, defaultAction: { kind: 'allow', value: undefined as never } }),
    { name: 'TypeError', message: 'compileSeccomp: filter.defaultAction.value must be an integer in 0..4294967295' });
});
