import t from 'tap';
import { applyScale, formatFormation, formatScaled, MAX_DYNOS, parseFormation, parseScaleArgs } from '../../src/formation/formation-spec';
import { parseProcfile } from '../../src/formation/procfile';
import type { FormationEntry, Procfile, ScaleChange } from '../../src/formation/types';
import { SIZES, type SizeName } from '../../src/dyno/sizes';
import { UsageError } from '../../src/errors';
import { check, fuzz, type Rng } from './fixtures/fuzz';

// ============================================================================
// Formations: `dynod start [FORMATION]`, `dynod scale` arguments, and their output
// (src/formation/formation-spec.ts; heroku-dynos.md sections 1, 4.2 and 5).

const P = parseProcfile('web: node server.js\nworker: node worker.js\nrelease: ./migrate\nclock: node clock.js\n');
const E = (type: string, quantity: number, size: SizeName = 'standard-1x'): FormationEntry => ({ type, quantity, size });
const SIZE_LIST = SIZES.map((s) => s.name).join(', ');
const FORM = 'expected TYPE, TYPE=N or TYPE=N:SIZE separated by commas (e.g. web=2,worker=1; all=N for every type)';
const SCALE_FORM = 'expected TYPE=N, TYPE+N or TYPE-N, optionally with :SIZE (e.g. web=2, worker+1, web-1, web=2:standard-2x)';
const NOT_FOUND = (x: string) => `Couldn't find that process type (${x}). Process types: web, worker, clock`;
const RELEASE = 'release is never part of the formation: it runs once for each new release (the release phase); scale the other types';

t.test('parseFormation: the formation of dynod start', async (t) => {
  const cases: Array<[string | undefined, FormationEntry[] | string]> = [
    // `heroku local` with no argument: every type but release
    [undefined, [E('web', 1), E('worker', 1), E('clock', 1)]],
    ['web=2,worker=1', [E('web', 2), E('worker', 1), E('clock', 0)]],
    ['web=2:standard-2x', [E('web', 2, 'standard-2x'), E('worker', 0), E('clock', 0)]],
    ['web=2:Standard-2X,worker=1:PERFORMANCE-M', [E('web', 2, 'standard-2x'), E('worker', 1, 'performance-m'), E('clock', 0)]],
    // bare names are 1 each as in node-foreman / heroku local; foreman reads them as 0
    ['web,worker', [E('web', 1), E('worker', 1), E('clock', 0)]],
    ['web:standard-2x', [E('web', 1, 'standard-2x'), E('worker', 0), E('clock', 0)]],
    // foreman's all=N, in any order with the named types
    ['all=2', [E('web', 2), E('worker', 2), E('clock', 2)]],
    ['all=2,web=0', [E('web', 0), E('worker', 2), E('clock', 2)]],
    ['web=0,all=3', [E('web', 0), E('worker', 3), E('clock', 3)]],
    ['all=1:performance-m,web=2', [E('web', 2, 'performance-m'), E('worker', 1, 'performance-m'), E('clock', 1, 'performance-m')]],
    ['all=0', [E('web', 0), E('worker', 0), E('clock', 0)]],
    [' web=1 , clock=2 ', [E('web', 1), E('worker', 0), E('clock', 2)]],
    ['web=007', [E('web', 7), E('worker', 0), E('clock', 0)]],
    ['web=60,worker=40', [E('web', 60), E('worker', 40), E('clock', 0)]],
    ['web=100', [E('web', 100), E('worker', 0), E('clock', 0)]],
    // errors
    ['nope=1', NOT_FOUND('nope')],
    ['web=1,nope', NOT_FOUND('nope')],
    ['Web=1', NOT_FOUND('Web')],
    ['release=1', `formation "release=1": ${RELEASE}`],
    ['web,release', `formation "web,release": ${RELEASE}`],
    ['web=101', 'formation "web=101": web=101: at most 100 dynos of a type'],
    ['web=60,worker=41', 'formation "web=60,worker=41": 101 dynos in all; an app runs at most 100 dynos'],
    ['all=34', 'formation "all=34": 102 dynos in all; an app runs at most 100 dynos'],
    ['web=x', `formation "web=x": bad item "web=x"; ${FORM}`],
    ['web=-1', `formation "web=-1": bad item "web=-1"; ${FORM}`],
    ['web = 1', `formation "web = 1": bad item "web = 1"; ${FORM}`],
    ['web=1 worker=1', `formation "web=1 worker=1": bad item "web=1 worker=1"; ${FORM}`],
    ['web=1:', `formation "web=1:": bad item "web=1:"; ${FORM}`],
    ['web.1=1', `formation "web.1=1": bad item "web.1=1"; ${FORM}`],
    ['web=1,,worker=1', `formation "web=1,,worker=1": an empty item; ${FORM}`],
    ['web=1,', `formation "web=1,": an empty item; ${FORM}`],
    ['', `formation "": empty; ${FORM}`],
    ['  ', `formation "  ": empty; ${FORM}`],
    ['web=1,web=2', `formation "web=1,web=2": web is given twice; ${FORM}`],
    ['all=1,all=2', `formation "all=1,all=2": all is given twice; ${FORM}`],
    ['web=1:huge', `formation "web=1:huge": web=1:huge: unknown size "huge"; valid sizes: ${SIZE_LIST}`],
  ];
  for (const [spec, want] of cases) {
    if (typeof want === 'string') t.throws(() => parseFormation(spec, P, 'standard-1x'), { name: 'UsageError', message: want }, String(spec));
    else t.strictSame(parseFormation(spec, P, 'standard-1x'), want, String(spec));
  }
  t.strictSame(parseFormation(undefined, P, 'performance-m'), [E('web', 1, 'performance-m'), E('worker', 1, 'performance-m'), E('clock', 1, 'performance-m')], 'the default size');
  t.strictSame(parseFormation('web', P, 'eco'), [E('web', 1, 'eco'), E('worker', 0, 'eco'), E('clock', 0, 'eco')]);
  const onlyRelease = parseProcfile('release: ./migrate');
  t.strictSame(parseFormation(undefined, onlyRelease, 'standard-1x'), [], 'release alone: nothing to run');
  t.throws(() => parseFormation('web', onlyRelease, 'standard-1x'), { message: "Couldn't find that process type (web). Process types: none" });
  // foreman's all is the shorthand even when a type is named all
  const withAll = parseProcfile('all: x\nweb: y');
  t.strictSame(parseFormation('all=2,web=1', withAll, 'standard-1x'), [E('all', 2), E('web', 1)]);
});

t.test('parseScaleArgs: the heroku CLI grammar, every argument checked', async (t) => {
  const cases: Array<[string[], ScaleChange[] | string]> = [
    [[], []],
    [['web=3'], [{ type: 'web', op: '=', amount: 3 }]],
    [['worker+1', 'web-1'], [{ type: 'worker', op: '+', amount: 1 }, { type: 'web', op: '-', amount: 1 }]],
    [['web=2:standard-2x'], [{ type: 'web', op: '=', amount: 2, size: 'standard-2x' }]],
    [['web=2:Standard-2X', 'clock+0:eco'], [{ type: 'web', op: '=', amount: 2, size: 'standard-2x' }, { type: 'clock', op: '+', amount: 0, size: 'eco' }]],
    [['my-worker=2', 'job_2=0'], [{ type: 'my-worker', op: '=', amount: 2 }, { type: 'job_2', op: '=', amount: 0 }]],
    // the regex is greedy: worker-2-1 takes 1 from type worker-2, as the heroku CLI reads it
    [['worker-2-1'], [{ type: 'worker-2', op: '-', amount: 1 }]],
    [['web=0100'], [{ type: 'web', op: '=', amount: 100 }]],
    // the output of formatFormation is valid input
    [['clock=0:Standard-1X', 'web=3:Performance-L-RAM'], [{ type: 'clock', op: '=', amount: 0, size: 'standard-1x' }, { type: 'web', op: '=', amount: 3, size: 'performance-l-ram' }]],
    // the heroku CLI drops what does not match, silently (heroku/heroku-apps#128)
    [['garbage'], `scale "garbage": ${SCALE_FORM}`],
    [['web=1', 'garbage'], `scale "garbage": ${SCALE_FORM}`],
    [['web'], `scale "web": ${SCALE_FORM}`],
    [['web='], `scale "web=": ${SCALE_FORM}`],
    [['web=x'], `scale "web=x": ${SCALE_FORM}`],
    [['web=1.5'], `scale "web=1.5": ${SCALE_FORM}`],
    [['=1'], `scale "=1": ${SCALE_FORM}`],
    [['web=1:'], `scale "web=1:": ${SCALE_FORM}`],
    [['web =1'], `scale "web =1": ${SCALE_FORM}`],
    [['web.1=2'], `scale "web.1=2": ${SCALE_FORM}`],
    [['web=1,worker=1'], `scale "web=1,worker=1": ${SCALE_FORM}`],
    [[''], `scale "": ${SCALE_FORM}`],
    [['web=1:huge'], `scale "web=1:huge": unknown size "huge"; valid sizes: ${SIZE_LIST}`],
    [['web=101'], 'scale "web=101": 101 is more than 100, the most dynos an app runs'],
    [['web+1', 'web=2'], 'scale "web=2": web is given twice; give each type once'],
  ];
  for (const [args, want] of cases) {
    if (typeof want === 'string') t.throws(() => parseScaleArgs(args), { name: 'UsageError', message: want }, JSON.stringify(args));
    else t.strictSame(parseScaleArgs(args), want, JSON.stringify(args));
  }
});

t.test('applyScale: set, add, remove, resize; the current formation is not changed', async (t) => {
  const current = [E('web', 2), E('worker', 1), E('clock', 0, 'standard-2x')];
  const frozen = JSON.stringify(current);
  const scale = (...args: string[]) => applyScale(current, parseScaleArgs(args));
  t.strictSame(scale('web=3'), { next: [E('web', 3), E('worker', 1), E('clock', 0, 'standard-2x')], changed: ['web'] });
  t.strictSame(scale('worker+2', 'web-1'), { next: [E('web', 1), E('worker', 3), E('clock', 0, 'standard-2x')], changed: ['web', 'worker'] }, 'changed in formation order');
  t.strictSame(scale('web-5'), { next: [E('web', 0), E('worker', 1), E('clock', 0, 'standard-2x')], changed: ['web'] }, 'below 0 stops at 0');
  t.strictSame(scale('web=2:performance-m'), { next: [E('web', 2, 'performance-m'), E('worker', 1), E('clock', 0, 'standard-2x')], changed: ['web'] });
  t.strictSame(scale('clock+0:standard-1x'), { next: [E('web', 2), E('worker', 1), E('clock', 0)], changed: ['clock'] });
  t.strictSame(scale('web=2'), { next: current, changed: ['web'] }, 'named, even when nothing changes (as the heroku CLI prints it)');
  t.strictSame(scale(), { next: current, changed: [] });
  t.strictSame(scale('web=97'), { next: [E('web', 97), E('worker', 1), E('clock', 0, 'standard-2x')], changed: ['web'] }, '98 in all');
  t.throws(() => scale('nope=1'), { name: 'UsageError', message: NOT_FOUND('nope') });
  t.throws(() => scale('release=1'), { name: 'UsageError', message: `scale release=1: ${RELEASE}` });
  t.throws(() => scale('web=100'), { name: 'UsageError', message: 'scale web=100: 101 dynos in all; an app runs at most 100 dynos' });
  t.throws(() => scale('web+99'), { name: 'UsageError', message: 'scale web+99: 101 dynos of web; at most 100' });
  t.throws(() => scale('web+50', 'worker+50'), { name: 'UsageError', message: 'scale web+50 worker+50: 103 dynos in all; an app runs at most 100 dynos' });
  t.throws(() => applyScale(current, [{ type: 'web', op: '=', amount: 1, size: 'huge' as SizeName }]), { name: 'UsageError', message: `unknown size "huge"; valid sizes: ${SIZE_LIST}` });
  t.equal(JSON.stringify(current), frozen);
});

t.test('formatFormation and formatScaled: the heroku CLI lines', async (t) => {
  const f = [E('worker', 1), E('web', 3, 'standard-2x'), E('clock', 0, 'performance-l-ram')];
  t.equal(formatFormation(f), 'clock=0:Performance-L-RAM web=3:Standard-2X worker=1:Standard-1X');
  // sorted as strings, as the heroku CLI does: "-" sorts before "=", uppercase before lowercase
  t.equal(formatFormation([E('web', 1), E('web-2', 1, 'eco'), E('Web', 2, 'basic')]), 'Web=2:Basic web-2=1:Eco web=1:Standard-1X');
  t.equal(formatFormation([]), '');
  t.equal(formatScaled([E('web', 3, 'standard-2x'), E('worker', 1)], ['web', 'worker']), 'Scaling dynos... done, now running web at 3:Standard-2X, worker at 1:Standard-1X');
  t.equal(formatScaled(f, ['web']), 'Scaling dynos... done, now running web at 3:Standard-2X');
  t.equal(formatScaled(f, ['clock', 'worker']), 'Scaling dynos... done, now running worker at 1:Standard-1X, clock at 0:Performance-L-RAM', 'in the order of the entries');
});

// ============================================================================
// Properties, on seeded random input (DYNOD_TEST_SEED reruns a failure).

const NAME_START = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_';
const SIZE_NAMES = SIZES.map((s) => s.name);

/** A random formation of distinct types (never release or run), at most MAX_DYNOS in all. */
function genFormation(rng: Rng): FormationEntry[] {
  const out: FormationEntry[] = [];
  let left = MAX_DYNOS;
  for (let n = rng.int(1, 8); n > 0 || out.length === 0; n--) {
    const type = rng.pick(NAME_START) + rng.string(`${NAME_START}-`, 0, 10);
    if (type === 'release' || type === 'run' || type === 'all' || out.some((e) => e.type === type)) continue;
    const quantity = rng.int(0, Math.min(left, rng.chance(0.8) ? 5 : MAX_DYNOS));
    left -= quantity;
    out.push({ type, quantity, size: rng.pick(SIZE_NAMES) });
  }
  return out;
}

const procfileOf = (f: FormationEntry[]): Procfile => parseProcfile(f.map((e) => `${e.type}: run-${e.type}`).join('\n'));

t.test('round trip: formatFormation → parseScaleArgs → applyScale gives the formation back', async (t) => {
  fuzz(t, 'scale round trip', 3000, (rng, show) => {
    const f = genFormation(rng);
    const text = formatFormation(f);
    show(text);
    const zero = f.map((e) => ({ ...e, quantity: rng.int(0, 3), size: 'standard-1x' as SizeName }));
    const { next, changed } = applyScale(zero, parseScaleArgs(text === '' ? [] : text.split(' ')));
    check(JSON.stringify(next) === JSON.stringify(f), `got ${JSON.stringify(next)}`);
    check(JSON.stringify(changed) === JSON.stringify(f.map((e) => e.type)), `changed ${JSON.stringify(changed)}`);
    check(formatFormation(next) === text, 'formatted differently');
  });
});

t.test('round trip: a formation spec made from a formation parses back to it', async (t) => {
  fuzz(t, 'formation round trip', 3000, (rng, show) => {
    const f = genFormation(rng);
    const items = f.filter((e) => e.quantity > 0 || rng.chance(0.5)).map((e) => {
      const q = e.quantity === 1 && rng.chance(0.5) ? '' : `=${e.quantity}`;
      return `${rng.pick(['', ' '])}${e.type}${q}:${rng.chance(0.5) ? e.size : e.size.toUpperCase()}`;
    });
    const spec = items.length ? items.join(',') : undefined;
    show(spec);
    const got = parseFormation(spec, procfileOf(f), 'standard-1x');
    const want = spec === undefined ? f.map((e) => ({ ...e, quantity: 1, size: 'standard-1x' })) : f.map((e) => (items.some((i) => i.trim().startsWith(`${e.type}:`) || i.trim().startsWith(`${e.type}=`)) ? e : { ...e, quantity: 0, size: 'standard-1x' }));
    check(JSON.stringify(got) === JSON.stringify(want), `got ${JSON.stringify(got)}, wanted ${JSON.stringify(want)}`);
  });
});

const ARG_CHARS = [...'webrkWX019_-=+:. ,', 'all', 'release', 'standard-2x', 'eco', 'Performance-M', '100', '\u00e9'];

t.test('random scale arguments: changes that match the grammar, or a UsageError naming the argument', async (t) => {
  fuzz(t, 'scale arguments', 4000, (rng, show) => {
    const args = Array.from({ length: rng.int(0, 4) }, () => rng.string(ARG_CHARS, 0, 8));
    show(args);
    let changes: ScaleChange[];
    try {
      changes = parseScaleArgs(args);
    } catch (e) {
      check(e instanceof UsageError, `threw ${(e as Error)?.name}`);
      const msg = (e as UsageError).message;
      check(args.some((a) => msg.startsWith(`scale ${JSON.stringify(a)}: `)), `does not name an argument: ${msg}`);
      check(/expected TYPE=N|valid sizes: |the most dynos an app runs|give each type once/.test(msg), `does not say what is accepted: ${msg}`);
      return;
    }
    check(changes.length === args.length, 'an argument was dropped');
    changes.forEach((c, i) => {
      const m = /^([\w-]+)([=+-]\d+)(?::([\w-]+))?$/.exec(args[i]!);
      check(m !== null && m[1] === c.type && m[2] === `${c.op}${args[i]!.slice(c.type.length + 1).split(':')[0]}`, `${args[i]} read as ${JSON.stringify(c)}`);
      check(Number.isInteger(c.amount) && c.amount >= 0 && c.amount <= MAX_DYNOS, `amount ${c.amount}`);
      check(c.size === undefined || SIZE_NAMES.includes(c.size), `size ${c.size}`);
    });
  });
});

t.test('random formation specs: a full formation, or a UsageError naming the spec', async (t) => {
  const procfile = parseProcfile('web: a\nworker: b\nrelease: c\nall-in: d\nw: e');
  const types = ['web', 'worker', 'all-in', 'w'];
  fuzz(t, 'formation specs', 4000, (rng, show) => {
    const item = () =>
      `${rng.pick([...types, 'all', 'release', 'nope', ''])}${rng.chance(0.7) ? `=${rng.pick([rng.int(0, 9), rng.int(0, 60), 100, 101, -1])}` : ''}${rng.chance(0.3) ? `:${rng.pick([...SIZE_NAMES, 'huge', ''])}` : ''}`;
    const spec = rng.chance(0.05) ? undefined : rng.chance(0.5) ? rng.string(ARG_CHARS, 0, 12) : Array.from({ length: rng.int(1, 5) }, item).join(',');
    show(spec);
    let f: FormationEntry[];
    try {
      f = parseFormation(spec, procfile, 'standard-1x');
    } catch (e) {
      check(e instanceof UsageError, `threw ${(e as Error)?.name}`);
      const msg = (e as UsageError).message;
      check(msg.startsWith(`formation ${JSON.stringify(spec)}: `) || msg.startsWith("Couldn't find that process type ("), `does not name the spec: ${msg}`);
      check(/expected TYPE, TYPE=N|valid sizes: |at most 100|Process types: web, worker, all-in, w$|the release phase/.test(msg), `does not say what is accepted: ${msg}`);
      return;
    }
    check(JSON.stringify(f.map((e) => e.type)) === JSON.stringify(types), `types ${JSON.stringify(f.map((e) => e.type))}`);
    check(f.every((e) => Number.isInteger(e.quantity) && e.quantity >= 0 && e.quantity <= MAX_DYNOS && SIZE_NAMES.includes(e.size)), 'bad entry');
    check(f.reduce((n, e) => n + e.quantity, 0) <= MAX_DYNOS, 'more than 100 dynos');
  });
});

t.test('random scaling sequences agree with a plain model and keep the limits', async (t) => {
  fuzz(t, 'scale sequences', 2000, (rng, show) => {
    let f = genFormation(rng);
    const steps: string[][] = [];
    show(steps);
    for (let n = rng.int(1, 6); n > 0; n--) {
      const picked = new Set<string>();
      const args: string[] = [];
      for (let k = rng.int(1, 3); k > 0; k--) {
        const e = rng.pick(f);
        if (picked.has(e.type)) continue;
        picked.add(e.type);
        args.push(`${e.type}${rng.pick(['=', '+', '-'])}${rng.int(0, rng.chance(0.9) ? 10 : 100)}${rng.chance(0.3) ? `:${rng.pick(SIZE_NAMES)}` : ''}`);
      }
      steps.push(args);
      const changes = parseScaleArgs(args);
      const model = f.map((e) => {
        const c = changes.find((x) => x.type === e.type);
        if (!c) return e;
        const q = c.op === '=' ? c.amount : c.op === '+' ? e.quantity + c.amount : Math.max(0, e.quantity - c.amount);
        return { ...e, quantity: q, size: c.size ?? e.size };
      });
      const total = model.reduce((s, e) => s + e.quantity, 0);
      try {
        const { next } = applyScale(f, changes);
        check(total <= MAX_DYNOS && model.every((e) => e.quantity <= MAX_DYNOS), `accepted ${total} dynos`);
        check(JSON.stringify(next) === JSON.stringify(model), `got ${JSON.stringify(next)}, model ${JSON.stringify(model)}`);
        f = next;
      } catch (e) {
        check(e instanceof UsageError && (total > MAX_DYNOS || model.some((x) => x.quantity > MAX_DYNOS)), `refused ${JSON.stringify(args)}: ${(e as Error).message}`);
      }
    }
  });
});
