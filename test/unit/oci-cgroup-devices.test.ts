// Device rules (src/cgroup/devices.ts): OCI's ordered list folded into v1's model, and v1's writes, no kernel.
import t from 'tap';
import { containerDeviceState, DEFAULT_ALLOWED_DEVICES, deviceTransition, parseDevicesList, sameDeviceState } from '../../src/cgroup/devices';
import type { DeviceRule } from '../../src/oci/resources';

const deny = (type: DeviceRule['type'], major: number | null, minor: number | null, access = 'rwm'): DeviceRule => ({ allow: false, type, major, minor, access });
const allow = (type: DeviceRule['type'], major: number | null, minor: number | null, access = 'rwm'): DeviceRule => ({ allow: true, type, major, minor, access });
const lines = (s: { exceptions: { type: string; major: number | null; minor: number | null; access: string }[] }) =>
  s.exceptions.map((e) => `${e.type} ${e.major ?? '*'}:${e.minor ?? '*'} ${e.access}`);

/** runc's AllowedDevices as the kernel lists them */
const DEFAULTS = ['b *:* m', 'c *:* m', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:2 rwm', 'c 10:200 rwm', 'c 136:* rwm'];

t.test('no rules: deny all but the default devices (an OCI device list is an allow list)', async (t) => {
  const s = containerDeviceState([]);
  t.equal(s.defaultAllow, false);
  t.same(lines(s), DEFAULTS);
  t.same(lines(containerDeviceState([deny('a', null, null)])), DEFAULTS, "podman's usual first rule changes nothing");
  t.equal(DEFAULT_ALLOWED_DEVICES.length, 11);
});

t.test('allow-all (privileged): the defaults add nothing to it', async (t) => {
  const s = containerDeviceState([allow('a', null, null)]);
  t.same(s, { defaultAllow: true, exceptions: [] });
});

t.test('later rules change earlier ones on the same device; access bits merge and split', async (t) => {
  const s = containerDeviceState([deny('a', null, null), allow('b', 8, 0, 'rw'), allow('b', 8, 0, 'm'), deny('b', 8, 0, 'w')]);
  t.ok(lines(s).includes('b 8:0 rm'), 'rw + m - w = rm');
  const t2 = containerDeviceState([deny('a', null, null), allow('c', 4, 1), deny('c', 4, 1)]);
  t.notOk(lines(t2).some((l) => l.startsWith('c 4:1')), 'allowed then denied: gone');
});

t.test('a rule after "a" starts from it: what came before is reset', async (t) => {
  const s = containerDeviceState([allow('c', 4, 1), deny('a', null, null)]);
  t.notOk(lines(s).some((l) => l.startsWith('c 4:1')));
  const open = containerDeviceState([allow('a', null, null), deny('c', 4, 1, 'w')]);
  t.same(open, { defaultAllow: true, exceptions: [{ type: 'c', major: 4, minor: 1, access: 'w' }] }, 'allow-all with a deny exception');
});

t.test('holes in a wildcard are refused with the rule named (v1 cannot hold them; v2 follows v1)', async (t) => {
  t.throws(() => containerDeviceState([deny('a', null, null), allow('c', 1, null), deny('c', 1, 3)]),
    /^linux\.resources\.devices\[2\]: "c 1:3 rwm" cannot be taken out of the earlier wildcard rule "c 1:\* rwm"/);
  t.throws(() => containerDeviceState([allow('a', null, null), deny('c', null, null, 'w'), allow('c', 1, 3, 'w')]), /devices\[2\].*wildcard rule "c \*:\* w"/);
  t.doesNotThrow(() => containerDeviceState([deny('a', null, null), allow('c', 1, null, 'r'), deny('c', 1, 3, 'w')]), 'no overlap in access: fine');
  t.throws(() => containerDeviceState([deny('a', null, null), allow('c', 1, 3, 'rx')]), /only r, w and m/);
});

t.test('devices.list: allow-all mode and exceptions read back', async (t) => {
  t.same(parseDevicesList('a *:* rwm\n'), { defaultAllow: true, exceptions: [] });
  const s = parseDevicesList(`${DEFAULTS.join('\n')}\n`);
  t.ok(sameDeviceState(s, containerDeviceState([])), 'the list the kernel shows for the defaults is the defaults');
  t.same(parseDevicesList(''), { defaultAllow: false, exceptions: [] }, 'empty list: deny all');
});

t.test('v1 transition: from a new cgroup (allow all) a reset to deny, then the allows', async (t) => {
  const w = deviceTransition(parseDevicesList('a *:* rwm\n'), containerDeviceState([]));
  t.same(w[0], { file: 'devices.deny', line: 'a' });
  t.same(w.slice(1).map((x) => `${x.file} ${x.line}`), DEFAULTS.map((l) => `devices.allow ${l}`));
});

t.test('v1 transition between two deny-mode states: drops and gains only, no reset (a running container keeps its devices)', async (t) => {
  const from = containerDeviceState([allow('b', 8, 0, 'rw'), allow('c', 4, 1)]);
  const to = containerDeviceState([allow('b', 8, 0, 'r'), allow('c', 4, 2)]);
  t.same(deviceTransition(from, to).map((x) => `${x.file} ${x.line}`), ['devices.deny c 4:1 rwm', 'devices.deny b 8:0 w', 'devices.allow c 4:2 rwm']);
  t.same(deviceTransition(to, to), [], 'same state: nothing to write');
});

t.test('v1 transition into allow-all mode: one reset', async (t) => {
  t.same(deviceTransition(containerDeviceState([]), containerDeviceState([allow('a', null, null)])), [{ file: 'devices.allow', line: 'a' }]);
  t.same(deviceTransition(containerDeviceState([]), containerDeviceState([allow('a', null, null), deny('c', 4, 1, 'w')])),
    [{ file: 'devices.allow', line: 'a' }, { file: 'devices.deny', line: 'c 4:1 w' }]);
});
