// QARTOD timing/gap test (IOOS QARTOD manuals, "Timing/Gap Test"): samples that should be in the window
// and are not. Three views of the loss, the largest wins (they overlap, so they are never added):
//  - index gaps: the windower counts sample indices that never arrived (binary mode: exact);
//  - the time span: samples between the first and last timestamp, at the declared period, minus those
//    present (CSV mode has no indices; using the span, not single intervals, keeps arrival bunching from
//    reading as loss);
//  - shortfall: fewer samples than the window should hold, with one sample of slack for phase. A sensor
//    that delivers nothing at all is caught only here.

import type { IntegrityCheck } from './check.ts';
import { fmt, grade, makeFlag, pct, periodUs } from './check.ts';

export const gapCheck: IntegrityCheck = {
  name: 'gap',
  evaluate({ channel, config }) {
    const cfg = config.gap;
    const n = channel.values.length;
    const expected = channel.expected;
    const p = periodUs(channel);
    const ts = channel.timestampsUs;
    let spanMissing = 0;
    let longestUs = 0;
    if (p > 0 && n >= 2) {
      const span = (ts[n - 1] as number) - (ts[0] as number);
      spanMissing = Math.max(0, Math.round(span / p) + 1 - n);
      for (let i = 1; i < n; i++) longestUs = Math.max(longestUs, (ts[i] as number) - (ts[i - 1] as number));
      // Bunched arrivals can fake a few; only believe the span when some interval really is a gap.
      if (longestUs <= cfg.gapPeriods * p) spanMissing = 0;
    }
    const want = Math.floor(expected + 1e-9);
    const shortfall = n === 0 ? want : Math.max(0, want - 1 - n);
    const missing = Math.max(channel.missing, spanMissing, shortfall);
    if (missing === 0) return makeFlag(channel, 'gap', 'good', `${n} of ${fmt(expected)} expected samples`);
    const fraction = missing / Math.max(1, expected);
    const status = grade(fraction, cfg.suspectFraction, cfg.failFraction);
    const how = [
      channel.missing > 0 ? `${channel.missing} by sample index` : '',
      spanMissing > 0 ? `${spanMissing} by timestamps (longest interval ${fmt(longestUs / 1000)} ms)` : '',
      shortfall > 0 ? `${n} present` : '',
    ]
      .filter((s) => s !== '')
      .join(', ');
    return makeFlag(
      channel,
      'gap',
      status,
      `${missing} of ${fmt(expected)} expected samples missing (${pct(fraction)}; ${how})`,
      fraction,
      status === 'fail' ? cfg.failFraction : cfg.suspectFraction,
    );
  },
};
