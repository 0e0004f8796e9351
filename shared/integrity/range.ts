// QARTOD gross range test (IOOS QARTOD manuals, "Gross Range Test"): a value outside the sensor span the
// HELLO declared cannot be a reading (fail); outside the operator's user span it is implausible here
// (suspect). Values exactly at full scale are inside the span: the clipping check judges those.

import type { IntegrityCheck } from './check.ts';
import { fmt, makeFlag } from './check.ts';

export const rangeCheck: IntegrityCheck = {
  name: 'range',
  evaluate({ channel, sensor, config }) {
    const cfg = config.range;
    const tol = cfg.toleranceSteps * sensor.resolution;
    const lo = sensor.rangeMin - tol;
    const hi = sensor.rangeMax + tol;
    const user = cfg.userSpans[channel.channel] ?? cfg.userSpans[sensor.name];
    let outSensor = 0;
    let outUser = 0;
    let worst = Number.NaN; // the value furthest outside
    let worstBy = 0;
    for (const v of channel.values) {
      if (!Number.isFinite(v)) continue;
      if (v < lo || v > hi) {
        outSensor++;
        const by = v < lo ? lo - v : v - hi;
        if (by > worstBy) [worst, worstBy] = [v, by];
      } else if (user !== undefined && (v < user.min || v > user.max)) outUser++;
    }
    const n = channel.values.length;
    const u = channel.unit === '' ? '' : ` ${channel.unit}`;
    if (outSensor > 0) {
      const limit = worst < lo ? sensor.rangeMin : sensor.rangeMax;
      return makeFlag(
        channel,
        'range',
        'fail',
        `${outSensor} of ${n} samples outside the sensor span [${fmt(sensor.rangeMin)}, ${fmt(sensor.rangeMax)}]${u}, worst ${fmt(worst)}${u}`,
        worst,
        limit,
      );
    }
    if (user !== undefined && outUser > 0) {
      return makeFlag(
        channel,
        'range',
        'suspect',
        `${outUser} of ${n} samples outside the user span [${fmt(user.min)}, ${fmt(user.max)}]${u}`,
        outUser,
        1,
      );
    }
    return makeFlag(channel, 'range', 'good', 'all samples within span');
  },
};
