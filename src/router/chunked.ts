import { isCtl } from './header-names';
import { LIMITS } from './limits';

const enum S {
  Size,
  Ext,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  Trailer,
  TrailerLf,
  FinalLf,
  Done,
  Bad,
}

/**
 * Follows a chunked body (RFC 9112 §7.1) through the bytes that pass by, to find where
 * it ends; the bytes themselves pass on untouched. With a data callback it also hands
 * out the chunk data alone (for an HTTP/1.0 client, which cannot read chunked).
 */
export class ChunkScanner {
  private st = S.Size;
  private left = 0;
  private digits = 0;
  private line = 0;

  get done(): boolean {
    return this.st === S.Done;
  }

  get failed(): boolean {
    return this.st === S.Bad;
  }

  /**
   * Scans buf[start, end). Returns the offset just past the body's last byte if the
   * body ends in this range, end if it goes on, or -1 if the framing is broken.
   */
  scan(buf: Buffer, start: number, end: number, data?: (b: Buffer, from: number, to: number) => void): number {
    let i = start;
    while (i < end) {
      switch (this.st) {
        case S.Data: {
          const n = Math.min(this.left, end - i);
          if (data !== undefined) data(buf, i, i + n);
          i += n;
          this.left -= n;
          if (this.left === 0) this.st = S.DataCr;
          continue;
        }
        case S.Size: {
          const c = buf[i]!;
          const v = hex(c);
          if (v >= 0) {
            // 13 hex digits stay below 2^53
            if (++this.digits > 13) return this.fail();
            this.left = this.left * 16 + v;
          } else if (this.digits === 0) {
            return this.fail();
          } else if (c === 13) {
            this.st = S.SizeLf;
          } else if (c === 59 || c === 32 || c === 9) {
            this.st = S.Ext;
            this.line = 0;
          } else {
            return this.fail();
          }
          break;
        }
        // a control character (a bare LF above all) in an extension or a trailer line is
        // where a dyno that frames lines differently would find a request of its own
        case S.Ext:
          if (buf[i] === 13) this.st = S.SizeLf;
          else if (isCtl(buf[i]!) || ++this.line > LIMITS.chunkLine) return this.fail();
          break;
        case S.SizeLf:
          if (buf[i] !== 10) return this.fail();
          this.digits = 0;
          this.st = this.left === 0 ? S.TrailerStart : S.Data;
          break;
        case S.DataCr:
          if (buf[i] !== 13) return this.fail();
          this.st = S.DataLf;
          break;
        case S.DataLf:
          if (buf[i] !== 10) return this.fail();
          this.st = S.Size;
          break;
        case S.TrailerStart:
          if (buf[i] === 13) {
            this.st = S.FinalLf;
          } else if (isCtl(buf[i]!)) {
            return this.fail();
          } else {
            this.st = S.Trailer;
            this.line = 1;
          }
          break;
        case S.Trailer:
          if (buf[i] === 13) this.st = S.TrailerLf;
          else if (isCtl(buf[i]!) || ++this.line > LIMITS.chunkLine) return this.fail();
          break;
        case S.TrailerLf:
          if (buf[i] !== 10) return this.fail();
          this.st = S.TrailerStart;
          break;
        case S.FinalLf:
          if (buf[i] !== 10) return this.fail();
          this.st = S.Done;
          return i + 1;
        default:
          return this.st === S.Done ? i : -1;
      }
      i++;
    }
    return end;
  }

  private fail(): number {
    this.st = S.Bad;
    return -1;
  }
}

function hex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  if (l >= 97 && l <= 102) return l - 87;
  return -1;
}
