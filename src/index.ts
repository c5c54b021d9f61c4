/**
 * dynod as a library: everything the CLI does, for other Node programs.
 *
 *   import { run, start, plan } from 'dynod';
 *   const { exit } = await run({ command: ['node', 'server.js'], size: 'standard-2x' });
 */
export { plan, start, run, Dyno } from './dyno/index';
export type { DynoExit, DynoIO, DynoState, StartOptions, StdioOption, TracePoint } from './dyno/dyno';
export type { DynoOptions } from './dyno/options';
export type { DynoPlan, MountSpec } from './dyno/plan';
export { planDyno, DYNO_USER, DYNO_PATH, DEFAULT_PORT } from './dyno/plan';
export { SIZES, DEFAULT_SIZE, findSize, type DynoSize } from './dyno/sizes';
export { parseDotenv, readEnvFile, parseEnvPair } from './dyno/env';
export { parseBytes, parseCpus } from './dyno/units';
export { compileSpawn, compileOps } from './dyno/compile';
export { gatherHostFacts, type HostFacts } from './dyno/host';
export { detectCgroups, type CgroupBackend, type Limits } from './cgroup';
export { parsePublish, type PublishSpec } from './net/publish';
export { DynodError, UsageError, CommandError, EXIT_DYNOD_ERROR, EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND } from './errors';
export type { NativeErrorData } from './addon';
