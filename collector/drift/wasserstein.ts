// Wasserstein-1 distance between the current and reference distributions, divided by the reference scale
// (std by default, or 1.4826·MAD): "how far, in σ, the mass moved". A pure mean shift of δσ scores δ,
// so the physical floor is simply floorScale. Threshold: the reference's chunk scores (docs/drift.md).

import { calibrateChunkSet, wasserstein1 } from './stats.ts';
import type { DriftMethod } from './types.ts';
import { insufficient, judged, tooLittle, withFloor } from './verdict.ts';

export const wassersteinMethod: DriftMethod = {
  name: 'wasserstein',
  evaluate(ref, cur, options) {
    const why = tooLittle(ref, cur, options);
    if (why !== null) return insufficient(this.name, cur, why);
    const chunks = ref.chunks.wasserstein;
    const m = cur.series.length;
    const cal = calibrateChunkSet(chunks, ref.n, m, 'sqrt', options.chunkSdK);
    if (chunks === undefined || cal === null)
      return insufficient(this.name, cur, `reference of ${ref.n} values is too short to calibrate on chunks`);
    const score = wasserstein1(cur.sorted, ref.sorted) / ref.scale;
    const threshold = withFloor(
      cal.threshold,
      chunks.origin,
      options.floorScale,
      `mean + ${options.chunkSdK} sd of ${cal.chunks} chunk scores of ${cal.chunkSize} rows, rescaled to ${m} rows; floor ${options.floorScale} ${ref.scaleBasis}`,
    );
    return judged(this.name, cur, score, threshold, { scale: ref.scale });
  },
};
