import { native } from '../native';
import { userNsMap } from '../dyno/compile';
import { log } from '../log';
import type { IdAllocator, IdRange } from './ids';

/** A spare taken for one start: its id range is the dyno's; the spawn takes `id`. */
export interface Spare {
  id: number;
  ids: IdRange;
}

/** Failures in a row after which no more spares are made (the starts make their own namespaces): also where the clone cannot take one (DYNOD_SPAWN_FORK=1, not x86-64). */
const MAX_FAILURES = 3;

/**
 * The next dyno's user and network namespaces, made ahead (native/spare.h). Making a
 * network namespace is most of what a start's clone costs the kernel (~0.4 ms here),
 * and a long-lived engine can pay it between starts, while the dyno it just started
 * runs, instead of while the next start waits. The CPU is the same; one start less
 * waits for it. At most one spare exists; it holds an id range, a helper process
 * parked in the namespaces, and its fds, all gone with close() (and with dynod: the
 * helper has a parent-death signal, the range's lock is the kernel's).
 */
export class SpareNamespaces {
  private ready: Spare | null = null;
  private scheduled = false;
  /** schedule() was called before: spares begin with an engine's second start (a one-shot `dynod run` makes none) */
  private repeated = false;
  private failures = 0;
  private closed = false;

  constructor(private readonly ids: IdAllocator) {}

  /** The spare, if one is ready: the caller hands spare.id to its spawn (or discard()s it). */
  take(): Spare | null {
    const spare = this.ready;
    this.ready = null;
    return spare;
  }

  /**
   * After a start's spawn: makes the next spare once the current callbacks are done
   * (while the dyno just started runs), unless one is there or being made, or this
   * is the engine's first start.
   */
  schedule(): void {
    if (!this.repeated) {
      this.repeated = true;
      return;
    }
    if (this.closed || this.ready || this.scheduled || this.failures >= MAX_FAILURES) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.closed && !this.ready) this.make();
    });
  }

  private make(): void {
    let ids: IdRange;
    try {
      ids = this.ids.reserve();
    } catch {
      return; // every range in use: the starts reserve their own, or fail saying so
    }
    const map = userNsMap(ids.base);
    try {
      this.ready = { id: native().spareMake(map, map), ids };
      this.failures = 0;
    } catch (e) {
      ids.release();
      this.failures++;
      log.debug({ err: e }, 'spare namespaces failed; starts make their own');
    }
  }

  /** Ends a spare that no spawn took (one taken by a start that failed before its spawn). */
  discard(spare: Spare, keepIds = false): void {
    native().spareDiscard(spare.id);
    if (!keepIds) spare.ids.release();
  }

  close(): void {
    this.closed = true;
    if (this.ready) this.discard(this.ready);
    this.ready = null;
  }
}
