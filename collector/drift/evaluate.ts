// Runs every drift method on one column and combines their verdicts: a column drifts when at least
// `minVotes` methods say so (default 2 of 4: one method's false alarm is not a column's), and is
// insufficient_data when fewer than `minVotes` methods could judge at all.

import { cusumMethod } from './cusum.ts';
import { ksMethod } from './ks.ts';
import { psiMethod } from './psi.ts';
import type { ColumnResult, DriftCurrent, DriftMethod, DriftOptions, DriftReference } from './types.ts';
import { wassersteinMethod } from './wasserstein.ts';

export const driftMethods: readonly DriftMethod[] = [wassersteinMethod, psiMethod, ksMethod, cusumMethod];

export function evaluateColumn(
  ref: DriftReference,
  cur: DriftCurrent,
  options: DriftOptions,
  methods: readonly DriftMethod[] = driftMethods,
): ColumnResult {
  const results = methods.map((m) => m.evaluate(ref, cur, options));
  const drift = results.filter((r) => r.verdict === 'drift').length;
  const decisive = results.filter((r) => r.verdict !== 'insufficient_data').length;
  const needed = Math.min(options.minVotes, methods.length);
  let sum = 0;
  for (let i = 0; i < cur.series.length; i++) sum += cur.series[i] as number;
  const curMean = cur.series.length > 0 ? sum / cur.series.length : Number.NaN;
  return {
    name: cur.name,
    verdict: decisive < needed ? 'insufficient_data' : drift >= needed ? 'drift' : 'ok',
    votes: { drift, decisive, needed },
    n: cur.series.length,
    nEff: cur.nEff,
    nonFinite: cur.nonFinite,
    lag1: cur.lag1,
    reference: {
      source: ref.source,
      n: ref.n,
      nEff: ref.nEff,
      lag1: ref.lag1,
      mean: ref.mean,
      scale: ref.scale,
      scaleBasis: ref.scaleBasis,
    },
    meanShiftScales: ref.scale > 0 ? (curMean - ref.mean) / ref.scale : Number.NaN,
    methods: results,
  };
}
