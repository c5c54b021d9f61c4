import t from 'tap';

// heroku prints host local time; every expected string below is in UTC
process.env.TZ = 'UTC';

import { UsageError } from '../../src/errors';
import {
  appLabel, configSetAction, configUnsetAction, doneStatus, formatAction, formatAgo, formatConfig,
  formatConfigGet, formatConfigGetJson, formatConfigJson, formatConfigSetVars, formatConfigShell,
  formatObject, formatPs, formatPsJson, formatReleases, formatRemaining, formatTimestamp, shellQuote,
} from '../../src/formation/format';
import type { DynoInfo, ReleaseInfo } from '../../src/formation/types';

// ============================================================================
// The heroku CLI's text for config, releases and ps (src/formation/format.ts).
// Expected strings are heroku's (its unit tests where it has them), never rebuilt
// from the code under test; the clock is always passed in.
// ============================================================================

const NOW = new Date('2025-01-07T10:17:07Z');
const before = (secs: number) => new Date(NOW.getTime() - secs * 1000);

// ---------------------------------------------------------------------------
// time

t.test('timestamps are strftime %Y/%m/%d %H:%M:%S %z in the host time zone', async (t) => {
  t.equal(formatTimestamp(new Date('2025-01-07T09:05:03Z')), '2025/01/07 09:05:03 +0000');
  const tz = process.env.TZ;
  t.teardown(() => { process.env.TZ = tz; });
  process.env.TZ = 'Asia/Kolkata';
  t.equal(formatTimestamp(new Date('2025-01-07T09:05:03Z')), '2025/01/07 14:35:03 +0530');
  process.env.TZ = 'America/St_Johns';
  t.equal(formatTimestamp(new Date('2025-01-07T09:05:03Z')), '2025/01/07 05:35:03 -0330');
  process.env.TZ = 'UTC';
});

t.test('ago: seconds under a minute, minutes under an hour, hours under 25 h, then the timestamp alone', async (t) => {
  const stamp = (d: Date) => formatTimestamp(d);
  const cases: Array<[number, string]> = [
    [0, '(~ 0s ago)'],
    [59, '(~ 59s ago)'],
    [60, '(~ 1m ago)'],
    [119, '(~ 1m ago)'],
    [59 * 60, '(~ 59m ago)'],
    [60 * 60 - 1, '(~ 59m ago)'],
    [60 * 60, '(~ 1h ago)'],
    [25 * 3600 - 1, '(~ 24h ago)'],
  ];
  for (const [secs, suffix] of cases) {
    t.equal(formatAgo(before(secs), NOW), `${stamp(before(secs))} ${suffix}`, `${secs} s`);
  }
  t.equal(formatAgo(before(25 * 3600), NOW), '2025/01/06 09:17:07 +0000', '25 h: no suffix');
  t.equal(formatAgo(new Date(NOW.getTime() - 59_999), NOW), '2025/01/07 10:16:07 +0000 (~ 59s ago)', 'floored, not rounded');
  t.equal(formatAgo(new Date(NOW.getTime() + 3000), NOW), '2025/01/07 10:17:10 +0000 (~ 0s ago)', 'a date after now is 0 s ago');
});

t.test('remaining: h m, m s, s, empty when due', async (t) => {
  const after = (secs: number) => new Date(NOW.getTime() + secs * 1000);
  t.equal(formatRemaining(NOW, after(3900)), '1h 5m');
  t.equal(formatRemaining(NOW, after(250)), '4m 10s');
  t.equal(formatRemaining(NOW, after(30)), '30s');
  t.equal(formatRemaining(NOW, after(0)), '');
  t.equal(formatRemaining(NOW, after(-5)), '');
});

// ---------------------------------------------------------------------------
// config

t.test('config: header, empty line, keys aligned two columns after the longest, sorted', async (t) => {
  // heroku/cli test/unit/commands/config/index.unit.test.ts, byte for byte
  t.equal(formatConfig('myapp', { RACK_ENV: 'production', LANG: 'en_US.UTF-8' }),
    '=== ⬢ myapp Config Vars\n\nLANG:     en_US.UTF-8\nRACK_ENV: production\n');
  t.equal(formatConfig('myapp', { LANG: 'en_US.UTF-8' }, { glyph: false }), '=== myapp Config Vars\n\nLANG: en_US.UTF-8\n');
});

t.test('config with no vars: the header and an empty line from styledObject', async (t) => {
  t.equal(formatConfig('myapp', {}), '=== ⬢ myapp Config Vars\n\n\n');
});

t.test("config: multi-line values continue at column 0; an empty value shows as ''", async (t) => {
  t.equal(formatConfig('myapp', { KEY: '-----BEGIN KEY-----\nabc\n-----END KEY-----', EMPTY_VALUE: '' }),
    "=== ⬢ myapp Config Vars\n\nEMPTY_VALUE: ''\nKEY:         -----BEGIN KEY-----\nabc\n-----END KEY-----\n");
});

t.test('formatObject keeps the order it is given', async (t) => {
  t.equal(formatObject({ B: '2', AAA: '1' }), 'B:   2\nAAA: 1\n');
  t.equal(formatObject({}), '\n');
});

t.test('config --json: sorted keys, two-space indent', async (t) => {
  t.equal(formatConfigJson({ RACK_ENV: 'production', LANG: 'en_US.UTF-8' }), '{\n  "LANG": "en_US.UTF-8",\n  "RACK_ENV": "production"\n}\n');
  t.equal(formatConfigJson({}), '{}\n');
});

t.test('config -s: KEY=value, quoted as heroku quote() does', async (t) => {
  // heroku/cli test/unit/commands/config/index.unit.test.ts --shell
  t.equal(formatConfigShell({ RACK_ENV: 'production', LANG: 'en_US.UTF-8' }), 'LANG=en_US.UTF-8\nRACK_ENV=production\n');
  t.equal(shellQuote('plain-value_1.2/x+y%~'), 'plain-value_1.2/x+y%~', 'no metacharacter: as it is');
  t.equal(shellQuote(''), '', 'empty: nothing');
  t.equal(shellQuote('two words'), "'two words'");
  t.equal(shellQuote('postgres://u:p@host:5432/db?ssl=true'), "'postgres://u:p@host:5432/db?ssl=true'");
  t.equal(shellQuote('$HOME'), "'$HOME'");
  t.equal(shellQuote("it's"), '"it\'s"', 'a single quote: double quotes');
  t.equal(shellQuote('a\nb'), '"a\\nb"', 'a newline: double quotes and \\n');
  t.equal(shellQuote('it\'s "$x" `y` !z \\'), '"it\'s \\"\\$x\\" \\`y\\` \\!z \\\\"', '" $ ` ! \\ escaped inside double quotes');
  t.equal(formatConfigShell({ B: 'x y', A: '' }), "A=\nB='x y'\n");
  t.equal(formatConfigShell({}), '');
});

t.test('config:get: the value, an empty line when unset or empty; -s and --json as heroku', async (t) => {
  const vars = { LANG: 'en_US.UTF-8', RACK_ENV: 'production', EMPTY_VAR: '' };
  t.equal(formatConfigGet(vars, ['RACK_ENV']), 'production\n');
  t.equal(formatConfigGet(vars, ['MISSING']), '\n');
  t.equal(formatConfigGet(vars, ['EMPTY_VAR']), '\n');
  t.equal(formatConfigGet(vars, ['RACK_ENV', 'MISSING', 'LANG']), 'production\n\nen_US.UTF-8\n');
  t.equal(formatConfigGet(vars, ['RACK_ENV'], { shell: true }), 'RACK_ENV=production\n');
  t.equal(formatConfigGet(vars, ['MISSING'], { shell: true }), 'MISSING=\n');
  t.equal(formatConfigGet({ A: 'x y' }, ['A'], { shell: true }), "A='x y'\n");
  t.equal(formatConfigGet(vars, ['toString']), '\n', 'no prototype keys');
  t.equal(formatConfigGetJson(vars, ['MISSING']), '{\n  "key": "MISSING",\n  "value": null\n}\n');
  t.equal(formatConfigGetJson(vars, ['EMPTY_VAR']), '{\n  "key": "EMPTY_VAR",\n  "value": ""\n}\n');
  t.same(JSON.parse(formatConfigGetJson(vars, ['MISSING', 'EMPTY_VAR', 'RACK_ENV'])), [
    { key: 'MISSING', value: null },
    { key: 'EMPTY_VAR', value: '' },
    { key: 'RACK_ENV', value: 'production' },
  ]);
});

t.test('config:set / config:unset action lines', async (t) => {
  t.equal(formatAction(configSetAction('myapp', ['RACK_ENV'], true), doneStatus({ version: 10 })),
    'Setting RACK_ENV and restarting ⬢ myapp... done, v10\n');
  t.equal(formatAction(configSetAction('myapp', ['FOO', 'BAR'], true), 'done, v12'),
    'Setting FOO, BAR and restarting ⬢ myapp... done, v12\n');
  t.equal(formatAction(configSetAction('myapp', ['FOO', 'BAR'], false), 'done, v12'),
    'Setting FOO, BAR on ⬢ myapp... done, v12\n', 'nothing runs: no "and restarting"');
  t.equal(formatAction(configUnsetAction('myapp', ['FOO'], true), 'done, v13'),
    'Unsetting FOO and restarting ⬢ myapp... done, v13\n');
  t.equal(formatAction(configUnsetAction('myapp', ['RAILS_ENV', 'RACK_ENV'], false, { glyph: false }), 'done, v13'),
    'Unsetting RAILS_ENV, RACK_ENV on myapp... done, v13\n');
  t.equal(appLabel('myapp'), '⬢ myapp');
});

t.test('config:set stdout: the vars set, aligned; empty values left out as heroku does', async (t) => {
  t.equal(formatConfigSetVars({ RACK_ENV: 'production' }), 'RACK_ENV: production\n');
  t.equal(formatConfigSetVars({ RAILS_ENV: 'staging', RACK_ENV: 'staging', EMPTY: '' }), 'RACK_ENV:  staging\nRAILS_ENV: staging\n');
  t.equal(formatConfigSetVars({ EMPTY: '' }), '\n');
  t.equal(formatConfigSetVars({ RACK_ENV: 'production=foo' }), 'RACK_ENV: production=foo\n');
});

// ---------------------------------------------------------------------------
// releases

const RELEASES: ReleaseInfo[] = [
  { version: 1, description: 'Initial release', createdAt: '2025-01-05T09:00:00.000Z', status: 'succeeded', user: 'root' },
  { version: 2, description: 'Set FOO, BAR config vars', createdAt: '2025-01-07T09:00:00.000Z', status: 'succeeded', user: 'root' },
  { version: 3, description: 'Remove FOO config vars', createdAt: '2025-01-07T10:12:07.000Z', status: 'failed', releaseStatus: 1, user: 'alice' },
  { version: 4, description: 'Set BAZ config vars', createdAt: '2025-01-07T10:17:00.000Z', status: 'pending' },
];

t.test('releases: header with the current release, heroku table newest first, failed and pending marked', async (t) => {
  t.equal(formatReleases('myapp', RELEASES, NOW), [
    '=== ⬢ myapp Releases - Current: v2',
    '',
    '  v    description                                     user    created_at',
    ' ───────────────────────────────────────────────────────────────────────────────────────────────────',
    '  v4   Set BAZ config vars release command executing           2025/01/07 10:17:00 +0000 (~ 7s ago)',
    '  v3   Remove FOO config vars release command failed   alice   2025/01/07 10:12:07 +0000 (~ 5m ago)',
    '  v2   Set FOO, BAR config vars                        root    2025/01/07 09:00:00 +0000 (~ 1h ago)',
    '  v1   Initial release                                 root    2025/01/05 09:00:00 +0000',
    '',
  ].join('\n'));
});

t.test('releases: no "- Current" before one succeeded; headings set the width of narrow columns', async (t) => {
  const pending: ReleaseInfo[] = [{ version: 1, description: 'Initial release', createdAt: '2025-01-07T10:17:07.000Z', status: 'pending', user: 'bob' }];
  t.equal(formatReleases('myapp', pending, NOW, { glyph: false }), [
    '=== myapp Releases',
    '',
    '  v    description                                 user   created_at',
    ' ──────────────────────────────────────────────────────────────────────────────────────────────',
    '  v1   Initial release release command executing   bob    2025/01/07 10:17:07 +0000 (~ 0s ago)',
    '',
  ].join('\n'));
});

t.test('releases: a pending release says "release command executing" while a dynod runs the app, "release pending" when none does', async (t) => {
  const list: ReleaseInfo[] = [{ version: 1, description: 'Set A config vars', createdAt: '2025-01-07T10:17:07.000Z', status: 'pending', user: 'bob' }];
  t.match(formatReleases('myapp', list, NOW, { glyph: false }), /v1 +Set A config vars release command executing +bob/);
  t.match(formatReleases('myapp', list, NOW, { glyph: false, running: true }), /release command executing/);
  const offline = formatReleases('myapp', list, NOW, { glyph: false, running: false });
  t.match(offline, /v1 +Set A config vars release pending +bob/);
  t.notMatch(offline, /executing/);
});

t.test('releases: a release a newer one overtook before it ran says "release expired"', async (t) => {
  const list: ReleaseInfo[] = [
    { version: 1, description: 'Initial release', createdAt: '2025-01-07T10:17:00.000Z', status: 'expired', user: 'bob' },
    { version: 2, description: 'Set A config vars', createdAt: '2025-01-07T10:17:07.000Z', status: 'succeeded', user: 'bob' },
  ];
  t.equal(formatReleases('myapp', list, NOW, { glyph: false }), [
    '=== myapp Releases - Current: v2',
    '',
    '  v    description                       user   created_at',
    ' ────────────────────────────────────────────────────────────────────────────────────',
    '  v2   Set A config vars                 bob    2025/01/07 10:17:07 +0000 (~ 0s ago)',
    '  v1   Initial release release expired   bob    2025/01/07 10:17:00 +0000 (~ 7s ago)',
    '',
  ].join('\n'));
});

t.test('releases: none', async (t) => {
  t.equal(formatReleases('myapp', [], NOW), '⬢ myapp has no releases.\n');
});

// ---------------------------------------------------------------------------
// ps

function dyno(over: Partial<DynoInfo> & Pick<DynoInfo, 'name' | 'since'>): DynoInfo {
  const [type = '', n = '0'] = over.name.split('.');
  return {
    type,
    number: Number(n),
    state: 'up',
    size: 'standard-1x',
    command: 'bash',
    oneOff: type === 'run' || type === 'release',
    pid: 1000,
    hostPort: null,
    restarts: 0,
    restartAt: null,
    memoryBytes: null,
    cpuSeconds: null,
    ...over,
  };
}

t.test("ps: heroku's own fixture (one web and one one-off, Eco, an hour ago)", async (t) => {
  // heroku/cli test/unit/commands/ps/index.unit.test.ts 'shows dyno list'
  const hourAgo = before(3600).toISOString();
  const dynos = [
    dyno({ name: 'web.1', since: hourAgo, size: 'eco', command: 'npm start' }),
    dyno({ name: 'run.1', since: hourAgo, size: 'eco', command: 'bash' }),
  ];
  t.equal(formatPs('myapp', dynos, NOW), [
    '=== run: one-off processes (1)',
    '',
    'run.1 (Eco): up 2025/01/07 09:17:07 +0000 (~ 1h ago): bash',
    '',
    '=== web (Eco): npm start (1)',
    '',
    'web.1: up 2025/01/07 09:17:07 +0000 (~ 1h ago)',
    '',
    '',
  ].join('\n'));
});

const FORMATION: DynoInfo[] = [
  dyno({ name: 'worker.1', state: 'crashed', since: '2025-01-07T10:10:00.000Z', command: 'bundle exec sidekiq', restarts: 2, restartAt: '2025-01-07T10:19:17.000Z' }),
  dyno({ name: 'web.10', since: '2025-01-05T08:00:00.000Z', size: 'standard-2x', command: 'bundle exec puma -C config/puma.rb', hostPort: 5010 }),
  dyno({ name: 'web.2', state: 'starting', since: '2025-01-07T10:17:02.000Z', size: 'standard-2x', command: 'bundle exec puma -C config/puma.rb', hostPort: 5002 }),
  dyno({ name: 'run.4520', since: '2025-01-07T10:15:05.000Z', command: 'bash' }),
  dyno({ name: 'web.1', since: '2025-01-07T09:00:01.000Z', size: 'standard-2x', command: 'bundle exec puma -C config/puma.rb', hostPort: 5001 }),
  dyno({ name: 'release.3', since: '2025-01-07T10:16:07.000Z', command: './release.sh' }),
  dyno({ name: 'run.12', state: 'starting', since: '2025-01-07T10:17:02.000Z', size: 'performance-l-ram', command: 'rake db:migrate' }),
];

t.test('ps: one-offs first by number, then a group per type in name order, dynos by number, dynod extras after', async (t) => {
  t.equal(formatPs('myapp', FORMATION, NOW), [
    '=== run: one-off processes (2)',
    '',
    'run.12 (Performance-L-RAM): starting 2025/01/07 10:17:02 +0000 (~ 5s ago): rake db:migrate',
    'run.4520 (Standard-1X): up 2025/01/07 10:15:05 +0000 (~ 2m ago): bash',
    '',
    '=== release (Standard-1X): ./release.sh (1)',
    '',
    'release.3: up 2025/01/07 10:16:07 +0000 (~ 1m ago)',
    '',
    '=== web (Standard-2X): bundle exec puma -C config/puma.rb (3)',
    '',
    'web.1: up 2025/01/07 09:00:01 +0000 (~ 1h ago) on port 5001',
    'web.2: starting 2025/01/07 10:17:02 +0000 (~ 5s ago) on port 5002',
    'web.10: up 2025/01/05 08:00:00 +0000 on port 5010',
    '',
    '=== worker (Standard-1X): bundle exec sidekiq (1)',
    '',
    'worker.1: crashed 2025/01/07 10:10:00 +0000 (~ 7m ago) restarts in 2m 10s',
    '',
    '',
  ].join('\n'));
});

t.test('ps: a crashed dyno past its restart time, a port only while up or starting', async (t) => {
  const dynos = [
    dyno({ name: 'worker.1', state: 'crashed', since: '2025-01-07T10:17:00.000Z', command: 'w', restartAt: '2025-01-07T10:17:07.000Z' }),
    dyno({ name: 'web.1', state: 'crashed', since: '2025-01-07T10:17:00.000Z', command: 'w2', hostPort: 5001 }),
  ];
  t.equal(formatPs('myapp', dynos, NOW), [
    '=== web (Standard-1X): w2 (1)',
    '',
    'web.1: crashed 2025/01/07 10:17:00 +0000 (~ 7s ago)',
    '',
    '=== worker (Standard-1X): w (1)',
    '',
    'worker.1: crashed 2025/01/07 10:17:00 +0000 (~ 7s ago) restarts now',
    '',
    '',
  ].join('\n'));
});

t.test('ps TYPE...: only those types; a type with no dyno is an error naming it', async (t) => {
  t.equal(formatPs('myapp', FORMATION, NOW, { types: ['run'] }), [
    '=== run: one-off processes (2)',
    '',
    'run.12 (Performance-L-RAM): starting 2025/01/07 10:17:02 +0000 (~ 5s ago): rake db:migrate',
    'run.4520 (Standard-1X): up 2025/01/07 10:15:05 +0000 (~ 2m ago): bash',
    '',
    '',
  ].join('\n'));
  t.equal(formatPs('myapp', FORMATION, NOW, { types: ['worker'] }), [
    '=== worker (Standard-1X): bundle exec sidekiq (1)',
    '',
    'worker.1: crashed 2025/01/07 10:10:00 +0000 (~ 7m ago) restarts in 2m 10s',
    '',
    '',
  ].join('\n'));
  t.throws(() => formatPs('myapp', FORMATION, NOW, { types: ['web', 'clock'] }), new UsageError('No clock dynos on ⬢ myapp'));
  t.throws(() => formatPs('myapp', [], NOW, { types: ['web'], glyph: false }), new UsageError('No web dynos on myapp'));
});

t.test('ps with no dynos', async (t) => {
  t.equal(formatPs('myapp', [], NOW), 'No dynos on ⬢ myapp\n');
  t.equal(formatPs('myapp', [], NOW, { glyph: false }), 'No dynos on myapp\n');
});

t.test('ps: two types with one command stay two groups (heroku would merge them)', async (t) => {
  const dynos = [
    dyno({ name: 'web.1', since: '2025-01-07T10:17:00.000Z', command: 'node app.js' }),
    dyno({ name: 'worker.1', since: '2025-01-07T10:17:00.000Z', command: 'node app.js' }),
  ];
  t.equal(formatPs('myapp', dynos, NOW), [
    '=== web (Standard-1X): node app.js (1)',
    '',
    'web.1: up 2025/01/07 10:17:00 +0000 (~ 7s ago)',
    '',
    '=== worker (Standard-1X): node app.js (1)',
    '',
    'worker.1: up 2025/01/07 10:17:00 +0000 (~ 7s ago)',
    '',
    '',
  ].join('\n'));
});

t.test("ps --json: heroku's field names first, dynod's after, sorted by name", async (t) => {
  const dynos = [
    dyno({ name: 'web.2', since: '2025-01-07T10:17:02.000Z', command: 'npm start', hostPort: 5002, memoryBytes: 52428800, cpuSeconds: 1.5, restarts: 1 }),
    dyno({ name: 'run.7', state: 'crashed', since: '2025-01-07T10:10:00.000Z', pid: null, restartAt: '2025-01-07T10:20:00.000Z' }),
  ];
  t.equal(formatPsJson(dynos), `[
  {
    "name": "run.7",
    "type": "run",
    "state": "crashed",
    "command": "bash",
    "size": "Standard-1X",
    "updated_at": "2025-01-07T10:10:00.000Z",
    "number": 7,
    "one_off": true,
    "pid": null,
    "host_port": null,
    "restarts": 0,
    "restart_at": "2025-01-07T10:20:00.000Z",
    "memory_bytes": null,
    "cpu_seconds": null
  },
  {
    "name": "web.2",
    "type": "web",
    "state": "up",
    "command": "npm start",
    "size": "Standard-1X",
    "updated_at": "2025-01-07T10:17:02.000Z",
    "number": 2,
    "one_off": false,
    "pid": 1000,
    "host_port": 5002,
    "restarts": 1,
    "restart_at": null,
    "memory_bytes": 52428800,
    "cpu_seconds": 1.5
  }
]
`);
  t.equal(formatPsJson([]), '[]\n');
});
