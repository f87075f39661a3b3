/** The SSH wire encoding (RFC 4251 §5) as OpenSSH keys and signatures use it. */
import { concatBytes, fromUtf8, utf8 } from './encoding';

/** Thrown by the reader when a blob ends early or holds what its format forbids. */
export class WireError extends Error {
  override name = 'WireError';
}

/** Reads the fields of a blob in order; every read checks the length it was given. */
export class SshReader {
  private at = 0;

  constructor(private readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.at === this.bytes.length;
  }

  raw(length: number, what: string): Uint8Array {
    if (this.at + length > this.bytes.length) throw new WireError(`${what} is cut short`);
    const out = this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return out;
  }

  byte(what: string): number {
    return this.raw(1, what)[0]!;
  }

  uint32(what: string): number {
    const b = this.raw(4, what);
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  }

  string(what: string): Uint8Array {
    return this.raw(this.uint32(`${what} length`), what);
  }

  text(what: string): string {
    const text = fromUtf8(this.string(what));
    if (text === undefined) throw new WireError(`${what} is not UTF-8`);
    return text;
  }

  /**
   * A non-negative mpint in its one minimal encoding (no sign bit, no leading zero byte unless
   * the next byte has its top bit set), as the magnitude's big-endian bytes.
   */
  positiveMpint(what: string): Uint8Array {
    const b = this.string(what);
    if (b.length === 0) return b;
    if ((b[0]! & 0x80) !== 0) throw new WireError(`${what} is negative`);
    if (b[0] === 0 && (b.length === 1 || (b[1]! & 0x80) === 0)) {
      throw new WireError(`${what} is not minimally encoded`);
    }
    return b[0] === 0 ? b.subarray(1) : b;
  }

  end(what: string): void {
    if (!this.done) throw new WireError(`${what} has ${this.bytes.length - this.at} extra bytes`);
  }
}

export function wireUint32(value: number): Uint8Array {
  return new Uint8Array([value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]);
}

export function wireString(value: Uint8Array | string): Uint8Array {
  const bytes = typeof value === 'string' ? utf8(value) : value;
  return concatBytes(wireUint32(bytes.length), bytes);
}

/** A non-negative integer's magnitude (big-endian) as an mpint. */
export function wireMpint(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  const body =
    trimmed.length > 0 && (trimmed[0]! & 0x80) !== 0
      ? concatBytes(new Uint8Array([0]), trimmed)
      : trimmed;
  return wireString(body);
}
