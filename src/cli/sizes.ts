import { SIZES } from '../dyno/sizes';
import { NOFILE } from '../dyno/plan';

function mem(mib: number): string {
  return mib >= 2048 ? `${+(mib / 1024).toFixed(1)} GB` : `${mib} MB`;
}

/** `dynod sizes [--json]` */
export function sizesCommand(json: boolean): string {
  if (json) return `${JSON.stringify(SIZES.map((s) => ({ ...s, nofile: NOFILE })), null, 2)}\n`;
  const rows = [
    ['SIZE', 'MEMORY', 'KILLED AT', 'CPU', 'PROCESSES', 'OPEN FILES'],
    ...SIZES.map((s) => [
      s.name,
      mem(s.memoryMiB),
      mem(s.killMiB),
      s.vcpus !== null ? `${s.vcpus} vCPU (dedicated)` : `${s.cpuShare}x share`,
      String(s.processLimit),
      String(NOFILE),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}
