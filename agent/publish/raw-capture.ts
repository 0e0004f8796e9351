// Raw sample capture (issue #4 §2): every Nth window, or a random fraction of windows, is also sent as raw
// samples in the packed binary layout of shared/mqtt/raw-codec.ts (docs/mqtt.md §Raw samples), one
// message per sensor and contiguous run.
//
// A Window carries per-channel values and device timestamps, not device sample indices, so `firstIndex`
// is the index implied by device time (round(timestampUs / periodUs), mod 2^32). Where a window has a gap
// (lost samples), a sensor's values are split into runs at the gap, because a raw block is uniformly spaced
// by definition.

import { EdgeloopError } from '../../shared/errors.ts';
import { encodeRawSamples, MAX_RAW_VALUES } from '../../shared/mqtt/raw-codec.ts';
import { buildTopic, topicSpecs } from '../../shared/mqtt/topics.ts';
import type { ChannelWindow, Window } from '../../shared/samples.ts';
import type { OutboxMessage } from '../outbox/types.ts';
import type { MessageSequence } from './sequence.ts';
import { systemClock, type WallClock } from '../../shared/platform/clock.ts';

export interface RawCaptureOptions {
  readonly deviceId: string;
  readonly sequence: MessageSequence;
  /** Capture windows whose index is a multiple of this (1 = every window). 0 = off. Default 0. */
  readonly everyNthWindow?: number;
  /** Or capture each window with this probability, 0..1. Default 0. Ignored when everyNthWindow > 0. */
  readonly fraction?: number;
  /** Uniform [0, 1) source for `fraction`; injected in tests. */
  readonly random?: () => number;
  /** Wall clock. Default the system clock. */
  readonly clock?: WallClock;
}

export class RawCapture {
  readonly topic: string;
  readonly #o: RawCaptureOptions;
  #captured = 0;

  constructor(options: RawCaptureOptions) {
    const t = buildTopic('raw', options.deviceId);
    if (!t.ok) throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', t.message);
    const n = options.everyNthWindow ?? 0;
    const f = options.fraction ?? 0;
    if (!Number.isInteger(n) || n < 0)
      throw new EdgeloopError(
        'EDGELOOP_ERR_CONFIG_INVALID',
        `rawEveryNthWindow must be an integer >= 0 (got ${n})`,
      );
    if (!(f >= 0 && f <= 1))
      throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', `rawFraction must be within 0..1 (got ${f})`);
    this.topic = t.value;
    this.#o = options;
  }

  get enabled(): boolean {
    return (this.#o.everyNthWindow ?? 0) > 0 || (this.#o.fraction ?? 0) > 0;
  }

  /** Windows captured so far. */
  get capturedTotal(): number {
    return this.#captured;
  }

  shouldCapture(window: Window): boolean {
    const n = this.#o.everyNthWindow ?? 0;
    if (n > 0) return window.index % n === 0;
    const f = this.#o.fraction ?? 0;
    return f > 0 && (this.#o.random ?? Math.random)() < f;
  }

  /** Raw messages for this window if it is selected, else none. */
  capture(window: Window): OutboxMessage[] {
    if (!this.shouldCapture(window)) return [];
    this.#captured++;
    return this.encode(window);
  }

  /** Every sensor of the window as raw blocks (one per contiguous run), each with its own msgSeq. */
  encode(window: Window): OutboxMessage[] {
    const bySensor = new Map<number, ChannelWindow[]>();
    for (const c of window.channels) {
      const list = bySensor.get(c.sensorId) ?? [];
      list.push(c);
      bySensor.set(c.sensorId, list);
    }
    const createdAtMs = Math.floor((this.#o.clock ?? systemClock).nowMs());
    const out: OutboxMessage[] = [];
    for (const [sensorId, chans] of bySensor) {
      chans.sort((a, b) => a.axis - b.axis);
      const first = chans[0] as ChannelWindow;
      const axes = chans.length;
      const n = Math.min(...chans.map((c) => c.values.length));
      if (n === 0 || axes > 8 || sensorId > 254) continue;
      const periodUs = first.rateHz > 0 ? 1e6 / first.rateHz : 0;
      const maxRun = Math.floor(MAX_RAW_VALUES / axes);
      const ts = first.timestampsUs;
      let start = 0;
      for (let i = 1; i <= n; i++) {
        const gap = i < n && periodUs > 0 && (ts[i] as number) - (ts[i - 1] as number) > 1.5 * periodUs;
        if (i < n && !gap && i - start < maxRun) continue;
        const count = i - start;
        const values = new Float32Array(count * axes);
        for (let a = 0; a < axes; a++) {
          const v = (chans[a] as ChannelWindow).values;
          for (let k = 0; k < count; k++) values[k * axes + a] = v[start + k] as number;
        }
        const t0 = ts[start] as number;
        const firstIndex = periodUs > 0 ? Math.round(t0 / periodUs) % 2 ** 32 : 0;
        out.push({
          topic: this.topic,
          payload: encodeRawSamples({
            sensorId,
            axes,
            runId: this.#o.sequence.runId,
            msgSeq: this.#o.sequence.next(),
            bootId: window.bootId >>> 0,
            firstIndex: firstIndex < 0 ? 0 : firstIndex,
            timestampUs: t0,
            periodUs,
            values,
          }),
          qos: topicSpecs.raw.qos,
          retain: topicSpecs.raw.retain,
          class: 'raw',
          createdAtMs,
        });
        start = i;
      }
    }
    return out;
  }
}
