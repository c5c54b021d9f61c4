// A router in a process of its own, so that its memory can be measured alone.
// argv: backend ports (comma-separated). Prints {"port":N} when listening; on a line
// "report" on stdin prints {"maxRssKB":…, "rssKB":…} (peak and current resident memory).
import * as readline from 'node:readline';
import { Router } from '../../src/router/index';
import { TestSource, tcpBackend } from './router';

const ports = (process.argv[2] ?? '').split(',').filter(Boolean).map(Number);
const router = new Router({
  source: new TestSource(ports.map((p, i) => tcpBackend(`web.${i + 1}`, p))),
  log: () => {},
  listen: [{ port: 0, host: '127.0.0.1' }],
});
void router.listen().then(() => process.stdout.write(`${JSON.stringify({ port: router.addresses()[0]!.port })}\n`));
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (l) => {
  if (l === 'report') process.stdout.write(`${JSON.stringify({ maxRssKB: process.resourceUsage().maxRSS, rssKB: Math.round(process.memoryUsage().rss / 1024) })}\n`);
});
rl.on('close', () => void router.close().then(() => process.exit(0)));
