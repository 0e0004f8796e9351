// Population stability index on the reference's quantile bins, with shared/bundle/reference.ts's psi():
// both proportions are floored at PSI_EPSILON (symmetric smoothing), so an empty bin on either side gives
// a finite score. We reuse it rather than add pseudo-counts so a live score is the very statistic the
// bundle's stored chunk scores were computed with; the threshold is calibrated on those chunk scores.

import { binIndex, psi } from '../../shared/bundle/reference.ts';
import { calibrateChunkSet } from './stats.ts';
import type { DriftMethod } from './types.ts';
import { floorSamples, insufficient, judged, tooLittle, withFloor } from './verdict.ts';

function counts(edges: readonly number[], values: ArrayLike<number>, bins: number): number[] {
  const out = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const b = binIndex(edges, values[i] as number);
    out[b] = (out[b] as number) + 1;
  }
  return out;
}

export const psiMethod: DriftMethod = {
  name: 'psi',
  evaluate(ref, cur, options) {
    const why = tooLittle(ref, cur, options);
    if (why !== null) return insufficient(this.name, cur, why);
    if (ref.counts.length < 2) return insufficient(this.name, cur, 'the reference has a single bin');
    const chunks = ref.chunks.psi;
    const m = cur.series.length;
    const cal = calibrateChunkSet(chunks, ref.n, m, 'linear', options.chunkSdK);
    if (chunks === undefined || cal === null)
      return insufficient(this.name, cur, 'no PSI chunk scores to calibrate on (reference too short)');
    const bins = ref.counts.length;
    const score = psi(ref.counts, counts(ref.binEdges, cur.series, bins));
    // Floor: the PSI a floorScale shift of the reference itself would score (the smaller of the two signs).
    const f = floorSamples(ref, options);
    const base = counts(ref.binEdges, f.base, bins);
    const floor = Math.min(
      psi(base, counts(ref.binEdges, f.up, bins)),
      psi(base, counts(ref.binEdges, f.down, bins)),
    );
    const threshold = withFloor(
      cal.threshold,
      chunks.origin,
      floor,
      `mean + ${options.chunkSdK} sd of ${cal.chunks} chunk scores of ${cal.chunkSize} rows, rescaled to ${m} rows; floor = PSI of a ${options.floorScale} ${ref.scaleBasis} shift`,
    );
    return judged(this.name, cur, score, threshold, { bins });
  },
};
