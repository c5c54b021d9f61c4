import t from 'tap';
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TestSource, connectTo, httpUpstream, lineFields, prng, readUntil, splitResponses, startRouter, tcpBackend } from '../helpers/router';

// ============================================================================
// Bodies: streamed both ways as they come, Expect: 100-continue, and 100 MB each
// way intact through a router in a process of its own, whose memory stays small.

t.test('full duplex: the dyno\'s echo of each piece comes back before the client sends the next', async (t) => {
  const up = await httpUpstream((q, r) => {
    r.writeHead(200, { 'Content-Type': 'text/plain' });
    q.pipe(r);
  });
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]));
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const s = await connectTo(r.port);
  s.write('POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
  let got = '';
  const waitFor = (text: string) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (got.includes(text)) {
          s.off('data', on);
          resolve();
        }
      };
      const on = (d: Buffer) => {
        got += d.toString('latin1');
        check();
      };
      s.on('data', on);
      check();
    });
  for (const piece of ['alpha', 'bravo', 'charlie']) {
    s.write(`${piece.length.toString(16)}\r\n${piece}\r\n`);
    await waitFor(piece);
  }
  s.write('0\r\n\r\n');
  await waitFor('0\r\n\r\n');
  s.destroy();
  t.match(got, /^HTTP\/1\.1 200 OK\r\n/);
  t.match(got, /Transfer-Encoding: chunked/);
  t.match(got, /alpha[\s\S]*bravo[\s\S]*charlie/);
});

t.test('Expect: 100-continue: the dyno\'s 100 reaches the client, then the body goes; a refusal ends it early', async (t) => {
  const up = await httpUpstream((q, r) => {
    let n = 0;
    q.on('data', (d: Buffer) => (n += d.length));
    q.on('end', () => r.end(`got ${n}`));
  });
  up.server.on('checkContinue', (q: http.IncomingMessage, r: http.ServerResponse) => {
    if (q.url === '/refuse') {
      r.writeHead(413, { 'Content-Type': 'text/plain' });
      r.end('too big');
      return;
    }
    r.writeContinue();
    up.server.emit('request', q, r);
  });
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]));
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const s = await connectTo(r.port);
  const cont = readUntil(s, (x) => x.includes('\r\n\r\n'));
  s.write('PUT /ok HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
  t.equal(await cont, 'HTTP/1.1 100 Continue\r\n\r\n', 'the 100 first, before any body');
  const fin = readUntil(s, (x) => x.endsWith('got 5'));
  s.write('hello');
  const final = await fin;
  t.match(final, /^HTTP\/1\.1 200 OK\r\n/);
  t.ok(final.endsWith('got 5'));
  // refused: the final answer comes without a 100, and the connection closes (the body was never read)
  const s2 = await connectTo(r.port);
  const refused = readUntil(s2);
  s2.write('PUT /refuse HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 100000000\r\n\r\n');
  const text = await refused;
  t.match(text, /^HTTP\/1\.1 413 Payload Too Large\r\n/);
  t.match(text, /\r\nConnection: close\r\n/);
  t.ok(text.endsWith('7\r\ntoo big\r\n0\r\n\r\n'), 'the whole answer, then the close');
  s.destroy();
  t.same((await r.waitLines(2)).map((l) => lineFields(l).status), ['200', '413']);
});

t.test('a trailer after a chunked request body reaches the dyno', async (t) => {
  const up = await httpUpstream((q, r) => {
    q.resume();
    q.on('end', () => r.end(JSON.stringify(q.trailers)));
  });
  const r = await startRouter(new TestSource([tcpBackend('web.1', up.port)]));
  t.teardown(async () => {
    await r.close();
    await up.close();
  });
  const s = await connectTo(r.port);
  const out = readUntil(s, (x) => splitResponses(x).length === 1);
  s.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-Sum: 42\r\n\r\n');
  t.same(JSON.parse(splitResponses(await out)[0]!.body), { 'x-sum': '42' });
  s.destroy();
});

/** 100 MB of deterministic bytes, 1 MB blocks (each block different), and their sha256 */
const SIZE = 100 * 1024 * 1024;
function body(): { stream: () => Readable; sha256: string } {
  const rnd = prng(99);
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < block.length; i += 4) block.writeUInt32LE(Math.floor(rnd() * 2 ** 32), i);
  const blocks = function* () {
    for (let i = 0; i < SIZE / block.length; i++) {
      const b = Buffer.from(block);
      b.writeUInt32LE(i, 0);
      yield b;
    }
  };
  const h = crypto.createHash('sha256');
  for (const b of blocks()) h.update(b);
  return { stream: () => Readable.from(blocks(), { objectMode: false }), sha256: h.digest('hex') };
}

t.test('100 MB up and 100 MB down, intact (sha256), through a router whose memory stays small', async (t) => {
  const data = body();
  const up = await httpUpstream((q, r) => {
    if (q.method === 'POST') {
      const h = crypto.createHash('sha256');
      let n = 0;
      q.on('data', (d: Buffer) => {
        n += d.length;
        h.update(d);
      });
      q.on('end', () => r.end(JSON.stringify({ bytes: n, sha256: h.digest('hex') })));
    } else {
      r.writeHead(200, { 'Content-Length': SIZE });
      void pipeline(data.stream(), r);
    }
  });
  t.teardown(() => up.close());
  const child = spawn(process.execPath, [...process.execArgv, path.join(__dirname, '..', 'helpers', 'router-child.ts'), String(up.port)], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => {
    child.stdin.end();
  });
  const lines = readline.createInterface({ input: child.stdout });
  const next = () => new Promise<Record<string, number>>((resolve) => lines.once('line', (l) => resolve(JSON.parse(l) as Record<string, number>)));
  const { port } = await next();
  const report = async () => {
    child.stdin.write('report\n');
    return next();
  };

  // warm up, then the baseline
  for (let i = 0; i < 20; i++) await httpGet(port, '/small?', 1024 * 1024);
  const before = await report();

  const upload = await new Promise<string>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/up', headers: { 'Content-Length': SIZE } }, (res) => {
      let b = '';
      res.on('data', (d: Buffer) => (b += d));
      res.on('end', () => resolve(b));
    });
    req.on('error', reject);
    void pipeline(data.stream(), req).catch(reject);
  });
  t.same(JSON.parse(upload), { bytes: SIZE, sha256: data.sha256 }, 'upload intact');

  const down = await httpGet(port, '/down', SIZE);
  t.same(down, { bytes: SIZE, sha256: data.sha256 }, 'download intact');

  const after = await report();
  // 200 MB went through; at any time the router held a few socket buffers of it
  t.ok(after.peakHeldKB! < 1024, `the router held at most ${after.peakHeldKB} KB of the bodies at a time (must stay under 1 MB)`);
  // its peak resident memory counts garbage not yet collected too: a loose bound
  const grew = (after.maxRssKB! - before.rssKB!) / 1024;
  t.ok(grew < 150, `its peak resident memory was ${grew.toFixed(0)} MB above the start (under 150 MB; 200 MB went through)`);
  child.stdin.end();
  await new Promise((r) => child.once('exit', r));
});

function httpGet(port: number, p: string, expect: number): Promise<{ bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: p }, (res) => {
        const h = crypto.createHash('sha256');
        let n = 0;
        res.on('data', (d: Buffer) => {
          n += d.length;
          h.update(d);
        });
        res.on('end', () => (n === expect || p.startsWith('/small') ? resolve({ bytes: n, sha256: h.digest('hex') }) : reject(new Error(`got ${n} of ${expect} bytes`))));
      })
      .on('error', reject);
  });
}
