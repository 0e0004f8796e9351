// State the integrity checks carry from one window to the next, per channel. A 1 kHz channel is judged
// on its own window; a 1 Hz channel has one sample per window, so its flat runs, spike scale and intervals
// need the samples that came before. Bounded: a fixed ring of recent samples and a few numbers per channel.

import type { ChannelContext } from './check.ts';

/** A time-base anomaly the windower saw; reported by the timestamp check on that sensor's channels. */
export interface TimestampEvent {
  readonly kind: 'backwards' | 'jump';
  readonly sensorId: number;
  /** Timestamp change against the expected time, µs (negative for backwards). */
  readonly deltaUs: number;
  /** Per-sensor sample index of the first sample after the anomaly. */
  readonly atIndex: number;
}

/** Per sensor id: timestamp of a sample, µs -> samples the index says were lost right after it. */
export type IndexGaps = ReadonlyMap<number, ReadonlyMap<number, number>>;

/** The ongoing run of (nearly) equal values, carried across windows. */
export interface FlatRun {
  length: number;
  min: number;
  max: number;
  startUs: number;
}

export class ChannelHistory {
  /** Newest sample timestamp folded into the history, µs; samples at or before it are not new. */
  lastTsUs = Number.NEGATIVE_INFINITY;
  /** Samples stamped exactly lastTsUs already folded in (CSV lines arriving together share a time). */
  private atLast = 0;
  /** Newest sample the spike check has judged (it needs a right neighbour, which may come later). */
  spikeJudgedUs = Number.NEGATIVE_INFINITY;
  flat: FlatRun = { length: 0, min: 0, max: 0, startUs: 0 };
  private readonly values: Float64Array;
  private readonly times: Float64Array;
  private head = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.values = new Float64Array(capacity);
    this.times = new Float64Array(capacity);
  }

  /** History samples strictly before `beforeUs`, then the window: what the checks look at. */
  context(windowValues: Float64Array, windowTimes: Float64Array): ChannelContext {
    const firstUs = windowTimes.length > 0 ? (windowTimes[0] as number) : Number.POSITIVE_INFINITY;
    let keep = 0;
    for (let i = 0; i < this.size; i++) if (this.timeAt(i) < firstUs) keep++;
    if (keep === 0) return { values: windowValues, timestampsUs: windowTimes, windowStart: 0 };
    // The ring is in time order, so the kept samples are its oldest `keep`.
    const values = new Float64Array(keep + windowValues.length);
    const timestampsUs = new Float64Array(keep + windowTimes.length);
    for (let i = 0; i < keep; i++) {
      values[i] = this.valueAt(i);
      timestampsUs[i] = this.timeAt(i);
    }
    values.set(windowValues, keep);
    timestampsUs.set(windowTimes, keep);
    return { values, timestampsUs, windowStart: keep };
  }

  /** Index of the first sample of a (time-ordered) window that the history has not seen yet. */
  firstNew(windowTimes: Float64Array): number {
    let i = 0;
    while (i < windowTimes.length && (windowTimes[i] as number) < this.lastTsUs) i++;
    let same = 0;
    while (i < windowTimes.length && windowTimes[i] === this.lastTsUs && same < this.atLast) {
      i++;
      same++;
    }
    return i;
  }

  /** Folds the window's new samples (later than anything seen) into the ring. */
  absorb(windowValues: Float64Array, windowTimes: Float64Array): void {
    for (let i = this.firstNew(windowTimes); i < windowValues.length; i++) {
      const t = windowTimes[i] as number;
      if (t < this.lastTsUs) continue; // out of order: the timestamp check reports it
      this.atLast = t === this.lastTsUs ? this.atLast + 1 : 1;
      this.lastTsUs = t;
      const slot = (this.head + this.size) % this.capacity;
      this.values[slot] = windowValues[i] as number;
      this.times[slot] = t;
      if (this.size < this.capacity) this.size++;
      else this.head = (this.head + 1) % this.capacity;
    }
  }

  private valueAt(i: number): number {
    return this.values[(this.head + i) % this.capacity] as number;
  }

  private timeAt(i: number): number {
    return this.times[(this.head + i) % this.capacity] as number;
  }
}

/** Per-channel histories for one device stream. Reset it when the device's time base restarts. */
export class IntegrityState {
  private readonly channels = new Map<string, ChannelHistory>();

  constructor(private readonly historySamples = 64) {}

  channel(name: string): ChannelHistory {
    let h = this.channels.get(name);
    if (h === undefined) {
      h = new ChannelHistory(this.historySamples);
      this.channels.set(name, h);
    }
    return h;
  }

  reset(): void {
    this.channels.clear();
  }
}
