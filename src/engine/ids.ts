import { DynodError } from '../errors';
import { ByteLocks } from '../linux/byte-locks';
import { USERNS_BASE, USERNS_RANGES, USERNS_SIZE } from '../dyno/constants';

/** Where the id ranges are reserved: one byte of this file per range. */
export const IDS_LOCK_FILE = '/run/dynod/ids.lock';

/** A range of USERNS_SIZE host ids that no other live dyno holds. */
export interface IdRange {
  /** the range's number, 0 .. USERNS_RANGES-1 */
  readonly index: number;
  /** first host id: inside id N is host id base + N */
  readonly base: number;
  release(): void;
}

/**
 * The host-global allocator of user-namespace id ranges: range k is byte lock k of
 * IDS_LOCK_FILE (see ByteLocks): not per network namespace, freed by the kernel on death.
 */
export class IdAllocator {
  private readonly locks: ByteLocks;

  constructor(file = IDS_LOCK_FILE) {
    this.locks = new ByteLocks(file, 'reserve ids');
  }

  reserve(): IdRange {
    const lock = this.locks.reserve(USERNS_RANGES);
    if (!lock) throw new DynodError(`all ${USERNS_RANGES} user namespace id ranges are in use`, { step: 'reserve ids' });
    return { index: lock.index, base: USERNS_BASE + lock.index * USERNS_SIZE, release: lock.release };
  }

  /** Ranges held now (for tests and leak checks). */
  get size(): number {
    return this.locks.size;
  }

  close(): void {
    this.locks.close();
  }
}
