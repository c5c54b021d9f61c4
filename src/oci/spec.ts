// config.json of the OCI runtime spec (1.0.2 to 1.2, Linux), as validateConfig
// returns it: only the fields dynod-oci applies, checked, defaults filled in,
// plain JSON data. Fields the spec defines that dynod-oci cannot honour never get
// here (validateConfig refuses them); unknown ones are ignored, as the spec says.
import type { ContainerResources } from './resources';
import type { PlanSeccompFilter } from './seccomp';

export const NAMESPACE_TYPES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'] as const;
export type NamespaceType = (typeof NAMESPACE_TYPES)[number];

export interface OciConfig {
  ociVersion: string;
  /** path: absolute (a relative root.path is resolved against the bundle) */
  root: { path: string; readonly: boolean };
  mounts: OciMount[];
  process: OciProcess;
  hostname: string | null;
  domainname: string | null;
  hooks: OciHooks;
  annotations: Record<string, string>;
  linux: OciLinux;
}

export interface OciMount {
  destination: string;
  /** null: absent (a bind mount, told by its options) */
  type: string | null;
  /** as given; for bind mounts a relative source is resolved against the bundle */
  source: string | null;
  options: string[];
}

export interface OciUser {
  uid: number;
  gid: number;
  /** null: absent (the runtime's default, 022) */
  umask: number | null;
  additionalGids: number[];
}

export interface OciCapabilities {
  bounding: string[];
  effective: string[];
  inheritable: string[];
  permitted: string[];
  ambient: string[];
}

export interface OciRlimit {
  /** RLIMIT_NOFILE, ... */
  type: string;
  /** -1: unlimited (RLIM_INFINITY, 2^64-1 in the JSON) */
  soft: number;
  hard: number;
}

export interface OciProcess {
  terminal: boolean;
  consoleSize: { height: number; width: number } | null;
  user: OciUser;
  args: string[];
  /** KEY=VALUE strings, in order */
  env: string[];
  cwd: string;
  /** null: absent (no capabilities at all) */
  capabilities: OciCapabilities | null;
  rlimits: OciRlimit[];
  noNewPrivileges: boolean;
  oomScoreAdj: number | null;
}

export interface OciHook {
  path: string;
  args: string[];
  env: string[];
  /** seconds; null: none */
  timeout: number | null;
}

export const HOOK_KINDS = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;
export type HookKind = (typeof HOOK_KINDS)[number];
export type OciHooks = Record<HookKind, OciHook[]>;

export interface OciNamespace {
  type: NamespaceType;
  /** a namespace to join; null: a new one */
  path: string | null;
}

export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface OciDevice {
  /** c, b or p ("u", unbuffered char, is read as c) */
  type: 'c' | 'b' | 'p';
  path: string;
  major: number;
  minor: number;
  /** permission bits only */
  fileMode: number;
  uid: number;
  gid: number;
}

export interface OciLinux {
  namespaces: OciNamespace[];
  uidMappings: OciIdMapping[];
  gidMappings: OciIdMapping[];
  devices: OciDevice[];
  cgroupsPath: string | null;
  resources: ContainerResources;
  sysctl: Record<string, string>;
  seccomp: PlanSeccompFilter | null;
  /** the filter rules dropped as libseccomp drops them (see parseProfile's settle) */
  seccompNotes: string[];
  /** rprivate (also "private") or rslave (also "slave"); null: absent (rprivate) */
  rootfsPropagation: 'rprivate' | 'rslave' | null;
  maskedPaths: string[];
  readonlyPaths: string[];
}
