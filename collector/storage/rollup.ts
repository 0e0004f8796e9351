// Mergeable per-feature summaries (issue #9 §2 "Footprint", docs/storage.md §Rollups). A bucket keeps, per
// feature, the count of non-null values, their sum, sum of squares, min and max, and counts on the
// reference bins when bin edges are given. Every field merges by addition (or min/max), so an hour is the
// merge of its minutes, a day the merge of its hours, and a late window merges into a bucket already
// written: nothing needs the raw windows again.
//
// Encoded blob (before deflate-raw), little-endian: u8 version (1), u32 n, u32 histogram cells H, then
// count u32 x n, sum f64 x n, sumSq f64 x n, min f32 x n, max f32 x n, histogram u32 x H. min/max are f32
// because every input is a float32 (packing.ts), so they stay exact; sums are f64.

import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { binIndex } from '../../shared/bundle/reference.ts';

export const ROLLUP_BLOB_VERSION = 1;

/** Bin edges per feature, in layout order; an empty array means no histogram for that feature. */
export type BinEdges = readonly (readonly number[])[];

export interface SummaryBlock {
  readonly n: number;
  readonly count: Uint32Array;
  readonly sum: Float64Array;
  readonly sumSq: Float64Array;
  readonly min: Float32Array;
  readonly max: Float32Array;
  /** Offsets into hist per feature (n + 1 entries); feature i owns hist[offsets[i] .. offsets[i+1]). */
  readonly histOffsets: Uint32Array;
  readonly hist: Uint32Array;
}

function offsetsOf(n: number, edges: BinEdges | undefined): Uint32Array {
  const off = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) {
    const e = edges?.[i];
    off[i + 1] = (off[i] as number) + (e === undefined || e.length === 0 ? 0 : e.length + 1);
  }
  return off;
}

export function emptySummary(n: number, edges?: BinEdges): SummaryBlock {
  const histOffsets = offsetsOf(n, edges);
  return {
    n,
    count: new Uint32Array(n),
    sum: new Float64Array(n),
    sumSq: new Float64Array(n),
    min: new Float32Array(n).fill(Number.POSITIVE_INFINITY),
    max: new Float32Array(n).fill(Number.NEGATIVE_INFINITY),
    histOffsets,
    hist: new Uint32Array(histOffsets[n] as number),
  };
}

/** Adds one window's values (NaN = null, skipped) into s. */
export function accumulate(s: SummaryBlock, values: Float32Array, edges?: BinEdges): void {
  const n = Math.min(s.n, values.length);
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    if (Number.isNaN(v)) continue;
    s.count[i] = (s.count[i] as number) + 1;
    s.sum[i] = (s.sum[i] as number) + v;
    s.sumSq[i] = (s.sumSq[i] as number) + v * v;
    if (v < (s.min[i] as number)) s.min[i] = v;
    if (v > (s.max[i] as number)) s.max[i] = v;
    const lo = s.histOffsets[i] as number;
    if ((s.histOffsets[i + 1] as number) > lo) {
      const k = lo + binIndex(edges?.[i] ?? [], v);
      s.hist[k] = (s.hist[k] as number) + 1;
    }
  }
}

/** into += from. Both must have the same layout and bins (the store keys rollups by both). */
export function mergeInto(into: SummaryBlock, from: SummaryBlock): void {
  if (into.n !== from.n || into.hist.length !== from.hist.length) {
    throw new Error(`rollup merge of different layouts (${into.n}/${from.n} features)`);
  }
  for (let i = 0; i < into.n; i++) {
    into.count[i] = (into.count[i] as number) + (from.count[i] as number);
    into.sum[i] = (into.sum[i] as number) + (from.sum[i] as number);
    into.sumSq[i] = (into.sumSq[i] as number) + (from.sumSq[i] as number);
    if ((from.min[i] as number) < (into.min[i] as number)) into.min[i] = from.min[i] as number;
    if ((from.max[i] as number) > (into.max[i] as number)) into.max[i] = from.max[i] as number;
  }
  for (let k = 0; k < into.hist.length; k++)
    into.hist[k] = (into.hist[k] as number) + (from.hist[k] as number);
}

export function encodeSummary(s: SummaryBlock): Uint8Array {
  const n = s.n;
  const h = s.hist.length;
  const buf = new Uint8Array(9 + n * (4 + 8 + 8 + 4 + 4) + h * 4);
  const dv = new DataView(buf.buffer);
  dv.setUint8(0, ROLLUP_BLOB_VERSION);
  dv.setUint32(1, n, true);
  dv.setUint32(5, h, true);
  let o = 9;
  for (let i = 0; i < n; i++, o += 4) dv.setUint32(o, s.count[i] as number, true);
  for (let i = 0; i < n; i++, o += 8) dv.setFloat64(o, s.sum[i] as number, true);
  for (let i = 0; i < n; i++, o += 8) dv.setFloat64(o, s.sumSq[i] as number, true);
  for (let i = 0; i < n; i++, o += 4) dv.setFloat32(o, s.min[i] as number, true);
  for (let i = 0; i < n; i++, o += 4) dv.setFloat32(o, s.max[i] as number, true);
  for (let k = 0; k < h; k++, o += 4) dv.setUint32(o, s.hist[k] as number, true);
  // Level 1: counts and histograms are mostly repeats and zeros; the sums are not compressible anyway.
  return deflateRawSync(buf, { level: 1 });
}

export function decodeSummary(blob: Uint8Array, edges?: BinEdges): SummaryBlock {
  const buf = inflateRawSync(blob);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const version = dv.getUint8(0);
  if (version !== ROLLUP_BLOB_VERSION) throw new Error(`rollup blob version ${String(version)} is unknown`);
  const n = dv.getUint32(1, true);
  const h = dv.getUint32(5, true);
  const s = emptySummary(n, edges);
  if (s.hist.length !== h)
    throw new Error(`rollup blob has ${String(h)} histogram cells, bins say ${String(s.hist.length)}`);
  let o = 9;
  for (let i = 0; i < n; i++, o += 4) s.count[i] = dv.getUint32(o, true);
  for (let i = 0; i < n; i++, o += 8) s.sum[i] = dv.getFloat64(o, true);
  for (let i = 0; i < n; i++, o += 8) s.sumSq[i] = dv.getFloat64(o, true);
  for (let i = 0; i < n; i++, o += 4) s.min[i] = dv.getFloat32(o, true);
  for (let i = 0; i < n; i++, o += 4) s.max[i] = dv.getFloat32(o, true);
  for (let k = 0; k < h; k++, o += 4) s.hist[k] = dv.getUint32(o, true);
  return s;
}

/** Prediction mix of a bucket; merges by addition. */
export interface PredictionMix {
  labelCounts: Record<string, number>;
  confidenceSum: number;
}

export function mergePredictionMix(into: PredictionMix, from: PredictionMix): void {
  for (const [label, c] of Object.entries(from.labelCounts)) {
    into.labelCounts[label] = (into.labelCounts[label] ?? 0) + c;
  }
  into.confidenceSum += from.confidenceSum;
}
