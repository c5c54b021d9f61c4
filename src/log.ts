import type { Logger } from 'pino';

/**
 * dynod's own diagnostics (not the dyno's output): pino JSON on stderr, only when
 * DYNOD_LOG_LEVEL is set. pino is loaded on first use, so `dynod run` does not pay
 * for it otherwise.
 */
let logger: Logger | null | undefined;

function get(): Logger | null {
  if (logger === undefined) {
    const level = process.env.DYNOD_LOG_LEVEL;
    if (!level || level === 'silent') logger = null;
    else {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const pino = require('pino') as typeof import('pino');
      logger = pino.default({ name: 'dynod', level, base: { pid: process.pid } }, pino.destination(2));
    }
  }
  return logger;
}

export const log = {
  debug: (obj: object, msg: string) => get()?.debug(obj, msg),
  info: (obj: object, msg: string) => get()?.info(obj, msg),
  warn: (obj: object, msg: string) => get()?.warn(obj, msg),
};
