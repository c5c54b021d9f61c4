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
 * The log generator: L numbered lines as fast as the pipe takes them, then it sleeps (a
 * process that ends stops foreman's and node-foreman's whole formation, and dynod restarts
 * it). Writes are whole lines, at most 4 KiB each (PIPE_BUF): the bare loop's processes
 * share one pipe, and a write that size is never interleaved with another.
 */
function genJs(lines) {
  return `// ${lines} numbered lines as fast as they go, then sleep
const name = ${NAME_JS};
const pad = 'x'.repeat(${LOG_PAD});
let i = 1;
function pump() {
  while (i <= ${lines}) {
    let chunk = '';
    while (i <= ${lines} && chunk.length < 3900) chunk += name + ' ' + String(i++).padStart(7, '0') + ' ' + pad + '\\n';
    if (!process.stdout.write(chunk)) return process.stdout.once('drain', pump);
  }
}
pump();
setInterval(() => {}, 1 << 30);
`;
}

/** Writes the formation app (web, worker) and the log app (log) under dir; readable by a dyno's user. */
function writeApps(dir, logLines) {
  const formationApp = path.join(dir, 'app-formation');
  const logApp = path.join(dir, 'app-logs');
  for (const d of [formationApp, logApp]) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
  fs.writeFileSync(path.join(formationApp, 'web.js'), WEB_JS, { mode: 0o644 });
  fs.writeFileSync(path.join(formationApp, 'Procfile'), `web: node web.js\nworker: ${WORKER}\n`, { mode: 0o644 });
  fs.writeFileSync(path.join(logApp, 'gen.js'), genJs(logLines), { mode: 0o644 });
  fs.writeFileSync(path.join(logApp, 'Procfile'), 'log: node gen.js\n', { mode: 0o644 });
  return { formationApp, logApp, commands: { web: 'node web.js', worker: WORKER, log: 'node gen.js' } };
}

module.exports = { writeApps, LOG_PAD, WEB_JS, WORKER };
