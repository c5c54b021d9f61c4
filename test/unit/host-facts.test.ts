// gatherHostFacts keeps the host's paths and resolvers while the directories they
// live in (and resolv.conf) are unchanged, and looks again as soon as one changes.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gatherHostFacts } from '../../src/dyno/host';
import { V1_VIEW } from './fixtures/facts';

const facts = () => gatherHostFacts({ cgroupView: V1_VIEW });
/** past the 100 ms in which a change's stamp is not trusted yet */
const settle = () => new Promise((r) => setTimeout(r, 150));

t.test('the facts are kept while nothing they come from changed, and read again after a change', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-facts-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const resolv = path.join(dir, 'resolv.conf');
  fs.writeFileSync(resolv, 'nameserver 10.1.1.1\n');
  await settle();
  const saved = process.env.DYNOD_RESOLV_CONF;
  process.env.DYNOD_RESOLV_CONF = resolv;
  t.teardown(() => (saved === undefined ? delete process.env.DYNOD_RESOLV_CONF : (process.env.DYNOD_RESOLV_CONF = saved)));

  const a = facts();
  // / and /etc are old on any host that has been up a moment: a young one is a host being set up
  if (a.key === undefined) return t.skip('a stamped directory (/, /etc, /etc/ssl or /dev) changed in the last 100 ms');
  const b = facts();
  t.equal(b.key, a.key, 'the same stamp');
  t.equal(b.paths, a.paths, 'the kept paths, not read again');
  t.equal(a.resolvConf, 'nameserver 10.1.1.1\n');
  t.ok(Object.isFrozen(a.paths), 'kept paths cannot be changed by a caller');

  // A change to resolv.conf
  fs.writeFileSync(resolv, 'nameserver 10.2.2.2\n');
  await settle();
  const c = facts();
  t.not(c.key, a.key, 'a new stamp after resolv.conf changed');
  t.equal(c.resolvConf, 'nameserver 10.2.2.2\n', 'its new text');

  // A change this young may share its clock tick with the next one: never trusted
  fs.writeFileSync(resolv, 'nameserver 10.3.3.3\n');
  const d = facts();
  t.equal(d.key, undefined, 'no key while a stamp is younger than 100 ms');
  t.equal(d.resolvConf, 'nameserver 10.3.3.3\n', 'and the facts are read afresh');

  // Another resolv.conf (DYNOD_RESOLV_CONF) is another stamp
  const other = path.join(dir, 'other.conf');
  fs.writeFileSync(other, 'nameserver 10.4.4.4\n');
  await settle();
  process.env.DYNOD_RESOLV_CONF = other;
  const e = facts();
  t.equal(e.resolvConf, 'nameserver 10.4.4.4\n');
  t.not(e.key, c.key);
});

t.test('a rootfs is looked at afresh every time (no key)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-rootfs-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'etc'));
  const f = gatherHostFacts({ rootfs: dir, cgroupView: V1_VIEW });
  t.equal(f.key, undefined);
  t.same(f.paths['rootfs:/etc'], { type: 'dir' });
  t.same(f.paths['rootfs:/app'], { type: 'missing' });
  fs.mkdirSync(path.join(dir, 'app'));
  t.same(gatherHostFacts({ rootfs: dir, cgroupView: V1_VIEW }).paths['rootfs:/app'], { type: 'dir' }, 'seen at once');
});
