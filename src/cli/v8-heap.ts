import * as v8 from 'node:v8';

/**
 * A formation's start allocates in bursts (a dyno's plan, pipes, log lines), and V8
 * answers by doubling its young generation up to 2 × 16 MiB, which it keeps: most
 * of the manager's RSS growth per dyno (docs/benchmarks.md, formation). This process
 * is dynod's own, so it may set V8's flags: no growth, semi-spaces stay at 1 MiB. Read
 * at each growth decision, so it works after start-up too (a V8 flag such as
 * --max-semi-space-size is read only when the heap is made, and on the command line
 * it would cost every dynod command's start-up its scavenges). bin/dynod sets it for
 * `dynod start` once the CLI's code is compiled, before it runs. The router, in the
 * same process, keeps its throughput (scripts/bench/router.js sets it as well).
 */
export function keepYoungGenerationSmall(): void {
  v8.setFlagsFromString('--semi-space-growth-factor=1');
}
