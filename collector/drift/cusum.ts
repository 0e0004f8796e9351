// Streaming detection: a two-sided CUSUM on standardised window means (Page 1954). The current column is
// cut into windows of w consecutive rows, w about ten correlation times so window means are nearly
// independent even when the rows are not; each mean is standardised by the long-run spread of reference
// window means of the same length (measured on the reference rows when we have them, else the AR(1)
// formula from the profile's lag-1 autocorrelation), widened by what consecutive window means still
// share. The reference value k is at least half a standard deviation and at least the physical floor,
// so shifts below the floor drift the sums down, not up. The limit h comes from Siegmund's approximation
// of the in-control average run length (ARL0), set so a false alarm anywhere in the column has
// probability `cusumFalseAlarm`: ARL0 = windows / cusumFalseAlarm.

import { standardDeviation } from 'simple-statistics';
import { ar1MeanInflation, lag1Autocorr, MAX_RHO } from './stats.ts';
import type { DriftMethod, DriftReference } from './types.ts';
import { insufficient, judged, tooLittle } from './verdict.ts';

/** Auto window: ten integrated correlation times (1 + ρ)/(1 - ρ), within 50..1000 rows. */
export function cusumWindowRows(rho: number): number {
  const r = Math.min(MAX_RHO, Math.max(0, rho));
  return Math.min(1000, Math.max(50, Math.ceil((10 * (1 + r)) / (1 - r))));
}

/** Siegmund's one-sided ARL0 for a CUSUM of N(0,1) increments with reference k and limit h. */
export function siegmundArl(k: number, h: number): number {
  const b = h + 1.166;
  return (Math.exp(2 * k * b) - 2 * k * b - 1) / (2 * k * k);
}

/** The limit h whose two-sided ARL0 is `arl0` (one-sided 2·arl0, by symmetry), by bisection. */
export function cusumLimit(k: number, arl0: number): number {
  let lo = 0;
  let hi = 200;
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2;
    if (siegmundArl(k, mid) < 2 * arl0) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * Long-run spread of window means: their sd, times √((1 + r)/(1 - r)) with r the lag-1 correlation of
 * consecutive window means (clamped to >= 0), because neighbouring windows of an autocorrelated series
 * still share a little, and the CUSUM sums them (the same AR(1) correction as n_eff, one level up).
 */
function windowSd(ref: DriftReference, w: number): { sd: number; r: number; how: string } {
  const s = ref.series;
  const inflate = (sd: number, r: number): number => sd * Math.sqrt((1 + r) / (1 - r));
  if (s !== null && s.length >= 20 * w) {
    const means = new Float64Array(Math.floor(s.length / w));
    for (let t = 0; t < means.length; t++) {
      let sum = 0;
      for (let i = t * w; i < (t + 1) * w; i++) sum += s[i] as number;
      means[t] = sum / w;
    }
    const sd = standardDeviation(Array.from(means));
    const r = Math.min(MAX_RHO, Math.max(0, lag1Autocorr(means)));
    if (sd > 0) return { sd: inflate(sd, r), r, how: `${means.length} reference window means` };
  }
  const rho = Math.min(MAX_RHO, Math.max(0, ref.lag1));
  const g = ar1MeanInflation(w, rho);
  const r = Math.min(MAX_RHO, (rho * (1 - rho ** w) ** 2) / ((1 - rho) ** 2 * w * g));
  return {
    sd: inflate(ref.std * Math.sqrt(g / w), r),
    r,
    how: `the AR(1) formula with reference lag-1 autocorrelation ${ref.lag1.toFixed(3)}`,
  };
}

export const cusumMethod: DriftMethod = {
  name: 'cusum',
  evaluate(ref, cur, options) {
    const why = tooLittle(ref, cur, options);
    if (why !== null) return insufficient(this.name, cur, why);
    const w = options.cusumWindowRows > 0 ? options.cusumWindowRows : cusumWindowRows(ref.lag1);
    const m = cur.series.length;
    const windows = Math.floor(m / w);
    if (windows < 3) return insufficient(this.name, cur, `${windows} windows of ${w} rows < 3`);
    const { sd, r, how } = windowSd(ref, w);
    if (!(sd > 0)) return insufficient(this.name, cur, 'reference window means do not vary');
    const floorZ = (options.floorScale * ref.scale) / sd;
    const k = Math.max(0.5, floorZ);
    const arl0 = windows / options.cusumFalseAlarm;
    const h = cusumLimit(k, arl0);
    let up = 0;
    let down = 0;
    let max = 0;
    let alarmRow = -1;
    for (let t = 0; t < windows; t++) {
      let sum = 0;
      for (let i = t * w; i < (t + 1) * w; i++) sum += cur.series[i] as number;
      const z = (sum / w - ref.mean) / sd;
      up = Math.max(0, up + z - k);
      down = Math.max(0, down - z - k);
      const s = Math.max(up, down);
      if (s > max) max = s;
      if (s > h && alarmRow < 0) alarmRow = t * w;
    }
    return judged(
      this.name,
      cur,
      max,
      {
        value: h,
        origin: 'arl',
        statistical: h,
        floor: k,
        detail: `h for ARL0 ${Math.round(arl0)} windows of ${w} rows (Siegmund), k = ${k.toFixed(3)} (max of 0.5 and the floor in window sd); long-run window sd from ${how} (window lag-1 correlation ${r.toFixed(3)})`,
      },
      { windowRows: w, windows, k, arl0, windowSd: sd, windowLag1: r, alarmRow },
    );
  },
};
