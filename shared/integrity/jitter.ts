// Sample timing against the declared rate. Two statistics over the inter-sample intervals. Loss is not
// jitter: an interval the sample index explains as k lost samples (binary mode, `lostAfterUs`) is judged
// against k + 1 periods; an unexplained interval over maxIntervalPeriods is the gap check's business and
// is left out:
//  - p95 of |interval - period| / period: irregular timing. In binary mode timestamps inside a block are
//    derived from the declared period, so only block boundaries can jitter; in CSV mode every timestamp is
//    an arrival time, so jitter is real there and tells the user the timestamps are approximate;
//  - |mean interval - period| / period: the device runs at another rate than it declares (a wrong
//    oscillator or a misconfigured ODR), which shifts every frequency feature.
// Slow sensors take their intervals from the channel history, so they are judged too.

import type { IntegrityCheck } from './check.ts';
import { fmt, makeFlag, pct, periodUs, worse } from './check.ts';

export const jitterCheck: IntegrityCheck = {
  name: 'jitter',
  evaluate({ channel, config, context, lostAfterUs }) {
    const cfg = config.jitter;
    const p = periodUs(channel);
    if (p <= 0) return makeFlag(channel, 'jitter', 'good', 'rate unknown yet');
    const t = context.timestampsUs;
    const maxInterval = cfg.maxIntervalPeriods * p;
    const errors: number[] = [];
    let sum = 0;
    let steps = 0;
    for (let i = 1; i < t.length; i++) {
      const dt = (t[i] as number) - (t[i - 1] as number);
      const k = 1 + (lostAfterUs?.get(t[i - 1] as number) ?? 0);
      if (dt < 0 || dt > k * maxInterval) continue;
      errors.push(Math.abs(dt - k * p) / p);
      sum += dt;
      steps += k;
    }
    if (errors.length < cfg.minIntervals) {
      return makeFlag(
        channel,
        'jitter',
        'good',
        `not judged: ${errors.length} intervals, need ${cfg.minIntervals}`,
      );
    }
    errors.sort((a, b) => a - b);
    const p95 = errors[Math.min(errors.length - 1, Math.ceil(0.95 * errors.length) - 1)] as number;
    const meanUs = sum / steps;
    const rateError = Math.abs(meanUs - p) / p;
    const jitterStatus =
      p95 >= cfg.failP95Fraction ? 'fail' : p95 >= cfg.suspectP95Fraction ? 'suspect' : ('good' as const);
    const rateStatus =
      rateError >= cfg.failRateErrorFraction
        ? 'fail'
        : rateError >= cfg.suspectRateErrorFraction
          ? 'suspect'
          : ('good' as const);
    const status = worse(jitterStatus, rateStatus);
    const summary = `p95 interval error ${pct(p95)} of the ${fmt(p / 1000)} ms period, mean interval ${fmt(meanUs / 1000)} ms (rate off by ${pct(rateError)})`;
    if (status === 'good') return makeFlag(channel, 'jitter', 'good', summary);
    // Report the statistic that decided the status.
    const byRate = rateStatus === status && jitterStatus !== status;
    const threshold = byRate
      ? status === 'fail'
        ? cfg.failRateErrorFraction
        : cfg.suspectRateErrorFraction
      : status === 'fail'
        ? cfg.failP95Fraction
        : cfg.suspectP95Fraction;
    return makeFlag(
      channel,
      'jitter',
      status,
      `${summary}; ${status} at ${pct(threshold)} ${byRate ? 'rate error' : 'p95 interval error'}`,
      byRate ? rateError : p95,
      threshold,
    );
  },
};
