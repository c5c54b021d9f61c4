#!/usr/bin/env node
'use strict';
/*
 * The router's throughput and latency next to nginx and to the dyno itself, in one run
 * (the method of ../shared/tools/router-bench.sh: same backends, same wrk, alternating).
 *
 *   node scripts/bench/router.js            needs dist/ (npm run build), wrk; nginx optional
 *   ROUTER_BENCH_QUICK=1 ...                one short round
 *
 * Environment: RUNS (8), DUR (6 s), CONNS (64), THREADS (2),
 *   CONFIGS (default "direct1 nginx_ka nginx_hk dynod dynod_js dynod_tls dynod_js_tls nginx_tls"),
 *   ROUTER_BENCH_JSON=FILE also writes every run as JSON.
 *
 * What runs, all on 127.0.0.1:
 *   backends   two Node processes, http.createServer((q, r) => r.end('ok')), the "web dynos"
 *   direct1    wrk straight at one backend
 *   nginx_ka   nginx, 2 workers, upstream keepalive 64, HTTP/1.1 to the backends
 *   nginx_hk   the same nginx adding the headers dynod's router adds (X-Request-Id,
 *              X-Forwarded-For/-Proto/-Port, X-Request-Start, Via both ways): the same
 *              work for the dynos, which parse them
 *   dynod      dynod's router (dist/router) in its own Node process, both backends, every
 *              router line formatted (and counted, not written: the log sink is the
 *              formation's business): plain HTTP on its native data plane (the default)
 *   dynod_js   the same router with its JavaScript plane alone (plane: 'js')
 *   *_tls      the same through TLS (wrk https, a self-signed P-256 certificate):
 *              dynod_tls on the native plane (it terminates TLS), dynod_js_tls on JavaScript's
 * Each config gets a 2 s warm-up, then RUNS rounds in which the configs alternate.
 * Per run: requests/s, p50/p99 (wrk --latency), non-2xx/socket errors, and the proxy's
 * CPU (utime+stime from /proc) per request. Prints a markdown table of medians and the
 * ratios dynod/direct1 and dynod/nginx. Stops only the processes it started.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const { spawn, spawnSync } = require('node:child_process');

const REPO = path.resolve(__dirname, '..', '..');

// ---------------------------------------------------------------- the router process (--serve)
if (process.argv[2] === '--serve') {
  const [, , , port, tlsPort, backendPorts, certDir, plane] = process.argv;
  // as in `dynod start`, whose process the router shares
  require(path.join(REPO, 'dist', 'cli', 'v8-heap')).keepYoungGenerationSmall();
  const { Router, selfSignedCertificate } = require(path.join(REPO, 'dist', 'router'));
  const backends = backendPorts.split(',').map((p, i) => ({
    name: `web.${i + 1}`,
    // the native plane connects itself (in `dynod start`: into the dyno's namespace)
    target: () => ({ pidfd: null, host: '127.0.0.1', port: +p }),
    connect: () =>
      new Promise((resolve, reject) => {
        const s = net.connect(+p, '127.0.0.1');
        s.once('connect', () => {
          s.off('error', reject);
          resolve(s);
        });
        s.once('error', reject);
      }),
  }));
  let lines = 0;
  const cert = selfSignedCertificate(certDir);
  const router = new Router({
    source: { backends: () => backends, booting: () => false, crashed: () => false, onChange: () => () => {} },
    log: () => {
      lines++;
    },
    listen: [{ port: +port, host: '127.0.0.1' }],
    plane,
    planeThreads: process.env.PLANE_THREADS ? +process.env.PLANE_THREADS : undefined,
    tls: { port: +tlsPort, host: '127.0.0.1', cert: cert.cert, key: cert.key },
  });
  router.listen().then(() => process.stdout.write('listening\n'));
  process.on('SIGTERM', () => router.close().then(() => process.exit(0)));
  return;
}

const QUICK = process.env.ROUTER_BENCH_QUICK === '1';
// many short rounds rather than a few long ones: rounds vary by ±15 % on a shared machine, and
// a comparison is made round by round (paired), so it is the count of rounds that decides
const RUNS = +(process.env.RUNS || (QUICK ? 1 : 8));
const DUR = +(process.env.DUR || (QUICK ? 3 : 6));
const CONNS = +(process.env.CONNS || 64);
const THREADS = +(process.env.THREADS || 2);
const B1 = 19101;
const B2 = 19102;
const PORTS = { direct1: B1, nginx_ka: 18181, nginx_tls: 18182, nginx_hk: 18183, dynod: 18191, dynod_tls: 18192, dynod_js: 18193, dynod_js_tls: 18194 };
const HZ = 100; // USER_HZ on Linux

const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
if (!have('wrk')) {
  console.error('router bench: wrk is missing (apt-get install wrk)');
  process.exit(1);
}
if (!fs.existsSync(path.join(REPO, 'dist', 'router', 'index.js'))) {
  console.error('router bench: dist/router missing: npm run build first');
  process.exit(1);
}
const withNginx = have('nginx');
let configs = (process.env.CONFIGS || 'direct1 nginx_ka nginx_hk dynod dynod_js dynod_tls dynod_js_tls nginx_tls').split(/\s+/).filter(Boolean);
if (!withNginx) {
  console.error('router bench: nginx is missing (apt-get install nginx-core): its configs are skipped');
  configs = configs.filter((c) => !c.startsWith('nginx'));
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-router-bench-'));
const children = [];
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
delete env.NODE_OPTIONS;

function start(name, cmd, args, extraEnv = {}) {
  const p = spawn(cmd, args, { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', fs.openSync(path.join(tmp, `${name}.err`), 'w')] });
  children.push(p);
  return p;
}

function stopAll() {
  for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
}
process.on('exit', () => {
  for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});
process.on('SIGINT', () => process.exit(130));

function waitPort(port) {
  return new Promise((resolve, reject) => {
    let n = 0;
    const again = () => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (++n > 100) reject(new Error(`port ${port} never opened`));
        else setTimeout(again, 100);
      });
    };
    again();
  });
}

function ticks(pids) {
  let t = 0;
  for (const pid of pids) {
    try {
      const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      t += Number(rest[11]) + Number(rest[12]);
    } catch {
      // gone: counts nothing
    }
  }
  return t;
}

function childPids(pid) {
  const r = spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' });
  return r.stdout.split('\n').map((s) => s.trim()).filter(Boolean).map(Number);
}

function toMs(v) {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v || '');
  if (!m) return NaN;
  return m[2] === 'us' ? +m[1] / 1000 : m[2] === 's' ? +m[1] * 1000 : +m[1];
}

function wrk(url, dur) {
  return new Promise((resolve) => {
    const p = spawn('wrk', [`-t${THREADS}`, `-c${CONNS}`, `-d${dur}s`, '--latency', url], { env });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('close', () => {
      const rps = +(/Requests\/sec:\s+([\d.]+)/.exec(out) || [])[1];
      const p50 = toMs((/^\s+50%\s+(\S+)/m.exec(out) || [])[1]);
      const p99 = toMs((/^\s+99%\s+(\S+)/m.exec(out) || [])[1]);
      const errors = (out.match(/(Socket errors.*|Non-2xx.*)/g) || []).join('; ');
      resolve({ rps, p50, p99, errors });
    });
  });
}

function nginxConf(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const certDir = path.join(tmp, 'cert');
  const ka = `proxy_pass http://web_ka; proxy_http_version 1.1; proxy_set_header Connection "";`;
  // Heroku's headers, as dynod's router adds them (nginx's own values where it has them)
  const hk =
    'proxy_set_header Host $http_host; proxy_set_header X-Request-Id $request_id; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; ' +
    'proxy_set_header X-Forwarded-Proto $scheme; proxy_set_header X-Forwarded-Port $server_port; proxy_set_header X-Request-Start $msec; ' +
    'proxy_set_header Via "1.1 nginx"; add_header Via "1.1 nginx";';
  fs.writeFileSync(
    path.join(dir, 'nginx.conf'),
    `worker_processes 2;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/cb; proxy_temp_path ${dir}/px; fastcgi_temp_path ${dir}/fc;
  uwsgi_temp_path ${dir}/uw; scgi_temp_path ${dir}/sc;
  upstream web_ka { server 127.0.0.1:${B1}; server 127.0.0.1:${B2}; keepalive 64; }
  server { listen 127.0.0.1:${PORTS.nginx_ka}; location / { ${ka} } }
  server { listen 127.0.0.1:${PORTS.nginx_hk}; location / { ${ka} ${hk} } }
  server { listen 127.0.0.1:${PORTS.nginx_tls} ssl; ssl_certificate ${certDir}/cert.pem; ssl_certificate_key ${certDir}/key.pem;
           location / { ${ka} } }
}
`,
  );
}

const median = (a) => {
  const v = a.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  if (v.length === 0) return NaN;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

async function main() {
  const backend = "require('http').createServer((q,r)=>r.end('ok')).listen(+process.argv[1],'127.0.0.1')";
  const be1 = start('be1', process.execPath, ['-e', backend, String(B1)]);
  const be2 = start('be2', process.execPath, ['-e', backend, String(B2)]);
  const certDir = path.join(tmp, 'cert');
  // the router runs in `dynod start`'s process: with bin/dynod's node flags and environment
  const she = require(path.join(REPO, 'scripts', 'build-cli.js')).shebangOf(path.join(REPO, 'bin', 'dynod'));
  const router = start('router', process.execPath, [...she.nodeArgs, __filename, '--serve', String(PORTS.dynod), String(PORTS.dynod_tls), `${B1},${B2}`, certDir, 'native'], she.env);
  const routerJs = start('router-js', process.execPath, [...she.nodeArgs, __filename, '--serve', String(PORTS.dynod_js), String(PORTS.dynod_js_tls), `${B1},${B2}`, certDir, 'js'], she.env);
  await Promise.all([waitPort(B1), waitPort(B2), waitPort(PORTS.dynod), waitPort(PORTS.dynod_js)]);
  let ngx = null;
  if (withNginx) {
    nginxConf(path.join(tmp, 'ngx'));
    ngx = start('nginx', 'nginx', ['-p', path.join(tmp, 'ngx'), '-e', path.join(tmp, 'ngx', 'error.log'), '-c', path.join(tmp, 'ngx', 'nginx.conf')]);
    await waitPort(PORTS.nginx_ka);
  }
  const proxyPids = (c) => {
    if (c === 'dynod_js' || c === 'dynod_js_tls') return [routerJs.pid];
    if (c.startsWith('dynod')) return [router.pid];
    if (c.startsWith('nginx')) return [ngx.pid, ...childPids(ngx.pid)];
    return [];
  };
  const url = (c) => `${c.endsWith('_tls') ? 'https' : 'http'}://127.0.0.1:${PORTS[c]}/`;
  const versions = `node ${process.version}, ${spawnSync('wrk', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0].split(' ').slice(0, 2).join(' ')}` +
    (withNginx ? `, ${spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim()}` : '') + `, ${os.cpus().length} CPUs, kernel ${os.release()}`;
  console.error(`router bench: ${versions}; ${RUNS} rounds of ${DUR} s, -t${THREADS} -c${CONNS}; configs ${configs.join(' ')}`);

  for (const c of configs) await wrk(url(c), 2);
  const runs = [];
  for (let r = 1; r <= RUNS; r++) {
    for (const c of configs) {
      const pids = proxyPids(c);
      const t0 = ticks(pids);
      const be0 = ticks([be1.pid, be2.pid]);
      const w = await wrk(url(c), DUR);
      const cpu = (ticks(pids) - t0) / HZ;
      const beCpu = (ticks([be1.pid, be2.pid]) - be0) / HZ;
      const run = { config: c, round: r, ...w, proxyCores: cpu / DUR, backendCores: beCpu / DUR, proxyUsPerReq: pids.length && w.rps ? (cpu * 1e6) / (w.rps * DUR) : NaN, backendUsPerReq: w.rps ? (beCpu * 1e6) / (w.rps * DUR) : NaN };
      runs.push(run);
      console.error(`  ${c.padEnd(10)} round ${r}: ${Math.round(w.rps)} req/s, p50 ${w.p50} ms, p99 ${w.p99} ms${w.errors ? `, ${w.errors}` : ''}`);
      await new Promise((res) => setTimeout(res, 1000));
    }
  }
  stopAll();

  const med = {};
  for (const c of configs) {
    const rs = runs.filter((x) => x.config === c);
    med[c] = {
      rps: median(rs.map((x) => x.rps)),
      p50: median(rs.map((x) => x.p50)),
      p99: median(rs.map((x) => x.p99)),
      proxyCores: median(rs.map((x) => x.proxyCores)),
      backendCores: median(rs.map((x) => x.backendCores)),
      us: median(rs.map((x) => x.proxyUsPerReq)),
      beUs: median(rs.map((x) => x.backendUsPerReq)),
      runs: rs.map((x) => Math.round(x.rps)).join('/'),
      errors: rs.map((x) => x.errors).filter(Boolean).join('; '),
    };
  }
  const fx = (v, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  const d1 = med.direct1 ? med.direct1.rps : NaN;
  console.log(`| config | req/s (median) | runs | p50 ms | p99 ms | proxy cores | backend cores | proxy CPU µs/req | backend CPU µs/req | × direct1 |`);
  console.log(`|---|---|---|---|---|---|---|---|---|---|`);
  for (const c of configs) {
    const m = med[c];
    console.log(`| ${c} | ${Math.round(m.rps)} | ${m.runs} | ${fx(m.p50)} | ${fx(m.p99)} | ${fx(m.proxyCores)} | ${fx(m.backendCores)} | ${fx(m.us, 1)} | ${fx(m.beUs, 1)} | ${fx(m.rps / d1)} |`);
  }
  const pairs = [['dynod', 'nginx_ka'], ['dynod', 'nginx_hk'], ['dynod_js', 'nginx_ka'], ['dynod_tls', 'nginx_tls'], ['dynod_js_tls', 'nginx_tls']].filter(([a, b]) => med[a] && med[b]);
  if (pairs.length) {
    // round by round: the two configs of one round ran back to back, under the same load
    console.log('\n| paired, round by round | rounds | ahead in | throughput ratio: median (min–max) | p99 ratio: median |');
    console.log('|---|---|---|---|---|');
    for (const [a, b] of pairs) {
      const ratios = [];
      const p99s = [];
      for (let r = 1; r <= RUNS; r++) {
        const x = runs.find((q) => q.config === a && q.round === r);
        const y = runs.find((q) => q.config === b && q.round === r);
        if (!x || !y || !(y.rps > 0) || !(y.p99 > 0)) continue;
        ratios.push(x.rps / y.rps);
        p99s.push(x.p99 / y.p99);
      }
      const ahead = ratios.filter((v) => v >= 1).length;
      console.log(`| ${a} / ${b} | ${ratios.length} | ${ahead} | ${fx(median(ratios))}× (${fx(Math.min(...ratios))}–${fx(Math.max(...ratios))}) | ${fx(median(p99s))}× |`);
    }
  }
  const errs = configs.filter((c) => med[c].errors);
  if (errs.length) console.log(`\nerrors: ${errs.map((c) => `${c}: ${med[c].errors}`).join(' | ')}`);
  console.log(`\n(${versions})`);
  if (process.env.ROUTER_BENCH_JSON) fs.writeFileSync(process.env.ROUTER_BENCH_JSON, JSON.stringify({ versions, runs, medians: med }, null, 2));
}

if (require.main === module) {
  main().catch((e) => {
    console.error(`router bench: ${e.stack || e}`);
    process.exitCode = 1;
    stopAll();
  });
}
