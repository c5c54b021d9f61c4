import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native } from '../native';
import { DynodError } from '../errors';
import { capacityOf, dynoAddress, ipToString, type Ipv4Range } from './cidr';

/** Where dyno addresses are reserved: byte k of this file stands for the range's k-th dyno address. */
export const ADDRESSES_LOCK_FILE = '/run/dynod/net/addresses.lock';

export interface AddressLease {
  readonly address: string;
  release(): void;
}

/**
 * The host-global allocator of dyno addresses, like the id ranges (engine/ids.ts):
 * address k is held by an OFD write lock on byte k of the lock file, so two engines
 * or two dynod processes never hand out the same one, and the kernel frees it when
 * the fd closes or dynod dies. All users share one range at a time (HostNetwork
 * refuses a second), so byte k means the same address to all of them.
 */
export class AddressAllocator {
  private fd = -1;
  private readonly held = new Set<number>();

  constructor(private readonly file = ADDRESSES_LOCK_FILE) {}

  reserve(range: Ipv4Range): AddressLease {
    const fd = this.open();
    const n = native();
    const count = capacityOf(range);
    // A random start: a freed address is not handed out again at once (a dying
    // namespace may still hold it for a moment).
    const start = crypto.randomInt(count);
    for (let i = 0; i < count; i++) {
      const k = (start + i) % count;
      if (this.held.has(k)) continue;
      let got: boolean;
      try {
        got = n.lockRange(fd, k);
      } catch (e) {
        throw DynodError.from(e, 'network: reserve an address');
      }
      if (!got) continue;
      this.held.add(k);
      let released = false;
      return {
        address: ipToString(dynoAddress(range, k)),
        release: () => {
          if (released) return;
          released = true;
          this.held.delete(k);
          if (this.fd >= 0) n.lockRange(this.fd, k, false);
        },
      };
    }
    throw new DynodError(`network: all ${count} addresses of ${range.text} are in use`, { step: 'network: reserve an address' });
  }

  get size(): number {
    return this.held.size;
  }

  close(): void {
    this.held.clear();
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }

  private open(): number {
    if (this.fd >= 0) return this.fd;
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
      this.fd = fs.openSync(this.file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    } catch (e) {
      throw DynodError.from(e, 'network: reserve an address');
    }
    return this.fd;
  }
}
