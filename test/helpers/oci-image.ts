// A tiny OCI image built on the spot (no registry is reachable from the test hosts):
// static busybox with every applet, /etc/passwd and /etc/group, optional extra files,
// as an OCI image layout in a tar (an "oci-archive"), which both `podman pull
// oci-archive:` and `ctr images import` read. Building it takes a few milliseconds.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';

export const BUSYBOX = '/bin/busybox';

/** Why a static busybox cannot be used for the image, or undefined when it can. */
export function busyboxMissing(): string | undefined {
  if (!fs.existsSync(BUSYBOX)) return `needs ${BUSYBOX} (Debian: busybox-static)`;
  const ldd = (() => {
    try {
      return execFileSync('ldd', [BUSYBOX], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      return String((e as { stdout?: string; stderr?: string }).stdout ?? '') + String((e as { stderr?: string }).stderr ?? '');
    }
  })();
  return /not a dynamic executable|statically linked/.test(ldd) ? undefined : `${BUSYBOX} is dynamically linked: the image needs busybox-static`;
}

export interface ImageFile {
  /** copied from this host path, or written from content */
  from?: string;
  content?: string;
  mode?: number;
}

/** A user the image knows by name (uid = gid) besides root and nobody. */
export const IMAGE_USER = { name: 'app', uid: 1000 };

function sha256(buf: Buffer): string {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

/** The rootfs the image's one layer holds, written into dir. */
function writeRootfs(dir: string, extra: Record<string, ImageFile>): void {
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'root', 'tmp', 'home/app', 'var/tmp']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.chmodSync(path.join(dir, 'tmp'), 0o1777);
  fs.copyFileSync(BUSYBOX, path.join(dir, 'bin', 'busybox'));
  fs.chmodSync(path.join(dir, 'bin', 'busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox' && !a.includes('/'));
  for (const a of applets) fs.symlinkSync('busybox', path.join(dir, 'bin', a));
  const { name, uid } = IMAGE_USER;
  fs.writeFileSync(path.join(dir, 'etc', 'passwd'), `root:x:0:0:root:/root:/bin/sh\n${name}:x:${uid}:${uid}::/home/${name}:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n`);
  fs.writeFileSync(path.join(dir, 'etc', 'group'), `root:x:0:\n${name}:x:${uid}:\nnogroup:x:65534:\n`);
  fs.chownSync(path.join(dir, 'home', name), uid, uid);
  for (const [rel, f] of Object.entries(extra)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (f.from) fs.copyFileSync(f.from, p);
    else fs.writeFileSync(p, f.content ?? '');
    fs.chmodSync(p, f.mode ?? 0o644);
  }
}

/**
 * Builds the image under work (a scratch directory) and returns the archive's path.
 * ref: the name both podman and containerd give it, e.g. localhost/dynod-oci-test:1.
 */
export function buildOciArchive(work: string, ref: string, extra: Record<string, ImageFile> = {}): string {
  const rootfs = path.join(work, 'rootfs');
  const layout = path.join(work, 'layout');
  const blobs = path.join(layout, 'blobs', 'sha256');
  fs.mkdirSync(rootfs, { recursive: true });
  fs.mkdirSync(blobs, { recursive: true });
  writeRootfs(rootfs, extra);
  const layerTar = path.join(work, 'layer.tar');
  // numeric owners and a fixed order: the same inputs give the same layer
  execFileSync('tar', ['--numeric-owner', '--sort=name', '-C', rootfs, '-cf', layerTar, '.']);
  const blob = (buf: Buffer, mediaType: string) => {
    const digest = sha256(buf);
    fs.writeFileSync(path.join(blobs, digest), buf);
    return { mediaType, digest: `sha256:${digest}`, size: buf.length };
  };
  const layerBuf = fs.readFileSync(layerTar);
  const layer = blob(layerBuf, 'application/vnd.oci.image.layer.v1.tar');
  const arch = ({ x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[process.arch] ?? process.arch;
  const config = blob(
    Buffer.from(JSON.stringify({
      architecture: arch,
      os: 'linux',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'], WorkingDir: '/' },
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
      history: [{ created_by: 'dynod test/helpers/oci-image.ts' }],
    })),
    'application/vnd.oci.image.config.v1+json',
  );
  const manifest = blob(
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer] })),
    'application/vnd.oci.image.manifest.v1+json',
  );
  const tag = ref.slice(ref.lastIndexOf(':') + 1);
  // containerd names an imported image by io.containerd.image.name; podman's oci-archive transport by ref.name
  const index = { schemaVersion: 2, manifests: [{ ...manifest, annotations: { 'io.containerd.image.name': ref, 'org.opencontainers.image.ref.name': tag } }] };
  fs.writeFileSync(path.join(layout, 'index.json'), JSON.stringify(index));
  fs.writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const archive = path.join(work, 'image.tar');
  execFileSync('tar', ['--numeric-owner', '-C', layout, '-cf', archive, '.']);
  fs.rmSync(rootfs, { recursive: true, force: true });
  fs.rmSync(layerTar, { force: true });
  return archive;
}
