// Consistent Overhead Byte Stuffing (Cheshire & Baker, IEEE/ACM ToN 1999). Removes every 0x00 from a frame
// so 0x00 can delimit frames on the wire: a receiver that loses sync realigns on the next 0x00.
// Overhead is at most 1 byte per 254 bytes, plus one. The encoder emits the canonical form (the one in the
// paper and in common MCU libraries): a run of 254 non-zero bytes that ends the input is not followed by a
// spare 0x01 code byte. The decoder accepts both forms, so firmware using either kind of encoder interoperates.

/** Upper bound of the encoded size for n input bytes (without the trailing delimiter). */
export function cobsMaxEncodedLength(n: number): number {
  return n + Math.ceil(n / 254) + 1;
}

/** Encodes `src` into `dst` at `offset`; returns the number of bytes written (no delimiter). */
export function cobsEncodeInto(src: Uint8Array, dst: Uint8Array, offset = 0): number {
  let codeAt = offset;
  let out = offset + 1;
  let code = 1;
  const n = src.length;
  for (let i = 0; i < n; i++) {
    const b = src[i] as number;
    if (b === 0) {
      dst[codeAt] = code;
      codeAt = out++;
      code = 1;
    } else {
      dst[out++] = b;
      code++;
      if (code === 0xff) {
        dst[codeAt] = code;
        // A full block at the very end needs no further code byte: the decoder stops at the block's end.
        if (i === n - 1) return out - offset;
        codeAt = out++;
        code = 1;
      }
    }
  }
  dst[codeAt] = code;
  return out - offset;
}

export function cobsEncode(src: Uint8Array): Uint8Array {
  const dst = new Uint8Array(cobsMaxEncodedLength(src.length));
  return dst.subarray(0, cobsEncodeInto(src, dst));
}

/**
 * Decodes one COBS block (without its delimiter) into `dst`, which must hold at least `src.length` bytes
 * (decoding never grows). Returns the decoded length, or -1 when the block is not valid COBS: a zero byte
 * inside it, or a code byte that points past the end.
 */
export function cobsDecodeInto(src: Uint8Array, dst: Uint8Array): number {
  const n = src.length;
  let out = 0;
  let i = 0;
  while (i < n) {
    const code = src[i] as number;
    if (code === 0) return -1;
    const end = i + code;
    if (end > n) return -1;
    for (let j = i + 1; j < end; j++) {
      const b = src[j] as number;
      if (b === 0) return -1;
      dst[out++] = b;
    }
    i = end;
    if (code !== 0xff && i < n) dst[out++] = 0;
  }
  return out;
}

/** Decodes one COBS block (without its delimiter) into a new array; null when it is not valid COBS. */
export function cobsDecode(src: Uint8Array): Uint8Array | null {
  const dst = new Uint8Array(src.length);
  const n = cobsDecodeInto(src, dst);
  return n < 0 ? null : dst.subarray(0, n);
}
