'use strict';
// The formation benchmark's results as a markdown section (scripts/bench/formation.js prints
// it; scripts/bench.js puts it into docs/benchmarks.md).
const { stats } = require('./common');
const { LOG_PAD } = require('./formation-app');

const S = (x) => stats(x ?? []);
const secs = (ms) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : 'n/a');
const mib = (kib) => (Number.isFinite(kib) ? `${(kib / 1024).toFixed(1)} MiB` : 'n/a');
const mibPer = (kib) => (Number.isFinite(kib) ? `${(kib / 1024).toFixed(3)} MiB` : 'n/a');
const rate = (x) => (Number.isFinite(x) ? `${Math.round(x).toLocaleString('en-US')}/s` : 'n/a');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a');
const spread = (s, f) => (s.n ? (s.n > 1 ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median)) : 'n/a');

/** The issue's figures "measured here before" (issue 8, Numbers). */
const BEFORE = { start: { bare: '1.25 s', foreman: '1.40 s', 'node-foreman': '1.47 s' }, rss: { foreman: '20 MB', 'node-foreman': '47–49 MB' } };

function formationSection(out) {
  const R = out.results;
  const names = out.runners.map((r) => r.name);
  const col = (f) => names.map((n) => f(n)).join(' | ');
  const rows = [];
  const row = (what, f) => rows.push(`| ${what} | ${col(f)} |`);
  const of = (key, n, pick = (x) => x) => S((R[key]?.[n] ?? []).map(pick));
  const med = (key, n, pick) => of(key, n, pick).median;
  const c = out.cfg;
  const n60 = c.web + c.workers;
  const nBig = c.scaleTo + c.workers;
  const n10 = c.small[0] + c.small[1];
  const failed = (n, stage) => {
    const k = (R.failures?.[n] ?? []).filter((f) => f.stage === stage).length;
    return k ? ` (${k} failed)` : '';
  };

  row(`**start → all up, web=${c.web},worker=${c.workers}** (every web answers HTTP 200, every worker printed its line)`, (n) => `**${spread(of('start', n, (x) => x.ms), secs)}**${failed(n, 'start')}`);
  row('… the last web answering / the last worker line', (n) => `${secs(med('start', n, (x) => x.webMs))} / ${secs(med('start', n, (x) => x.workerMs))}`);
  const cpu = (key, n, k) => med(key, n, (x) => x.cpu?.[k]);
  row('… CPU time (user+sys) by then: the manager / the whole process tree', (n) => `${secs(cpu('start', n, 'managerMs'))} / ${secs(cpu('start', n, 'treeMs'))}`);
  if (names.includes('dynod')) row("… dynod's own `State changed from starting to up`, last web dyno", (n) => (n === 'dynod' ? secs(med('start', n, (x) => x.dynodUpMs)) : ''));
  row(`**\`scale web=${c.scaleTo}\`** with web=${c.web},worker=${c.workers} running → web.${c.web + 1}..${c.scaleTo} answer`, (n) =>
    R.scale?.[n] ? `**${spread(of('scale', n, (x) => x.ms), secs)}**${failed(n, 'scale')}${n === 'bare' ? ` (a second loop starts ${c.scaleTo - c.web} more)` : ''}` : n === 'bare' ? 'n/a' : 'n/a (restart needed)',
  );
  row('… CPU time (user+sys) of the scale: the manager / the whole process tree', (n) => (R.scale?.[n] ? `${secs(cpu('scale', n, 'managerMs'))} / ${secs(cpu('scale', n, 'treeMs'))}` : ''));
  if (names.includes('dynod')) row('… the `dynod scale` command itself (CLI start, control socket, answer)', (n) => (n === 'dynod' ? secs(med('scale', n, (x) => x.cmdMs)) : ''));
  row(`cold start → all up, web=${c.scaleTo},worker=${c.workers} (the comparable of a scale for foreman and node-foreman)`, (n) => `${spread(of('coldBig', n, (x) => x.ms), secs)}${failed(n, 'coldBig')}`);
  row(`cold start → all up, web=${c.small[0]},worker=${c.small[1]}`, (n) => `${spread(of('coldSmall', n, (x) => x.ms), secs)}${failed(n, 'coldSmall')}`);
  const rssLabel = (n) => (n === 'bare' ? ' (the waiting `sh`)' : '');
  row(`manager VmRSS at ${n10} dynos`, (n) => `${mib(med('rssSmall', n))}${rssLabel(n)}`);
  row(`**manager VmRSS at ${n60} dynos**`, (n) => `**${mib(med('rss60', n))}**${rssLabel(n)}`);
  row(`manager VmRSS at ${nBig} dynos (cold start)`, (n) => `${mib(med('rssBig', n))}${rssLabel(n)}`);
  const growth = (n) => (med('rssBig', n) - med('rssSmall', n)) / (nBig - n10);
  row(`**manager RSS growth per dyno** (${n10} → ${nBig}; ${n10} → ${n60} / ${n60} → ${nBig})`, (n) =>
    `**${mibPer(growth(n))}** (${mibPer((med('rss60', n) - med('rssSmall', n)) / (n60 - n10))} / ${mibPer((med('rssBig', n) - med('rss60', n)) / (nBig - n60))})`,
  );
  row(`manager VmRSS after \`scale web=${c.scaleTo}\` (${nBig} dynos, the same process); growth per dyno ${n60} → ${nBig}`, (n) =>
    R.rssScaled?.[n] ? `${mib(med('rssScaled', n))}; ${mibPer((med('rssScaled', n) - med('rss60', n)) / (nBig - n60))}` : '',
  );
  row(`processes besides the manager and the commands (node, sleep) at ${n60} dynos: count, Σ VmRSS / Σ PSS`, (n) => {
    const o = R.overhead60?.[n]?.[0];
    if (!o) return 'n/a';
    const kinds = Object.entries(o.byComm).map(([k, v]) => `${v} ${k}`).join(', ') || 'none';
    return `${kinds}; ${mib(o.rssKiB)} / ${mib(o.pssKiB)}`;
  });
  const sumOf = (n, k, key = 'logs') => (R[key]?.[n] ?? []).reduce((a, x) => a + (x[k] ?? 0), 0);
  const num = (x) => x.toLocaleString('en-US');
  const losses = (key) => (n) => (R[key]?.[n] ? `${num(sumOf(n, 'lost', key))} / ${num(sumOf(n, 'cut', key))} / ${num(sumOf(n, 'dup', key))} / ${num(sumOf(n, 'misnamed', key))}` : 'n/a');
  row(`**log throughput into a file**, ${c.logProcs} processes × ${c.logLines.toLocaleString('en-US')} lines (first → last line written)`, (n) => `**${spread(of('logs', n, (x) => x.linesPerSec), rate)}**${failed(n, 'logs')}`);
  row('… lines lost / cut or joined / duplicated / under another name (all rounds)', losses('logs'));
  row('… spawn → last line written', (n) => spread(of('logs', n, (x) => x.spawnToLastMs), secs));
  row('… manager VmHWM (peak RSS)', (n) => mib(med('logs', n, (x) => x.hwmKiB)));
  const paced = (n, rate) => (R.logsPaced?.[n] ?? []).filter((x) => x.rate === rate);
  for (const perProc of c.paced?.rates ?? []) {
    const total = perProc * c.logProcs;
    row(`paced: ${c.logProcs} × ${perProc.toLocaleString('en-US')} lines/s (${total.toLocaleString('en-US')}/s in all), ${c.paced.lines.toLocaleString('en-US')} lines each, into a file: lines lost or cut (all rounds); lines/s delivered`, (n) => {
      const xs = paced(n, total);
      if (!xs.length) return 'n/a';
      const lost = xs.reduce((a, x) => a + x.lost + x.cut, 0);
      return `${lost ? `**${num(lost)}**` : '0'}; ${rate(S(xs.map((x) => x.linesPerSec)).median)}`;
    });
  }
  row('log throughput through a pipe read by this benchmark (its Node reader, one regex a line)', (n) => `${spread(of('logsPipe', n, (x) => x.linesPerSec), rate)}${failed(n, 'logsPipe')}`);
  row('… lines lost / cut or joined / duplicated / under another name (all rounds)', losses('logsPipe'));
  if (names.includes('dynod')) row("… of the lost: announced by dynod's `Error L10 (output buffer overflow) -> N log lines dropped` lines", (n) => (n === 'dynod' && R.logsPipe?.[n] ? num(sumOf(n, 'announcedDropped', 'logsPipe')) : ''));
  row('… manager VmHWM (peak RSS)', (n) => mib(med('logsPipe', n, (x) => x.hwmKiB)));
  row('stop (Ctrl-C; bare: SIGTERM to the group) → manager ended / every process gone', (n) => `${secs(med('stop', n, (x) => x.stopMs))} / ${secs(med('stop', n, (x) => x.allGoneMs))}`);
  row('processes left behind after a stop (all runs; killed by PID)', (n) => String((R.stop?.[n] ?? []).reduce((a, x) => a + x.left, 0)));

  // targets, side by side from this one run
  const targets = [];
  if (names.includes('dynod')) {
    const d = med('start', 'dynod', (x) => x.ms);
    const b = med('start', 'bare', (x) => x.ms);
    const perRound = S((R.start?.dynod ?? []).map((x, i) => x.ms / (R.start?.bare?.[i]?.ms ?? NaN)));
    const yes = (ok) => (ok ? 'yes' : '**no**');
    const floor = floorRatios(out);
    const floorNote = floor.length ? `; the floor table: ${floor.map(([n, r]) => `${n} ${r}`).join(', ')}` : '';
    targets.push(`| start → all up ≤ 1.1× the bare loop, every process a real dyno | ${secs(d)} | bare ${secs(b)} | **${ratio(d, b)}** (per round ${perRound.n ? `${perRound.min.toFixed(2)}–${perRound.max.toFixed(2)}` : 'n/a'}${floorNote}) | ${yes(d / b <= 1.1)} |`);
    const dr = med('rss60', 'dynod');
    const nr = med('rss60', 'node-foreman');
    const fr = med('rss60', 'foreman');
    targets.push(`| manager RSS at ${n60} dynos below node-foreman's | ${mib(dr)} | node-foreman ${mib(nr)}; foreman ${mib(fr)} | ${ratio(dr, nr)} node-foreman, ${ratio(dr, fr)} foreman | ${Number.isFinite(nr) ? yes(dr < nr) : 'n/a'} |`);
    const g = growth('dynod');
    targets.push(`| manager RSS growth ≤ 0.1 MiB per dyno | ${mibPer(g)} | node-foreman ${mibPer(growth('node-foreman'))}; foreman ${mibPer(growth('foreman'))} | | ${yes(g <= 0.1 * 1024)} |`);
    const dl = med('logs', 'dynod', (x) => x.linesPerSec);
    const fl = med('logs', 'foreman', (x) => x.linesPerSec);
    const lost = sumOf('dynod', 'lost') + sumOf('dynod', 'cut');
    const fLost = sumOf('foreman', 'lost') + sumOf('foreman', 'cut');
    targets.push(`| log throughput ≥ foreman's (into a file, as fast as the processes write) | ${rate(dl)}, ${lost ? `**${lost.toLocaleString('en-US')} lost** (${sumOf('dynod', 'announcedDropped').toLocaleString('en-US')} announced by L10 lines)` : '0 lost'} | foreman ${rate(fl)}, ${fLost} lost (foreman slows the processes down instead) | ${ratio(dl, fl)} foreman | ${Number.isFinite(fl) ? yes(dl >= fl && lost === 0) : 'n/a'} |`);
    // the paced rates dynod passed without losing a line, against foreman's best
    const clean = (c.paced?.rates ?? []).map((r) => r * c.logProcs).filter((r) => {
      const xs = paced('dynod', r);
      return xs.length && xs.every((x) => x.lost + x.cut === 0);
    });
    const best = clean.length ? Math.max(...clean) : NaN;
    targets.push(`| … with none lost: the highest paced rate dynod passes whole vs foreman's best | ${Number.isFinite(best) ? `${rate(best)} (0 lost)` : 'none of the paced rates'} | foreman ${rate(fl)} | ${ratio(best, fl)} foreman | ${Number.isFinite(fl) ? yes(best >= fl) : 'n/a'} |`);
  }

  const load = (l) => l.map((x) => x.toFixed(2)).join(' ');
  const busy = out.load.start[0] > 1 || out.load.end[1] > 1.5;
  const versions = Object.entries(out.versions).map(([k, v]) => `${k} ${v}`).join(', ');
  const webLine = out.app.web.split('\n').filter((l) => l && !l.startsWith('//')).join(' ').replace(/\s+/g, ' ');
  const lines = [
    '## Formation: dynod start vs foreman, node-foreman and a bare loop',
    '',
    `_Measured by scripts/bench/formation.js${out.cfg.quick ? ' (DYNOD_BENCH_QUICK=1: one short round)' : ''}; ${versions}; load average at start / end ${load(out.load.start)} / ${load(out.load.end)}${busy ? ' — **other work was running on this machine; expect noise**' : ''}; the section took ${out.took}._`,
    '',
    `- The same app for every runner: \`Procfile\` \`web: node web.js\` (\`${webLine}\`) and \`worker: ${out.app.procfile.split('\n')[1].replace(/^worker: /, '')}\`. Each runner names its processes in its own variable ($DYNO, foreman's $PS, node-foreman's $FOREMAN_WORKER_NAME); the bare loop is \`PORT=… PS=web.N sh -c 'node web.js' &\` per process, then \`wait\`.`,
    `- Runners: the bare loop; \`foreman start -m web=${c.web},worker=${c.workers} -p BASE\`; \`nf start web=${c.web},worker=${c.workers} -p BASE\`; \`dynod start web=${c.web},worker=${c.workers} --app DIR --name APP -p BASE --grace 5s\` (run and state dirs in a temp dir). Ports: foreman and node-foreman give web.N BASE + N − 1 (the bare loop the same); dynod gives every web dyno $PORT = BASE in its own network namespace and publishes web.N on host 127.0.0.1:(BASE + N).`,
    `- \`scale web=${c.scaleTo}\`, not the issue's web=100: dynod, like Heroku, runs at most 100 dynos per app and refuses web=100,worker=10 (110), so every runner goes to web=${c.scaleTo},worker=${c.workers} (${nBig} dynos) for the scale, the larger cold start and the memory growth.`,
    `- All up = every web port answers an HTTP GET with 200 and every worker's line has been read from the runner's output. Timed from the runner's spawn (its own start-up included). A port is probed every 5 ms once its process printed \`web listening\` (read through the runner's output), and every 100 ms regardless.`,
    `- Rounds: ${c.rounds} of web=${c.web},worker=${c.workers} (then \`scale web=${c.scaleTo}\`, timed from the \`dynod scale\` spawn), ${c.coldRounds} of the cold starts, ${c.logRounds} of the log test; the runners' order rotates each round; ${c.gapMs / 1000} s of quiet before every start. Cells: median (min–max).`,
    `- Manager RSS: VmRSS of the foreman (ruby), nf (node) or dynod (node) process itself, not its children: the median of 5 readings 200 ms apart, ${c.settleMs / 1000} s after all up. Growth per dyno from the cold starts at ${n10} and ${nBig} dynos.`,
    `- Log test: \`log: node gen.js\`, ${c.logProcs} processes each writing ${c.logLines.toLocaleString('en-US')} numbered lines of about ${LOG_PAD + 15} bytes as fast as their pipe takes them (whole lines, ≤ 4 KiB per write), then sleeping. The runner's stdout is a file, followed every 50 ms (so no runner is held back by its reader), then, in a second pass, a pipe read by this benchmark (a Node process: the reader sets the pace, and a runner that will not stall its dynos drops lines). Every line is checked: lines/s = distinct whole lines / (last − first line read). Paced: the same into a file with each process held to ${(c.paced?.rates ?? []).map((r) => r.toLocaleString('en-US')).join(' or ')} lines/s (${c.paced?.lines.toLocaleString('en-US')} lines each): the rates a runner passes without losing a line.`,
    `- After every run the runner is stopped (Ctrl-C: SIGINT to the manager's process group, as a terminal sends it; the bare loop, whose background jobs ignore SIGINT: SIGTERM to its process groups) and every process it made (descendants and process-group members, by PID and start time) is checked gone. Everything measured runs at ${c.nice === '0' ? 'normal priority' : `nice ${c.nice}`}; NODE_EXTRA_CA_CERTS and NODE_OPTIONS are unset for every runner.`,
    ...out.notes.map((x) => `- Note: ${x}`),
    '',
  ];
  if (targets.length) lines.push('| target | dynod | anchors | ratio | met? |', '|---|---:|---:|---:|---|', ...targets, '');
  lines.push(
    `| measurement | ${out.runners.map((r) => r.label).join(' | ')} |`,
    `|---|${names.map(() => '---:').join('|')}|`,
    ...rows,
    `| _measured here before (issue 8): start → all up / manager RSS_ | ${col((n) => [BEFORE.start[n], BEFORE.rss[n]].filter(Boolean).join(' / ') || '')} |`,
  );
  lines.push(...floorTable(out));
  return lines.join('\n');
}

/** Each floor runner's median ready time over the bare loop's, in the same rounds: [[name, '1.14×'], …] */
function floorRatios(out) {
  const F = out.results.floor ?? {};
  const b = S((F.bare ?? []).map((x) => x.ms)).median;
  return (out.floorRunners ?? []).filter((r) => r.name !== 'bare' && F[r.name]).map((r) => [r.name, ratio(S(F[r.name].map((x) => x.ms)).median, b)]);
}

/**
 * The floor: what a start costs with isolation alone. The sandboxes have a dyno's namespaces
 * but none of the rest, so a ratio at or above the target here says the target is below what
 * the kernel's isolation costs on this machine.
 */
function floorTable(out) {
  const F = out.results.floor;
  if (!F || !(out.floorRunners ?? []).length) return [];
  const c = out.cfg;
  const b = S((F.bare ?? []).map((x) => x.ms)).median;
  const rows = out.floorRunners.map((r) => {
    const xs = F[r.name] ?? [];
    const ms = S(xs.map((x) => x.ms));
    const busy = S(xs.map((x) => x.busyMs)).median;
    const idle = S(xs.map((x) => x.idleMs)).median;
    const fails = (out.results.failures?.[r.name] ?? []).filter((f) => f.stage === 'floor').length;
    return `| ${r.label} | ${spread(ms, secs)}${fails ? ` (${fails} failed)` : ''} | ${ratio(ms.median, b)} | ${secs(busy)} / ${secs(idle)} |`;
  });
  return [
    '',
    `**The floor: the same start with isolation alone.** web=${c.web},worker=${c.workers} under the bare loop, under the same loop with every process started in a sandbox by \`unshare --user --map-root-user --pid --fork --mount --ipc --uts --cgroup --net\` (the namespaces alone) or by \`bwrap --unshare-all --die-with-parent --ro-bind / / --proc /proc --dev /dev --tmpfs /tmp --bind APP /tmp/app\` (the namespaces and a new root), and under \`dynod start\`, ${c.floorRounds} rotating round(s). The sandboxes have no cgroup, limits, egress, seccomp or init: less than a dyno. Their web ports live in namespaces of their own, so ready here is every process's own line (web: printed once listen() returned; worker: its \`worker ready\`), timed the same way for all four from the spawn. CPU: all CPUs' busy / idle time over that interval (/proc/stat).`,
    '',
    '| runner | spawn → every process ready | × bare | CPU busy / idle, all CPUs |',
    '|---|---:|---:|---:|',
    ...rows,
  ];
}

module.exports = { formationSection };
