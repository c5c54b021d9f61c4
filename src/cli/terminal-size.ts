/**
 * The size a dyno's terminal gets from ours. A terminal that does not know its size reports
 * 0 × 0 (script(1), serial consoles, some CI runners): the dyno then gets the plan's
 * default, 24 × 80, rather than a size no pty can have.
 */
export function terminalSize(out: { rows?: number; columns?: number } = process.stdout): { rows: number | undefined; cols: number | undefined } {
  const rows = out.rows ?? 0;
  const cols = out.columns ?? 0;
  return rows > 0 && cols > 0 ? { rows, cols } : { rows: undefined, cols: undefined };
}
