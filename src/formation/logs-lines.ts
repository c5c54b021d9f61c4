/**
 * A byte stream cut into log messages, as Logplex cuts a dyno's output: at `\n`
 * (a `\r` before it is dropped), and lines longer than 10,000 bytes into chunks of
 * at most 10,000 bytes, each its own line [heroku-dynos.md section 6]. A chunk ends
 * before a UTF-8 sequence rather than inside it, so it may be up to 3 bytes short.
 *
 * The messages depend only on the bytes, never on how they were chunked by the
 * pipe: a long line is cut as it arrives (nothing is held beyond 10,001 bytes of an
 * unfinished line), at the same places the whole line would have been cut.
 */

export const MAX_LINE_BYTES = 10_000;

const NL = 0x0a;
const CR = 0x0d;

/**
 * Where to end a chunk of at most `max` bytes of buf (buf.length > max): at max,
 * or before the UTF-8 sequence that byte max belongs to. Bytes that are not valid
 * UTF-8 are cut anywhere (they decode to U+FFFD whatever happens).
 */
export function utf8Cut(buf: Uint8Array, max: number): number {
  let start = max;
  while (start > max - 3 && start > 0 && (buf[start]! & 0xc0) === 0x80) start--;
  if (start === max) return max;
  const lead = buf[start]!;
  const length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return lead >= 0xc0 && start > 0 && start + length > max ? start : max;
}

/**
 * One piece of a line (at most max bytes as read) as messages. Invalid UTF-8 decodes
 * to U+FFFD (3 bytes for 1), so a piece can grow past max: then its decoded text is
 * cut again, so that every message holds at most max bytes of UTF-8.
 */
function emitPiece(piece: Buffer, max: number, emit: (message: string) => void): void {
  const text = piece.toString('utf8');
  if (piece.length * 3 <= max || Buffer.byteLength(text) <= max) {
    emit(text);
    return;
  }
  let rest = Buffer.from(text, 'utf8');
  while (rest.length > max) {
    const cut = utf8Cut(rest, max);
    emit(rest.toString('utf8', 0, cut));
    rest = rest.subarray(cut);
  }
  emit(rest.toString('utf8'));
}

/** A whole line (without its `\n`) as messages. */
export function emitLine(line: Buffer, emit: (message: string) => void, max = MAX_LINE_BYTES): void {
  let rest = line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, -1) : line;
  while (rest.length > max) {
    const cut = utf8Cut(rest, max);
    emitPiece(rest.subarray(0, cut), max, emit);
    rest = rest.subarray(cut);
  }
  emitPiece(rest, max, emit);
}

/** Cuts one stream's chunks into messages; the unfinished last line waits for more or for end(). */
export class LineSplitter {
  private carry: Buffer | null = null;

  constructor(
    private readonly emit: (message: string) => void,
    private readonly max = MAX_LINE_BYTES,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    if (this.carry) {
      const nl = chunk.indexOf(NL);
      if (nl < 0) {
        this.carry = Buffer.concat([this.carry, chunk]);
        this.cutLong();
        return;
      }
      const line = Buffer.concat([this.carry, chunk.subarray(0, nl)]);
      this.carry = null;
      emitLine(line, this.emit, this.max);
      start = nl + 1;
    }
    for (let nl = chunk.indexOf(NL, start); nl >= 0; nl = chunk.indexOf(NL, start)) {
      emitLine(chunk.subarray(start, nl), this.emit, this.max);
      start = nl + 1;
    }
    if (start < chunk.length) {
      // a copy: a subarray would keep the whole chunk alive for a few bytes
      this.carry = Buffer.from(chunk.subarray(start));
      this.cutLong();
    }
  }

  /** The last line, even without its `\n`. */
  end(): void {
    const carry = this.carry;
    this.carry = null;
    if (carry) emitLine(carry, this.emit, this.max);
  }

  /**
   * An unfinished line longer than max is cut now, where emitLine would cut it. It
   * keeps more than max + 1 bytes first: max bytes followed by `\r\n` is one line.
   */
  private cutLong(): void {
    let carry = this.carry!;
    if (carry.length <= this.max + 1) return;
    while (carry.length > this.max + 1) {
      const cut = utf8Cut(carry, this.max);
      emitPiece(carry.subarray(0, cut), this.max, this.emit);
      carry = carry.subarray(cut);
    }
    this.carry = Buffer.from(carry);
  }
}
