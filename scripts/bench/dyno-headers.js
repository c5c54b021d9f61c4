#!/usr/bin/env node
'use strict';
/*
 * What the headers Heroku's router adds cost the dyno that parses them (issue 9's plain-HTTP
 * gap to nginx_ka, which adds none of them): one Node backend, the same tiny app as
 * scripts/bench/router.js, pinned to one CPU, wrk pinned to the other, and the backend's CPU
 * (utime + stime from /proc) per request for each set of request headers.
 *
 *   node scripts/bench/dyno-headers.js        needs wrk (and taskset, optional); ~1 min
 *
 * Environment: RUNS (2), DUR (3 s), CONNS (32). Stops only the process it started.
 */
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const { spawn, spawnSync } = require('node:child_process');

const RUNS = +(process.env.RUNS || 2);
const DUR = +(process.env.DUR || 3);
const CONNS = +(process.env.CONNS || 32);
const PORT = 19881;
const TICK_US = 1e6 / 100; // USER_HZ

const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
if (!have('wrk')) {
  console.error('dyno-headers: needs wrk (apt-get install wrk)');
  process.exit(125);
}
const pin = have('taskset') && os.availableParallelism() >= 2;
const onCpu = (cpu, cmd, args) => (pin ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args]);

const heroku = {
  'X-Request-Id': '6f1c2a3b-1d2e-4f5a-8b6c-7d8e9f0a1b2c',
  'X-Forwarded-For': '127.0.0.1',
  'X-Forwarded-Proto': 'http',
  'X-Forwarded-Port': '5000',
  'X-Request-Start': '1764512345678',
  Via: '1.1 dynod',
};
const letters = ['A', 'B', 'C', 'D', 'E', 'F'];
const VARIANTS = [
  ['none', []],
  ['6 one-letter names, one-letter values', letters.map((l) => [l, 'b'])],
  ["6 one-letter names, Heroku's values", Object.values(heroku).map((v, i) => [letters[i], v])],
  ["Heroku's 6 names, one-letter values", Object.keys(heroku).map((k) => [k, 'a'])],
  ["Heroku's 6 headers as dynod's router sends them", Object.entries(heroku)],
  ['the same, names in lower case', Object.entries(heroku).map(([k, v]) => [k.toLowerCase(), v])],
];

const cpuTicks = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return +f[11] + +f[12];
};

function waitPort(port) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const attempt = () => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => s.end(resolve));
      s.once('error', () => (Date.now() - t0 > 5000 ? reject(new Error(`port ${port}: nothing listens`)) : setTimeout(attempt, 50)));
    };
    attempt();
  });
}

function wrk(headers) {
  const args = ['-t1', `-c${CONNS}`, `-d${DUR}s`, ...headers.flatMap(([k, v]) => ['-H', `${k}: ${v}`]), `http://127.0.0.1:${PORT}/`];
  const [cmd, a] = onCpu(0, 'wrk', args);
  const r = spawnSync(cmd, a, { encoding: 'utf8' });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  if (!m) throw new Error(`wrk: ${r.stderr || r.stdout}`);
  return +m[1];
}

async function main() {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.NODE_OPTIONS;
  const app = "require('http').createServer((q,r)=>r.end('ok')).listen(+process.argv[1],'127.0.0.1')";
  const [cmd, args] = onCpu(1, process.execPath, ['-e', app, String(PORT)]);
  const backend = spawn(cmd, args, { env, stdio: 'ignore' });
  process.on('exit', () => backend.kill('SIGKILL'));
  await waitPort(PORT);
  // taskset execs node: the pid is the backend's
  const pid = backend.pid;
  wrk([]); // warm-up
  const results = VARIANTS.map(() => []);
  for (let r = 0; r < RUNS; r++) {
    VARIANTS.forEach(([, headers], i) => {
      const before = cpuTicks(pid);
      const rps = wrk(headers);
      const ticks = cpuTicks(pid) - before;
      results[i].push({ rps, usPerReq: (ticks * TICK_US) / (rps * DUR) });
    });
  }
  console.log(`One Node backend${pin ? ' on CPU 1, wrk on CPU 0' : ''}; wrk -t1 -c${CONNS} -d${DUR}s, ${RUNS} alternating rounds; node ${process.version}\n`);
  console.log('| request headers besides Host | µs of backend CPU per request | req/s |');
  console.log('|---|---:|---:|');
  VARIANTS.forEach(([name], i) => {
    const us = results[i].map((x) => x.usPerReq.toFixed(1)).join(' / ');
    const rps = results[i].map((x) => Math.round(x.rps)).join(' / ');
    console.log(`| ${name} | ${us} | ${rps} |`);
  });
  backend.kill('SIGTERM');
}

main().catch((e) => {
  console.error(`dyno-headers: ${e.message}`);
  process.exit(125);
});
