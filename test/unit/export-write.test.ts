import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeExportFiles } from '../../src/export/write';

// ============================================================================
// Writing an export: exact modes whatever the umask, atomic replacement, and only
// files the caller calls stale are removed.

t.test('modes are exact under any umask; an existing world-readable file becomes 0600', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-export-write-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'app.env'), 'OLD=1\n', { mode: 0o666 });
  fs.chmodSync(path.join(dir, 'app.env'), 0o666);
  for (const umask of [0o000, 0o277]) {
    const old = process.umask(umask);
    try {
      writeExportFiles(path.join(dir, 'out'), [{ path: 'a.service', content: 'A\n', mode: 0o644 }, { path: 'app.env', content: 'S=1\n', mode: 0o600 }]);
      writeExportFiles(dir, [{ path: 'app.env', content: 'S=2\n', mode: 0o600 }]);
    } finally {
      process.umask(old);
    }
    t.equal(fs.statSync(path.join(dir, 'out', 'a.service')).mode & 0o777, 0o644, `umask ${umask.toString(8)}: unit`);
    t.equal(fs.statSync(path.join(dir, 'out', 'app.env')).mode & 0o777, 0o600, `umask ${umask.toString(8)}: env`);
    t.equal(fs.statSync(path.join(dir, 'app.env')).mode & 0o777, 0o600, 'replaced, not rewritten in place');
    t.equal(fs.readFileSync(path.join(dir, 'app.env'), 'utf8'), 'S=2\n');
  }
  t.same(fs.readdirSync(path.join(dir, 'out')).sort(), ['a.service', 'app.env'], 'no temporary file left');
});

t.test('stale files: only those the predicate picks, never the ones being written', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynod-export-write-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'old.service'), '#mine\n');
  fs.writeFileSync(path.join(dir, 'keep.service'), '#theirs\n');
  fs.writeFileSync(path.join(dir, 'new.service'), '#mine\n');
  fs.mkdirSync(path.join(dir, 'dir.service'));
  const seen: string[] = [];
  const r = writeExportFiles(dir, [{ path: 'new.service', content: '#mine v2\n', mode: 0o644 }], (name, content) => {
    seen.push(name);
    return content.startsWith('#mine');
  });
  t.same(r, { written: ['new.service'], removed: ['old.service'] });
  t.same(seen, ['keep.service', 'old.service'], 'directories and the files being written are not asked about');
  t.same(fs.readdirSync(dir).sort(), ['dir.service', 'keep.service', 'new.service']);
});
