// ContainerPlan → NativeSpawnPlan: the ordered primitive steps the cloned child
// takes to build an OCI container's root (the contract's steps 1 to 9), and
// dynod-init's argv. Pure: every path was resolved by the plan, every fd is the
// caller's; compile only puts host paths under OLD and container paths under NEW.
import * as path from 'node:path';
import type { NativeOp, NativeSpawnPlan } from '../addon';
import { CLONE, MS } from '../dyno/constants';
import { NEW, OLD, initArgv, scratchRootOps, type InitExtras } from '../dyno/compile';
import { sysctlPath } from './linux-config';
import type { PlanMount } from './mounts';
import type { ContainerPlan, PlanProcess } from './plan';
import type { Creation } from './rootfs-view';
import type { NamespaceType } from './spec';

export interface ContainerCompileContext {
  /**
   * The container's cgroup (src/cgroup): v2 intoDir for CLONE_INTO_CGROUP ("" on v1);
   * procsFiles: on v1 one per hierarchy of plan.cgroupView, in its order (a cgroup
   * mount without a cgroup namespace binds their directories).
   */
  cgroup: { intoDir: string; procsFiles: string[] };
  stdio: [number, number, number];
  initFd: number;
  /** the compiled plan.seccomp (compileFilter), or -1 when the plan has none */
  seccompFd: number;
  /** the read end dynod-init waits on before it runs the process (create → start) */
  startFd: number;
  /** an fd per joined namespace path (plan.namespaces.join), opened by the caller */
  nsFds: Record<string, number>;
  /** fds the command gets as 3, 4, ... (--preserve-fds; at most 6: the addon passes 8 with the seccomp program and the start fd) */
  preserveFds?: number[];
  /**
   * A pipe the caller writes the state JSON into once its prestart and createRuntime
   * hooks ran (and closes); the child waits for it before pivot_root and gives it to
   * the createContainer hooks. Needed when the plan has any of those hooks.
   */
  hookState?: { fd: number; closeFd: number };
  trace: boolean;
}

export const NS_CLONE: Record<NamespaceType, number> = {
  pid: CLONE.newpid, network: CLONE.newnet, mount: CLONE.newns, ipc: CLONE.newipc,
  uts: CLONE.newuts, user: CLONE.newuser, cgroup: CLONE.newcgroup, time: CLONE.newtime,
};

/** mknod(2)'s file types: S_IFCHR, S_IFBLK, S_IFIFO */
export const S_IF = { c: 0o020000, b: 0o060000, p: 0o010000 } as const;

/** A mount of the plan at NEW + a container path. */
const inNew = (p: string) => (p === '/' ? NEW : NEW + p);

function createOps(create: Creation[], step: string): NativeOp[] {
  return create.map((c): NativeOp =>
    c.type === 'dir'
      ? { op: 'mkdir', step, path: inNew(c.path), mode: 0o755 }
      : { op: 'write', step, path: inNew(c.path), content: '', mode: 0o644 });
}

/** What follows any mount: propagation, then recursive attributes. */
function afterOps(m: Pick<PlanMount, 'propagation' | 'recursiveAttrs'>, t: string, step: string): NativeOp[] {
  const ops: NativeOp[] = [];
  if (m.propagation) ops.push({ op: 'mount', step, source: null, target: t, fstype: null, flags: m.propagation, data: null });
  if (m.recursiveAttrs) ops.push({ op: 'setattr', step, target: t, attrSet: m.recursiveAttrs, recursive: true });
  return ops;
}

function bindOps(source: string, t: string, recursive: boolean, flags: number, step: string): NativeOp[] {
  const ops: NativeOp[] = [{ op: 'mount', step, source, target: t, fstype: null, flags: MS.bind | (recursive ? MS.rec : 0), data: null }];
  // A bind mount takes the source's flags; its own come with a remount.
  if (flags) ops.push({ op: 'remount', step, target: t, flags });
  return ops;
}

/** The container's cgroup directories, per hierarchy of the view (v1) or its one directory (v2). */
function cgroupDirs(ctx: ContainerCompileContext): string[] {
  if (ctx.cgroup.intoDir) return [ctx.cgroup.intoDir];
  return ctx.cgroup.procsFiles.map((f) => path.posix.dirname(f));
}

function cgroupOps(m: PlanMount, ctx: ContainerCompileContext, deferredRo: string[], step: string): NativeOp[] {
  const t = inNew(m.target);
  const cg = m.cgroup!;
  const ro = (m.flags & MS.rdonly) !== 0;
  const tmpfs = (): NativeOp => {
    if (ro) deferredRo.push(t);
    return { op: 'mount', step, source: 'tmpfs', target: t, fstype: 'tmpfs', flags: (m.flags & ~MS.rdonly) | MS.nosuid | MS.nodev | MS.noexec, data: 'mode=755,size=64k' };
  };
  switch (cg.mode) {
    case 'cgroup2':
      return [...(cg.overTmpfs ? [tmpfs()] : []), { op: 'mount', step, source: m.source, target: t, fstype: 'cgroup2', flags: m.flags, data: m.data }];
    case 'cgroup2-bind': {
      const [dir] = cgroupDirs(ctx);
      if (!dir) throw new Error('compileContainer: a cgroup2 bind needs ctx.cgroup.intoDir (or a procs file)');
      return bindOps(OLD + dir, t, true, m.flags, step);
    }
    case 'v1':
    case 'v1-bind': {
      const dirs = cgroupDirs(ctx);
      if (cg.mode === 'v1-bind' && dirs.length !== cg.hierarchies.length)
        throw new Error(`compileContainer: ${cg.hierarchies.length} cgroup v1 hierarchies in the view, ${dirs.length} procs files in ctx.cgroup`);
      const ops: NativeOp[] = [tmpfs()];
      cg.hierarchies.forEach((h, i) => {
        const ht = `${t}/${h.dir}`;
        ops.push({ op: 'mkdir', step, path: ht, mode: 0o755 });
        if (cg.mode === 'v1') ops.push({ op: 'mount', step, source: m.source, target: ht, fstype: 'cgroup', flags: m.flags, data: h.options });
        else ops.push(...bindOps(OLD + dirs[i]!, ht, false, m.flags, step));
      });
      return ops;
    }
  }
}

function mountOps(m: PlanMount, ctx: ContainerCompileContext, deferredRo: string[]): NativeOp[] {
  const step = `${m.kind} ${m.destination}`;
  const t = inNew(m.target);
  const ops = createOps(m.create, step);
  if (m.kind === 'bind') ops.push(...bindOps(OLD + m.source, t, m.recursive, m.flags, step));
  else if (m.kind === 'cgroup') ops.push(...cgroupOps(m, ctx, deferredRo, step));
  else if (m.copyUp) ops.push({ op: 'tmpfs-copyup', step, target: t, flags: m.flags, data: m.data });
  else {
    if (m.deferReadonly) deferredRo.push(t);
    ops.push({ op: 'mount', step, source: m.source, target: t, fstype: m.kind, flags: m.deferReadonly ? m.flags & ~MS.rdonly : m.flags, data: m.data });
  }
  return [...ops, ...afterOps(m, t, step)];
}

/** The child's steps, in the contract's order. */
export function containerOps(plan: ContainerPlan, ctx: ContainerCompileContext): NativeOp[] {
  const ops: NativeOp[] = [];
  // 1. namespaces joined by path, before anything depends on them; a PID namespace is
  // joined by the clone itself (pidNsFd), for the /proc the child mounts to show it
  for (const j of plan.namespaces.join) {
    if (j.type === 'pid') continue;
    const fd = ctx.nsFds[j.path];
    if (fd === undefined) throw new Error(`compileContainer: no fd in ctx.nsFds for ${j.path}`);
    ops.push({ op: 'setns', step: `join ${j.type} namespace ${j.path}`, fd, nstype: NS_CLONE[j.type] });
  }
  // 2-3. the scratch root with the host at OLD, the rootfs at NEW
  ops.push(...scratchRootOps([{ path: OLD }, { path: NEW }], plan.rootfsPropagation === 'rslave' ? MS.rec | MS.slave : MS.rec | MS.private));
  ops.push({ op: 'mount', step: 'bind rootfs', source: OLD + plan.rootfs, target: NEW, fstype: null, flags: MS.bind | MS.rec, data: null });
  const deferredRo: string[] = plan.readonly ? [NEW] : [];

  // 4. config.mounts; the cgroup view must show the container's own cgroup, so the join goes first
  const join: NativeOp = { op: 'join-cgroup', step: 'join cgroup' };
  let joined = false;
  for (const m of plan.mounts) {
    if (!joined && (m.kind === 'cgroup' || m.target === '/sys/fs/cgroup' || m.target.startsWith('/sys/fs/cgroup/'))) {
      ops.push(join);
      joined = true;
    }
    ops.push(...mountOps(m, ctx, deferredRo));
  }
  if (!joined) ops.push(join);

  // 5. /dev
  for (const d of plan.devices) {
    const step = `device ${d.path}`;
    ops.push(...createOps(d.create, step));
    if (d.how === 'bind') ops.push(...bindOps(OLD + d.path, inNew(d.target), false, 0, step));
    else ops.push({ op: 'mknod', step, path: inNew(d.target), mode: S_IF[d.type] | d.fileMode, major: d.major, minor: d.minor, uid: d.uid, gid: d.gid });
  }
  for (const l of plan.devLinks) {
    const step = `symlink ${l.target}`;
    ops.push(...createOps(l.create, step), { op: 'symlink', step, source: l.linkTo, path: inNew(l.target) });
  }
  if (plan.console) ops.push(...createOps(plan.console.create, 'console'));

  // 6. sysctls, through the host's /proc: each lands in the namespace the child is in
  for (const [key, value] of Object.entries(plan.sysctl)) ops.push({ op: 'sysctl', step: `sysctl ${key}`, path: OLD + sysctlPath(key), content: value });
  if (plan.domainname !== null) ops.push({ op: 'sysctl', step: 'set domainname', path: `${OLD}/proc/sys/kernel/domainname`, content: plan.domainname });

  // 7. read-only paths, then masked ones (runc's order); gone ones are skipped
  for (const p of plan.readonlyPaths) {
    const t = inNew(p.target);
    ops.push(
      { op: 'mount', step: `read-only ${p.path}`, source: t, target: t, fstype: null, flags: MS.bind | MS.rec, data: null, optional: true },
      { op: 'remount', step: `read-only ${p.path}`, target: t, flags: MS.rdonly, optional: true },
    );
  }
  for (const p of plan.maskedPaths) {
    const t = inNew(p.target);
    ops.push(p.kind === 'file'
      ? { op: 'mount', step: `mask ${p.path}`, source: `${OLD}/dev/null`, target: t, fstype: null, flags: MS.bind, data: null, optional: true }
      : { op: 'mount', step: `mask ${p.path}`, source: 'tmpfs', target: t, fstype: 'tmpfs', flags: MS.rdonly | MS.nosuid | MS.nodev | MS.noexec, data: null, optional: true });
  }

  // 8. hostname, loopback of a new network namespace (runc brings it up), the hooks of
  // the runtime spec's create (prestart and createRuntime by the caller while the child
  // waits, then createContainer here: in the container's namespaces, the host's root),
  // read-only last, pivot
  if (plan.hostname !== null) ops.push({ op: 'hostname', step: 'set hostname', name: plan.hostname });
  if (plan.namespaces.new.includes('network')) ops.push({ op: 'loopback', step: 'bring up loopback' });
  if (needsHookState(plan)) {
    if (!ctx.hookState) throw new Error('compileContainer: the plan has create hooks but ctx.hookState is missing');
    ops.push({ op: 'await-state', step: 'wait for the prestart and createRuntime hooks', fd: ctx.hookState.fd, closeFd: ctx.hookState.closeFd });
    for (const h of plan.hooks.createContainer)
      ops.push({ op: 'hook', step: `createContainer hook ${h.path}`, path: h.path, argv: h.args.length ? [...h.args] : [h.path], envp: [...h.env], root: OLD, timeoutMs: (h.timeout ?? 0) * 1000 });
  }
  for (const t of deferredRo.reverse()) ops.push({ op: 'remount', step: `read-only ${t.slice(NEW.length) || '/'}`, target: t, flags: MS.rdonly });
  ops.push({ op: 'pivot', step: 'pivot_root into the container', target: NEW, source: null });
  return ops;
}

/** Whether the child must wait for the caller's hooks before pivot_root (and run createContainer's). */
export function needsHookState(plan: ContainerPlan): boolean {
  return plan.hooks.prestart.length + plan.hooks.createRuntime.length + plan.hooks.createContainer.length > 0;
}

function initPlan(p: PlanProcess) {
  return {
    capabilities: p.capabilities.bounding,
    umask: p.user.umask,
    cwd: p.cwd,
    tty: p.terminal,
    terminalSize: p.consoleSize ?? { rows: 0, cols: 0 },
    command: p.args,
    user: { uid: p.user.uid, gid: p.user.gid },
  };
}

function initExtras(p: PlanProcess): InitExtras {
  const { effective, permitted, inheritable, ambient } = p.capabilities;
  return {
    groups: [...p.user.additionalGids],
    capSets: { effective: [...effective], permitted: [...permitted], inheritable: [...inheritable], ambient: [...ambient] },
    noNewPrivileges: p.noNewPrivileges,
  };
}

/** dynod-init's argv for a process of `exec --process` (no start fd; the seccomp program as fd 4 when seccomp). */
export function processInitArgv(process: PlanProcess, seccomp: boolean, trace = false): string[] {
  return initArgv(initPlan(process), trace, seccomp, initExtras(process));
}

function idMapText(maps: ContainerPlan['uidMappings']): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

export function compileContainer(plan: ContainerPlan, ctx: ContainerCompileContext): NativeSpawnPlan {
  if ((plan.seccomp !== null) !== (ctx.seccompFd >= 0))
    throw new Error(`compileContainer: the plan ${plan.seccomp ? 'has' : 'has no'} seccomp filter but ctx.seccompFd is ${ctx.seccompFd}`);
  const seccomp = ctx.seccompFd >= 0;
  const pidJoin = plan.namespaces.join.find((j) => j.type === 'pid');
  if (pidJoin && ctx.nsFds[pidJoin.path] === undefined) throw new Error(`compileContainer: no fd in ctx.nsFds for ${pidJoin.path}`);
  return {
    // the cgroup namespace is unshared once the child sits in its cgroup, so that cgroup becomes its root
    cloneFlags: plan.namespaces.new.filter((t) => t !== 'cgroup').reduce((acc, t) => acc | NS_CLONE[t], 0),
    lateUnshare: plan.namespaces.new.includes('cgroup') ? CLONE.newcgroup : 0,
    uidMap: idMapText(plan.uidMappings),
    gidMap: idMapText(plan.gidMappings),
    rlimits: plan.process.rlimits.map(({ resource, soft, hard }) => ({ resource, soft, hard })),
    cgroupDir: ctx.cgroup.intoDir,
    cgroupProcs: [...ctx.cgroup.procsFiles],
    ops: containerOps(plan, ctx),
    stdio: ctx.stdio,
    initFd: ctx.initFd,
    passFds: [...(seccomp ? [ctx.seccompFd] : []), ctx.startFd, ...(ctx.preserveFds ?? [])],
    argv: initArgv(initPlan(plan.process), ctx.trace, seccomp, { ...initExtras(plan.process), startFd: true, console: plan.process.terminal, preserveFds: ctx.preserveFds?.length ?? 0 }),
    envp: [...plan.process.env],
    trace: ctx.trace,
    veth: null,
    netnsListen: [],
    detached: true,
    pidNsFd: pidJoin ? ctx.nsFds[pidJoin.path]! : -1,
    spare: -1,
  };
}
