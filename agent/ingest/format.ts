// How the agent shows a window to a person (one line) or to a program (one JSON object).

import type { Window } from '../../shared/samples.ts';

function rms(values: Float64Array): number {
  let s = 0;
  for (const v of values) s += v * v;
  return values.length === 0 ? Number.NaN : Math.sqrt(s / values.length);
}

function mean(values: Float64Array): number {
  let s = 0;
  for (const v of values) s += v;
  return values.length === 0 ? Number.NaN : s / values.length;
}

/** One human-readable line: time, samples per sensor, a few levels, integrity. */
export function formatWindowLine(w: Window): string {
  const bySensor = new Map<string, { n: number; expected: number; missing: number }>();
  for (const c of w.channels) {
    const sensor = c.channel.split('.')[0] ?? c.channel;
    if (!bySensor.has(sensor))
      bySensor.set(sensor, { n: c.values.length, expected: c.expected, missing: c.missing });
  }
  const counts = [...bySensor.entries()]
    .map(([s, v]) => `${s}:${v.n}${v.missing > 0 ? `(-${v.missing})` : ''}`)
    .join(' ');
  const pick = (name: string, f: (v: Float64Array) => number, digits: number): string => {
    const c = w.channels.find((x) => x.channel === name);
    return c === undefined || c.values.length === 0 ? '' : ` ${name}=${f(c.values).toFixed(digits)}`;
  };
  const levels = `${pick('accel.z', rms, 3)}${pick('temperature', mean, 1)}${pick('humidity', mean, 1)}`;
  const flags = w.integrity.flags.map((f) => `${f.channel}:${f.check}=${f.status}`).slice(0, 4);
  const more = w.integrity.flags.length > 4 ? ` +${w.integrity.flags.length - 4}` : '';
  return `window ${String(w.index).padStart(5)} t=${(w.startUs / 1e6).toFixed(3)}s ${counts}${levels} integrity=${w.integrity.status}${
    flags.length > 0 ? ` [${flags.join(' ')}${more}]` : ''
  }`;
}

/** A JSON summary of a window: per-channel count, mean and RMS, not the raw samples. */
export function windowSummary(w: Window): Record<string, unknown> {
  return {
    deviceId: w.deviceId,
    bootId: w.bootId,
    index: w.index,
    startUs: w.startUs,
    endUs: w.endUs,
    channels: Object.fromEntries(
      w.channels.map((c) => [
        c.channel,
        {
          n: c.values.length,
          expected: c.expected,
          missing: c.missing,
          mean: mean(c.values),
          rms: rms(c.values),
        },
      ]),
    ),
    integrity: w.integrity,
  };
}
