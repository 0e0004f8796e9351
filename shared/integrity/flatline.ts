// QARTOD flat line test (IOOS QARTOD manuals, "Flat Line Test"): a sensor repeating the same value is
// stuck. The statistic is the longest run of consecutive values whose spread (max - min) stays within
// toleranceSteps resolution steps, in samples and seconds. A 1 kHz IMU axis has noise of several LSB, so a
// run of 100 identical samples (0.1 s) is already implausible. A 1 Hz humidity sensor in a quiet room may
// legitimately read the same value for many minutes, so sensors slower than slowRateHz must also hold the
// run for slowSuspectSeconds / slowFailSeconds. Runs carry across windows (in the channel history), or a
// 1 Hz sensor could never show one.

import type { IntegrityCheck } from './check.ts';
import { fmt, grade, makeFlag } from './check.ts';
import type { FlatRun } from './state.ts';

interface Longest {
  length: number;
  level: number;
}

/** Extends `run` with `v`, or restarts it at `v` when `v` breaks it. */
function extend(run: FlatRun, v: number, t: number, tol: number): void {
  if (run.length > 0 && Number.isFinite(v)) {
    const lo = Math.min(run.min, v);
    const hi = Math.max(run.max, v);
    // Relative slack for float sensors whose resolution is 0 (CSV) or not exact in binary.
    if (hi - lo <= tol + 1e-12 * Math.max(1, Math.abs(v))) {
      run.length++;
      run.min = lo;
      run.max = hi;
      return;
    }
  }
  if (Number.isFinite(v)) {
    run.length = 1;
    run.min = v;
    run.max = v;
    run.startUs = t;
  } else run.length = 0; // NaN breaks a run (and is the nan check's business)
}

export const flatlineCheck: IntegrityCheck = {
  name: 'flatline',
  evaluate({ channel, sensor, config, history }) {
    const cfg = config.flatline;
    const tol = cfg.toleranceSteps * sensor.resolution;
    const values = channel.values;
    const times = channel.timestampsUs;
    const best: Longest = { length: 0, level: Number.NaN };
    // Runs inside the window itself (what an overlapping window shares with the previous one included).
    const run: FlatRun = { length: 0, min: 0, max: 0, startUs: 0 };
    for (let i = 0; i < values.length; i++) {
      extend(run, values[i] as number, times[i] as number, tol);
      if (run.length > best.length) [best.length, best.level] = [run.length, run.min];
    }
    // The run carried across windows, fed only with samples newer than the history.
    if (history !== undefined) {
      const carried = history.flat;
      for (let i = history.firstNew(times); i < values.length; i++) {
        const t = times[i] as number;
        extend(carried, values[i] as number, t, tol);
        if (carried.length > best.length) [best.length, best.level] = [carried.length, carried.min];
      }
    }
    const rate = channel.rateHz;
    const slow = rate > 0 && rate < cfg.slowRateHz;
    const needSuspect = slow
      ? Math.max(cfg.suspectSamples, cfg.slowSuspectSeconds * rate)
      : cfg.suspectSamples;
    const needFail = slow ? Math.max(cfg.failSamples, cfg.slowFailSeconds * rate) : cfg.failSamples;
    const status = grade(best.length, needSuspect, needFail);
    const seconds = rate > 0 ? best.length / rate : Number.NaN;
    const u = channel.unit === '' ? '' : ` ${channel.unit}`;
    const dur = Number.isNaN(seconds) ? '' : ` (${fmt(seconds)} s)`;
    if (status === 'good') {
      return makeFlag(channel, 'flatline', 'good', `longest flat run ${best.length} samples${dur}`);
    }
    const need = status === 'fail' ? needFail : needSuspect;
    return makeFlag(
      channel,
      'flatline',
      status,
      `${best.length} consecutive samples${dur} within ${fmt(cfg.toleranceSteps)} steps (${fmt(tol)}${u}) at ${fmt(best.level)}${u}; ${status} at ${fmt(need)} samples${rate > 0 ? ` (${fmt(need / rate)} s)` : ''}`,
      best.length,
      need,
    );
  },
};
