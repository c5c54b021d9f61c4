// The escape battery (test/security/attacks.ts) inside a container of the OCI runtime
// under test. The container is what podman asks for by default (root, podman's
// capabilities and seccomp profile, no user namespace): the runtime must stop every
// attack runc stops with the same config.json. PERMITTED lists what that config lets
// any container do (measured with runc, podman 4.3.1); each is left out, with the reason.
import type { Test } from 'tap';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { COMMON, DYNO_UID, PROBE_SRC, parse } from '../security/attacks';
import { brief, type Cmd } from './oci';
import { waitFor } from './dynod';

/** Probes a default podman container may do under any runtime, and why. */
export const PERMITTED: Record<string, string> = {
  chroot: "CAP_SYS_CHROOT is in podman's default capabilities (the chroot stays inside the container's root)",
  unshare_user: "podman's seccomp profile allows user namespaces",
  unshare_all: "podman's seccomp profile allows user namespaces (and inside one, the others)",
  clone_newuser: "podman's seccomp profile allows user namespaces",
  clone_newuser_high_bits: "podman's seccomp profile allows user namespaces",
  clone3_newuser: "podman's seccomp profile allows clone3",
  keyctl: "podman's seccomp profile allows keyctl (the container has a session keyring of its own)",
  keyctl_join: "podman's seccomp profile allows keyctl",
  socket_vsock: "podman's seccomp profile allows AF_VSOCK",
  x32: "podman's seccomp profile allows the x32 ABI",
  int80: "podman's seccomp profile allows the i386 ABI",
  ptrace_pid1: "when PID 1 is the container's own command (runc), and podman's profile allows ptrace; judged when PID 1 is a runtime's init",
  ptrace_child: "the container's own process, and podman's profile allows ptrace",
  ptrace_traceme: "podman's profile allows ptrace",
  interrupts: "not among podman's masked paths",
  kpageflags: "not among podman's masked paths; root in the container passes the file's mode check",
  write_root: "the container's root is its own writable copy",
  write_etc: "the container's root is its own writable copy",
  write_etc_passwd: "the container's own /etc/passwd, in its writable root",
};

/** The probe, statically linked (the image has no libc); undefined when gcc cannot build it. */
export function buildProbe(dir: string): string | undefined {
  const out = path.join(dir, 'escape-probe');
  const cc = spawnSync('gcc', ['-static', '-O1', '-Wno-format-truncation', '-o', out, PROBE_SRC], { encoding: 'utf8' });
  return cc.status === 0 ? out : undefined;
}

export interface ProbeParams {
  /** a string on the host sentinels' command lines, passed as $ESCAPE_TAG */
  tag: string;
  /** KEY=VALUE arguments of the probe */
  args: string[];
}

/**
 * Runs the attacks through runProbe (which starts /probe ARGS... NAMES... in a container
 * within timeoutMs and returns its output), one assertion each, then checks the host. dir: a scratch dir.
 */
export async function escapeInContainer(t: Test, dir: string, runProbe: (p: ProbeParams, names: string[], timeoutMs: number) => Promise<Cmd>): Promise<void> {
  const tag = `3599.${crypto.randomInt(100000, 999999)}`;
  const children: ChildProcess[] = [spawn('sleep', [tag], { stdio: 'ignore' }), spawn('sleep', [tag], { stdio: 'ignore', uid: DYNO_UID, gid: DYNO_UID })];
  const servers: net.Server[] = [];
  try {
    const marker = path.join(dir, 'host-only', 'MARKER');
    fs.mkdirSync(path.dirname(marker), { recursive: true });
    fs.writeFileSync(marker, 'host\n');
    const tcp = net.createServer((c) => c.destroy());
    await new Promise<void>((res) => tcp.listen(0, '0.0.0.0', () => res()));
    const abstract = `dynod-oci-escape-${crypto.randomBytes(6).toString('hex')}`;
    const uds = net.createServer((c) => c.destroy());
    await new Promise<void>((res) => uds.listen(`\0${abstract}`, () => res()));
    servers.push(tcp, uds);
    let hostIp = '192.0.2.254';
    let nic = 'eth0';
    for (const [n, addrs] of Object.entries(os.networkInterfaces()))
      for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal && hostIp === '192.0.2.254') [hostIp, nic] = [a.address, n];
    await waitFor(() => children.every((c) => fs.existsSync(`/proc/${c.pid}/cmdline`) && fs.readFileSync(`/proc/${c.pid}/cmdline`, 'utf8').includes(tag)), 5000, 'the sentinels');
    const mountsBefore = new Set(fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => !l.includes(dir)));
    const hostname = os.hostname();
    const corePattern = fs.readFileSync('/proc/sys/kernel/core_pattern', 'utf8');

    const attacks = COMMON.filter((a) => !(a.probe in PERMITTED));
    const names = ['pid1_cmdline', ...attacks.map((a) => a.probe)];
    const args = [`hostpid=${children[0]!.pid}`, `hostpid2=${children[1]!.pid}`, `marker=${marker}`, `port=${(tcp.address() as net.AddressInfo).port}`, `hostip=${hostIp}`, `abstract=${abstract}`, `nic=${nic}`];
    const r = await runProbe({ tag, args }, names, 60_000);
    t.equal(r.code, 0, `the probe ran to its end (${brief(r)})`);
    const got = parse(r.stdout);
    // A PID 1 that is not the command (dynod-init) is the runtime's: the container must not ptrace it.
    const pid1 = got.get('pid1_cmdline') ?? 'NO RESULT';
    const ownPid1 = pid1.startsWith('CMDLINE:/probe|');
    t.comment(`PID 1 in the container: ${pid1.slice(0, 80)}${ownPid1 ? " (the command itself: ptrace of it is the container's own business)" : " (the runtime's init: ptrace of it is judged)"}`);
    if (!ownPid1) {
      // a run of its own: when it works, PTRACE_ATTACH leaves PID 1 stopped (the probe detaches without waiting)
      const p = await runProbe({ tag, args }, ['ptrace_pid1'], 15_000);
      got.set('ptrace_pid1', parse(p.stdout).get('ptrace_pid1') ?? `NO RESULT (${brief(p)})`);
      attacks.push({ ...COMMON.find((a) => a.probe === 'ptrace_pid1')!, attack: "ptrace PID 1 (the runtime's init)" });
    }
    let succeeded = 0;
    for (const a of attacks) {
      const line = got.get(a.probe);
      const failed = line !== undefined && a.verdict(line.split(' ')[0]!, line);
      if (!failed) succeeded++;
      t.ok(failed, `${a.attack}: ${line ?? 'NO RESULT'} (attack must fail: ${a.expect})`);
    }
    t.comment(`escape battery in a container: ${attacks.length} attacks, ${succeeded} succeeded; left out as a default podman container's right: ${Object.keys(PERMITTED).join(', ')}`);

    const sentinelsAlive = children.every((c) => c.exitCode === null && c.signalCode === null);
    t.ok(sentinelsAlive, 'host: both sentinel processes are alive');
    t.equal(fs.readFileSync(marker, 'utf8'), 'host\n', 'host: the host-only file is unchanged');
    const added = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l && !l.includes(dir) && !mountsBefore.has(l));
    t.same(added, [], "host: no mount appeared in the host's table (outside the suite's dir)");
    t.equal(os.hostname(), hostname, 'host: the hostname');
    t.equal(fs.readFileSync('/proc/sys/kernel/core_pattern', 'utf8'), corePattern, 'host: kernel.core_pattern');
  } finally {
    for (const s of servers) s.close();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}
