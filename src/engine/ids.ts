import * as fs from 'node:fs';
import * as crypto from 'node:crypto';
import { native } from '../native';
import { DynodError } from '../errors';
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
 * The host-global allocator of user-namespace id ranges. Range k is held by an OFD
 * write lock on byte k of IDS_LOCK_FILE: the lock belongs to this allocator's open
 * file description, so two engines in one process, or two dynod processes in any
 * network namespace, exclude each other, and the kernel drops it when the fd
 * closes or dynod dies (no stale reservation survives a SIGKILL).
 */
export class IdAllocator {
  private fd = -1;
  /** ranges this allocator holds (an OFD lock is re-entrant for its own description) */
  private readonly held = new Set<number>();

  constructor(private readonly file = IDS_LOCK_FILE) {}

  reserve(): IdRange {
    const fd = this.open();
    const n = native();
    const start = crypto.randomInt(USERNS_RANGES);
    for (let i = 0; i < USERNS_RANGES; i++) {
      const k = (start + i) % USERNS_RANGES;
      if (this.held.has(k)) continue;
      let got: boolean;
      try {
        got = n.lockRange(fd, k);
      } catch (e) {
        throw DynodError.from(e, 'reserve ids');
      }
      if (!got) continue;
      this.held.add(k);
      let released = false;
      return {
        index: k,
        base: USERNS_BASE + k * USERNS_SIZE,
        release: () => {
          if (released) return;
          released = true;
          this.held.delete(k);
          if (this.fd >= 0) n.lockRange(this.fd, k, false);
        },
      };
    }
    throw new DynodError(`all ${USERNS_RANGES} user namespace id ranges are in use`, { step: 'reserve ids' });
  }

  /** Ranges held now (for tests and leak checks). */
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
      fs.mkdirSync(this.file.slice(0, this.file.lastIndexOf('/')), { recursive: true, mode: 0o700 });
      this.fd = fs.openSync(this.file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    } catch (e) {
      throw DynodError.from(e, 'reserve ids');
    }
    return this.fd;
  }
}
