// The router in front of `dynod start`'s web dynos (root, real kernel): requests
// spread over the web dynos, Heroku's headers and router lines, H14/H10, HTTPS with
// a self-signed certificate, and a rolling restart under load that loses nothing.
import t from 'tap';
import * as http from 'node:http';
import * as https from 'node:https';
import { startFormation, WEB } from '../helpers/formation';

/** A web process that answers with its $DYNO and the router's headers it saw. */
const ECHO = `exec node -e "require('http').createServer((q,s)=>{s.setHeader('content-type','application/json');s.end(JSON.stringify({dyno:process.env.DYNO,h:q.headers}))}).listen(process.env.PORT)"`;

function request(port: number, opts: { path?: string; headers?: Record<string, string>; tls?: boolean; agent?: http.Agent } = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const mod = opts.tls ? https : http;
    const req = mod.get({ host: '127.0.0.1', port, path: opts.path ?? '/', headers: opts.headers, agent: opts.agent ?? false, rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

t.test('three web dynos behind the router: spread, headers, router lines', async (t) => {
  const f = await startFormation(t, { files: { Procfile: `web: ${ECHO}\n` }, args: ['web=3'] });
  await f.waitForCount(/dynod\[web\.\d\]: State changed from starting to up/, 3);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  t.teardown(() => agent.destroy());
  const count: Record<string, number> = {};
  const N = 600;
  for (let i = 0; i < N; i += 20) {
    const batch = await Promise.all(Array.from({ length: 20 }, () => request(f.port!, { agent })));
    for (const r of batch) {
      t.equal(r.status, 200);
      const { dyno } = JSON.parse(r.body) as { dyno: string };
      count[dyno] = (count[dyno] ?? 0) + 1;
    }
  }
  t.same(Object.keys(count).sort(), ['web.1', 'web.2', 'web.3'], 'every web dyno got requests');
  // random choice: each gets 200 ± a wide margin (p of falling outside < 1e-9)
  for (const [d, n] of Object.entries(count)) t.ok(n > 110 && n < 290, `${d}: ${n} of ${N}`);

  const r = await request(f.port!, { path: '/x?y=1', headers: { 'x-request-id': 'abcdefghijklmnopqrstuvwxyz-0123', 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' } });
  const h = (JSON.parse(r.body) as { h: Record<string, string> }).h;
  t.equal(h['x-request-id'], 'abcdefghijklmnopqrstuvwxyz-0123', "a valid client X-Request-Id is kept");
  t.equal(h['x-forwarded-proto'], 'http', 'X-Forwarded-Proto is the router\'s, never the client\'s');
  t.equal(h['x-forwarded-port'], String(f.port));
  t.match(h['x-forwarded-for'], /^203\.0\.113\.7, 127\.0\.0\.1$/, 'X-Forwarded-For appended');
  t.match(h['x-request-start'], /^\d{13}$/);
  t.match(h.via, /dynod/);
  const line = await f.waitFor(/dynod\[router\]: at=info method=GET path="\/x\?y=1" host=127\.0\.0\.1:\d+ request_id=abcdefghijklmnopqrstuvwxyz-0123 fwd="203\.0\.113\.7, 127\.0\.0\.1" dyno=web\.\d connect=\d+ms service=\d+ms status=200 bytes=\d+ protocol=http/);
  t.ok(line, "Heroku's router line");
  const fresh = await request(f.port!, { headers: { 'x-request-id': 'short' } });
  t.match((JSON.parse(fresh.body) as { h: Record<string, string> }).h['x-request-id'], /^[0-9a-f-]{36}$/, 'a short client id is replaced by a UUID');

  // scale web to 0: H14
  const sc = await f.cli(['scale', '--name', f.app, 'web=0']);
  t.equal(sc.code, 0, sc.stderr);
  await f.waitForCount(/dynod\[web\.\d\]: State changed from \w+ to down/, 3);
  const none = await request(f.port!);
  t.equal(none.status, 503);
  t.match(none.body, /H14/);
  await f.waitFor(/dynod\[router\]: at=error code=H14 desc="No web processes running" method=GET path="\/" .* dyno= connect= service= status=503/);
  await f.interrupt();
});

t.test('all web dynos crashed: H10; HTTPS with a self-signed certificate', async (t) => {
  const { freePortBase } = await import('../helpers/formation');
  const tlsPort = await freePortBase(0);
  const f = await startFormation(t, {
    files: { Procfile: `web: ${WEB()}\n` },
    args: ['--tls', 'self-signed', '--tls-port', String(tlsPort)],
  });
  await f.waitFor(/dynod\[web\.1\]: State changed from starting to up/);
  const s = await request(tlsPort, { tls: true });
  t.equal(s.status, 200);
  t.equal(s.body, 'web.1 -', 'HTTPS reaches the dyno');
  await f.waitFor(/dynod\[router\]: at=info .* protocol=https/);
  await f.interrupt();

  const c = await startFormation(t, { files: { Procfile: 'web: exit 1\n' }, args: ['--restart', 'never'] });
  await c.waitFor(/dynod\[web\.1\]: State changed from \w+ to crashed/);
  const r = await request(c.port!);
  t.equal(r.status, 503);
  t.match(r.body, /H10/);
  await c.waitFor(/code=H10 desc="App crashed"/);
  await c.interrupt();
});

t.test('dynod restart -p web under steady load loses no request (preboot)', async (t) => {
  const f = await startFormation(t, { files: { Procfile: `web: ${ECHO}\n` }, args: ['web=2', '--grace', '5s'] });
  await f.waitForCount(/dynod\[web\.\d\]: State changed from starting to up/, 2);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  t.teardown(() => agent.destroy());
  let running = true;
  // a failed step below must not leave the load running against a stopped formation
  t.teardown(() => {
    running = false;
  });
  const failures: string[] = [];
  let ok = 0;
  const seen = new Set<string>();
  const load = (async () => {
    while (running) {
      const rs = await Promise.allSettled(Array.from({ length: 4 }, () => request(f.port!, { agent })));
      for (const r of rs) {
        if (r.status === 'rejected') failures.push(String(r.reason));
        else if (r.value.status !== 200) failures.push(`${r.value.status} ${r.value.body.slice(0, 80)}`);
        else {
          ok++;
          seen.add(r.value.body.slice(0, 0) + (JSON.parse(r.value.body) as { dyno: string }).dyno);
        }
      }
    }
  })();
  await new Promise((r) => setTimeout(r, 300));
  const before = JSON.parse((await f.cli(['ps', '--name', f.app, '--json'])).stdout) as Array<{ name: string; pid: number }>;
  const mark = f.lines.length;
  const rs = await f.cli(['restart', '--name', f.app, '-p', 'web']);
  t.equal(rs.code, 0, rs.stderr);
  // each old dyno stops only after its replacement is up
  await f.waitForCount(/dynod\[web\.\d\]: Process exited with status 143/, 2, 30_000, mark);
  await new Promise((r) => setTimeout(r, 300));
  running = false;
  await load;
  const after = JSON.parse((await f.cli(['ps', '--name', f.app, '--json'])).stdout) as Array<{ name: string; pid: number }>;
  t.not(after[0]!.pid, before[0]!.pid, 'web.1 was replaced');
  t.not(after[1]!.pid, before[1]!.pid, 'web.2 was replaced');
  t.same(failures, [], `no request failed (${ok} succeeded)`, { routerErrors: f.lines.filter((l) => / at=error /.test(l)) });
  t.ok(ok > 20, `the load kept running (${ok} requests)`);
  await f.interrupt();
});
