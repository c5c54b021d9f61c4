import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { native } from '../native';
import { DynodError } from '../errors';
import { checkAgainstRoutes, gatewayOf, hostRoutes, ipToString, type Ipv4Range } from './cidr';
import { spawnSync } from 'node:child_process';
import { deleteRuleset, egressRuleset, runNft } from './nft';
import { log } from '../log';

export const NET_DIR = '/run/dynod/net';
/** The bridge every dynod's dynos hang on (one per host). */
export const BRIDGE = 'dynod0';
/** Host ends of the dynos' veth pairs: this prefix and 8 hex digits. */
export const VETH_PREFIX = 'dyv';
const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';

/** What the user who set the host network up wrote down, for the others and for the sweep. */
interface HostNetState {
  range: string;
  bridge: string;
  /** dynod turned ip_forward on (it was 0): the teardown turns it off again */
  forwardingOwned: boolean;
}

/**
 * The host side of the dynos' egress, shared by every engine of every dynod
 * process on the host: the bridge (the dynos' gateway), IPv4 forwarding, and the
 * nftables table `inet dynod`. Made by the first user, removed by the last.
 *
 * Users are counted by the kernel: each holds a shared flock on users.lock for as
 * long as it uses the network; whoever can take it exclusively knows nobody else
 * does (a dynod killed with SIGKILL drops its lock with its fds). Setup and
 * teardown run under an exclusive flock on setup.lock, so one never interleaves
 * with another.
 */
export class HostNetwork {
  private usersFd = -1;
  private acquiring: Promise<void> | null = null;

  /** option: where the range came from, for the messages (DYNOD_NET_RANGE, network range) */
  constructor(readonly range: Ipv4Range, private readonly option: string, private readonly dir = NET_DIR) {}

  get gateway(): string {
    return ipToString(gatewayOf(this.range));
  }

  /** Sets the host network up unless this engine already uses it, or joins it when another user made it. */
  acquire(): Promise<void> {
    if (this.usersFd >= 0) return Promise.resolve();
    this.acquiring ??= this.join().finally(() => (this.acquiring = null));
    return this.acquiring;
  }

  private async join(): Promise<void> {
    checkAgainstRoutes(this.range, hostRoutes(), BRIDGE, this.option);
    await this.locked(async () => {
      const fd = this.openLock('users.lock');
      try {
        const n = native();
        if (n.flock(fd, true)) {
          // Nobody uses it: whatever is there was left by a dynod that died (or is ours to make).
          await teardown(this.dir);
          await this.setUp();
          n.flock(fd, false); // keep a shared lock: the count of users
        } else {
          const state = readState(this.dir);
          if (state && state.range !== this.range.text)
            throw new DynodError(
              `network: the dynos of another dynod on this host use the range ${state.range}; this one was given ${this.range.text} (one range per host: give every dynod the same range, or stop the other dynods)`,
              { step: 'network: range' },
            );
          if (!n.flock(fd, false)) throw new DynodError('network: users.lock: could not take a shared lock', { step: 'network: lock' });
          // A user that died between making the bridge and writing the state leaves no state: make it now.
          if (!state) await this.setUp();
        }
        this.usersFd = fd;
        process.once('exit', this.onExit);
      } catch (e) {
        fs.closeSync(fd);
        throw e;
      }
    });
  }

  private async setUp(): Promise<void> {
    const n = native();
    try {
      n.netBridge(BRIDGE, this.gateway, this.range.prefix);
    } catch (e) {
      throw DynodError.from(e, 'network: bridge');
    }
    const forwardingOwned = fs.readFileSync(IP_FORWARD, 'utf8').trim() === '0';
    const state: HostNetState = { range: this.range.text, bridge: BRIDGE, forwardingOwned };
    // Written before forwarding and the rules: a dynod killed from here on leaves what the
    // sweep needs to undo both (turning off a forwarding it did not turn on yet is harmless).
    writeState(this.dir, state);
    // Routing the dynos' packets needs it; what else it would let through, the table drops.
    if (forwardingOwned) fs.writeFileSync(IP_FORWARD, '1');
    try {
      await runNft(egressRuleset({ bridge: BRIDGE, gateway: this.gateway, range: this.range.text, forwardingOwned }));
    } catch (e) {
      // No rules (nft missing, refused): nothing half made may stay, least of all forwarding
      // without the table that drops what is not the dynos'.
      if (forwardingOwned) fs.writeFileSync(IP_FORWARD, '0');
      try {
        n.netLinkDelete(BRIDGE);
      } catch {
        /* the sweep of a later start removes it */
      }
      fs.rmSync(path.join(this.dir, 'state.json'), { force: true });
      throw e;
    }
    log.debug({ range: this.range.text }, 'host network set up');
  }

  /** Stops using the host network; the last user takes it down. */
  async release(): Promise<void> {
    await this.acquiring?.catch(() => {});
    if (this.usersFd < 0) return;
    await this.locked(async () => {
      process.off('exit', this.onExit);
      fs.closeSync(this.usersFd);
      this.usersFd = -1;
      await sweepIdle(this.dir, false);
    });
  }

  /**
   * A process that exits without closing its engine (the library's default engine, say)
   * still takes the host network down when it was the last user: synchronously, on
   * 'exit', only if the setup lock is free at once; otherwise the next start sweeps it.
   */
  private readonly onExit = (): void => {
    if (this.usersFd < 0) return;
    try {
      fs.closeSync(this.usersFd);
      this.usersFd = -1;
      const n = native();
      const setup = fs.openSync(path.join(this.dir, 'setup.lock'), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
      const users = fs.openSync(path.join(this.dir, 'users.lock'), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
      try {
        if (n.flock(setup, true) && n.flock(users, true)) {
          const state = readState(this.dir);
          if (state) spawnSync('nft', ['-f', '-'], { input: deleteRuleset(), stdio: ['pipe', 'ignore', 'ignore'] });
          for (const v of staleVeths()) n.netLinkDelete(v);
          n.netLinkDelete(BRIDGE);
          if (state?.forwardingOwned) fs.writeFileSync(IP_FORWARD, '0');
          fs.rmSync(path.join(this.dir, 'state.json'), { force: true });
        }
      } finally {
        fs.closeSync(users);
        fs.closeSync(setup);
      }
    } catch {
      // best effort: the next start's sweep removes what is left
    }
  };

  private openLock(name: string): number {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    return fs.openSync(path.join(this.dir, name), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  }

  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    return withSetupLock(this.dir, fn);
  }
}

async function withSetupLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const fd = fs.openSync(path.join(dir, 'setup.lock'), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  try {
    const n = native();
    // A setup takes tens of milliseconds; 30 s means the holder is stuck.
    for (let waited = 0; !n.flock(fd, true); waited += 10) {
      if (waited > 30_000) throw new DynodError(`network: ${dir}/setup.lock is held by another dynod for more than 30 s`, { step: 'network: lock', code: 'ETIMEDOUT' });
      await sleep(10);
    }
    return await fn();
  } finally {
    fs.closeSync(fd); // drops the lock
  }
}

function readState(dir: string): HostNetState | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as HostNetState;
  } catch {
    return null;
  }
}

function writeState(dir: string, s: HostNetState): void {
  const file = path.join(dir, 'state.json');
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(s), { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
}

/** Host ends of dyno veths that are still there (their dynos' namespaces are gone or going). */
function staleVeths(): string[] {
  try {
    return fs.readdirSync('/sys/class/net').filter((n) => n.startsWith(VETH_PREFIX));
  } catch {
    return [];
  }
}

/** Removes everything of the host network; the caller holds the setup lock and knows nobody uses it. */
async function teardown(dir: string): Promise<boolean> {
  const state = readState(dir);
  const n = native();
  const bridge = fs.existsSync(`/sys/class/net/${BRIDGE}`);
  const veths = staleVeths();
  if (!state && !bridge && veths.length === 0) return false;
  // The three wait for RCU grace periods in the kernel (the table's hooks, each link):
  // side by side, a one-shot run's teardown takes the longest of them, not their sum.
  const unlink = (name: string) =>
    new Promise<void>((resolve, reject) => n.netLinkDelete(name, (err) => (err ? reject(DynodError.fromStep(err)) : resolve())));
  const done = await Promise.allSettled([state ? runNft(deleteRuleset()) : null, ...veths.map(unlink), unlink(BRIDGE)]);
  // forwarding goes back whatever failed: the host must not go on routing for others
  if (state?.forwardingOwned) fs.writeFileSync(IP_FORWARD, '0');
  const failed = done.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    // the state stays for a later sweep (the table may still be there), without the forwarding now given back
    if (state?.forwardingOwned) writeState(dir, { ...state, forwardingOwned: false });
    throw failed.reason;
  }
  fs.rmSync(path.join(dir, 'state.json'), { force: true });
  return true;
}

/**
 * Takes the host network down when nobody uses it: after the last user's release,
 * and before an engine's first start (what a dynod killed with SIGKILL left).
 * True when something was removed.
 */
export async function sweepIdle(dir = NET_DIR, lock = true): Promise<boolean> {
  // Nothing of ours on this host: no lock file to make, no nft to run.
  if (!fs.existsSync(path.join(dir, 'state.json')) && !fs.existsSync(`/sys/class/net/${BRIDGE}`) && staleVeths().length === 0) return false;
  const run = async () => {
    const fd = fs.openSync(path.join(dir, 'users.lock'), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    try {
      if (!native().flock(fd, true)) return false;
      return await teardown(dir);
    } finally {
      fs.closeSync(fd);
    }
  };
  return lock ? withSetupLock(dir, run) : run();
}
