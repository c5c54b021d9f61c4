'use strict';
// Preloaded into `dynod run` (NODE_OPTIONS=--require=…) by the benchmark's timeline
// step; never part of dynod itself. Records CLOCK_MONOTONIC (process.hrtime) marks of
// a CLI start and appends them as one JSON line to $DYNOD_BENCH_PROBE at exit:
//   origin      Node's performance.timeOrigin (process start, as Node sees it)
//   preload     this file starts running (user code begins)
//   bootstrap   Node's bootstrap complete (performance.nodeTiming)
//   main        the CLI's code is loaded: main() calls commander's parseAsync
//   t0          the Dyno's own time origin (dyno.ts `t0`: the trace's 0 ms)
//   exit        process 'exit' event
// plus dyno.traces (ms relative to t0). The difference between the harness's own
// spawn/exit stamps and these marks is exec + Node start-up, and Node teardown.
const fs = require('node:fs');
const Module = require('node:module');
const { performance } = require('node:perf_hooks');

const out = process.env.DYNOD_BENCH_PROBE;
const hr = () => process.hrtime.bigint();
const nowNs = hr();
const originNs = nowNs - BigInt(Math.round(performance.now() * 1e6));
const marks = { origin: originNs, preload: nowNs };
let dyno = null;
// The bundled CLI (dist/cli/dynod.js, see scripts/build-cli.js) loads its modules
// without Module._load; its entry hands them to this hook before main() runs.
globalThis.__dynodBenchProbe = (mods) => patch(mods);
const origLoad = Module._load;
Module._load = function () {
  return patch(origLoad.apply(this, arguments));
};
function patch(m) {
  if (m && typeof m.Dyno === 'function' && typeof m.Dyno.start === 'function' && !m.Dyno.__benchProbe) {
    const start = m.Dyno.start;
    m.Dyno.start = async function (...args) {
      dyno = await start.apply(this, args);
      return dyno;
    };
    m.Dyno.__benchProbe = true;
  }
  // main() of the CLI calls commander's parseAsync once every module is loaded
  if (m && typeof m.Command === 'function' && m.Command.prototype.parseAsync && !m.Command.__benchProbe) {
    const parseAsync = m.Command.prototype.parseAsync;
    m.Command.prototype.parseAsync = function (...args) {
      marks.main ??= hr();
      return parseAsync.apply(this, args);
    };
    m.Command.__benchProbe = true;
  }
  return m;
}
process.on('exit', () => {
  marks.exit = hr();
  const boot = performance.nodeTiming.bootstrapComplete;
  if (boot > 0) marks.bootstrap = originNs + BigInt(Math.round(boot * 1e6));
  if (!out) return;
  const rec = { marks: {}, traces: dyno ? dyno.traces : [], t0: null };
  for (const [k, v] of Object.entries(marks)) rec.marks[k] = v.toString();
  if (dyno && typeof dyno.t0 === 'bigint') rec.t0 = dyno.t0.toString();
  fs.appendFileSync(out, `${JSON.stringify(rec)}\n`);
});
