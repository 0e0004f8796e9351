// Spectral band energies of one channel window (docs/features.md §Spectral bands). The FFT is fft.js
// (radix-4, maintained, MIT); we only window, pad and sum. realTransform fills bins 0..N/2 of its output
// (checked against a known cosine), which is all a real signal needs.

import FFT from 'fft.js';
import type { BandScale, BandValue } from './params.ts';

/** The part of fft.js we use, typed: its bundled .d.ts types everything as any. */
interface RealFft {
  readonly size: number;
  realTransform(out: Float64Array, input: Float64Array): void;
}

export interface BandLayout {
  readonly bands: number;
  readonly bandScale: BandScale;
  readonly bandMinHz: number;
}

/**
 * Band edges in Hz for a channel with the given Nyquist frequency: bands + 1 increasing values from 0 to
 * nyquistHz. Band b holds the bins with edges[b] <= f < edges[b + 1]; the last band also holds Nyquist.
 * 'log': edges[1] = bandMinHz and edges[1..bands] are geometric up to Nyquist, so band 0 collects the slow
 * trend below bandMinHz and the rest are equal on a log axis (machine faults show as harmonics of the
 * shaft speed: 1×, 2×, 3×..., which a log axis resolves at low orders without wasting bands up high).
 */
export function bandEdgesHz(layout: BandLayout, nyquistHz: number): Float64Array {
  const { bands, bandScale, bandMinHz } = layout;
  const edges = new Float64Array(bands + 1);
  if (bandScale === 'linear' || bands === 1 || bandMinHz >= nyquistHz) {
    for (let b = 0; b <= bands; b++) edges[b] = (nyquistHz * b) / bands;
    return edges;
  }
  const ratio = nyquistHz / bandMinHz;
  for (let b = 1; b <= bands; b++) edges[b] = bandMinHz * Math.pow(ratio, (b - 1) / (bands - 1));
  edges[bands] = nyquistHz; // exact, whatever pow rounded to
  return edges;
}

/** Smallest power of two >= n, and at least 2 (fft.js needs size > 1). */
export function nextPow2(n: number): number {
  let p = 2;
  while (p < n) p *= 2;
  return p;
}

/**
 * Reusable FFT plans and buffers, keyed by size. Not re-entrant (one pipeline computes one window at a
 * time, which is all single-threaded JS can do); bounded because window sizes are few and fixed.
 */
export class SpectrumWorkspace {
  private readonly ffts = new Map<number, RealFft>();
  private readonly inputs = new Map<number, Float64Array>();
  private readonly outputs = new Map<number, Float64Array>();
  private readonly hann = new Map<number, { w: Float64Array; sumSq: number }>();
  private static readonly maxCached = 16;

  private plan(size: number): { fft: RealFft; input: Float64Array; output: Float64Array } {
    let fft = this.ffts.get(size);
    if (fft === undefined) {
      if (this.ffts.size >= SpectrumWorkspace.maxCached) this.clear();
      fft = new FFT(size);
      this.ffts.set(size, fft);
      this.inputs.set(size, new Float64Array(size));
      this.outputs.set(size, new Float64Array(2 * size));
    }
    return {
      fft,
      input: this.inputs.get(size) as Float64Array,
      output: this.outputs.get(size) as Float64Array,
    };
  }

  /** Periodic Hann window of length n (w[i] = 0.5 − 0.5 cos(2πi/n)) and Σw². */
  private window(n: number): { w: Float64Array; sumSq: number } {
    let h = this.hann.get(n);
    if (h === undefined) {
      if (this.hann.size >= SpectrumWorkspace.maxCached) this.hann.clear();
      const w = new Float64Array(n);
      let sumSq = 0;
      for (let i = 0; i < n; i++) {
        const v = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
        w[i] = v;
        sumSq += v * v;
      }
      h = { w, sumSq };
      this.hann.set(n, h);
    }
    return h;
  }

  private clear(): void {
    this.ffts.clear();
    this.inputs.clear();
    this.outputs.clear();
  }

  /**
   * Writes `edges.length − 1` band values for x[0..n) sampled at rateHz into out[offset..]. Mean removed,
   * Hann windowed, zero padded to the next power of two. Power of bin k (one-sided, Parseval-scaled so the
   * bins sum to Σ(w·(x−mean))² / Σw², i.e. ≈ the variance, unit²):
   *   P_k = c_k |X_k|² / (N · Σw²), c_k = 1 for k = 0 and k = N/2, else 2.
   * 'power' writes Σ P_k per band; 'fraction' divides by Σ over all bins (all zeros when that is 0).
   * Fewer than 4 samples carry no spectrum: all bands are 0.
   */
  bandValues(
    x: Float64Array,
    n: number,
    mean: number,
    rateHz: number,
    edges: Float64Array,
    value: BandValue,
    out: Float64Array,
    offset: number,
  ): void {
    const bands = edges.length - 1;
    for (let b = 0; b < bands; b++) out[offset + b] = 0;
    if (n < 4 || !(rateHz > 0)) return;
    const size = nextPow2(n);
    const { fft, input, output } = this.plan(size);
    const { w, sumSq } = this.window(n);
    for (let i = 0; i < n; i++) input[i] = ((x[i] as number) - mean) * (w[i] as number);
    input.fill(0, n);
    fft.realTransform(output, input);

    const scale = 1 / (size * sumSq);
    const half = size / 2;
    const binHz = rateHz / size;
    let band = 0;
    let total = 0;
    for (let k = 0; k <= half; k++) {
      const re = output[2 * k] as number;
      const im = output[2 * k + 1] as number;
      const p = (k === 0 || k === half ? 1 : 2) * (re * re + im * im) * scale;
      const f = k * binHz;
      // Edges increase and bins increase, so the band index only moves forward.
      while (band < bands - 1 && f >= (edges[band + 1] as number)) band++;
      out[offset + band] = (out[offset + band] as number) + p;
      total += p;
    }
    if (value === 'fraction') {
      for (let b = 0; b < bands; b++) out[offset + b] = total > 0 ? (out[offset + b] as number) / total : 0;
    }
  }
}
