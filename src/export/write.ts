import * as fs from 'node:fs';
import * as path from 'node:path';
import { DynodError } from '../errors';
import type { ExportFile } from './model';

function fail(step: string, file: string, e: unknown): DynodError {
  const err = e as NodeJS.ErrnoException;
  return new DynodError(`${step}: ${file}: ${err.code ?? ''} (${err.message})`, { step, code: err.code ?? '', detail: file }, undefined, { cause: e });
}

/**
 * Writes `files` into `dir` (made if missing), each through a temporary file created
 * with its final mode and renamed over the old one: a secret is never readable by
 * others, not even for a moment, and a reader never sees half a file.
 * `isStale(name, content)` picks the files of an earlier export to remove (dyno
 * units of a formation that shrank); only regular files are considered.
 */
export function writeExportFiles(dir: string, files: readonly ExportFile[], isStale: (name: string, content: string) => boolean = () => false): { written: string[]; removed: string[] } {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  } catch (e) {
    throw fail('export', dir, e);
  }
  const names = new Set(files.map((f) => f.path));
  const removed: string[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    if (names.has(name)) continue;
    const p = path.join(dir, name);
    const st = fs.lstatSync(p);
    if (!st.isFile() || st.size > 1 << 20) continue;
    if (isStale(name, fs.readFileSync(p, 'utf8'))) {
      fs.unlinkSync(p);
      removed.push(name);
    }
  }
  for (const f of files) {
    const target = path.join(dir, f.path);
    const tmp = path.join(dir, `.${f.path}.dynod-export-${process.pid}`);
    try {
      fs.rmSync(tmp, { force: true });
      const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, f.mode);
      try {
        fs.fchmodSync(fd, f.mode); // the umask may have taken bits away
        fs.writeFileSync(fd, f.content);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, target);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw fail('export', target, e);
    }
  }
  return { written: files.map((f) => f.path), removed };
}
