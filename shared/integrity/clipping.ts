// Clipping: the share of samples at full scale. A saturated accelerometer reports its limit, not the
// acceleration, so features computed on clipped windows are wrong even though every value is "in range".
// Integer sensors saturate at the type limits: an i16 at ±16 g reads -32768 (exactly -16 g) or 32767
// (one step below +16 g), hence "within fullScaleSteps resolution steps of rangeMin/rangeMax".

import type { IntegrityCheck } from './check.ts';
import { fmt, grade, makeFlag, pct } from './check.ts';

export const clippingCheck: IntegrityCheck = {
  name: 'clipping',
  evaluate({ channel, sensor, config }) {
    const cfg = config.clipping;
    if (!Number.isFinite(sensor.rangeMin) || !Number.isFinite(sensor.rangeMax)) {
      return makeFlag(channel, 'clipping', 'good', 'no full scale declared');
    }
    // A hair of float slack: scaled integers are not exact in binary floating point.
    const tol = cfg.fullScaleSteps * sensor.resolution + 1e-9 * (sensor.rangeMax - sensor.rangeMin);
    let high = 0;
    let low = 0;
    let n = 0;
    for (const v of channel.values) {
      if (!Number.isFinite(v)) continue;
      n++;
      if (v >= sensor.rangeMax - tol) high++;
      else if (v <= sensor.rangeMin + tol) low++;
    }
    if (n === 0) return makeFlag(channel, 'clipping', 'good', 'no samples');
    const clipped = high + low;
    const fraction = clipped / n;
    const status = clipped === 0 ? 'good' : grade(fraction, cfg.suspectFraction, cfg.failFraction);
    if (status === 'good')
      return makeFlag(channel, 'clipping', 'good', `${clipped} of ${n} samples at full scale`);
    const u = channel.unit === '' ? '' : ` ${channel.unit}`;
    const ends = [
      high > 0 ? `${high} at +${fmt(sensor.rangeMax)}${u}` : '',
      low > 0 ? `${low} at ${fmt(sensor.rangeMin)}${u}` : '',
    ]
      .filter((s) => s !== '')
      .join(', ');
    return makeFlag(
      channel,
      'clipping',
      status,
      `${clipped} of ${n} samples (${pct(fraction)}) at full scale (${ends})`,
      fraction,
      status === 'fail' ? cfg.failFraction : cfg.suspectFraction,
    );
  },
};
