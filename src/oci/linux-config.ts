// The linux section of config.json apart from resources and seccomp: namespaces, id
// mappings, devices, sysctl, propagation, masked and read-only paths, and the
// cross-checks between them (runc's validator), as pure checks of the JSON.
import { JsonReader, at, present, type Json } from './json';
import { NAMESPACE_TYPES, type NamespaceType, type OciDevice, type OciIdMapping, type OciLinux, type OciNamespace } from './spec';

const ID_MAX = 0xffffffff;

/** Sysctls of the IPC namespace (runc's list) besides fs.mqueue.*. */
const IPC_SYSCTLS = ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'];

/** Which namespace a sysctl belongs to; null: a host-wide one, never written for a container. */
export function sysctlNamespace(key: string): NamespaceType | null {
  const k = key.replaceAll('/', '.');
  if (IPC_SYSCTLS.includes(k) || k.startsWith('fs.mqueue.')) return 'ipc';
  if (k.startsWith('net.')) return 'network';
  if (k === 'kernel.domainname') return 'uts';
  return null;
}

/** /proc/sys/... for a key: dots are separators unless the key uses slashes (which keep dots in names, e.g. eth0.100). */
export function sysctlPath(key: string): string {
  return `/proc/sys/${key.includes('/') ? key : key.replaceAll('.', '/')}`;
}

export function validateLinux(r: JsonReader, l: Json): Omit<OciLinux, 'resources' | 'seccomp' | 'seccompNotes'> {
  r.refuseSet(l, 'intelRdt', 'linux', 'Intel RDT is not implemented');
  r.refuseSet(l, 'mountLabel', 'linux', 'dynod-oci applies no SELinux label');
  r.refuseSet(l, 'timeOffsets', 'linux', 'time namespace offsets are not implemented');
  r.refuseEntries(l, 'netDevices', 'linux', 'moving network devices into the container is not implemented');
  const pers = r.optObject(l.personality, 'linux.personality');
  if (pers && (pers.domain !== 'LINUX' || r.strings(pers.flags, 'linux.personality.flags').length > 0))
    r.unsupported('linux.personality', 'only {"domain": "LINUX"} without flags, the personality processes have anyway');

  const namespaces = readNamespaces(r, l.namespaces);
  const own = (t: NamespaceType) => namespaces.some((n) => n.type === t && n.path === null);
  const has = (t: NamespaceType) => namespaces.some((n) => n.type === t);
  const mountNs = namespaces.find((n) => n.type === 'mount');
  if (!mountNs) r.fail('linux.namespaces', 'no mount namespace', 'a {"type": "mount"} entry: dynod-oci builds the container\'s root in a mount namespace of its own');
  const nsPath = (t: NamespaceType) => at('linux.namespaces', namespaces.findIndex((n) => n.type === t));
  if (mountNs.path !== null) r.unsupported(at(nsPath('mount'), 'path'), 'the root is built in a new mount namespace; joining one is not implemented');
  const userNs = namespaces.find((n) => n.type === 'user');
  if (userNs?.path) r.unsupported(at(nsPath('user'), 'path'), 'joining a user namespace is not implemented; give uidMappings and gidMappings for a new one');
  const joined = namespaces.find((n) => n.path !== null);
  if (userNs && joined)
    r.unsupported(at(nsPath(joined.type), 'path'), `joining a ${joined.type} namespace from a new user namespace (the joined one belongs to the host's)`);

  const uidMappings = readMappings(r, l.uidMappings, 'linux.uidMappings');
  const gidMappings = readMappings(r, l.gidMappings, 'linux.gidMappings');
  for (const [k, m] of [['uidMappings', uidMappings], ['gidMappings', gidMappings]] as const) {
    if (own('user') && m.length === 0) r.fail(`linux.${k}`, 'missing for the new user namespace', 'containerID/hostID/size mappings');
    if (!own('user') && m.length > 0) r.fail(`linux.${k}`, 'given without a new user namespace', 'a {"type": "user"} entry in linux.namespaces, or no mappings');
  }

  const sysctl = r.stringMap(l.sysctl, 'linux.sysctl');
  for (const key of Object.keys(sysctl)) {
    const p = at('linux.sysctl', key);
    if (!/^[A-Za-z0-9_-]+([./][A-Za-z0-9_-]+)+$/.test(key)) r.fail(p, 'not a sysctl name', 'dotted names such as "net.ipv4.ip_forward" (or with "/" between the parts)');
    const ns = sysctlNamespace(key);
    if (ns === null)
      r.unsupported(p, key.replaceAll('/', '.') === 'kernel.hostname' ? 'set the hostname field instead' : 'not a namespaced sysctl; supported: net.*, fs.mqueue.*, the IPC kernel.msg*/sem/shm* ones, kernel.domainname');
    if (!has(ns)) r.fail(p, `needs a ${ns} namespace of the container's (it would change the host's)`, `a {"type": "${ns}"} entry in linux.namespaces`);
  }

  const prop = r.optString(l.rootfsPropagation, 'linux.rootfsPropagation');
  let rootfsPropagation: OciLinux['rootfsPropagation'] = null;
  if (prop === 'private' || prop === 'rprivate') rootfsPropagation = 'rprivate';
  else if (prop === 'slave' || prop === 'rslave') rootfsPropagation = 'rslave';
  else if (prop === 'shared' || prop === 'rshared' || prop === 'unbindable' || prop === 'runbindable')
    r.unsupported('linux.rootfsPropagation', `${prop}: the root is built in mounts that must not propagate to the host; supported: rprivate, rslave (private and slave are made recursive)`);
  else if (prop) r.fail('linux.rootfsPropagation', `${JSON.stringify(prop)} is not a propagation`, 'rprivate, rslave, private, slave');

  const paths = (k: 'maskedPaths' | 'readonlyPaths') => r.array(l[k], `linux.${k}`, 'absolute paths').map((v, i) => r.absolutePath(v, at(`linux.${k}`, i)));
  return {
    namespaces,
    uidMappings,
    gidMappings,
    devices: readDevices(r, l.devices),
    cgroupsPath: r.optString(l.cgroupsPath, 'linux.cgroupsPath') || null,
    sysctl,
    rootfsPropagation,
    maskedPaths: paths('maskedPaths'),
    readonlyPaths: paths('readonlyPaths'),
  };
}

function readNamespaces(r: JsonReader, v: unknown): OciNamespace[] {
  const out: OciNamespace[] = [];
  r.array(v, 'linux.namespaces', 'namespaces').forEach((e, i) => {
    const p = at('linux.namespaces', i);
    const o = r.object(e, p);
    const type = r.string(o.type, at(p, 'type'), NAMESPACE_TYPES.join(', '));
    if (!(NAMESPACE_TYPES as readonly string[]).includes(type)) r.fail(at(p, 'type'), `${JSON.stringify(type)} is not a namespace type`, NAMESPACE_TYPES.join(', '));
    if (out.some((n) => n.type === type)) r.fail(at(p, 'type'), `${type} is given twice`, 'each namespace type once');
    const nsPath = present(o.path) && o.path !== '' ? r.absolutePath(o.path, at(p, 'path')) : null;
    out.push({ type: type as NamespaceType, path: nsPath });
  });
  return out;
}

function readMappings(r: JsonReader, v: unknown, p: string): OciIdMapping[] {
  return r.array(v, p, 'id mappings').map((e, i) => {
    const o = r.object(e, at(p, i));
    return {
      containerID: r.int(o.containerID, at(at(p, i), 'containerID'), 0, ID_MAX - 1),
      hostID: r.int(o.hostID, at(at(p, i), 'hostID'), 0, ID_MAX - 1),
      size: r.int(o.size, at(at(p, i), 'size'), 1, ID_MAX),
    };
  });
}

function readDevices(r: JsonReader, v: unknown): OciDevice[] {
  const out: OciDevice[] = [];
  r.array(v, 'linux.devices', 'devices').forEach((e, i) => {
    const p = at('linux.devices', i);
    const o = r.object(e, p);
    const t = r.string(o.type, at(p, 'type'), 'c, b, u or p');
    if (t !== 'c' && t !== 'b' && t !== 'u' && t !== 'p') r.fail(at(p, 'type'), `${JSON.stringify(t)} is not a device type`, 'c (char), b (block), u (unbuffered char) or p (FIFO)');
    const devPath = r.absolutePath(o.path, at(p, 'path'));
    if (!devPath.startsWith('/dev/') || devPath.split('/').some((c) => c === '..' || c === '.'))
      r.fail(at(p, 'path'), `${JSON.stringify(devPath)} is not below /dev`, 'a path below /dev without . or .. components');
    if (out.some((d) => d.path === devPath)) r.fail(at(p, 'path'), `${devPath} is given twice`, 'each device path once');
    const fifo = t === 'p';
    const num = (k: 'major' | 'minor') => (fifo && !present(o[k]) ? 0 : r.int(o[k], at(p, k), 0, ID_MAX));
    out.push({
      type: t === 'u' ? 'c' : t,
      path: devPath,
      major: num('major'),
      minor: num('minor'),
      // runc keeps the permission bits only (FileMode &^ S_IFMT)
      fileMode: (r.optInt(o.fileMode, at(p, 'fileMode'), 0, 0o177777) ?? 0o666) & 0o7777,
      uid: r.optInt(o.uid, at(p, 'uid'), 0, ID_MAX - 1) ?? 0,
      gid: r.optInt(o.gid, at(p, 'gid'), 0, ID_MAX - 1) ?? 0,
    });
  });
  return out;
}
