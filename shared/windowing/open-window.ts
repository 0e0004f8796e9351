// One window being filled: per sensor, the timestamps and the interleaved values of the samples that fall
// inside [startUs, endUs), plus the samples known lost there. Buffers grow by doubling up to a cap, so a
// sensor sending far more than it declared cannot grow memory without bound; what the cap refuses is counted.
// blockRange maps a block onto a window: which of its samples fall inside.

import type { ChannelWindow } from '../samples.ts';
import { channelNames, type SensorDescriptor } from '../sensors.ts';

/** Indices [from, to) of a block's samples whose time lies in [startUs, endUs). */
export function blockRange(
  ts: number,
  period: number,
  count: number,
  startUs: number,
  endUs: number,
): [number, number] {
  if (period <= 0) return ts >= startUs && ts < endUs ? [0, count] : ts < startUs ? [count, count] : [0, 0];
  const first = (t: number): number => {
    let i = Math.max(0, Math.ceil((t - ts) / period));
    // Guard the float rounding of the division against the exact membership test.
    while (i > 0 && ts + (i - 1) * period >= t) i--;
    while (i < count && ts + i * period < t) i++;
    return Math.min(i, count);
  };
  return [first(startUs), first(endUs)];
}

export class SensorBuffer {
  times: Float64Array;
  values: Float64Array;
  n = 0;
  missing = 0;

  constructor(
    readonly axes: number,
    readonly cap: number,
  ) {
    const initial = Math.min(cap, 16);
    this.times = new Float64Array(initial);
    this.values = new Float64Array(initial * axes);
  }

  /** Appends samples [from, to) of a block; returns how many the cap refused. */
  append(values: Float64Array, firstTsUs: number, periodUs: number, from: number, to: number): number {
    const want = to - from;
    const room = Math.max(0, this.cap - this.n);
    const take = Math.min(want, room);
    if (this.n + take > this.times.length) {
      let size = this.times.length;
      while (size < this.n + take) size *= 2;
      size = Math.min(size, this.cap);
      const t = new Float64Array(size);
      t.set(this.times.subarray(0, this.n));
      const v = new Float64Array(size * this.axes);
      v.set(this.values.subarray(0, this.n * this.axes));
      this.times = t;
      this.values = v;
    }
    for (let i = 0; i < take; i++) this.times[this.n + i] = firstTsUs + (from + i) * periodUs;
    this.values.set(values.subarray(from * this.axes, (from + take) * this.axes), this.n * this.axes);
    this.n += take;
    return want - take;
  }
}

export class OpenWindow {
  readonly buffers: SensorBuffer[];

  constructor(
    readonly index: number,
    readonly startUs: number,
    readonly endUs: number,
    sensors: readonly SensorDescriptor[],
    caps: readonly number[],
  ) {
    this.buffers = sensors.map((s, i) => new SensorBuffer(s.axes.length, caps[i] ?? 16));
  }

  /** Per-axis channel windows. `rates` are the effective rates; `coveredUs` is the span data could fill. */
  channels(
    sensors: readonly SensorDescriptor[],
    rates: readonly number[],
    coveredUs: number,
  ): ChannelWindow[] {
    const out: ChannelWindow[] = [];
    sensors.forEach((sensor, si) => {
      const buf = this.buffers[si] as SensorBuffer;
      const rateHz = rates[si] ?? 0;
      const timestampsUs = buf.times.slice(0, buf.n); // shared by the sensor's axes; read-only by contract
      const names = channelNames(sensor);
      names.forEach((channel, axis) => {
        const values = new Float64Array(buf.n);
        for (let i = 0; i < buf.n; i++) values[i] = buf.values[i * buf.axes + axis] as number;
        out.push({
          channel,
          sensorId: sensor.id,
          axis,
          unit: sensor.unit,
          rateHz,
          values,
          timestampsUs,
          expected: (rateHz * coveredUs) / 1e6,
          missing: buf.missing,
        });
      });
    });
    return out;
  }
}
