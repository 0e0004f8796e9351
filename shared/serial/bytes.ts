// Little-endian byte writer and bounds-checked reader for the serial frame codec (frames.ts). Strings are
// "str8": one length byte, then that many UTF-8 bytes (no terminator), so a name is at most 255 bytes.

import { crc32 } from './crc32.ts';

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: false });

export class Writer {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf);
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.ensure(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }
  u16(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.length, v >>> 0, true);
    this.length += 4;
  }
  u64(v: number): void {
    this.ensure(8);
    // Two u32 halves instead of a BigInt: exact for every integer up to 2^53, and much faster.
    const x = Math.max(0, Math.trunc(v));
    if (!Number.isSafeInteger(x)) throw new RangeError(`u64 value ${v} is not a safe integer`);
    this.view.setUint32(this.length, x % 0x1_0000_0000, true);
    this.view.setUint32(this.length + 4, Math.floor(x / 0x1_0000_0000), true);
    this.length += 8;
  }
  f32(v: number): void {
    this.ensure(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  str8(s: string): void {
    const b = utf8.encode(s);
    if (b.length > 255) throw new RangeError(`string longer than 255 bytes: ${s.slice(0, 20)}…`);
    this.u8(b.length);
    this.bytes(b);
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  finish(): Uint8Array {
    const crc = crc32(this.buf, 0, this.length);
    this.u32(crc);
    return this.buf.slice(0, this.length);
  }
}

export class Reader {
  private readonly view: DataView;
  pos: number;
  constructor(
    private readonly bytes: Uint8Array,
    start: number,
    private readonly end: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
  }
  has(n: number): boolean {
    return this.pos + n <= this.end;
  }
  u8(): number {
    const v = this.view.getUint8(this.pos);
    this.pos += 1;
    return v;
  }
  u16(): number {
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(): number {
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(): number {
    // Values above 2^53 lose precision (285 years of microseconds); no device clock gets there.
    const v = this.view.getUint32(this.pos, true) + this.view.getUint32(this.pos + 4, true) * 0x1_0000_0000;
    this.pos += 8;
    return v;
  }
  f32(): number {
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }
  str8(): string | null {
    if (!this.has(1)) return null;
    const n = this.u8();
    if (!this.has(n)) return null;
    const s = fromUtf8.decode(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
  take(n: number): Uint8Array {
    const b = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}
