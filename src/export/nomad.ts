import { UsageError } from '../errors';
import { COOL_OFF_MINUTES, STABLE_MINUTES } from '../formation/backoff';
import type { DynoSize } from '../dyno/sizes';
import { dynoRunArgs, RELEASE_DYNO, RELEASE_TIMEOUT_S, STOP_TIMEOUT_S, type ExportFile, type ExportPlan, type PlannedType } from './model';

/*
 * A formation as one Nomad job in the JSON form the HTTP API and `nomad job run
 * -json` take ({"Job": {...}}, field names of Nomad's api package, durations in
 * nanoseconds), plus the app's environment as a Nomad Variable spec for
 * `nomad var put @<app>.vars.json`:
 *   - a task group per process type, Count = its quantity (0 is kept: `nomad job
 *     scale` can raise it);
 *   - its task runs `dynod run …` with the raw_exec driver (dynod makes the dyno's
 *     namespaces and cgroups itself; raw_exec must be enabled on the clients);
 *   - the release phase is a prestart task of every group, so no dyno of a new job
 *     version starts before a release phase succeeded on its allocation;
 *   - the environment never enters the job (a job is submitted to servers and shown
 *     by `nomad job inspect`): a template renders the variable nomad/jobs/<app>, which
 *     the job's tasks may read, into the task's secrets dir (0600), for --env-file.
 */

export interface NomadOptions {
  /** a go-getter URL of the app (a tarball); null: the app is at plan.appDir on every client */
  artifact: string | null;
  datacenters: string[];
}

const NS_PER_S = 1_000_000_000;
const seconds = (s: number) => s * NS_PER_S;
const minutes = (m: number) => seconds(m * 60);

/** Nomad's CPU for 1x of Heroku's shared CPU: Performance-M's 2 vCPUs are 12x, so 1x is 1/6 of a 2.4 GHz core. */
export const MHZ_PER_SHARE = 400;
/** Room for dynod run's own Node process (about 56 MB resident, measured) in the task's memory. */
export const DYNOD_OVERHEAD_MB = 96;
export const PORT_LABEL = 'http';

/** Nomad replaces ${NAME} in task args with the client's or the task's variables (helper/args). */
const NOMAD_INTERPOLATION = /\$\{[a-zA-Z0-9_.-]+\}/;

export function variablePath(app: string): string {
  return `nomad/jobs/${app}`;
}

/**
 * The env file template: each item of the job's variable as KEY="value" with the
 * escapes dynod's .env parser reads back (as formatEnvFile writes them).
 */
export function envTemplate(app: string): string {
  const esc = ['"\\\\" "\\\\\\\\"', '"\\"" "\\\\\\""', '"$" "\\\\$"', '"\\n" "\\\\n"', '"\\r" "\\\\r"'].map((a) => ` | replaceAll ${a}`).join('');
  return `{{ with nomadVar "${variablePath(app)}" }}{{ range .Tuples }}{{ .K }}="{{ .V${esc} }}"\n{{ end }}{{ end }}`;
}

/** A JSON text with every object's keys sorted: same plan, same bytes. */
export function stableJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) {
        const x = (v as Record<string, unknown>)[k];
        if (x !== undefined) out[k] = sort(x);
      }
      return out;
    }
    return v;
  };
  return `${JSON.stringify(sort(value), null, 2)}\n`;
}

function resources(size: DynoSize): Record<string, number> {
  const memory = size.memoryMiB + DYNOD_OVERHEAD_MB;
  // dedicated sizes reserve whole cores (Nomad pins them); shared ones a CPU share
  return size.vcpus !== null ? { MemoryMB: memory, Cores: size.vcpus } : { MemoryMB: memory, CPU: MHZ_PER_SHARE * (size.cpuShare ?? 1) };
}

function refuseInterpolation(plan: ExportPlan): void {
  const commands = [...plan.types.map((t) => ({ type: t.type, line: t.line, command: t.command })), ...(plan.release ? [{ type: 'release', line: plan.release.line, command: plan.release.command }] : [])];
  for (const c of commands) {
    const m = NOMAD_INTERPOLATION.exec(c.command);
    if (m) {
      const name = m[0].slice(2, -1);
      throw new UsageError(`${plan.procfileName}:${c.line}: the command of "${c.type}" contains ${m[0]}, which Nomad would replace with the client's ${name} before the dyno runs; write $${name} instead (or \${${name}:-} where a letter follows)`);
    }
  }
  for (const [what, v] of [['--app', plan.appDir], ['--dynod', plan.dynod]] as const) {
    if (NOMAD_INTERPOLATION.test(v)) throw new UsageError(`${what} ${v}: Nomad would read \${…} in it as a variable; choose a path without "\${"`);
  }
}

/** The job file and, when the app has variables, the variable spec (0600). */
export function nomadFiles(plan: ExportPlan, o: NomadOptions): ExportFile[] {
  refuseInterpolation(plan);
  if (o.datacenters.length === 0 || o.datacenters.some((d) => d.trim() === '')) throw new UsageError('--datacenters: one or more names separated by commas (or *)');
  if (o.artifact !== null && NOMAD_INTERPOLATION.test(o.artifact)) throw new UsageError(`--artifact ${o.artifact}: Nomad would read \${…} in it as a variable`);
  const withEnv = plan.env.length > 0;
  const appDir = o.artifact === null ? plan.appDir : '${NOMAD_TASK_DIR}/app';
  const envFile = withEnv ? '${NOMAD_SECRETS_DIR}/dyno.env' : null;

  const task = (name: string, dyno: string, size: DynoSize, command: string, web: boolean, release: boolean): Record<string, unknown> => ({
    Name: name,
    Driver: 'raw_exec',
    Config: {
      command: plan.dynod,
      args: dynoRunArgs(plan, {
        name: dyno,
        size,
        appDir,
        port: web ? `\${NOMAD_PORT_${PORT_LABEL}}` : String(plan.port),
        envFile,
        publish: web ? `\${NOMAD_ADDR_${PORT_LABEL}}` : null,
        bootTimeoutMs: web ? plan.bootTimeoutMs : null,
        command,
      }),
    },
    Resources: resources(size),
    KillSignal: 'SIGTERM',
    KillTimeout: seconds(STOP_TIMEOUT_S),
    Lifecycle: release ? { Hook: 'prestart', Sidecar: false } : undefined,
    // the release phase is not retried in place: it failed, so this allocation fails
    RestartPolicy: release ? { Attempts: 0, Interval: minutes(STABLE_MINUTES), Delay: 0, Mode: 'fail' } : undefined,
    Artifacts: o.artifact === null ? undefined : [{ GetterSource: o.artifact, RelativeDest: 'local/app' }],
    Templates: withEnv
      ? [{ DestPath: 'secrets/dyno.env', EmbeddedTmpl: envTemplate(plan.app), Perms: '0600', ChangeMode: release ? 'noop' : 'restart' }]
      : undefined,
  });

  const group = (t: PlannedType): Record<string, unknown> => ({
    Name: t.type,
    Count: t.quantity,
    // Heroku: the first crash restarts at once; another before the dyno stayed up
    // 10 minutes fails the allocation, rescheduled after 20, 40, 80, 160, 320, 320… min
    RestartPolicy: { Attempts: 1, Interval: minutes(STABLE_MINUTES), Delay: 0, Mode: 'fail' },
    ReschedulePolicy: {
      Attempts: 0,
      Interval: 0,
      Delay: minutes(COOL_OFF_MINUTES[0]),
      DelayFunction: 'exponential',
      MaxDelay: minutes(COOL_OFF_MINUTES[COOL_OFF_MINUTES.length - 1]!),
      Unlimited: true,
    },
    Networks: t.web ? [{ Mode: 'host', DynamicPorts: [{ Label: PORT_LABEL }] }] : undefined,
    Services: t.web
      ? [{
          Name: `${plan.app}-${t.type}`,
          Provider: 'nomad',
          PortLabel: PORT_LABEL,
          Checks: [{ Name: `${t.type} accepts TCP`, Type: 'tcp', PortLabel: PORT_LABEL, Interval: seconds(10), Timeout: seconds(2) }],
          CheckRestart: { Limit: 3, Grace: plan.bootTimeoutMs * 1_000_000, IgnoreWarnings: false },
        }]
      : undefined,
    Tasks: [
      ...(plan.release ? [task('release', RELEASE_DYNO, plan.release.size, plan.release.command, false, true)] : []),
      task(t.type, `${t.type}.\${NOMAD_ALLOC_INDEX}`, t.size, t.command, t.web, false),
    ],
  });

  // a new version's allocation must be healthy within its release phase and boot
  const healthy = Math.max(minutes(5), (plan.release ? seconds(RELEASE_TIMEOUT_S) : 0) + plan.bootTimeoutMs * 1_000_000 + minutes(1));
  const job = {
    Job: {
      ID: plan.app,
      Name: plan.app,
      Type: 'service',
      Datacenters: o.datacenters,
      // one allocation at a time; a version that never gets healthy (its release phase
      // failed, its web dyno never listened) is rolled back to the last good one
      Update: {
        MaxParallel: 1,
        HealthCheck: 'checks',
        MinHealthyTime: seconds(10),
        HealthyDeadline: healthy,
        ProgressDeadline: healthy + minutes(5),
        AutoRevert: true,
      },
      TaskGroups: plan.types.map(group),
    },
  };
  const files: ExportFile[] = [{ path: `${plan.app}.nomad.json`, mode: 0o644, content: stableJson(job) }];
  if (withEnv) {
    files.push({
      path: `${plan.app}.vars.json`,
      mode: 0o600,
      content: stableJson({ Path: variablePath(plan.app), Items: Object.fromEntries(plan.env) }),
    });
  }
  return files;
}
