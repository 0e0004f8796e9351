// Cuts the per-sensor sample blocks of one device into windows aligned by device time across multi-rate
// sensors (docs/integrity.md §Windowing). Window k covers [t0 + k*hop, t0 + k*hop + length) in µs, where
// t0 is the first sample seen after (re)start; each channel gets the samples whose timestamps fall inside
// (sample i of a block is at timestampUs + i*periodUs). A window closes once every sensor fast enough to
// contribute has delivered a sample at or past its end, or once device time (the newest sample of any
// sensor) is maxLagMs past its end, so a dead sensor cannot stall the stream. Memory is bounded: samples
// only live in open windows, open windows are capped, and everything refused is counted in stats().

import { EdgeloopError } from '../errors.ts';
import { evaluateIntegrity } from '../integrity/evaluate.ts';
import {
  resolveIntegrityConfig,
  type IntegrityConfig,
  type IntegrityConfigOverrides,
} from '../integrity/config.ts';
import { IntegrityState, type TimestampEvent } from '../integrity/state.ts';
import type { SampleBlock, Window } from '../samples.ts';
import type { SensorDescriptor } from '../sensors.ts';
import { blockRange, OpenWindow } from './open-window.ts';
import { timeBaseEvent, type TimeBaseMark } from './time-base.ts';

export interface WindowerOptions {
  readonly deviceId: string;
  readonly bootId: number;
  readonly sensors: readonly SensorDescriptor[];
  /** Window length, ms. Default 1000. */
  readonly windowMs?: number;
  /** Window hop, ms; less than windowMs gives overlapping windows. Default windowMs. */
  readonly hopMs?: number;
  /**
   * How long past a window's end (in device time) to wait for slow or dead sensors, ms. Default: the
   * longer of 1000 and 1.5 periods of the slowest contributing sensor (1500 for the 1 Hz reference sensors).
   */
  readonly maxLagMs?: number;
  /** Open windows at most; beyond, the oldest is closed early (counted). Default (window+lag)/hop + 2. */
  readonly maxOpenWindows?: number;
  /** Samples per sensor per window at most (beyond 2x the declared rate is refused). Default 200,000. */
  readonly maxSamplesPerWindow?: number;
  /** An index gap longer than this restarts alignment instead of emitting empty windows, ms. Default 600,000. */
  readonly maxGapMs?: number;
  /** Integrity check overrides (defaults in shared/integrity/config.ts). */
  readonly integrity?: IntegrityConfigOverrides;
}

/** Counters for metrics: everything the windower refused or repaired. */
export interface WindowerStats {
  windows: number;
  /** Samples older than every open window (late, or before alignment started). */
  lateSamples: number;
  /** First blocks of a sensor far from the others' device time (left over from an old time base). */
  staleSamples: number;
  /** Samples refused by the per-window cap. */
  overflowSamples: number;
  /** Windows closed early because maxOpenWindows was reached. */
  forcedCloses: number;
  /** Alignment restarts after a backwards or jumping device clock. */
  restarts: number;
  /** Restarts because an index gap was longer than maxGapMs. */
  longGapRestarts: number;
  /** Samples known lost from sample-index gaps. */
  missingSamples: number;
  /** Blocks whose first index was below the expected one without repeating known samples (index reset). */
  indexRegressions: number;
  /** Samples received twice (a repeated frame): the repeat is dropped. */
  duplicateSamples: number;
  /** Blocks for a sensor id not in the descriptor list, or with too few values. */
  rejectedBlocks: number;
}

interface Track {
  lastTsUs: number | undefined;
  lastIndex: number | undefined;
  periodUs: number;
  rateHz: number;
}

interface PendingGap {
  readonly sensor: number;
  readonly baseUs: number;
  readonly periodUs: number;
  readonly count: number;
}

export class Windower {
  readonly config: IntegrityConfig;
  private readonly sensors: readonly SensorDescriptor[];
  private readonly slot = new Map<number, number>();
  private readonly tracks: Track[];
  private readonly lenUs: number;
  private readonly hopUs: number;
  private readonly maxLagUs: number;
  private readonly maxOpen: number;
  private readonly maxSamples: number;
  private readonly maxGapUs: number;
  private readonly integrity: IntegrityState;
  private readonly counters: WindowerStats = {
    windows: 0,
    lateSamples: 0,
    staleSamples: 0,
    overflowSamples: 0,
    forcedCloses: 0,
    restarts: 0,
    longGapRestarts: 0,
    missingSamples: 0,
    indexRegressions: 0,
    duplicateSamples: 0,
    rejectedBlocks: 0,
  };
  private open: OpenWindow[] = [];
  private t0: number | undefined;
  private nextK = 0;
  private pendingEvents: TimestampEvent[] = [];
  /**
   * Recent index gaps per sensor id (time of the last sample before the gap -> samples lost), so the
   * jitter check does not read loss as jitter. Bounded to historySamples per sensor: older gaps have left
   * the integrity history anyway.
   */
  private readonly indexGaps = new Map<number, Map<number, number>>();
  private pendingGap: PendingGap | undefined;
  /** Last index per sensor before a long-gap restart, so the other sensors' loss is still counted. */
  private carried: (number | undefined)[] = [];
  /**
   * Each other sensor's last sample before a time-base restart. The board has one clock: when it jumps,
   * every sensor's timestamps jump, but the restart forgets the tracks, so without this only the sensor
   * whose block showed it first was flagged (issue #8 review: the sensor-faults clock jump on mag only).
   */
  private beforeJump: (TimeBaseMark | undefined)[] = [];

  constructor(private readonly options: WindowerOptions) {
    const windowMs = options.windowMs ?? 1000;
    const hopMs = options.hopMs ?? windowMs;
    if (!(windowMs > 0) || !Number.isFinite(windowMs)) throw bad('windowMs', 'must be a positive number');
    if (!(hopMs > 0) || hopMs > windowMs)
      throw bad('hopMs', `must be > 0 and at most windowMs (${windowMs})`);
    this.sensors = options.sensors;
    options.sensors.forEach((s, i) => {
      if (this.slot.has(s.id)) throw bad('sensors', `sensor id ${s.id} appears twice`);
      this.slot.set(s.id, i);
    });
    this.tracks = options.sensors.map((s) => ({
      lastTsUs: undefined,
      lastIndex: undefined,
      periodUs: s.rateHz > 0 ? 1e6 / s.rateHz : 0,
      rateHz: s.rateHz,
    }));
    this.lenUs = windowMs * 1000;
    this.hopUs = hopMs * 1000;
    const contributing = options.sensors.filter((s) => s.rateHz * windowMs >= 1000 - 1e-6);
    const slowestMs = Math.max(0, ...contributing.map((s) => 1000 / s.rateHz));
    const maxLagMs = options.maxLagMs ?? Math.max(1000, 1.5 * slowestMs);
    if (!(maxLagMs >= 0)) throw bad('maxLagMs', 'must be >= 0');
    this.maxLagUs = maxLagMs * 1000;
    this.maxOpen = options.maxOpenWindows ?? Math.ceil((windowMs + maxLagMs) / hopMs) + 2;
    if (!Number.isInteger(this.maxOpen) || this.maxOpen < 1)
      throw bad('maxOpenWindows', 'must be an integer >= 1');
    this.maxSamples = options.maxSamplesPerWindow ?? 200_000;
    this.maxGapUs = (options.maxGapMs ?? 600_000) * 1000;
    this.config = resolveIntegrityConfig(options.integrity);
    this.integrity = new IntegrityState(this.config.historySamples);
  }

  /** Counters since construction (a live object: read, do not write). */
  stats(): Readonly<WindowerStats> {
    return this.counters;
  }

  /** Open windows right now (bounded by maxOpenWindows). */
  get openWindows(): number {
    return this.open.length;
  }

  /** Adds one block; returns the windows it closed, oldest first. */
  push(input: SampleBlock): Window[] {
    const out: Window[] = [];
    let block = input;
    const si = this.slot.get(block.sensor.id);
    const axes = block.sensor.axes.length;
    if (si === undefined || block.values.length < block.count * axes) {
      this.counters.rejectedBlocks++;
      return out;
    }
    if (block.count <= 0) return out;
    let track = this.tracks[si] as Track;
    const rate = this.effectiveRate(si, block);
    const period = block.periodUs > 0 ? block.periodUs : rate > 0 ? 1e6 / rate : 0;
    const jumpUs = this.config.timestamp.clockJumpMs * 1000;

    if (
      track.lastTsUs !== undefined &&
      track.lastIndex !== undefined &&
      block.firstIndex <= track.lastIndex
    ) {
      // A repeated frame (indices already seen, timestamps matching them): drop the repeat, keep the rest.
      const dueUs = track.lastTsUs - (track.lastIndex - block.firstIndex) * period;
      if (Math.abs(block.timestampUs - dueUs) <= period / 2 + 1) {
        const skip = Math.min(block.count, track.lastIndex - block.firstIndex + 1);
        this.counters.duplicateSamples += skip;
        if (skip === block.count) return out;
        block = {
          ...block,
          firstIndex: block.firstIndex + skip,
          timestampUs: block.timestampUs + skip * period,
          count: block.count - skip,
          values: block.values.subarray(skip * axes),
        };
      }
    }
    if (track.lastTsUs !== undefined && track.lastIndex !== undefined) {
      const steps = Math.max(1, block.firstIndex - track.lastIndex);
      const event = timeBaseEvent(
        { lastTsUs: track.lastTsUs, lastIndex: track.lastIndex },
        block,
        period,
        jumpUs,
      );
      if (
        event === undefined &&
        block.firstIndex - track.lastIndex - 1 > 0 &&
        steps * period > this.maxGapUs
      ) {
        this.counters.missingSamples += block.firstIndex - track.lastIndex - 1;
        this.counters.longGapRestarts++;
        const carried = this.tracks.map((t) => t.lastIndex);
        out.push(...this.restart(undefined));
        this.carried = carried;
        this.carried[si] = undefined;
      }
      if (event !== undefined) out.push(...this.restart(event));
      track = this.tracks[si] as Track;
    } else if (this.carried[si] !== undefined) {
      // First block since a long-gap restart (same time base): its loss across the gap still counts.
      this.counters.missingSamples += Math.max(0, block.firstIndex - this.carried[si] - 1);
      this.carried[si] = undefined;
    } else if (this.t0 !== undefined && Math.abs(block.timestampUs - this.frontierUs()) > jumpUs) {
      // This sensor's first block since (re)start, far from where the others are: sampled on the old
      // time base (or a broken one). Dropping it keeps one straggler from restarting alignment again.
      this.counters.staleSamples += block.count;
      return out;
    }
    const before = this.beforeJump[si];
    if (track.lastTsUs === undefined && before !== undefined) {
      // First block since another sensor's time-base restart: judge this sensor's own jump (alignment has
      // restarted already), reported with the next window.
      this.beforeJump[si] = undefined;
      const event = timeBaseEvent(before, block, period, jumpUs);
      if (event !== undefined) this.pendingEvents.push(event);
    }

    track.rateHz = rate;
    track.periodUs = period;
    this.t0 ??= block.timestampUs;
    const lastUs = block.timestampUs + (block.count - 1) * period;

    if (track.lastTsUs !== undefined && track.lastIndex !== undefined) {
      const expectedIndex = track.lastIndex + 1;
      if (block.firstIndex > expectedIndex) {
        const count = block.firstIndex - expectedIndex;
        this.counters.missingSamples += count;
        this.pendingGap = { sensor: si, baseUs: track.lastTsUs, periodUs: period, count };
        this.rememberGap(block.sensor.id, track.lastTsUs, count);
        for (const w of this.open) this.applyGap(w);
      } else if (block.firstIndex < expectedIndex) this.counters.indexRegressions++;
    }
    this.ensureWindows(lastUs, out);
    this.pendingGap = undefined;

    for (const w of this.open) {
      const [from, to] = blockRange(block.timestampUs, period, block.count, w.startUs, w.endUs);
      if (to <= from) continue;
      const buffer = w.buffers[si] as OpenWindow['buffers'][number];
      this.counters.overflowSamples += buffer.append(block.values, block.timestampUs, period, from, to);
    }
    // Samples before the oldest open window belong to windows already closed (or before t0): late.
    const oldest = this.open[0];
    this.counters.lateSamples +=
      oldest === undefined
        ? block.count
        : blockRange(block.timestampUs, period, block.count, oldest.startUs, oldest.endUs)[0];

    track.lastTsUs = lastUs;
    track.lastIndex = block.firstIndex + block.count - 1;
    this.closeReady(out);
    return out;
  }

  /** Closes every open window (end of stream) and restarts alignment for whatever comes next. */
  flush(): Window[] {
    return this.restart(undefined, true);
  }

  private effectiveRate(si: number, block: SampleBlock): number {
    const declared = (this.sensors[si] as SensorDescriptor).rateHz;
    if (declared > 0) return declared;
    if (block.sensor.rateHz > 0) return block.sensor.rateHz; // CSV: measured from arrival times
    return block.periodUs > 0 ? 1e6 / block.periodUs : 0;
  }

  /** Newest device time seen from any sensor since (re)start. */
  private frontierUs(): number {
    let f = Number.NEGATIVE_INFINITY;
    for (const t of this.tracks) if (t.lastTsUs !== undefined) f = Math.max(f, t.lastTsUs);
    return f;
  }

  private ensureWindows(lastUs: number, out: Window[]): void {
    const t0 = this.t0 as number;
    if (lastUs < t0) return;
    const targetK = Math.floor((lastUs - t0) / this.hopUs);
    while (this.nextK <= targetK) {
      if (this.open.length >= this.maxOpen) {
        this.counters.forcedCloses++;
        out.push(this.emit(this.open.shift() as OpenWindow, undefined));
        this.pendingEvents = [];
      }
      const k = this.nextK++;
      const start = t0 + k * this.hopUs;
      const caps = this.tracks.map((t) =>
        t.rateHz > 0
          ? Math.min(this.maxSamples, Math.ceil((2 * t.rateHz * this.lenUs) / 1e6) + 16)
          : this.maxSamples,
      );
      const w = new OpenWindow(k, start, start + this.lenUs, this.sensors, caps);
      this.applyGap(w);
      this.open.push(w);
    }
  }

  private rememberGap(sensorId: number, afterUs: number, lost: number): void {
    let gaps = this.indexGaps.get(sensorId);
    if (gaps === undefined) {
      gaps = new Map();
      this.indexGaps.set(sensorId, gaps);
    }
    gaps.set(afterUs, lost);
    // Maps iterate in insertion order, so the first key is the oldest gap.
    if (gaps.size > this.config.historySamples) gaps.delete(gaps.keys().next().value as number);
  }

  /** Counts the lost samples of the pending index gap that fall inside window w. */
  private applyGap(w: OpenWindow): void {
    const g = this.pendingGap;
    if (g === undefined || g.periodUs <= 0) return;
    // Lost sample j (1..count) was due at baseUs + j * periodUs.
    const lo = Math.max(1, Math.ceil((w.startUs - g.baseUs) / g.periodUs - 1e-9));
    const hi = Math.min(g.count, Math.ceil((w.endUs - g.baseUs) / g.periodUs - 1e-9) - 1);
    if (hi >= lo) (w.buffers[g.sensor] as OpenWindow['buffers'][number]).missing += hi - lo + 1;
  }

  private closeReady(out: Window[]): void {
    const frontier = this.frontierUs();
    while (this.open.length > 0) {
      const w = this.open[0] as OpenWindow;
      const lenS = this.lenUs / 1e6;
      // Device time must have passed the end (no sensor may be contributing yet: CSV before its rate is known).
      const delivered =
        frontier >= w.endUs &&
        this.tracks.every(
          (t) => t.rateHz * lenS < 1 - 1e-9 || (t.lastTsUs !== undefined && t.lastTsUs >= w.endUs),
        );
      if (!delivered && frontier < w.endUs + this.maxLagUs) break;
      this.open.shift();
      out.push(this.emit(w, undefined));
      this.pendingEvents = [];
    }
  }

  /** Closes all open windows (they carry any pending time-base event) and resets alignment. */
  private restart(event: TimestampEvent | undefined, isFlush = false): Window[] {
    if (event !== undefined) this.pendingEvents.push(event);
    this.carried = [];
    this.beforeJump =
      event === undefined
        ? []
        : this.tracks.map((t, i) =>
            t.lastTsUs === undefined || t.lastIndex === undefined || this.sensors[i]?.id === event.sensorId
              ? undefined
              : { lastTsUs: t.lastTsUs, lastIndex: t.lastIndex },
          );
    let dataEnd = Number.NEGATIVE_INFINITY;
    for (const t of this.tracks)
      if (t.lastTsUs !== undefined) dataEnd = Math.max(dataEnd, t.lastTsUs + t.periodUs);
    const out = this.open.map((w) => this.emit(w, dataEnd));
    if (out.length > 0) this.pendingEvents = [];
    this.open = [];
    this.t0 = undefined;
    this.nextK = 0;
    for (const t of this.tracks) {
      t.lastTsUs = undefined;
      t.lastIndex = undefined;
    }
    this.integrity.reset();
    this.indexGaps.clear();
    if (!isFlush) this.counters.restarts++;
    return out;
  }

  /** Builds the Window and its integrity summary. `dataEndUs` truncates expectations when cut short. */
  private emit(w: OpenWindow, dataEndUs: number | undefined): Window {
    const covered =
      dataEndUs === undefined ? this.lenUs : Math.max(0, Math.min(w.endUs, dataEndUs) - w.startUs);
    const channels = w.channels(
      this.sensors,
      this.tracks.map((t) => t.rateHz),
      covered,
    );
    const integrity = evaluateIntegrity(
      channels,
      this.sensors,
      this.config,
      this.integrity,
      this.pendingEvents,
      this.indexGaps,
    );
    this.counters.windows++;
    return {
      deviceId: this.options.deviceId,
      bootId: this.options.bootId,
      index: w.index,
      startUs: w.startUs,
      endUs: w.endUs,
      channels,
      integrity,
    };
  }
}

function bad(option: string, msg: string): EdgeloopError {
  return new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', `windower ${option}: ${msg}`);
}
