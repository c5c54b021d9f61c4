import pino from 'pino';

/** dynod's own diagnostics (not the dyno's output): stderr, silent unless DYNOD_LOG_LEVEL is set. */
export const log = pino(
  { name: 'dynod', level: process.env.DYNOD_LOG_LEVEL ?? 'silent', base: { pid: process.pid } },
  pino.destination(2),
);
