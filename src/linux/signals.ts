import * as os from 'node:os';

/** What a bad signal argument is told: the names and numbers accepted. */
export const SIGNAL_ACCEPTED = 'accepted: a signal name such as SIGTERM, or a number 1-64';

/** A signal name or number 1-64 as its number, or null when it is neither. */
export function signalNumber(sig: NodeJS.Signals | number): number | null {
  const n = typeof sig === 'number' ? sig : os.constants.signals[sig];
  return n !== undefined && Number.isInteger(n) && n >= 1 && n <= 64 ? n : null;
}

/** SIGTERM for 15; null for a number with no name. */
export function signalName(n: number): NodeJS.Signals | null {
  return (Object.entries(os.constants.signals).find(([, v]) => v === n)?.[0] as NodeJS.Signals) ?? null;
}
