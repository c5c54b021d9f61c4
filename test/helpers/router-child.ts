// A router in a process of its own, so that what it holds can be measured alone.
// argv: backend ports (comma-separated). Prints {"port":N} when listening. Every 5 ms it
// adds up the bytes its sockets hold (queued to write, read and not yet taken) and the
// body bytes its exchanges hold: where a body would pile up if the router buffered it.
// A line "report" on stdin prints {"peakHeldKB":…, "heldKB":…, "rssKB":…, "maxRssKB":…}
// and starts a new peak.
import type * as net from 'node:net';
import { Router } from '../../src/router/index';
import { TestSource, tcpBackend } from './router';
import * as readline from 'node:readline';

const queued = (s: net.Socket) => s.writableLength + s.readableLength;
const held = (): number => {
  let n = 0;
  for (const c of router['conns']) {
    n += queued(c.sock);
    n += c.ex === null ? 0 : c.ex['heldBytes'];
  }
  for (const u of router['core'].upstreams) n += queued(u.sock);
  return Math.round(n / 1024);
};
let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, held())), 5);

const ports = (process.argv[2] ?? '').split(',').filter(Boolean).map(Number);
const router = new Router({
  source: new TestSource(ports.map((p, i) => tcpBackend(`web.${i + 1}`, p))),
  log: () => {},
  listen: [{ port: 0, host: '127.0.0.1' }],
});
void router.listen().then(() => process.stdout.write(`${JSON.stringify({ port: router.addresses()[0]!.port })}\n`));
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (l) => {
  if (l !== 'report') return;
  const now = held();
  process.stdout.write(`${JSON.stringify({ peakHeldKB: Math.max(peak, now), heldKB: now, rssKB: Math.round(process.memoryUsage.rss() / 1024), maxRssKB: process.resourceUsage().maxRSS })}\n`);
  peak = 0;
});
rl.on('close', () => {
  clearInterval(sampler);
  void router.close().then(() => process.exit(0));
});
