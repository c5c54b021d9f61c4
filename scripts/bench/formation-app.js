'use strict';
// The app every runner of the formation benchmark starts: the same Procfile and the same
// files for the bare loop, foreman, node-foreman and dynod.
const fs = require('node:fs');
const path = require('node:path');

// Each runner names its processes in its own variable: dynod (like Heroku) $DYNO, foreman
// $PS, node-foreman $FOREMAN_WORKER_NAME; the bare loop sets $PS as foreman does.
const NAME_JS = 'process.env.DYNO || process.env.PS || process.env.FOREMAN_WORKER_NAME';
const NAME_SH = '${DYNO:-${PS:-$FOREMAN_WORKER_NAME}}';

/** The web process: a few lines of node, one line on stdout once it listens. */
const WEB_JS = `// the tiny HTTP server of every web process, whichever runner starts it
const name = ${NAME_JS};
require('node:http')
  .createServer((req, res) => res.end('ok\\n'))
  .listen(Number(process.env.PORT), () => console.log(\`web listening \${name} \${process.env.PORT}\`));
`;

const WORKER = `echo "worker ready ${NAME_SH}"; exec sleep 86400`;

/** Log lines: "<name> <7-digit seq> <LOG_PAD x's>", so that a cut or lost line is seen. */
const LOG_PAD = 60;

/**
 * The log generator: L numbered lines, then it sleeps (a process that ends stops foreman's
 * and node-foreman's whole formation, and dynod restarts it). perSec null: as fast as the
 * pipe takes them; else paced at perSec lines a second (each 10 ms tick catches up with the
 * clock). Writes are whole lines, at most 4 KiB each (PIPE_BUF): the bare loop's processes
 * share one pipe, and a write that size is never interleaved with another.
 */
function genJs(lines, perSec = null) {
  return `// ${lines} numbered lines ${perSec ? `at ${perSec}/s` : 'as fast as they go'}, then sleep
const name = ${NAME_JS};
const pad = 'x'.repeat(${LOG_PAD});
const perSec = ${perSec ?? 'null'};
let i = 1;
let t0 = null;
function pump() {
  const due = perSec ? Math.min(${lines}, Math.floor(((Date.now() - t0) * perSec) / 1000)) : ${lines};
  while (i <= due) {
    let chunk = '';
    while (i <= due && chunk.length < 3900) chunk += name + ' ' + String(i++).padStart(7, '0') + ' ' + pad + '\\n';
    if (!process.stdout.write(chunk)) return process.stdout.once('drain', pump);
  }
  if (i <= ${lines}) setTimeout(pump, 10);
}
t0 = Date.now();
pump();
setInterval(() => {}, 1 << 30);
`;
}

/**
 * Writes the formation app (web, worker), the log app (log, as fast as it goes) and one
 * paced log app per rate (lines a second per process) under dir; readable by a dyno's user.
 */
function writeApps(dir, logLines, paced = { lines: 0, rates: [] }) {
  const formationApp = path.join(dir, 'app-formation');
  const logApp = path.join(dir, 'app-logs');
  for (const d of [formationApp, logApp]) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
  fs.writeFileSync(path.join(formationApp, 'web.js'), WEB_JS, { mode: 0o644 });
  fs.writeFileSync(path.join(formationApp, 'Procfile'), `web: node web.js\nworker: ${WORKER}\n`, { mode: 0o644 });
  const logAppAt = (d, js) => {
    fs.mkdirSync(d, { recursive: true, mode: 0o755 });
    fs.writeFileSync(path.join(d, 'gen.js'), js, { mode: 0o644 });
    fs.writeFileSync(path.join(d, 'Procfile'), 'log: node gen.js\n', { mode: 0o644 });
    return d;
  };
  logAppAt(logApp, genJs(logLines));
  const pacedApps = {};
  for (const r of paced.rates) pacedApps[r] = logAppAt(path.join(dir, `app-logs-${r}`), genJs(paced.lines, r));
  return { formationApp, logApp, pacedApps, commands: { web: 'node web.js', worker: WORKER, log: 'node gen.js' } };
}

module.exports = { writeApps, LOG_PAD, WEB_JS, WORKER };
