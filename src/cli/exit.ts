import { loadedNative } from '../native';

/**
 * How a CLI process ends once its event loop has nothing left (output written, dynos
 * ended, cleanup done): process.exit(), so its 'exit' listeners run, without Node's
 * teardown of the V8 heap (~2 ms). And when this process has the addon loaded
 * already (every command that started or reached a dyno), without the rest of Node's
 * exit either: joining the threadpool and V8's workers, then every static destructor
 * (~2 ms more: native/addon.cc, exitNow). stdout and stderr are synchronous on Linux,
 * so nothing written is lost. Node's exit stays whole where something is written at
 * its end: coverage and profiles (NODE_V8_COVERAGE, --cpu-prof, --heap-prof, --prof)
 * and the logger (DYNOD_LOG_LEVEL: pino's asynchronous destination).
 */
export function exitWhenDone(): void {
  process.once('beforeExit', () => {
    const addon = loadedNative();
    if (addon && !teardownWanted()) {
      const proc = process as unknown as { reallyExit(code: number): never };
      proc.reallyExit = (code) => addon.exitNow(Number(code) & 0xff);
    }
    process.exit();
  });
}

function teardownWanted(): boolean {
  if (process.env.NODE_V8_COVERAGE || process.env.DYNOD_LOG_LEVEL) return true;
  // from the command line or from NODE_OPTIONS (which execArgv does not show)
  return /(^|\s)--(cpu-prof|heap-prof|prof)\b/.test(`${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`);
}
