// Temporary app directories (and other scratch dirs) that clean up after the test.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

interface Teardownable {
  teardown(fn: () => void | Promise<void>): void;
}

export type AppFile = string | Buffer | { content: string | Buffer; mode?: number; uid?: number; gid?: number };

/**
 * A fresh directory under the host's /tmp holding files (paths relative to it;
 * parent directories are created). Removed when the test ends.
 */
export function tempApp(t: Teardownable, files: Record<string, AppFile> = {}, prefix = 'dynod-app-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  for (const [rel, f] of Object.entries(files)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    const spec = typeof f === 'string' || Buffer.isBuffer(f) ? { content: f } : f;
    fs.writeFileSync(p, spec.content);
    if (spec.mode !== undefined) fs.chmodSync(p, spec.mode);
    if (spec.uid !== undefined) fs.chownSync(p, spec.uid, spec.gid ?? spec.uid);
  }
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Every entry under dir (relative path, type, mode, uid, gid, size, mtime, sha256 of files), sorted: a fingerprint to compare. */
export function snapshotTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const abs = path.join(dir, rel);
    const st = fs.lstatSync(abs);
    let extra = '';
    if (st.isFile()) extra = crypto.createHash('sha256').update(fs.readFileSync(abs)).digest('hex');
    else if (st.isSymbolicLink()) extra = fs.readlinkSync(abs);
    out.push(`${rel || '.'} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.isDirectory() ? '-' : st.size} ${st.mtimeMs} ${extra}`);
    if (st.isDirectory()) for (const name of fs.readdirSync(abs).sort()) walk(path.join(rel, name));
  };
  walk('');
  return out;
}
