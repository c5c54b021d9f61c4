import { ByteLocks } from '../linux/byte-locks';
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
 * address k is byte lock k of the lock file (see ByteLocks). All users share one
 * range at a time (HostNetwork refuses a second), so byte k means the same address
 * to all of them.
 */
export class AddressAllocator {
  private readonly locks: ByteLocks;

  constructor(file = ADDRESSES_LOCK_FILE) {
    this.locks = new ByteLocks(file, 'network: reserve an address');
  }

  reserve(range: Ipv4Range): AddressLease {
    const count = capacityOf(range);
    const lock = this.locks.reserve(count);
    if (!lock) throw new DynodError(`network: all ${count} addresses of ${range.text} are in use`, { step: 'network: reserve an address' });
    return { address: ipToString(dynoAddress(range, lock.index)), release: lock.release };
  }

  get size(): number {
    return this.locks.size;
  }

  close(): void {
    this.locks.close();
  }
}
