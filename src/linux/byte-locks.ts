import { randomInt } from './random';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native } from '../native';
import { DynodError } from '../errors';

/** One slot held: its number, until release(). */
export interface ByteLock {
  readonly index: number;
  release(): void;
}

/**
 * Host-global numbered slots: slot k is held by an OFD write lock on byte k of `file`.
 * The lock belongs to this allocator's open file description, so two allocators in
 * one process, or two dynod processes in any namespace, exclude each other, and the
 * kernel drops it when the fd closes or dynod dies (no stale reservation survives a
 * SIGKILL). The user namespace id ranges and the dyno addresses are such slots.
 */
export class ByteLocks {
  private fd = -1;
  /** slots this allocator holds (an OFD lock is re-entrant for its own description) */
  private readonly held = new Set<number>();

  constructor(
    private readonly file: string,
    /** the step named in errors, e.g. "reserve ids" */
    private readonly step: string,
  ) {}

  /**
   * A free slot of 0..count-1, or null when all are held. The search starts at a random
   * slot: a freed one is not handed out again at once.
   */
  reserve(count: number): ByteLock | null {
    const fd = this.open();
    const n = native();
    const start = randomInt(0, count);
    for (let i = 0; i < count; i++) {
      const k = (start + i) % count;
      if (this.held.has(k)) continue;
      let got: boolean;
      try {
        got = n.lockRange(fd, k);
      } catch (e) {
        throw DynodError.from(e, this.step);
      }
      if (!got) continue;
      this.held.add(k);
      let released = false;
      return {
        index: k,
        release: () => {
          if (released) return;
          released = true;
          this.held.delete(k);
          if (this.fd >= 0) n.lockRange(this.fd, k, false);
        },
      };
    }
    return null;
  }

  /** Slots held now (for tests and leak checks). */
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
      throw DynodError.from(e, this.step);
    }
    return this.fd;
  }
}
