// CSV line mode ingestion (docs/serial-protocol.md §11). Channel names come from config; names sharing a
// prefix before '.' form one multi-axis sensor ("accel.x,accel.y,accel.z" -> sensor accel with 3 axes),
// so features treat a CSV board like a binary one.
//
// A CSV board sends no timestamps, and its lines reach the host in bursts: whenever the host reads, an
// FTDI latency timer fires, or a USB packet fills; one burst may even be split over two reads. Stamping
// each line with its arrival time would put a burst's lines at one instant, shift lines across window
// boundaries (false "gap suspect" at 500 Hz and 1 kHz) and read transport bursts as sensor jitter. So:
//  - a burst is the lines of one read (or arriving within a quarter period). Its end says "every line
//    counted so far was sampled before now": a mark (arrival, cumulative line count);
//  - the rate is the least-squares slope of line count over mark time, across the marks of the last
//    rateSpanMs. Transport latency only adds noise around the line, and with hundreds of marks the slope
//    is good to a few parts in 10,000 whatever the burst sizes (the count at one mark alone is off by up
//    to a burst, which biased the earlier end-to-end estimate);
//  - nothing is emitted until the marks span MIN_RATE_SPAN_MS: the held lines are then placed on a clock at
//    the measured rate, so no window is judged on arrival times (window 0 used to fail jitter with "mean
//    interval 0 ms");
//  - sample times run on that clock, one period apart. After each burst the clock is steered towards the
//    arrivals (CLOCK_GAIN of the phase error, so it settles on the mean transport latency), never more than
//    MAX_STEER_PERIODS per burst, so a burst boundary interval stays within 1.5 periods and transport noise
//    never reads as a gap. A phase error beyond the jump threshold
//    on two bursts in a row is lines that never came (or a stalled board): the clock jumps, so the gap
//    check sees it, and that time is left out of the rate.

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

/** The clock jumps (a gap) when the arrivals are this far ahead of it on two bursts in a row, µs... */
const JUMP_MIN_US = 50_000;
/** ...or this many periods, whichever is longer (slower boards). */
const JUMP_PERIODS = 4;
/** Most the clock is steered per burst, in periods: keeps boundary intervals under the gap check's 1.5. */
const MAX_STEER_PERIODS = 0.4;
/** Share of the phase error corrected per burst: the clock settles on the mean transport latency. */
const CLOCK_GAIN = 0.1;
/** Most lines held as one burst (a bound on memory; a longer burst is split). */
const MAX_BURST_LINES = 4096;
/** Most lines held while the rate is measured; beyond, they go out on arrival times (rate unknown). */
const MAX_HELD_LINES = 200_000;
/** The rate is trusted (and lines emitted) once burst ends span this much, ms. */
const MIN_RATE_SPAN_MS = 2000;
/** The slope is recomputed at most this often once known, µs (it is O(marks in the span)). */
const REMEASURE_US = 100_000;

interface Mark {
  /** Arrival of the burst's end, less the stalls seen before it (so a stall does not dilute the rate). */
  readonly atUs: number;
  /** Lines delivered (or malformed: they took a sample slot too) up to and including this burst. */
  readonly lines: number;
}

/** One line's values per sensor, or null for a malformed line (it still took a sample period). */
type Row = Float64Array[] | null;

interface Burst {
  readonly rows: Row[];
  readonly arrivalUs: number;
  /** Cumulative line count after this burst. */
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
  private pending: Row[] = [];
  /** Bursts held until the rate is measured. */
  private held: Burst[] = [];
  private heldLines = 0;
  private burstStartUs = 0;
  private lastArrivalUs = 0;
  private lastMeasureUs = Number.NEGATIVE_INFINITY;
  /** Stall time seen so far (the clock's forward jumps), µs; left out of the rate. */
  private stalledUs = 0;
  /** The previous burst was far ahead of the clock: one more and the clock jumps. */
  private aheadOnce = false;
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
   * Processes one line received at host time `arrivalUs`. Its samples are emitted when its burst ends
   * (at the next line that arrives later, or at endBurst()) once the rate is measured.
   */
  push(line: string, arrivalUs: number, emit: (e: CsvEvent) => void): void {
    const parsed = parseCsvLine(line, this.options.channels.length);
    if (parsed === null) {
      this.counters.comments++;
      return;
    }
    this.counters.lines++;
    const together = this.rateHz > 0 ? 0.25e6 / this.rateHz : 0;
    if (
      this.pending.length > 0 &&
      (arrivalUs - this.burstStartUs > together || this.pending.length >= MAX_BURST_LINES)
    )
      this.endBurst(emit);
    if (this.pending.length === 0) this.burstStartUs = arrivalUs;
    this.lastArrivalUs = arrivalUs;
    if (!parsed.ok) {
      this.counters.badLines++;
      emit({ kind: 'dropped', code: parsed.code, reason: parsed.message });
      this.pending.push(null);
      return;
    }
    const perSensor = this.device.sensors.map((s) => new Float64Array(s.axes.length));
    parsed.value.forEach((v, i) => {
      const col = this.columns[i];
      if (col !== undefined) (perSensor[col.sensor] as Float64Array)[col.axis] = v;
    });
    this.counters.samples++;
    this.pending.push(perSensor);
  }

  /** Ends the current burst (the caller read everything available). Idempotent. */
  endBurst(emit: (e: CsvEvent) => void): void {
    const k = this.pending.length;
    if (k === 0) return;
    const a = this.lastArrivalUs;
    const rows = this.pending;
    this.pending = [];
    this.delivered += k;
    if (this.rateHz === 0) {
      this.marks.push({ atUs: a - this.stalledUs, lines: this.delivered });
      this.held.push({ rows, arrivalUs: a, lines: this.delivered });
      this.heldLines += k;
      if (this.measure(a) > 0) this.releaseHeld(emit);
      else if (this.heldLines > MAX_HELD_LINES) this.finish(emit);
      return;
    }
    // Judge the burst against the rate measured so far: a stall must not enter the rate it is judged by.
    const p = 1e6 / this.rateHz;
    const clock = this.clockUs as number;
    // Where the arrival says the burst began at the latest, against where the clock puts it.
    const phase = a - (k - 1) * p - (clock + p);
    const jumpUs = Math.max(JUMP_MIN_US, JUMP_PERIODS * p);
    let start: number;
    if (phase > jumpUs && this.aheadOnce) {
      // Twice in a row far ahead: lines that never came, or a board that paused. Not part of the rate.
      start = clock + p + phase;
      this.stalledUs += phase;
      this.counters.clockJumps++;
      this.aheadOnce = false;
    } else {
      this.aheadOnce = phase > jumpUs;
      const limit = MAX_STEER_PERIODS * p;
      start = clock + p + Math.max(-limit, Math.min(limit, CLOCK_GAIN * phase));
    }
    this.marks.push({ atUs: a - this.stalledUs, lines: this.delivered });
    if (a - this.lastMeasureUs >= REMEASURE_US) this.measure(a);
    this.emitRows(rows, start, p, emit);
  }

  /** End of stream: emits whatever is held, on arrival times if the rate could not be measured. */
  finish(emit: (e: CsvEvent) => void): void {
    this.endBurst(emit);
    if (this.held.length === 0) return;
    if (this.rateHz > 0) {
      this.releaseHeld(emit);
      return;
    }
    const held = this.held;
    this.held = [];
    this.heldLines = 0;
    for (const b of held) this.emitRows(b.rows, b.arrivalUs, 0, emit);
  }

  /**
   * Places the held lines on a clock at the measured rate, through the mean of their bursts' arrivals:
   * where the steering would settle, so the first windows after the release are not stretched.
   */
  private releaseHeld(emit: (e: CsvEvent) => void): void {
    const p = 1e6 / this.rateHz;
    const base = (this.held[0] as Burst).lines - (this.held[0] as Burst).rows.length;
    let sum = 0;
    for (const b of this.held) sum += b.arrivalUs - (b.lines - 1 - base) * p;
    const t0 = sum / this.held.length;
    const held = this.held;
    this.held = [];
    this.heldLines = 0;
    let start = t0;
    for (const b of held) {
      this.emitRows(b.rows, start, p, emit);
      start += b.rows.length * p;
    }
  }

  private emitRows(rows: readonly Row[], start: number, p: number, emit: (e: CsvEvent) => void): void {
    rows.forEach((perSensor, j) => {
      const index = this.index++;
      if (perSensor === null) return;
      const t = start + j * p;
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
    this.clockUs = start + (rows.length - 1) * p;
  }

  /** Rate: least-squares slope of line count over mark time, across the marks in the span. */
  private measure(nowUs: number): number {
    this.lastMeasureUs = nowUs;
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
    if (last.atUs - first.atUs < MIN_RATE_SPAN_MS * 1000) return this.rateHz;
    // Relative to the first mark, so the sums stay small and exact enough in float64.
    let n = 0;
    let sx = 0;
    let sy = 0;
    let sxx = 0;
    let sxy = 0;
    for (let i = this.head; i < marks.length; i++) {
      const m = marks[i] as Mark;
      const x = m.atUs - first.atUs;
      const y = m.lines - first.lines;
      n++;
      sx += x;
      sy += y;
      sxx += x * x;
      sxy += x * y;
    }
    const den = n * sxx - sx * sx;
    const slope = den > 0 ? (n * sxy - sx * sy) / den : 0;
    if (slope > 0) this.rateHz = slope * 1e6;
    return this.rateHz;
  }
}
