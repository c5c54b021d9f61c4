import * as fs from 'node:fs';

// The random numbers dynod needs (a dyno's id, a one-off's run.N, where the id range
// search begins, the router's request ids), read from the kernel: node:crypto would
// cost every CLI start ~1.7 ms to load, and a formation's manager ~3 MiB of RSS, for
// 16 bytes at a time. One read serves 256 UUIDs, as crypto's own pool does.

const pool = Buffer.alloc(4096);
let used = pool.length;

function take(n: number): number {
  if (used + n > pool.length) {
    const fd = fs.openSync('/dev/urandom', 'r');
    try {
      for (let got = 0; got < pool.length; ) got += fs.readSync(fd, pool, got, pool.length - got, null);
    } finally {
      fs.closeSync(fd);
    }
    used = 0;
  }
  const at = used;
  used += n;
  return at;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** An RFC 4122 version 4 UUID, as crypto.randomUUID() makes. */
export function randomUUID(): string {
  const at = take(16);
  const h = (i: number) => HEX[pool[at + i]!]!;
  // version 4, variant 10xx
  const v = HEX[(pool[at + 6]! & 0x0f) | 0x40]!;
  const r = HEX[(pool[at + 8]! & 0x3f) | 0x80]!;
  return `${h(0)}${h(1)}${h(2)}${h(3)}-${h(4)}${h(5)}-${v}${h(7)}-${r}${h(9)}-${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`;
}

/** A uniform integer in [min, max), as crypto.randomInt(min, max); max − min ≤ 2^32. */
export function randomInt(min: number, max: number): number {
  const range = max - min;
  if (!Number.isInteger(min) || !Number.isInteger(max) || range <= 0 || range > 2 ** 32) throw new RangeError(`randomInt(${min}, ${max}): need integers with 0 < max − min ≤ 2^32`);
  // Rejection sampling: values at or above the largest multiple of range would bias the low ones.
  const limit = 2 ** 32 - (2 ** 32 % range);
  for (;;) {
    const v = pool.readUInt32LE(take(4));
    if (v < limit) return min + (v % range);
  }
}
