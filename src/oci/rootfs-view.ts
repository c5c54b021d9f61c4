// The container's tree as the plan builds it, read from the real rootfs on disk:
// what each path is once the earlier mounts of the plan are in place, and where a
// path leads when its symlinks are resolved as if the rootfs were "/" (the
// securejoin of runc and filepath-securejoin). The child mounts at NEW + the
// resolved path, in which no component is a symlink: nothing in the image can
// point a mount, a device or a mask outside the container's tree.
//
// Resolution happens in the parent before the child runs (the rootfs is not in use
// yet); an image that changed its own tree between create and the child's mounts
// would only move them within itself.
import * as fs from 'node:fs';
import type { JsonReader } from './json';

/** Linux's limit on symlinks followed in one lookup (MAXSYMLINKS is 40; filepath-securejoin allows 255). */
export const MAX_LINKS = 255;

export type Node =
  | { type: 'dir' }
  | { type: 'file' }
  | { type: 'device' }
  | { type: 'symlink'; target: string }
  | { type: 'missing' }
  /** inside a kernel filesystem whose entries the plan cannot see (devpts, mqueue): the kernel decides */
  | { type: 'opaque' }
  /** a process's directory of a proc mount (/proc/self, /proc/PID) or below: the host's would say nothing of the container's */
  | { type: 'process' };

/** What a mount of the plan puts at a path of the container. */
export type Layer =
  /** the rootfs, or a bind mount: the tree of this host path (symlinks in it still resolve inside the container) */
  | { kind: 'host'; host: string }
  /** a new tmpfs: empty but for what the plan makes in it */
  | { kind: 'empty' }
  /** proc, sysfs, cgroup: the same kernel's filesystem as the host sees it at this path (what its entries are), or unknown */
  | { kind: 'kernel'; host: string | null };

/** Something the child makes before it mounts: a missing directory, or the empty file a file mount needs. */
export interface Creation {
  /** inside the container, resolved */
  path: string;
  type: 'dir' | 'file';
}

function under(p: string, root: string): boolean {
  return root === '/' || p === root || p.startsWith(`${root}/`);
}

/**
 * What a host path is, its symlinks reported (never followed: the view resolves them
 * inside the container). kernel: a kernel filesystem, where an unreadable entry is
 * left to the kernel rather than an error.
 */
function hostNode(file: string, kernel: boolean): Node {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { type: 'missing' };
    if (kernel) return { type: 'opaque' };
    throw e;
  }
  // Magic links of /proc (/proc/self/root, /proc/PID/cwd, ...) read as their path in the
  // process's root: resolved in the view like any symlink, they cannot reach the scratch root.
  if (st.isSymbolicLink()) return { type: 'symlink', target: fs.readlinkSync(file) };
  if (st.isDirectory()) return { type: 'dir' };
  if (st.isCharacterDevice() || st.isBlockDevice()) return { type: 'device' };
  return { type: 'file' };
}

export class RootfsView {
  private readonly layers: Array<{ at: string; layer: Layer }>;
  /** what the plan made (directories, files, devices, symlinks) and is not hidden by a later mount */
  private readonly made = new Map<string, Node>();

  /** rootfs: the real path of the root filesystem on the host */
  constructor(rootfs: string, private readonly r: JsonReader) {
    this.layers = [{ at: '/', layer: { kind: 'host', host: rootfs } }];
  }

  /** What is at a resolved container path (no symlinks in it but maybe the last component). */
  lookup(p: string): Node {
    const made = this.made.get(p);
    if (made) return made;
    let top = this.layers[0]!;
    for (const l of this.layers) if (under(p, l.at)) top = l;
    const rel = top.at === '/' ? p : p.slice(top.at.length);
    const { layer } = top;
    if (layer.kind === 'host') return hostNode(layer.host + (rel === '/' ? '' : rel), false);
    if (p === top.at) return { type: 'dir' };
    if (layer.kind === 'empty') return { type: 'missing' };
    if (layer.host === '/proc' && /^\/(\d+|self|thread-self)(\/|$)/.test(rel)) return { type: 'process' };
    return layer.host === null ? { type: 'opaque' } : hostNode(layer.host + rel, true);
  }

  /**
   * Resolves a container path: each component looked up in the view, symlinks
   * (absolute and relative) followed inside the container, ".." never above "/".
   * followLast: false leaves a symlink in the last component unresolved.
   * where: the JSON path the path comes from, for errors.
   */
  resolve(unsafe: string, where: string, followLast = true): string {
    let current = '';
    let rest = unsafe.split('/');
    let links = 0;
    while (rest.length > 0) {
      const part = rest.shift()!;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        current = current.slice(0, Math.max(current.lastIndexOf('/'), 0));
        continue;
      }
      const next = `${current}/${part}`;
      const last = rest.every((c) => c === '' || c === '.');
      const node = this.lookup(next);
      if (node.type === 'process') this.r.unsupported(where, `${unsafe}: goes through ${next}, a process's directory of /proc, whose links (root, cwd, fd) lead out of any root`);
      if (node.type === 'symlink' && (followLast || !last)) {
        if (++links > MAX_LINKS) this.r.fail(where, `${unsafe}: more than ${MAX_LINKS} symlinks on the way in the rootfs (a loop?)`, 'a path that resolves inside the rootfs');
        if (node.target.startsWith('/')) current = '';
        rest = [...node.target.split('/'), ...rest];
        continue;
      }
      if ((node.type === 'file' || node.type === 'device') && !last)
        this.r.fail(where, `${unsafe}: ${next} is not a directory in the rootfs`, 'a path whose parents are directories');
      current = next;
    }
    return current || '/';
  }

  /**
   * The missing components of a resolved path, to be made in order: directories, and
   * the last one as `last` says (null: it must exist already, or be left to the kernel).
   * Records them as made; refuses a last component of the wrong kind.
   */
  create(target: string, last: 'dir' | 'file' | null, where: string): Creation[] {
    const out: Creation[] = [];
    const parts = target.split('/').filter(Boolean);
    let p = '';
    parts.forEach((part, i) => {
      p += `/${part}`;
      const isLast = i === parts.length - 1;
      const node = this.lookup(p);
      if (node.type === 'missing') {
        const type = isLast ? last : 'dir';
        if (type === null) return;
        out.push({ path: p, type });
        this.made.set(p, { type: type === 'dir' ? 'dir' : 'file' });
      } else if (isLast && last === 'dir' && node.type !== 'dir' && node.type !== 'opaque') {
        this.r.fail(where, `${target} is a ${node.type} in the rootfs, where a directory is mounted`, 'a directory, or a missing path');
      } else if (isLast && last === 'file' && node.type === 'dir') {
        this.r.fail(where, `${target} is a directory in the rootfs, where a file is mounted`, 'a file, or a missing path');
      }
    });
    return out;
  }

  /** A mount of the plan at a resolved path: it hides what was below. */
  mount(at: string, layer: Layer): void {
    for (const p of [...this.made.keys()]) if (under(p, at)) this.made.delete(p);
    this.layers.push({ at, layer });
  }

  /** Something the plan makes without a mount (a device node, a symlink). */
  record(p: string, node: Node): void {
    this.made.set(p, node);
  }
}
