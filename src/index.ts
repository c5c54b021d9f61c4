/**
 * dynod as a library: what an embedder needs, and no more.
 *
 *   import { run, start, plan, Engine } from 'dynod';
 *   const { exit } = await run({ command: ['node', 'server.js'], size: 'standard-2x' });
 *
 * The module-level plan/start/run use a default Engine; make your own for
 * several independent ones, or to close() everything a long-lived process holds.
 */
export { plan, start, run } from './dyno/index';
export { Engine, getDefaultEngine, type EngineOptions, type RunResult } from './engine/engine';
export { Dyno } from './dyno/dyno';
export { execIn, checkExecTarget, type ExecTarget, type ExecIO, type ExecStdio, type ExecSession, type ExecResult } from './dyno/exec';
export type { DynoEvents, DynoExit, DynoIO, DynoState, DynoStats, StartOptions, StdioOption, TracePoint } from './dyno/dyno';
export type { ByteSize, DynoOptions } from './dyno/options';
export type { DynoPlan, MountSpec } from './dyno/plan';
export type { PublishSpec } from './net/publish-spec';
export type { NetworkOptions } from './net/dyno-network';
export type { Limits, CgroupStats } from './cgroup';
export { SIZES, DEFAULT_SIZE, findSize, type DynoSize, type SizeName } from './dyno/sizes';
export { DynodError, UsageError, CommandError, EXIT_DYNOD_ERROR, EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND } from './errors';
export type { NativeErrorData } from './addon';
// A Procfile formation, as `dynod start` runs it: embed the manager with your own log sink and config.
export { Formation, type FormationOptions, type ReleaseSource, type ReleaseOutcome } from './formation/manager';
export { LogHub } from './formation/logs';
export { ConfigStore } from './formation/config-store';
export { parseProcfile, readProcfile } from './formation/procfile';
export { parseFormation, parseScaleArgs, applyScale } from './formation/formation-spec';
export type { DynoInfo, FormationEntry, LogFilter, LogLine, Procfile, ProcessType, ReleaseInfo, ScaleChange } from './formation/types';
// Heroku's router, as `dynod start` puts it in front of the web dynos.
export { Router, selfSignedCertificate, loadCertificate, type Backend, type BackendSource, type RouterOptions, type RouterTimeouts } from './router';
