// QARTOD spike test (IOOS QARTOD manuals, "Spike Test"), made robust for vibration data. QARTOD compares
// |x[i] - (x[i-1] + x[i+1]) / 2| with fixed thresholds; here:
//  - the spike height is the smaller of the two one-sided jumps, and only when both go the same way, so a
//    step (a door opens, humidity moves) is not a spike, while a one-sample glitch is;
//  - the height is measured in robust spreads (1.4826 * MAD around the median) of the channel, so the
//    threshold follows each channel's own signal level. A median/MAD scale ignores the few glitches it is
//    trying to find, and normal vibration and moderate bearing-wear impulses, which are a few spreads high,
//    stay under the threshold. The cost: an impulse smaller than ~suspectSpread spreads is not flagged.
//    That is the model's job (a wear signature), not a data-quality fault.
// Slow sensors have one sample per window, so the spread and the left neighbour come from the channel
// history, and the newest sample is judged when its right neighbour arrives (one period later).

import type { IntegrityCheck } from './check.ts';
import { finiteOnly, fmt, grade, makeFlag, median, robustSpread } from './check.ts';

export const spikeCheck: IntegrityCheck = {
  name: 'spike',
  evaluate({ channel, sensor, config, context, history }) {
    const cfg = config.spike;
    const x = context.values;
    const t = context.timestampsUs;
    const ref = finiteOnly(x);
    if (ref.length < cfg.minReferenceSamples) {
      return makeFlag(
        channel,
        'spike',
        'good',
        `not judged: ${ref.length} samples, need ${cfg.minReferenceSamples}`,
      );
    }
    const level = Math.abs(median(ref));
    const spread = Math.max(
      robustSpread(ref),
      cfg.minSpreadSteps * sensor.resolution,
      1e-9 * Math.max(1, level),
    );
    const judgedBefore = history?.spikeJudgedUs ?? Number.POSITIVE_INFINITY;
    let suspect = 0;
    let failed = 0;
    let worst = 0;
    let worstHeight = 0;
    let worstAt = 0;
    let lastJudged = Number.NEGATIVE_INFINITY;
    for (let i = 1; i + 1 < x.length; i++) {
      const ti = t[i] as number;
      if (i < context.windowStart && !(ti > judgedBefore)) continue;
      lastJudged = ti;
      const a = x[i - 1] as number;
      const b = x[i] as number;
      const c = x[i + 1] as number;
      const up = b - a;
      const down = b - c;
      if (!(up * down > 0)) continue; // a step, a ramp, flat, or NaN: not a spike
      const height = Math.min(Math.abs(up), Math.abs(down));
      const z = height / spread;
      if (z >= cfg.suspectSpread) suspect++;
      if (z >= cfg.failSpread) failed++;
      if (z > worst) [worst, worstHeight, worstAt] = [z, height, ti];
    }
    if (history !== undefined && lastJudged > history.spikeJudgedUs) history.spikeJudgedUs = lastJudged;
    const status = grade(worst, cfg.suspectSpread, cfg.failSpread);
    if (status === 'good') return makeFlag(channel, 'spike', 'good', `largest spike ${fmt(worst)} spreads`);
    const u = channel.unit === '' ? '' : ` ${channel.unit}`;
    return makeFlag(
      channel,
      'spike',
      status,
      `${suspect} spike(s) (${failed} at fail level), largest ${fmt(worstHeight)}${u} = ${fmt(worst)} robust spreads of ${fmt(spread)}${u} at t=${fmt(worstAt / 1e6)} s; ${status} at ${fmt(status === 'fail' ? cfg.failSpread : cfg.suspectSpread)}`,
      worst,
      status === 'fail' ? cfg.failSpread : cfg.suspectSpread,
    );
  },
};
