// The README's "Embedding dynod" example: 10 web dynos from one plan, their events,
// readiness, stats, and a graceful stop. Run from the repository: sudo node examples/embed.mjs
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { Engine } = createRequire(import.meta.url)(path.join(here, '..'));

const engine = new Engine();
const plan = engine.plan({
  command: ['node', '-e', "require('http').createServer((q, s) => s.end(process.env.DYNO)).listen(process.env.PORT)"],
  app: path.join(here, 'hello'),
  size: 'standard-1x',
  port: 5000,
});

const dynos = [];
for (let i = 1; i <= 10; i++) {
  const dyno = await engine.start({ ...plan.source, name: `web.${i}` }, {
    group: 'embed',
    stdout: 'pipe',
    stderr: 'pipe',
    onCreated: (d) => {
      // attached before anything runs: every event is seen, 'starting' → 'up' included
      d.on('state', (from, to) => console.log(`dynod[${d.name}]: State changed from ${from} to ${to}`));
      d.on('exit', (exit) => console.log(`dynod[${d.name}]: Process exited with status ${exit.status}${exit.oomKilled ? ' (R15)' : ''}`));
    },
  });
  dyno.stdout.on('data', (b) => process.stdout.write(`app[${dyno.name}]: ${b}`));
  dynos.push(dyno);
}
await Promise.all(dynos.map((d) => d.waitForPort(5000, 60_000)));
console.log(dynos.map((d) => `${d.name} up in ${d.cgroupPath}: ${d.stats().memory.usedBytes} bytes`).join('\n'));
await Promise.all(dynos.map((d) => d.stop(30_000)));
await engine.close();
