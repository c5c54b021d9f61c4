// The rootfs view's securejoin against hostile images: symlinks (absolute, relative,
// ../ chains, loops, through /proc) resolve inside the rootfs or are refused, never
// outside it; what the plan mounts and makes changes what later paths resolve to.
// A temporary rootfs on disk, no root needed.
import t, { type Test } from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JsonReader } from '../../src/oci/json';
import { MAX_LINKS, RootfsView } from '../../src/oci/rootfs-view';
import { layOut, refused } from './fixtures/oci-bundle';

/** A rootfs laid out from a table (see layOut), removed after the test. */
function rootfs(t: Test, entries: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-oci-view-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  layOut(dir, entries);
  return dir;
}

const HOSTILE = [
  'etc/passwd', 'etc/hosts', 'usr/lib/', 'deep/x/y/', 'file',
  'abs -> /etc',
  'rel -> ../../../../../../../etc',
  'chain/a -> ../b', 'b -> ../../../../..',
  'loop1 -> loop2', 'loop2 -> loop1', 'self -> self',
  'hostroot -> /',
  'updir -> ..',
  'deep/x/y/up -> ../../../../../..',
  'etc/alias -> ../abs/./passwd',
  'viaproc -> /proc/self/root/etc',
  'magic -> /proc/1/root/.oldroot/etc',
];

function view(root: string): RootfsView {
  return new RootfsView(root, new JsonReader('config.json'));
}

t.test('symlinks resolve as if the rootfs were /', async (t) => {
  const v = view(rootfs(t, HOSTILE));
  const cases: Array<[string, string]> = [
    ['/abs/passwd', '/etc/passwd'],
    ['/rel/passwd', '/etc/passwd'],
    ['/chain/a/etc/passwd', '/etc/passwd'],
    ['/../../../../etc/passwd', '/etc/passwd'],
    ['/hostroot/hostroot/etc', '/etc'],
    ['/updir/updir/etc', '/etc'],
    ['/deep/x/y/up/etc/hosts', '/etc/hosts'],
    ['/etc/alias', '/etc/passwd'],
    ['/missing/../etc', '/etc'],
    ['/missing/deeper/file', '/missing/deeper/file'],
    ['//etc/./hosts', '/etc/hosts'],
    ['/', '/'],
    ['/..', '/'],
    ['/hostroot', '/'],
    ['/viaproc/shadow', '/proc/self/root/etc/shadow'],
    ['/magic/shadow', '/proc/1/root/.oldroot/etc/shadow'],
  ];
  for (const [p, want] of cases) t.equal(v.resolve(p, 'mounts[0].destination'), want, p);
  t.equal(v.resolve('/abs', 'x', false), '/abs', 'followLast: false keeps a last symlink');
  t.equal(v.resolve('/abs/passwd', 'x', false), '/etc/passwd', 'but follows the others');
});

t.test('loops and long chains are refused; exactly 255 links still resolve', async (t) => {
  const links = Array.from({ length: MAX_LINKS + 1 }, (_, i) => `l${i} -> l${i + 1}`);
  const v = view(rootfs(t, [...HOSTILE, ...links, `l${MAX_LINKS + 1}/`]));
  refused(t, () => v.resolve('/loop1/x', 'mounts[2].destination'), /^config\.json: mounts\[2\]\.destination: \/loop1\/x: more than 255 symlinks on the way in the rootfs \(a loop\?\)/, 'two-link loop');
  refused(t, () => v.resolve('/self', 'mounts[0].destination'), /more than 255 symlinks/, 'a link to itself');
  t.equal(v.resolve('/l1/z', 'x'), `/l${MAX_LINKS + 1}/z`, '255 links');
  refused(t, () => v.resolve('/l0/z', 'x'), /more than 255 symlinks/, '256 links');
});

t.test('a file in the middle of a path is refused', async (t) => {
  const v = view(rootfs(t, HOSTILE));
  refused(t, () => v.resolve('/file/x', 'mounts[1].destination'), /^config\.json: mounts\[1\]\.destination: \/file\/x: \/file is not a directory in the rootfs/, 'file/x');
  refused(t, () => v.resolve('/etc/passwd/..', 'x'), /not a directory/, 'file/..');
  t.equal(v.resolve('/file', 'x'), '/file', 'a file at the end is fine');
});

t.test('what is missing is made, in order, with the right last kind', async (t) => {
  const root = rootfs(t, HOSTILE);
  const v = view(root);
  t.same(v.create('/a/b/c', 'dir', 'x'), [{ path: '/a', type: 'dir' }, { path: '/a/b', type: 'dir' }, { path: '/a/b/c', type: 'dir' }]);
  t.same(v.create('/a/b/c', 'dir', 'x'), [], 'made once');
  t.same(v.lookup('/a/b'), { type: 'dir' }, 'the view knows what it made');
  t.notOk(fs.existsSync(path.join(root, 'a')), 'nothing is made on disk by the plan');
  t.same(v.create('/etc/new.conf', 'file', 'x'), [{ path: '/etc/new.conf', type: 'file' }]);
  t.same(v.create('/etc/hosts', 'file', 'x'), [], 'an existing file is a mount point as it is (never replaced)');
  t.same(v.create('/deep/x', null, 'x'), []);
  t.same(v.create('/q/r', null, 'x'), [{ path: '/q', type: 'dir' }], 'last: null makes only the parents');
  refused(t, () => v.create('/etc/passwd', 'dir', 'mounts[4].destination'), /^config\.json: mounts\[4\]\.destination: \/etc\/passwd is a file in the rootfs, where a directory is mounted/, 'dir on a file');
  refused(t, () => v.create('/etc', 'file', 'x'), /is a directory in the rootfs, where a file is mounted/, 'file on a dir');
});

t.test('mounts of the plan change what later paths are', async (t) => {
  const host = rootfs(t, ['data/', 'data/up -> ../../../../..', 'data/abs -> /etc', 'data/f', 'data/sub/']);
  const v = view(rootfs(t, HOSTILE));
  v.mount('/vol', { kind: 'host', host: path.join(host, 'data') });
  t.same(v.lookup('/vol/f'), { type: 'file' }, 'a bind shows its source');
  t.equal(v.resolve('/vol/up/etc/passwd', 'x'), '/etc/passwd', 'a ../ link in a bound host directory stays in the container');
  t.equal(v.resolve('/vol/abs/hosts', 'x'), '/etc/hosts', 'an absolute one too');
  t.equal(v.resolve('/vol/sub', 'x'), '/vol/sub');

  v.create('/etc/made', 'dir', 'x');
  v.mount('/etc', { kind: 'empty' });
  t.same(v.lookup('/etc/passwd'), { type: 'missing' }, 'a tmpfs hides what was there');
  t.same(v.lookup('/etc/made'), { type: 'missing' }, 'including what the plan made there before');
  t.same(v.lookup('/etc'), { type: 'dir' });
  t.equal(v.resolve('/abs/passwd', 'x'), '/etc/passwd', 'links into it still land in it');
  t.same(v.create('/etc/passwd', 'file', 'x'), [{ path: '/etc/passwd', type: 'file' }]);
  v.record('/etc/link', { type: 'symlink', target: '../deep' });
  t.equal(v.resolve('/etc/link/x', 'x'), '/deep/x', 'links the plan makes resolve too');

  v.mount('/dev/pts', { kind: 'kernel', host: null });
  t.same(v.lookup('/dev/pts/ptmx'), { type: 'opaque' }, 'devpts: left to the kernel');
  t.equal(v.resolve('/dev/pts/0', 'x'), '/dev/pts/0');
});

t.test('through /proc: never into a process\'s directory, whose links leave any root', async (t) => {
  const v = view(rootfs(t, [...HOSTILE, 'proc/']));
  v.mount('/proc', { kind: 'kernel', host: '/proc' });
  t.same(v.lookup('/proc/sys'), { type: 'dir' }, 'the host\'s /proc says what its entries are');
  t.equal(v.resolve('/proc/sys/kernel', 'x'), '/proc/sys/kernel');
  for (const p of ['/proc/self/root/etc', '/proc/1/root', '/proc/thread-self/cwd', '/viaproc/shadow', '/magic/shadow'])
    refused(t, () => v.resolve(p, 'mounts[3].destination'), /^config\.json: mounts\[3\]\.destination: not supported by dynod-oci \(.*a process's directory of \/proc/, p);
  if (fs.existsSync('/proc/mounts')) t.equal(v.resolve('/proc/mounts', 'x', false), '/proc/mounts', 'other entries as they are');
});
