// Two-sample Kolmogorov-Smirnov D with its p-value on EFFECTIVE sample sizes: each sample's n is replaced
// by n (1 - ρ)/(1 + ρ), ρ its own lag-1 autocorrelation (the AR(1) variance inflation of a mean). For
// ECDF indicators the inflation is smaller than for the mean, so this errs towards fewer alarms. The i.i.d.
// p-value is reported next to it, to show what a tool that assumes independence would have said.

import { effectiveN, ksCriticalD, ksPValue, ksStatistic } from './stats.ts';
import type { DriftMethod } from './types.ts';
import { floorSamples, insufficient, judged, tooLittle, withFloor } from './verdict.ts';

export const ksMethod: DriftMethod = {
  name: 'ks',
  evaluate(ref, cur, options) {
    const why = tooLittle(ref, cur, options);
    if (why !== null) return insufficient(this.name, cur, why);
    const d = ksStatistic(cur.sorted, ref.sorted);
    const refEff = effectiveN(ref.n, ref.lag1);
    const pValue = ksPValue(d, cur.nEff, refEff);
    const pValueIid = ksPValue(d, cur.series.length, ref.n);
    const f = floorSamples(ref, options);
    const floor = Math.min(ksStatistic(f.base, f.up), ksStatistic(f.base, f.down));
    const threshold = withFloor(
      ksCriticalD(options.ksAlpha, cur.nEff, refEff),
      'n-eff-p-value',
      floor,
      `critical D at alpha ${options.ksAlpha} for n_eff ${cur.nEff.toFixed(0)} (current) and ${refEff.toFixed(0)} (reference); floor = D of a ${options.floorScale} ${ref.scaleBasis} shift`,
    );
    return judged(this.name, cur, d, threshold, { pValue, pValueIid, referenceNEff: refEff });
  },
};
