import * as fs from 'node:fs';

// The few random numbers a dyno start needs (its id, a one-off's run.N, where the id
// range search begins), read from the kernel: node:crypto would cost every CLI start
// ~1.7 ms to load, for 16 bytes. One read serves many starts, as crypto's own pool does.

const pool = Buffer.alloc(256);
let used = pool.length;

function randomBytes(n: number): Buffer {
  if (used + n > pool.length) {
    const fd = fs.openSync('/dev/urandom', 'r');
    try {
      for (let got = 0; got < pool.length; ) got += fs.readSync(fd, pool, got, pool.length - got, null);
    } finally {
      fs.closeSync(fd);
    }
    used = 0;
  }
  const out = Buffer.from(pool.subarray(used, used + n));
  used += n;
  return out;
}

/** An RFC 4122 version 4 UUID, as crypto.randomUUID() makes. */
export function randomUUID(): string {
  const b = randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A uniform integer in [min, max), as crypto.randomInt(min, max); max − min ≤ 2^32. */
export function randomInt(min: number, max: number): number {
  const range = max - min;
  if (!Number.isInteger(min) || !Number.isInteger(max) || range <= 0 || range > 2 ** 32) throw new RangeError(`randomInt(${min}, ${max}): need integers with 0 < max − min ≤ 2^32`);
  // Rejection sampling: values at or above the largest multiple of range would bias the low ones.
  const limit = 2 ** 32 - (2 ** 32 % range);
  for (;;) {
    const v = randomBytes(4).readUInt32LE(0);
    if (v < limit) return min + (v % range);
  }
}
