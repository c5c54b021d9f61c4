import { UsageError } from '../errors';

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "128M", "1.5g", "512MiB", "1073741824" → bytes. */
export function parseBytes(value: string | number, option = '--memory'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(String(value));
  if (!m) throw new UsageError(`${option} ${JSON.stringify(String(value))}: not a size; use bytes or a number with K, M, G or T (e.g. 128M)`);
  const bytes = typeof value === 'number' ? Math.floor(value) : Math.floor(Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]!);
  if (bytes < 4 * 1024 * 1024) throw new UsageError(`${option} ${value}: too small; the minimum is 4M`);
  // far above any machine, and twice it (memory+swap) is still a value the kernel takes
  if (!(bytes <= 1024 ** 5)) throw new UsageError(`${option} ${value}: too large; the maximum is 1024T`);
  return bytes;
}

export function parseCpus(value: string | number, option = '--cpus'): number {
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isFinite(n) || n <= 0 || n > 1024 || String(value).trim() === '')
    throw new UsageError(`${option} ${JSON.stringify(String(value))}: must be a number of CPUs greater than 0 (e.g. 0.5 or 2)`);
  return n;
}

export function parsePositiveInt(value: string | number, option: string, min = 1, max = 4_194_304): number {
  const s = String(value).trim();
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < min || n > max)
    throw new UsageError(`${option} ${JSON.stringify(String(value))}: must be a whole number from ${min} to ${max}`);
  return n;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "30", "30s", "500ms", "2m", "24h" → milliseconds (a bare number is seconds). */
export function parseDuration(value: string, option: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (!m) throw new UsageError(`${option} ${JSON.stringify(value)}: not a duration; use seconds or a number with ms, s, m or h (e.g. 30s, 24h)`);
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? 's']!);
}
