import type { NativeErrorData } from './addon';

/** Exit statuses dynod uses for its own outcomes (the rest are the dyno's). */
export const EXIT_DYNOD_ERROR = 125;
export const EXIT_NOT_EXECUTABLE = 126;
export const EXIT_NOT_FOUND = 127;

/**
 * A failure of dynod itself: bad input, or a setup step the kernel refused.
 * `step` says what dynod was doing, `syscall` and `code` what the kernel said.
 */
export class DynodError extends Error {
  readonly step: string;
  readonly syscall: string;
  readonly errno: number;
  readonly code: string;
  readonly detail: string;
  readonly exitCode: number;

  constructor(message: string, data: Partial<NativeErrorData> = {}, exitCode = EXIT_DYNOD_ERROR, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.step = data.step ?? '';
    this.syscall = data.syscall ?? '';
    this.errno = data.errno ?? 0;
    this.code = data.code ?? '';
    this.detail = data.detail ?? '';
    this.exitCode = exitCode;
  }

  /** From a step failure reported by the addon or by the dyno's setup. */
  static fromStep(data: NativeErrorData & { message?: string }): DynodError {
    const what = data.detail ? `${data.syscall} ${data.detail}` : data.syscall;
    const why = data.message || data.code;
    return new DynodError(`${data.step}: ${what}: ${data.code} (${why})`, data);
  }

  /** Re-type an Error thrown by the addon. */
  static fromNative(err: unknown): DynodError {
    if (err instanceof DynodError) return err;
    const e = err as Partial<NativeErrorData> & Error;
    if (e && typeof e.step === 'string' && typeof e.errno === 'number')
      return new DynodError(e.message, e);
    return new DynodError(e instanceof Error ? e.message : String(err));
  }
}

/** Bad input: an option, a size, a file. */
export class UsageError extends DynodError {
  constructor(message: string) {
    super(message, { step: 'usage' });
  }
}

/** The command could not be started: not found (127) or not executable (126). */
export class CommandError extends DynodError {
  constructor(command: string, data: NativeErrorData & { message?: string }) {
    const notFound = data.code === 'ENOENT' || data.code === 'ENOTDIR';
    super(
      notFound
        ? `${command}: command not found`
        : `${command}: cannot execute: ${data.code} (${data.message || data.code})`,
      data,
      notFound ? EXIT_NOT_FOUND : EXIT_NOT_EXECUTABLE,
    );
  }
}
