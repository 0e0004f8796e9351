// Chunk scores for a device baseline at the live window's own size. A baseline is short (600 windows at
// the default commissioning), so consecutive chunks of it are small (30 rows) and rescaling their scores
// to a 300-row window assumes independent rows: on autocorrelated features (lag-1 0.9) that set W1 and PSI
// thresholds too low and alarmed on 1.5% of steady columns. Instead, as the offline path does for a
// bundle (collector/drift/reference.ts surrogateW1), chunks of the live window's size are drawn from a
// seeded Gaussian AR(1) with the baseline's lag-1 autocorrelation, mapped through its quantiles, and
// scored against it: the threshold then carries the autocorrelation at the size it is used at.

import { binIndex, psi } from '../../../shared/bundle/reference.ts';
import { fillAr1, Prng } from '../../../shared/random.ts';
import { MAX_CALIBRATION_CHUNKS } from '../reference.ts';
import { MAX_RHO, normalCdf, wasserstein1 } from '../stats.ts';
import type { ChunkSet, DriftReference } from '../types.ts';

function counts(edges: readonly number[], values: ArrayLike<number>, bins: number): number[] {
  const out = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const b = binIndex(edges, values[i] as number);
    out[b] = (out[b] as number) + 1;
  }
  return out;
}

/** W1 and PSI chunk sets of `rows`-row AR(1) surrogate chunks of a prepared reference. */
export function surrogateChunks(ref: DriftReference, rows: number, seed: number): Record<string, ChunkSet> {
  const sample = ref.sorted;
  const k = sample.length;
  if (k < 2 || !(ref.scale > 0) || rows < 2) return {};
  const rng = new Prng(seed, `drift-live-surrogate:${ref.name}`);
  const r = Math.min(MAX_RHO, Math.max(0, ref.lag1));
  const noise = new Float64Array(rows);
  const chunk = new Float64Array(rows);
  const w1: number[] = [];
  const ps: number[] = [];
  const bins = ref.counts.length;
  for (let j = 0; j < MAX_CALIBRATION_CHUNKS; j++) {
    fillAr1(rng, noise, r);
    for (let i = 0; i < rows; i++)
      chunk[i] = sample[Math.min(k - 1, Math.floor(normalCdf(noise[i] as number) * k))] as number;
    chunk.sort();
    w1.push(wasserstein1(chunk, sample) / ref.scale);
    if (bins >= 2) ps.push(psi(ref.counts, counts(ref.binEdges, chunk, bins)));
  }
  const out: Record<string, ChunkSet> = {
    wasserstein: { chunkSize: rows, scores: w1, origin: 'ar1-surrogate', inReference: false },
  };
  if (bins >= 2) out.psi = { chunkSize: rows, scores: ps, origin: 'ar1-surrogate', inReference: false };
  return out;
}
