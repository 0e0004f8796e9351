// CSV line mode ingestion (docs/serial-protocol.md §CSV). Channel names come from config; names sharing a
// prefix before '.' form one multi-axis sensor ("accel.x,accel.y,accel.z" -> sensor accel with 3 axes),
// so features treat a CSV board like a binary one. The sample rate is measured from host arrival times
// over a sliding span, never guessed from line counts: a USB CDC board delivers lines in bursts, so a
// single interval says nothing, but (lines - 1) / elapsed over a second or more is robust.

import type { ErrorCode } from '../errors.ts';
import type { SampleBlock } from '../samples.ts';
import type { DeviceDescriptor, SensorDescriptor } from '../sensors.ts';
import { parseCsvLine } from '../serial/csv.ts';

export interface CsvStreamOptions {
  readonly deviceId: string;
  /** Column names in order, e.g. ["accel.x","accel.y","accel.z","temperature"]. */
  readonly channels: readonly string[];
  /** Span of arrival times used to measure the rate, ms. Default 2000. */
  readonly rateSpanMs?: number;
  /** Optional full-scale range per sensor name, for the range and clipping checks. */
  readonly ranges?: Readonly<Record<string, readonly [number, number]>>;
}

export type CsvEvent =
  | { readonly kind: 'block'; readonly block: SampleBlock }
  | { readonly kind: 'dropped'; readonly code: ErrorCode; readonly reason: string };

/** Groups column names into sensor descriptors (all f32; rate filled in as measured). */
export function csvSensors(
  channels: readonly string[],
  ranges: CsvStreamOptions['ranges'] = {},
): SensorDescriptor[] {
  const groups = new Map<string, string[]>();
  for (const c of channels) {
    const dot = c.indexOf('.');
    const name = dot === -1 ? c : c.slice(0, dot);
    const axis = dot === -1 ? 'value' : c.slice(dot + 1);
    const list = groups.get(name) ?? [];
    list.push(axis);
    groups.set(name, list);
  }
  return [...groups.entries()].map(([name, axes], id) => {
    const range = ranges[name];
    return {
      id,
      name,
      unit: '',
      type: 'f32' as const,
      axes,
      rateHz: 0,
      rangeMin: range?.[0] ?? -Infinity,
      rangeMax: range?.[1] ?? Infinity,
      resolution: 0,
    };
  });
}

export class CsvStream {
  readonly device: DeviceDescriptor;
  private readonly columns: { sensor: number; axis: number }[];
  private readonly arrivals: number[] = [];
  private index = 0;
  private rateHz = 0;
  readonly counters = { lines: 0, samples: 0, badLines: 0, comments: 0 };

  constructor(private readonly options: CsvStreamOptions) {
    const sensors = csvSensors(options.channels, options.ranges);
    this.device = {
      deviceId: options.deviceId,
      firmwareVersion: 'csv',
      protocolVersion: 0,
      bootId: 0,
      sensors,
    };
    this.columns = options.channels.map((c) => {
      const dot = c.indexOf('.');
      const name = dot === -1 ? c : c.slice(0, dot);
      const axis = dot === -1 ? 'value' : c.slice(dot + 1);
      const sensor = sensors.findIndex((s) => s.name === name);
      return { sensor, axis: (sensors[sensor] as SensorDescriptor).axes.indexOf(axis) };
    });
  }

  /** The measured rate in Hz (0 until two lines have arrived). */
  get measuredRateHz(): number {
    return this.rateHz;
  }

  /** Processes one line received at host time `arrivalUs`. */
  push(line: string, arrivalUs: number, emit: (e: CsvEvent) => void): void {
    const parsed = parseCsvLine(line, this.options.channels.length);
    if (parsed === null) {
      this.counters.comments++;
      return;
    }
    this.counters.lines++;
    if (!parsed.ok) {
      this.counters.badLines++;
      emit({ kind: 'dropped', code: parsed.code, reason: parsed.message });
      return;
    }
    this.measure(arrivalUs);
    const periodUs = this.rateHz > 0 ? 1e6 / this.rateHz : 0;
    const perSensor = this.device.sensors.map((s) => new Float64Array(s.axes.length));
    parsed.value.forEach((v, i) => {
      const col = this.columns[i];
      if (col !== undefined) (perSensor[col.sensor] as Float64Array)[col.axis] = v;
    });
    this.counters.samples++;
    const index = this.index++;
    this.device.sensors.forEach((s, i) => {
      emit({
        kind: 'block',
        block: {
          sensor: { ...s, rateHz: this.rateHz },
          firstIndex: index,
          timestampUs: arrivalUs,
          periodUs,
          count: 1,
          values: perSensor[i] as Float64Array,
        },
      });
    });
  }

  private measure(arrivalUs: number): void {
    const span = (this.options.rateSpanMs ?? 2000) * 1000;
    this.arrivals.push(arrivalUs);
    while (this.arrivals.length > 2 && arrivalUs - (this.arrivals[0] as number) > span) this.arrivals.shift();
    const first = this.arrivals[0] as number;
    if (this.arrivals.length >= 2 && arrivalUs > first)
      this.rateHz = ((this.arrivals.length - 1) * 1e6) / (arrivalUs - first);
  }
}
