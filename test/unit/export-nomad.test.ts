import t from 'tap';
import { parseDotenv } from '../../src/dyno/env';
import { UsageError } from '../../src/errors';
import { envTemplate, nomadFiles, stableJson, type NomadOptions } from '../../src/export/nomad';
import { ENV, samplePlan } from './fixtures/export-sample';

// ============================================================================
// `dynod export nomad` as pure functions. Nomad is not installable here, so the job
// is checked against Nomad's own definitions instead: every field name and type of
// the api package's structs (hashicorp/nomad api/jobs.go, tasks.go, services.go,
// resources.go, variables.go at aa026cc9, 2026-08), plus the validations of
// nomad/structs that the values could trip (restart/reschedule policies, resources,
// service names, update deadlines). The env template is run by an emulation of the
// consul-template functions it uses.

const OPTS: NomadOptions = { artifact: null, datacenters: ['*'] };

const GOLDEN: Array<[string, number, string]> = [
  ["shop.nomad.json", 0o644, `{
  "Job": {
    "Datacenters": [
      "*"
    ],
    "ID": "shop",
    "Name": "shop",
    "TaskGroups": [
      {
        "Count": 2,
        "Name": "web",
        "Networks": [
          {
            "DynamicPorts": [
              {
                "Label": "http"
              }
            ],
            "Mode": "host"
          }
        ],
        "ReschedulePolicy": {
          "Attempts": 0,
          "Delay": 1200000000000,
          "DelayFunction": "exponential",
          "Interval": 0,
          "MaxDelay": 19200000000000,
          "Unlimited": true
        },
        "RestartPolicy": {
          "Attempts": 1,
          "Delay": 0,
          "Interval": 600000000000,
          "Mode": "fail"
        },
        "Services": [
          {
            "CheckRestart": {
              "Grace": 60000000000,
              "IgnoreWarnings": false,
              "Limit": 3
            },
            "Checks": [
              {
                "Interval": 10000000000,
                "Name": "web accepts TCP",
                "PortLabel": "http",
                "Timeout": 2000000000,
                "Type": "tcp"
              }
            ],
            "Name": "shop-web",
            "PortLabel": "http",
            "Provider": "nomad"
          }
        ],
        "Tasks": [
          {
            "Config": {
              "args": [
                "run",
                "--name",
                "release.1",
                "--size",
                "standard-1x",
                "--app",
                "/srv/shop",
                "--port",
                "5000",
                "--env-file",
                "\${NOMAD_SECRETS_DIR}/dyno.env",
                "--",
                "/bin/sh",
                "-c",
                "bin/migrate --all"
              ],
              "command": "/opt/dynod/bin/dynod"
            },
            "Driver": "raw_exec",
            "KillSignal": "SIGTERM",
            "KillTimeout": 35000000000,
            "Lifecycle": {
              "Hook": "prestart",
              "Sidecar": false
            },
            "Name": "release",
            "Resources": {
              "CPU": 400,
              "MemoryMB": 608
            },
            "RestartPolicy": {
              "Attempts": 0,
              "Delay": 0,
              "Interval": 600000000000,
              "Mode": "fail"
            },
            "Templates": [
              {
                "ChangeMode": "noop",
                "DestPath": "secrets/dyno.env",
                "EmbeddedTmpl": "{{ with nomadVar \\"nomad/jobs/shop\\" }}{{ range .Tuples }}{{ .K }}=\\"{{ .V | replaceAll \\"\\\\\\\\\\" \\"\\\\\\\\\\\\\\\\\\" | replaceAll \\"\\\\\\"\\" \\"\\\\\\\\\\\\\\"\\" | replaceAll \\"$\\" \\"\\\\\\\\$\\" | replaceAll \\"\\\\n\\" \\"\\\\\\\\n\\" | replaceAll \\"\\\\r\\" \\"\\\\\\\\r\\" }}\\"\\n{{ end }}{{ end }}",
                "Perms": "0600"
              }
            ]
          },
          {
            "Config": {
              "args": [
                "run",
                "--name",
                "web.\${NOMAD_ALLOC_INDEX}",
                "--size",
                "standard-1x",
                "--app",
                "/srv/shop",
                "--port",
                "\${NOMAD_PORT_http}",
                "--env-file",
                "\${NOMAD_SECRETS_DIR}/dyno.env",
                "--publish",
                "\${NOMAD_ADDR_http}",
                "--boot-timeout",
                "60s",
                "--",
                "/bin/sh",
                "-c",
                "bundle exec puma -p $PORT -C \\"config/puma.rb\\""
              ],
              "command": "/opt/dynod/bin/dynod"
            },
            "Driver": "raw_exec",
            "KillSignal": "SIGTERM",
            "KillTimeout": 35000000000,
            "Name": "web",
            "Resources": {
              "CPU": 400,
              "MemoryMB": 608
            },
            "Templates": [
              {
                "ChangeMode": "restart",
                "DestPath": "secrets/dyno.env",
                "EmbeddedTmpl": "{{ with nomadVar \\"nomad/jobs/shop\\" }}{{ range .Tuples }}{{ .K }}=\\"{{ .V | replaceAll \\"\\\\\\\\\\" \\"\\\\\\\\\\\\\\\\\\" | replaceAll \\"\\\\\\"\\" \\"\\\\\\\\\\\\\\"\\" | replaceAll \\"$\\" \\"\\\\\\\\$\\" | replaceAll \\"\\\\n\\" \\"\\\\\\\\n\\" | replaceAll \\"\\\\r\\" \\"\\\\\\\\r\\" }}\\"\\n{{ end }}{{ end }}",
                "Perms": "0600"
              }
            ]
          }
        ]
      },
      {
        "Count": 1,
        "Name": "worker",
        "ReschedulePolicy": {
          "Attempts": 0,
          "Delay": 1200000000000,
          "DelayFunction": "exponential",
          "Interval": 0,
          "MaxDelay": 19200000000000,
          "Unlimited": true
        },
        "RestartPolicy": {
          "Attempts": 1,
          "Delay": 0,
          "Interval": 600000000000,
          "Mode": "fail"
        },
        "Tasks": [
          {
            "Config": {
              "args": [
                "run",
                "--name",
                "release.1",
                "--size",
                "standard-1x",
                "--app",
                "/srv/shop",
                "--port",
                "5000",
                "--env-file",
                "\${NOMAD_SECRETS_DIR}/dyno.env",
                "--",
                "/bin/sh",
                "-c",
                "bin/migrate --all"
              ],
              "command": "/opt/dynod/bin/dynod"
            },
            "Driver": "raw_exec",
            "KillSignal": "SIGTERM",
            "KillTimeout": 35000000000,
            "Lifecycle": {
              "Hook": "prestart",
              "Sidecar": false
            },
            "Name": "release",
            "Resources": {
              "CPU": 400,
              "MemoryMB": 608
            },
            "RestartPolicy": {
              "Attempts": 0,
              "Delay": 0,
              "Interval": 600000000000,
              "Mode": "fail"
            },
            "Templates": [
              {
                "ChangeMode": "noop",
                "DestPath": "secrets/dyno.env",
                "EmbeddedTmpl": "{{ with nomadVar \\"nomad/jobs/shop\\" }}{{ range .Tuples }}{{ .K }}=\\"{{ .V | replaceAll \\"\\\\\\\\\\" \\"\\\\\\\\\\\\\\\\\\" | replaceAll \\"\\\\\\"\\" \\"\\\\\\\\\\\\\\"\\" | replaceAll \\"$\\" \\"\\\\\\\\$\\" | replaceAll \\"\\\\n\\" \\"\\\\\\\\n\\" | replaceAll \\"\\\\r\\" \\"\\\\\\\\r\\" }}\\"\\n{{ end }}{{ end }}",
                "Perms": "0600"
              }
            ]
          },
          {
            "Config": {
              "args": [
                "run",
                "--name",
                "worker.\${NOMAD_ALLOC_INDEX}",
                "--size",
                "standard-2x",
                "--app",
                "/srv/shop",
                "--port",
                "5000",
                "--env-file",
                "\${NOMAD_SECRETS_DIR}/dyno.env",
                "--",
                "/bin/sh",
                "-c",
                "bin/worker 100% \${QUEUE:-default}"
              ],
              "command": "/opt/dynod/bin/dynod"
            },
            "Driver": "raw_exec",
            "KillSignal": "SIGTERM",
            "KillTimeout": 35000000000,
            "Name": "worker",
            "Resources": {
              "CPU": 800,
              "MemoryMB": 1120
            },
            "Templates": [
              {
                "ChangeMode": "restart",
                "DestPath": "secrets/dyno.env",
                "EmbeddedTmpl": "{{ with nomadVar \\"nomad/jobs/shop\\" }}{{ range .Tuples }}{{ .K }}=\\"{{ .V | replaceAll \\"\\\\\\\\\\" \\"\\\\\\\\\\\\\\\\\\" | replaceAll \\"\\\\\\"\\" \\"\\\\\\\\\\\\\\"\\" | replaceAll \\"$\\" \\"\\\\\\\\$\\" | replaceAll \\"\\\\n\\" \\"\\\\\\\\n\\" | replaceAll \\"\\\\r\\" \\"\\\\\\\\r\\" }}\\"\\n{{ end }}{{ end }}",
                "Perms": "0600"
              }
            ]
          }
        ]
      }
    ],
    "Type": "service",
    "Update": {
      "AutoRevert": true,
      "HealthCheck": "checks",
      "HealthyDeadline": 3720000000000,
      "MaxParallel": 1,
      "MinHealthyTime": 10000000000,
      "ProgressDeadline": 4020000000000
    }
  }
}
`],
  ["shop.vars.json", 0o600, `{
  "Items": {
    "DATABASE_URL": "postgres://u:p$w@db/shop",
    "GREETING": "say \\"hi\\"\\nbye"
  },
  "Path": "nomad/jobs/shop"
}
`],
];

t.test('the sample app: the job and the variable spec, byte for byte', async (t) => {
  const files = nomadFiles(samplePlan(), OPTS);
  t.same(files.map((f) => [f.path, f.mode]), GOLDEN.map(([p, m]) => [p, m]));
  for (const [p, mode, content] of GOLDEN) {
    const f = files.find((x) => x.path === p)!;
    t.equal(f.content, content, p);
    t.equal(f.mode, mode, `${p} mode`);
  }
  t.notMatch(files[0]!.content, /postgres|say/, 'no variable value in the job');
});

t.test('deterministic: same input, same bytes; keys sorted at every level', async (t) => {
  const a = nomadFiles(samplePlan(), OPTS);
  t.same(nomadFiles(samplePlan(), OPTS), a);
  t.same(nomadFiles(samplePlan({ env: Object.fromEntries(Object.entries(ENV).reverse()) }), OPTS), a);
  t.equal(stableJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: undefined } }), '{\n  "a": {\n    "d": [\n      {\n        "y": 2,\n        "z": 1\n      }\n    ]\n  },\n  "b": 1\n}\n');
});

// ---------------------------------------------------------------------------
// Nomad's job schema, from its api package (field: JSON type; durations are
// time.Duration, nanoseconds as integers).

type Field = 'string' | 'int' | 'bool' | 'duration' | 'any' | { list: Field } | { map: Field } | Struct;
interface Struct { [field: string]: Field }
const ANY: Field = 'any';
const PORT: Struct = { Label: 'string', Value: 'int', To: 'int', HostNetwork: 'string', IgnoreCollision: 'bool' };
const NETWORK: Struct = { Mode: 'string', Device: 'string', CIDR: 'string', IP: 'string', DNS: ANY, ReservedPorts: { list: PORT }, DynamicPorts: { list: PORT }, Hostname: 'string', MBits: 'int', CNI: ANY };
const RESTART: Struct = { Interval: 'duration', Attempts: 'int', Delay: 'duration', Mode: 'string', RenderTemplates: 'bool' };
const RESCHEDULE: Struct = { Attempts: 'int', Interval: 'duration', Delay: 'duration', DelayFunction: 'string', MaxDelay: 'duration', Unlimited: 'bool' };
const UPDATE: Struct = { Stagger: 'duration', MaxParallel: 'int', HealthCheck: 'string', MinHealthyTime: 'duration', HealthyDeadline: 'duration', ProgressDeadline: 'duration', Canary: 'int', AutoRevert: 'bool', AutoPromote: 'bool' };
const CHECK_RESTART: Struct = { Limit: 'int', Grace: 'duration', IgnoreWarnings: 'bool' };
const CHECK: Struct = {
  Name: 'string', Type: 'string', Command: 'string', Args: { list: 'string' }, Path: 'string', Protocol: 'string', PortLabel: 'string', Expose: 'bool', AddressMode: 'string',
  Advertise: 'string', Interval: 'duration', Timeout: 'duration', InitialStatus: 'string', Notes: 'string', TLSServerName: 'string', TLSSkipVerify: 'bool', Header: { map: { list: 'string' } },
  Method: 'string', CheckRestart: CHECK_RESTART, GRPCService: 'string', GRPCUseTLS: 'bool', TaskName: 'string', SuccessBeforePassing: 'int', FailuresBeforeCritical: 'int',
  FailuresBeforeWarning: 'int', Body: 'string', OnUpdate: 'string',
};
const SERVICE: Struct = {
  Name: 'string', Tags: { list: 'string' }, CanaryTags: { list: 'string' }, EnableTagOverride: 'bool', PortLabel: 'string', AddressMode: 'string', Address: 'string', Checks: { list: CHECK },
  CheckRestart: CHECK_RESTART, Connect: ANY, Meta: { map: 'string' }, CanaryMeta: { map: 'string' }, TaggedAddresses: { map: 'string' }, TaskName: 'string', OnUpdate: 'string', Identity: ANY,
  Weights: ANY, Provider: 'string', Cluster: 'string', Kind: 'string',
};
const RESOURCES: Struct = { CPU: 'int', Cores: 'int', MemoryMB: 'int', MemoryMaxMB: 'int', DiskMB: 'int', Networks: { list: NETWORK }, Devices: { list: ANY }, NUMA: ANY, SecretsMB: 'int', IOPS: 'int' };
const ARTIFACT: Struct = { GetterSource: 'string', GetterOptions: { map: 'string' }, GetterHeaders: { map: 'string' }, GetterMode: 'string', GetterInsecure: 'bool', RelativeDest: 'string', Chown: 'bool' };
const TEMPLATE: Struct = {
  SourcePath: 'string', DestPath: 'string', EmbeddedTmpl: 'string', ChangeMode: 'string', ChangeScript: ANY, ChangeSignal: 'string', Once: 'bool', Splay: 'duration', Perms: 'string',
  Uid: 'int', Gid: 'int', LeftDelim: 'string', RightDelim: 'string', Envvars: 'bool', VaultGrace: 'duration', Wait: ANY, ErrMissingKey: 'bool',
};
const TASK: Struct = {
  Name: 'string', Driver: 'string', User: 'string', Lifecycle: { Hook: 'string', Sidecar: 'bool' }, Config: { map: ANY }, Constraints: { list: ANY }, Affinities: { list: ANY },
  Env: { map: 'string' }, Services: { list: SERVICE }, Resources: RESOURCES, RestartPolicy: RESTART, Meta: { map: 'string' }, KillTimeout: 'duration', LogConfig: ANY,
  Artifacts: { list: ARTIFACT }, Vault: ANY, Consul: ANY, Templates: { list: TEMPLATE }, DispatchPayload: ANY, VolumeMounts: { list: ANY }, CSIPluginConfig: ANY, Leader: 'bool',
  ShutdownDelay: 'duration', KillSignal: 'string', Kind: 'string', ScalingPolicies: { list: ANY }, Secrets: { list: ANY }, Identity: ANY, Identities: { list: ANY }, Actions: { list: ANY }, Schedule: ANY,
};
const GROUP: Struct = {
  Name: 'string', Count: 'int', Constraints: { list: ANY }, Affinities: { list: ANY }, Tasks: { list: TASK }, Spreads: { list: ANY }, Volumes: { map: ANY }, RestartPolicy: RESTART,
  Disconnect: ANY, ReschedulePolicy: RESCHEDULE, EphemeralDisk: ANY, Update: UPDATE, Migrate: ANY, Networks: { list: NETWORK }, Meta: { map: 'string' }, Services: { list: SERVICE },
  ShutdownDelay: 'duration', MaxRunDuration: 'duration', StopAfterClientDisconnect: 'duration', MaxClientDisconnect: 'duration', Scaling: ANY, Consul: ANY, PreventRescheduleOnLost: 'bool',
};
const JOB: Struct = {
  Region: 'string', Namespace: 'string', ID: 'string', Name: 'string', Type: 'string', Priority: 'int', AllAtOnce: 'bool', Datacenters: { list: 'string' }, NodePool: 'string',
  Constraints: { list: ANY }, Affinities: { list: ANY }, TaskGroups: { list: GROUP }, Update: UPDATE, Multiregion: ANY, Spreads: { list: ANY }, Periodic: ANY, ParameterizedJob: ANY,
  Reschedule: RESCHEDULE, Migrate: ANY, Meta: { map: 'string' }, UI: ANY,
};
const VARIABLE: Struct = { Namespace: 'string', Path: 'string', CreateIndex: 'int', ModifyIndex: 'int', CreateTime: 'int', ModifyTime: 'int', Items: { map: 'string' }, Lock: ANY };

/** Every key of `v` known to `f` with a value of its type; problems as "path: why". */
function conform(v: unknown, f: Field, at: string, out: string[]): void {
  if (f === 'any') return;
  if (f === 'string') return void (typeof v !== 'string' && out.push(`${at}: not a string`));
  if (f === 'bool') return void (typeof v !== 'boolean' && out.push(`${at}: not a bool`));
  if (f === 'int' || f === 'duration') return void (!Number.isSafeInteger(v) && out.push(`${at}: not an integer`));
  if ('list' in f && Object.keys(f).length === 1) {
    if (!Array.isArray(v)) return void out.push(`${at}: not a list`);
    return v.forEach((x, i) => conform(x, f.list as Field, `${at}[${i}]`, out));
  }
  if ('map' in f && Object.keys(f).length === 1) {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return void out.push(`${at}: not an object`);
    for (const [k, x] of Object.entries(v)) conform(x, f.map as Field, `${at}.${k}`, out);
    return;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return void out.push(`${at}: not an object`);
  for (const [k, x] of Object.entries(v)) {
    const sub = (f as Struct)[k];
    if (sub === undefined) out.push(`${at}.${k}: no such field`);
    else conform(x, sub, `${at}.${k}`, out);
  }
}

const S = 1_000_000_000;
interface Job {
  ID: string;
  Update: { HealthyDeadline: number; ProgressDeadline: number };
  TaskGroups: Array<{
    Name: string;
    Count: number;
    RestartPolicy: { Attempts: number; Interval: number; Delay: number; Mode: string };
    ReschedulePolicy: { Attempts: number; Delay: number; MaxDelay: number; DelayFunction: string; Unlimited: boolean };
    Services?: Array<{ Name: string; Checks: Array<{ Type: string; Interval: number; Timeout: number; PortLabel: string }>; PortLabel: string }>;
    Networks?: Array<{ DynamicPorts: Array<{ Label: string }> }>;
    Tasks: Array<{
      Name: string;
      Driver: string;
      Config: { command: string; args: string[] };
      Resources: { CPU?: number; Cores?: number; MemoryMB: number };
      KillTimeout: number;
      Lifecycle?: { Hook: string; Sidecar: boolean };
      RestartPolicy?: { Attempts: number; Interval: number; Delay: number; Mode: string };
      Templates?: Array<{ Perms: string; ChangeMode: string; EmbeddedTmpl: string; DestPath: string }>;
      Artifacts?: Array<{ GetterSource: string; RelativeDest: string }>;
    }>;
  }>;
}

/** What nomad/structs' Validate methods would say about the values (the parts this job can trip). */
function validate(job: Job): string[] {
  const errs: string[] = [];
  const restart = (r: { Attempts: number; Interval: number; Delay: number; Mode: string }, at: string) => {
    if (!['delay', 'fail'].includes(r.Mode)) errs.push(`${at}: Unsupported restart mode`);
    if (r.Attempts === 0 && r.Mode !== 'fail') errs.push(`${at}: ambiguous`);
    if (r.Interval < 5 * S) errs.push(`${at}: Interval can not be less than 5s`);
    if (r.Attempts * r.Delay > r.Interval) errs.push(`${at}: attempts x delay > interval`);
  };
  if (!(job.Update.HealthyDeadline < job.Update.ProgressDeadline)) errs.push('Update: HealthyDeadline must be less than ProgressDeadline');
  for (const g of job.TaskGroups) {
    restart(g.RestartPolicy, `${g.Name}.RestartPolicy`);
    const rs = g.ReschedulePolicy;
    if (rs.Delay < 5 * S) errs.push(`${g.Name}: reschedule Delay cannot be less than 5s`);
    if (!['constant', 'exponential', 'fibonacci'].includes(rs.DelayFunction)) errs.push(`${g.Name}: delay function`);
    if (rs.MaxDelay < rs.Delay) errs.push(`${g.Name}: Max Delay cannot be less than Delay`);
    if (rs.Attempts > 0 && rs.Unlimited) errs.push(`${g.Name}: attempts with unlimited`);
    for (const s of g.Services ?? []) {
      if (!/^(?:[a-z0-9]|[a-z0-9][a-z0-9-]{0,61}[a-z0-9])$/i.test(s.Name)) errs.push(`${s.Name}: Service name must be valid per RFC 1123`);
      const labels = (g.Networks ?? []).flatMap((n) => n.DynamicPorts.map((p) => p.Label));
      if (!labels.includes(s.PortLabel)) errs.push(`${s.Name}: port label ${s.PortLabel} not in the group's network`);
      for (const c of s.Checks) if (!['tcp', 'http', 'grpc', 'script'].includes(c.Type) || c.Interval <= 0 || c.Timeout <= 0) errs.push(`${s.Name}: check`);
    }
    for (const task of g.Tasks) {
      const at = `${g.Name}.${task.Name}`;
      if (task.Name.includes('/')) errs.push(`${at}: Task name cannot include slashes`);
      const r = task.Resources;
      if ((r.CPU ?? 0) > 0 && (r.Cores ?? 0) > 0) errs.push(`${at}: cpu or cores, not both`);
      if (r.MemoryMB < 10 || ((r.Cores ?? 0) === 0 && (r.CPU ?? 0) < 1)) errs.push(`${at}: minimum resources`);
      if (task.KillTimeout < 0 || task.KillTimeout > job.Update.ProgressDeadline) errs.push(`${at}: KillTimeout`);
      if (task.Lifecycle && !['prestart', 'poststart', 'poststop'].includes(task.Lifecycle.Hook)) errs.push(`${at}: lifecycle hook`);
      if (task.RestartPolicy) restart(task.RestartPolicy, `${at}.RestartPolicy`);
      for (const tp of task.Templates ?? []) {
        if (!/^[0-7]{3,4}$/.test(tp.Perms)) errs.push(`${at}: template perms`);
        if (!['noop', 'restart', 'signal', 'script'].includes(tp.ChangeMode)) errs.push(`${at}: change mode`);
      }
    }
    if (g.Tasks.filter((x) => !x.Lifecycle).length !== 1) errs.push(`${g.Name}: one main task`);
  }
  return errs;
}

t.test("the job fits Nomad's api structs and validations", async (t) => {
  for (const [name, plan, o] of [
    ['sample', samplePlan(), OPTS],
    ['artifact, dedicated size, no release, no variables', samplePlan({ procfileText: 'web: x\nworker: y\n', formationSpec: 'web=1:performance-m,worker=0', env: {} }), { artifact: 'https://example.test/shop.tgz', datacenters: ['dc1', 'dc2'] }],
  ] as const) {
    const files = nomadFiles(plan, o);
    const problems: string[] = [];
    conform(JSON.parse(files[0]!.content), { Job: JOB }, '', problems);
    const vars = files.find((f) => f.path.endsWith('.vars.json'));
    if (vars) conform(JSON.parse(vars.content), VARIABLE, 'vars', problems);
    const job = (JSON.parse(files[0]!.content) as { Job: Job }).Job;
    problems.push(...validate(job));
    t.same(problems, [], name);
  }
  // the checker itself can fail
  const bad: string[] = [];
  conform({ Job: { TaskGroups: [{ Count: '2', Tasks: [{ KillTimout: 1 }] }] } }, { Job: JOB }, '', bad);
  t.same(bad, ['.Job.TaskGroups[0].Count: not an integer', '.Job.TaskGroups[0].Tasks[0].KillTimout: no such field']);
});

t.test('the mapping: counts, sizes, restarts, release, check, secrets', async (t) => {
  const job = (JSON.parse(nomadFiles(samplePlan(), OPTS)[0]!.content) as { Job: Job }).Job;
  t.same(job.TaskGroups.map((g) => [g.Name, g.Count]), [['web', 2], ['worker', 1]], 'a group per type with its count');
  const [web, worker] = job.TaskGroups;
  t.same(web!.Tasks.map((x) => x.Name), ['release', 'web'], 'the release phase first, as a prestart task');
  t.same(web!.Tasks[0]!.Lifecycle, { Hook: 'prestart', Sidecar: false });
  t.same(web!.Tasks[0]!.RestartPolicy!.Attempts, 0, 'a failed release phase is not retried in place');
  t.same(worker!.Tasks[1]!.Resources, { CPU: 800, MemoryMB: 1024 + 96 }, 'standard-2x: 2 shares, its RAM plus dynod');
  t.same(web!.Tasks[1]!.Resources, { CPU: 400, MemoryMB: 512 + 96 });
  t.same(web!.RestartPolicy, { Attempts: 1, Interval: 600 * S, Delay: 0, Mode: 'fail' }, 'first crash: at once; second within 10 min: reschedule');
  t.same(web!.ReschedulePolicy, { Attempts: 0, Interval: 0, Delay: 1200 * S, DelayFunction: 'exponential', MaxDelay: 19200 * S, Unlimited: true }, '20 min doubling to 320 min, forever');
  t.equal(web!.Tasks[1]!.KillTimeout, 35 * S);
  t.same(web!.Services![0]!.Checks.map((c) => c.Type), ['tcp']);
  t.same(worker!.Services, undefined, 'workers have no service');
  const args = web!.Tasks[1]!.Config.args;
  t.same(args.slice(0, 18), ['run', '--name', 'web.${NOMAD_ALLOC_INDEX}', '--size', 'standard-1x', '--app', '/srv/shop', '--port', '${NOMAD_PORT_http}', '--env-file', '${NOMAD_SECRETS_DIR}/dyno.env', '--publish', '${NOMAD_ADDR_http}', '--boot-timeout', '60s', '--', '/bin/sh', '-c']);
  t.same(web!.Tasks[1]!.Templates!.map((x) => [x.DestPath, x.Perms, x.ChangeMode]), [['secrets/dyno.env', '0600', 'restart']], 'config changes restart the dynos');
});

t.test('an artifact: each task fetches the app and runs it from its own directory', async (t) => {
  const job = (JSON.parse(nomadFiles(samplePlan(), { artifact: 'https://example.test/shop.tgz?checksum=sha256:ab', datacenters: ['dc1'] })[0]!.content) as { Job: Job & { Datacenters: string[] } }).Job;
  t.same(job.Datacenters, ['dc1']);
  for (const g of job.TaskGroups) {
    for (const task of g.Tasks) {
      t.same(task.Artifacts, [{ GetterSource: 'https://example.test/shop.tgz?checksum=sha256:ab', RelativeDest: 'local/app' }]);
      t.equal(task.Config.args[task.Config.args.indexOf('--app') + 1], '${NOMAD_TASK_DIR}/app');
    }
  }
});

t.test('a dedicated size reserves whole cores; no variables: no template, no variable file', async (t) => {
  const files = nomadFiles(samplePlan({ procfileText: 'web: x\n', formationSpec: 'web=1:performance-l', env: {} }), OPTS);
  t.same(files.map((f) => f.path), ['shop.nomad.json']);
  const task = (JSON.parse(files[0]!.content) as { Job: Job }).Job.TaskGroups[0]!.Tasks[0]!;
  t.same(task.Resources, { Cores: 8, MemoryMB: 14336 + 96 });
  t.equal(task.Templates, undefined);
  t.notOk(task.Config.args.includes('--env-file'));
});

/**
 * Renders envTemplate as consul-template would for a variable's items: `with
 * nomadVar`, `range .Tuples` (key-sorted), and the replaceAll pipeline with Go's
 * string literals (the escapes used are JSON's too).
 */
function render(template: string, items: Record<string, string>): string {
  const m = /^\{\{ with nomadVar "([^"]+)" \}\}\{\{ range \.Tuples \}\}\{\{ \.K \}\}="\{\{ \.V((?: \| replaceAll "(?:[^"\\]|\\.)*" "(?:[^"\\]|\\.)*")+) \}\}"\n\{\{ end \}\}\{\{ end \}\}$/.exec(template);
  if (!m) throw new Error(`unexpected template shape: ${template}`);
  const steps = [...m[2]!.matchAll(/ \| replaceAll ("(?:[^"\\]|\\.)*") ("(?:[^"\\]|\\.)*")/g)].map((s) => [JSON.parse(s[1]!) as string, JSON.parse(s[2]!) as string] as const);
  return Object.keys(items).sort().map((k) => `${k}="${steps.reduce((v, [from, to]) => v.split(from).join(to), items[k]!)}"\n`).join('');
}

t.test('the env template renders what dynod run --env-file reads back exactly', async (t) => {
  const tricky: Record<string, string> = { DOLLAR: 'a$b ${C} $$', QUOTES: `it's "q" \\ b\\`, LINES: 'one\ntwo\r\nthree', EMPTY: '', HASH: 'x # y', UNICODE: 'héllo ☃' };
  const text = render(envTemplate('shop'), tricky);
  t.same(parseDotenv(text, 'dyno.env'), tricky);
  t.match(envTemplate('shop'), /^\{\{ with nomadVar "nomad\/jobs\/shop" \}\}/, "the job's own variable, which its tasks may read");
});

t.test('refusals: ${NAME} Nomad would interpolate, bad datacenters', async (t) => {
  const refuse = (fn: () => unknown, message: string) => t.throws(fn, new UsageError(message), message);
  refuse(() => nomadFiles(samplePlan({ procfileText: 'web: node app.js --home ${HOME}/x\n', formationSpec: 'web=1' }), OPTS),
    '/srv/shop/Procfile:1: the command of "web" contains ${HOME}, which Nomad would replace with the client\'s HOME before the dyno runs; write $HOME instead (or ${HOME:-} where a letter follows)');
  refuse(() => nomadFiles(samplePlan({ procfileText: 'release: migrate ${DB}\nweb: x\n', formationSpec: 'web=1' }), OPTS),
    '/srv/shop/Procfile:1: the command of "release" contains ${DB}, which Nomad would replace with the client\'s DB before the dyno runs; write $DB instead (or ${DB:-} where a letter follows)');
  refuse(() => nomadFiles(samplePlan(), { ...OPTS, datacenters: ['dc1', ' '] }), '--datacenters: one or more names separated by commas (or *)');
  refuse(() => nomadFiles(samplePlan({ appDir: '/srv/${X}' }), OPTS), '--app /srv/${X}: Nomad would read ${…} in it as a variable; choose a path without "${"');
  t.doesNotThrow(() => nomadFiles(samplePlan({ procfileText: 'web: x ${PORT:-5000} $HOME\n', formationSpec: 'web=1' }), OPTS), '${NAME:-x} and $NAME are left to the shell');
});
