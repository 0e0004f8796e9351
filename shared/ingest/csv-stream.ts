// CSV line mode ingestion (docs/serial-protocol.md §CSV). Channel names come from config; names sharing a
// prefix before '.' form one multi-axis sensor ("accel.x,accel.y,accel.z" -> sensor accel with 3 axes),
// so features treat a CSV board like a binary one.
//
// A CSV board sends no timestamps, and a USB CDC board's lines reach the host in bursts (whenever the host
// reads: every few ms, unevenly). Stamping each line with its arrival time would put a burst's lines at
// one instant, shift up to a burst of lines across window boundaries (false "gap suspect" at 500 Hz and
// 1 kHz) and read transport bursts as sensor jitter. So:
//  - lines that arrive together (one read, or within a quarter period) form a burst;
//  - the rate is measured from burst ends: lines delivered over the time between the first and the last
//    burst end of a span of rateSpanMs. A burst end says "every line sampled before now has arrived", so
//    the count is exact to a line, whatever the burst sizes;
//  - sample times are reconstructed on a clock running at that rate: a burst's lines are one period apart,
//    the clock continues from the previous line and is steered gently (CLOCK_GAIN of the phase error per
//    burst) towards where the arrival says the burst ended. A phase error beyond CLOCK_JUMP_PERIODS is not
//    noise but lines that never came (or a board that stalled): the clock jumps, so the gap check sees it.

import type { ErrorCode } from '../errors.ts';
import type { SampleBlock } from '../samples.ts';
import type { DeviceDescriptor, SensorDescriptor } from '../sensors.ts';
import { parseCsvLine } from '../serial/csv.ts';

export interface CsvStreamOptions {
  readonly deviceId: string;
  /** Column names in order, e.g. ["accel.x","accel.y","accel.z","temperature"]. */
  readonly channels: readonly string[];
  /** Span of burst ends used to measure the rate, ms. Default 10,000. */
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

/** Phase error beyond this many periods is lost lines or a stall: the clock jumps instead of steering. */
const CLOCK_JUMP_PERIODS = 2;
/** Share of the phase error the clock corrects per burst: keeps boundary intervals within 0.4 periods. */
const CLOCK_GAIN = 0.2;
/** Most lines held as one burst (a bound on memory; a longer burst is split). */
const MAX_BURST_LINES = 4096;
/** The rate is trusted (and sample times reconstructed) once burst ends span this much, ms. */
const MIN_RATE_SPAN_MS = 1000;

interface Mark {
  /** Arrival of the burst's end, less the stalls seen before it (so a stall does not dilute the rate). */
  readonly atUs: number;
  /** Lines delivered up to and including this burst. */
  readonly lines: number;
}

export class CsvStream {
  readonly device: DeviceDescriptor;
  private readonly columns: { sensor: number; axis: number }[];
  private readonly spanUs: number;
  private marks: Mark[] = [];
  /** Index of the oldest mark still in the span. */
  private head = 0;
  private delivered = 0;
  private pending: Float64Array[][] = [];
  private burstStartUs = 0;
  private lastArrivalUs = 0;
  /** Stall time seen so far (phase of the clock's forward jumps), µs; left out of the rate. */
  private stalledUs = 0;
  /** Reconstructed time of the last line emitted, µs. */
  private clockUs: number | undefined;
  private index = 0;
  private rateHz = 0;
  readonly counters = { lines: 0, samples: 0, badLines: 0, comments: 0, clockJumps: 0 };

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
    this.spanUs = (options.rateSpanMs ?? 10_000) * 1000;
  }

  /** The measured rate in Hz (0 until burst ends span MIN_RATE_SPAN_MS). */
  get measuredRateHz(): number {
    return this.rateHz;
  }

  /**
   * Processes one line received at host time `arrivalUs`. Its samples are emitted when its burst ends:
   * at the next line that arrives later, or at endBurst() (the caller read everything available).
   */
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
    const together = this.rateHz > 0 ? 0.25e6 / this.rateHz : 0;
    if (
      this.pending.length > 0 &&
      (arrivalUs - this.burstStartUs > together || this.pending.length >= MAX_BURST_LINES)
    )
      this.endBurst(emit);
    if (this.pending.length === 0) this.burstStartUs = arrivalUs;
    this.lastArrivalUs = arrivalUs;
    const perSensor = this.device.sensors.map((s) => new Float64Array(s.axes.length));
    parsed.value.forEach((v, i) => {
      const col = this.columns[i];
      if (col !== undefined) (perSensor[col.sensor] as Float64Array)[col.axis] = v;
    });
    this.counters.samples++;
    this.pending.push(perSensor);
  }

  /** Ends the current burst: emits its samples with reconstructed times. Idempotent. */
  endBurst(emit: (e: CsvEvent) => void): void {
    const k = this.pending.length;
    if (k === 0) return;
    const a = this.lastArrivalUs;
    this.delivered += k;
    // Judge the burst against the rate measured so far: a stall must not enter the rate it is judged by.
    const p = this.rateHz > 0 ? 1e6 / this.rateHz : 0;
    let start = a;
    if (p > 0 && this.clockUs === undefined) start = a - (k - 1) * p;
    else if (p > 0 && this.clockUs !== undefined) {
      // Where the arrival says the burst began, and where the clock says it does.
      const ideal = a - (k - 1) * p;
      const next = this.clockUs + p;
      const phase = ideal - next;
      if (Math.abs(phase) > CLOCK_JUMP_PERIODS * p) {
        start = ideal;
        this.counters.clockJumps++;
        // Lines that never came, or a board that paused: that time is not part of the rate.
        if (phase > 0) this.stalledUs += phase;
      } else start = next + CLOCK_GAIN * phase;
      // Never at or before the previous line (a time going backwards would restart window alignment).
      start = Math.max(start, this.clockUs + p / 2);
    }
    this.marks.push({ atUs: a - this.stalledUs, lines: this.delivered });
    this.measure();
    const pending = this.pending;
    this.pending = [];
    pending.forEach((perSensor, j) => {
      const t = start + j * p;
      const index = this.index++;
      this.device.sensors.forEach((s, i) => {
        emit({
          kind: 'block',
          block: {
            sensor: { ...s, rateHz: this.rateHz },
            firstIndex: index,
            timestampUs: t,
            periodUs: p,
            count: 1,
            values: perSensor[i] as Float64Array,
          },
        });
      });
    });
    this.clockUs = start + (k - 1) * p;
  }

  /** Rate from burst ends: lines delivered since the oldest burst end in the span, over the time since. */
  private measure(): void {
    const marks = this.marks;
    const last = marks[marks.length - 1] as Mark;
    while (marks.length - this.head > 2 && last.atUs - (marks[this.head + 1] as Mark).atUs >= this.spanUs)
      this.head++;
    // Drop the expired marks in one go now and then, not one shift() per line.
    if (this.head > 1024 && this.head * 2 > marks.length) {
      marks.splice(0, this.head);
      this.head = 0;
    }
    const first = marks[this.head] as Mark;
    const spanUs = last.atUs - first.atUs;
    // Until then lines keep their arrival times: a rate from a few bursts is off by a burst's worth.
    if (spanUs < MIN_RATE_SPAN_MS * 1000) return;
    this.rateHz = ((last.lines - first.lines) * 1e6) / spanUs;
  }
}
