// The packed feature format (docs/storage.md §Packed features). Full telemetry JSON is ~7.7 KB per window
// (issue #9 §2 "Footprint"); stored, a window's features are n float32 little-endian, 4n bytes (768 for the
// reference board's 192), in the order of the window's layout (feature pipeline id + feature names, stored
// once in the `layouts` table).
//
// Nulls are NaN, not a validity bitmap: telemetry carries null exactly where a value was imputed or not
// finite (agent/publish/telemetry.ts), JSON cannot carry NaN or Infinity, so NaN <-> null is a bijection
// with what was received and costs no extra bytes. Finite values round-trip bit-exactly as float32 (the
// pipeline computes float32; a float64 that is not a float32 would be rounded, Math.fround).

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** n float32 LE; null (and any non-finite number) becomes NaN. */
export function packFeatures(values: readonly (number | null)[]): Uint8Array {
  const f = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    f[i] = v === null || v === undefined || !Number.isFinite(v) ? Number.NaN : v;
  }
  return packFloat32(f);
}

export function packFloat32(f: Float32Array): Uint8Array {
  if (littleEndianHost) return new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
  const out = new Uint8Array(f.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < f.length; i++) dv.setFloat32(i * 4, f[i] as number, true);
  return out;
}

/** The inverse of packFloat32. Copies, so the result is aligned whatever the blob's offset. */
export function unpackFloat32(blob: Uint8Array): Float32Array {
  const n = blob.byteLength >>> 2;
  if (littleEndianHost) {
    const copy = new Uint8Array(n * 4);
    copy.set(blob.subarray(0, n * 4));
    return new Float32Array(copy.buffer);
  }
  const out = new Float32Array(n);
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}

/** The telemetry form back: name -> value, null where NaN. */
export function featuresRecord(
  names: readonly string[],
  values: Float32Array,
): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (let i = 0; i < names.length; i++) {
    const v = values[i] as number;
    out[names[i] as string] = Number.isNaN(v) ? null : v;
  }
  return out;
}
