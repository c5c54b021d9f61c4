// Whether the kernel itself runs i386 syscalls (int $0x80) on x86_64: the baseline
// for the seccomp checks that expect another ABI's syscall to be killed by the filter.
//
// Without IA32 emulation (CONFIG_IA32_EMULATION off, or ia32_emulation=0 on the kernel
// command line) `int $0x80` raises SIGSEGV before seccomp ever sees a syscall, with or
// without a filter: "KILLED:SYS" cannot happen there, and "KILLED:SEGV" proves nothing
// about the filter. Where the baseline works, the checks stay exactly as strict.
//
// (x32 has not got this shape: seccomp runs at syscall entry before the x32 dispatch, so
// a filter sees an x32 syscall whether or not the kernel has the x32 ABI; without a
// filter such a kernel answers ENOSYS, never a signal. Its checks need no baseline.)

export const NO_IA32_REASON = 'not applicable on this kernel: int $0x80 raises SIGSEGV without any filter (no IA32 emulation)';

/** Set to 1 to make ia32Baseline() act as if the kernel refused int $0x80 (a test of the tests' skip path). */
export const FORCE_NO_IA32_ENV = 'DYNOD_TEST_FORCE_NO_IA32';

export interface Ia32Baseline {
  /** what the unfiltered probe got (or what the override pretends it got) */
  result: string;
  /** the i386 ABI works without a filter: the filtered checks apply */
  works: boolean;
  /** set when the i386 checks must be reported as skipped */
  skip?: string;
  /** the result is neither "works" nor the no-IA32 SIGSEGV: the probe itself is in question */
  unexpected: boolean;
}

/**
 * Judges an unfiltered run of an `int $0x80` probe.
 * works(result): the probe's own notion of "the syscall returned" (e.g. EXIT:0, or "OK ...").
 */
export function ia32Baseline(measured: string | undefined, works: (result: string) => boolean): Ia32Baseline {
  if (process.env[FORCE_NO_IA32_ENV] === '1') return { result: `KILLED:SEGV (forced by ${FORCE_NO_IA32_ENV}=1; measured ${measured ?? 'nothing'})`, works: false, skip: NO_IA32_REASON, unexpected: false };
  const result = measured ?? 'NO RESULT';
  if (works(result)) return { result, works: true, unexpected: false };
  if (/^KILLED:SEGV\b/.test(result)) return { result, works: false, skip: NO_IA32_REASON, unexpected: false };
  return { result, works: false, unexpected: true };
}
