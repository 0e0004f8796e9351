// Time-domain statistics of one channel window (docs/features.md §Time domain). Two-pass moments with the
// corrected sum of Chan, Golub & LeVeque ("Algorithms for computing the sample variance", 1983): the
// first pass finds the mean, the second sums deviations, so a large offset (pressure at 1013 hPa, gravity
// on accel.z) does not cancel the variance the way the one-pass Σx² − nμ² formula does.

export interface TimeStats {
  readonly mean: number;
  /** Population standard deviation (divides by n). */
  readonly std: number;
  readonly rms: number;
  readonly peakToPeak: number;
  /** Fisher-Pearson skewness m3 / m2^1.5; 0 for a constant (or numerically constant) signal. */
  readonly skewness: number;
  /** Pearson kurtosis m4 / m2² (not excess: a Gaussian gives 3, a sine 1.5); 0 for a constant signal. */
  readonly kurtosis: number;
  /** max|x| / rms; 0 when rms is 0. */
  readonly crestFactor: number;
  readonly min: number;
  readonly max: number;
  /** The last value in time order. */
  readonly last: number;
}

/**
 * Below this ratio std / max|x| the deviations are rounding noise of the mean, not signal: skewness and
 * kurtosis of rounding noise are meaningless, so they are 0. One LSB of the coarsest reference sensor
 * relative to its reading is ~1e-6, far above this.
 */
const DEGENERATE_RATIO = 1e-12;

/** Statistics of x[0..n). Requires n >= 1 and finite values (the pipeline drops non-finite samples first). */
export function timeStats(x: Float64Array, n: number): TimeStats {
  let sum = 0;
  let sumSq = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = x[i] as number;
    sum += v;
    sumSq += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const last = x[n - 1] as number;
  const maxAbs = Math.max(Math.abs(min), Math.abs(max));
  const rms = Math.sqrt(sumSq / n);
  const crestFactor = rms > 0 ? maxAbs / rms : 0;
  if (min === max) {
    // Exactly constant: the mean is the value itself, and every spread statistic is 0 by definition.
    return { mean: min, std: 0, rms, peakToPeak: 0, skewness: 0, kurtosis: 0, crestFactor, min, max, last };
  }

  const mu = sum / n;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let s4 = 0;
  for (let i = 0; i < n; i++) {
    const d = (x[i] as number) - mu;
    const d2 = d * d;
    s1 += d;
    s2 += d2;
    s3 += d2 * d;
    s4 += d2 * d2;
  }
  const c = s1 / n; // rounding error of the first-pass mean
  const mean = mu + c;
  const m2 = Math.max(0, s2 / n - c * c);
  const std = Math.sqrt(m2);
  let skewness = 0;
  let kurtosis = 0;
  if (std > DEGENERATE_RATIO * maxAbs) {
    skewness = s3 / n / (m2 * std);
    kurtosis = s4 / n / (m2 * m2);
  }
  return { mean, std, rms, peakToPeak: max - min, skewness, kurtosis, crestFactor, min, max, last };
}
