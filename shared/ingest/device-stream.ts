// Turns decoded binary frames into sample blocks and loss accounting. Pure logic shared by the agent
// (live serial), `edgeloop decode` (captures) and training (simulated lab data), so all three count
// loss the same way: missing frames from gaps in the device-wide seq, lost samples from gaps in each
// sensor's sample index (docs/serial-protocol.md §Loss accounting).

import type { ErrorCode } from '../errors.ts';
import type { SampleBlock } from '../samples.ts';
import type { DeviceDescriptor, SensorDescriptor } from '../sensors.ts';
import { decodeSampleValues, type ReceivedFrame, type StatusFrame } from '../serial/frames.ts';

const U32 = 2 ** 32;

export type StreamEvent =
  | {
      readonly kind: 'hello';
      readonly device: DeviceDescriptor;
      readonly reboot: boolean;
      readonly first: boolean;
    }
  | { readonly kind: 'block'; readonly block: SampleBlock }
  | { readonly kind: 'status'; readonly status: StatusFrame }
  | { readonly kind: 'frameGap'; readonly missingFrames: number; readonly afterSeq: number }
  | { readonly kind: 'sampleGap'; readonly sensor: string; readonly lost: number; readonly fromIndex: number }
  | { readonly kind: 'dropped'; readonly code: ErrorCode; readonly reason: string };

export interface StreamCounters {
  frames: number;
  /** Frames missing according to seq gaps (lost or corrupted on the wire). */
  framesMissing: number;
  /** Frames whose seq did not advance (duplicates or a device that restarted without HELLO). */
  framesOutOfOrder: number;
  samples: Record<string, number>;
  samplesLost: Record<string, number>;
  samplesLostTotal: number;
  hellos: number;
  reboots: number;
  statusFrames: number;
  /** Samples the device says it dropped itself (latest STATUS). */
  deviceDroppedSamples: number;
  /** Samples dropped because they came before any HELLO (same as samplesDropped.EDGELOOP_ERR_NO_HELLO). */
  droppedNoHello: number;
  droppedUnknownSensor: number;
  droppedBadPayload: number;
  /**
   * Intact frames this stream could not use, by reason: EDGELOOP_ERR_NO_HELLO (SAMPLES or STATUS before any
   * HELLO), EDGELOOP_ERR_UNKNOWN_SENSOR, EDGELOOP_ERR_FRAME_TRUNCATED (SAMPLES data that does not match its
   * descriptor), EDGELOOP_ERR_FRAME_TYPE (a type this receiver does not know). Frames invalid on the wire
   * are the decoder's count (DecoderCounters.invalid).
   */
  framesDropped: Partial<Record<ErrorCode, number>>;
  /** Samples inside those dropped frames, by the same reasons. */
  samplesDropped: Partial<Record<ErrorCode, number>>;
  /** Intact frames of an unknown type, by type byte ("0x7f"). They arrived: never counted as missing. */
  framesUnknownType: Record<string, number>;
}

interface SensorState {
  readonly sensor: SensorDescriptor;
  /** Unwrapped index of the next expected sample, or -1 before the first block. */
  nextIndex: number;
  /** Last raw u32 index seen, to unwrap. */
  lastRaw: number;
  wraps: number;
}

export class DeviceStream {
  private device: DeviceDescriptor | undefined;
  private sensors = new Map<number, SensorState>();
  private lastSeq = -1;
  readonly counters: StreamCounters = {
    frames: 0,
    framesMissing: 0,
    framesOutOfOrder: 0,
    samples: {},
    samplesLost: {},
    samplesLostTotal: 0,
    hellos: 0,
    reboots: 0,
    statusFrames: 0,
    deviceDroppedSamples: 0,
    droppedNoHello: 0,
    droppedUnknownSensor: 0,
    droppedBadPayload: 0,
    framesDropped: {},
    samplesDropped: {},
    framesUnknownType: {},
  };

  get descriptor(): DeviceDescriptor | undefined {
    return this.device;
  }

  /** Processes one frame; calls `emit` for each resulting event, in order. */
  push(frame: ReceivedFrame, emit: (e: StreamEvent) => void): void {
    this.counters.frames++;
    if (frame.type === 'hello') {
      this.onHello(frame.device, frame.seq, emit);
      return;
    }
    if (frame.type === 'helloRequest') return; // a host frame echoed back; nothing to account
    if (frame.type === 'unknown') {
      // It used a seq number like any frame, so tracking its seq keeps it from reading as a missing frame.
      if (this.device !== undefined) this.trackSeq(frame.seq, emit);
      const type = `0x${frame.typeCode.toString(16).padStart(2, '0')}`;
      this.counters.framesUnknownType[type] = (this.counters.framesUnknownType[type] ?? 0) + 1;
      this.drop('EDGELOOP_ERR_FRAME_TYPE', 0, `frame of unknown type ${type} ignored`, emit);
      return;
    }
    if (this.device === undefined) {
      const n = frame.type === 'samples' ? frame.count : 0;
      this.counters.droppedNoHello += n;
      this.drop('EDGELOOP_ERR_NO_HELLO', n, `${frame.type} frame (${n} samples) before HELLO`, emit);
      return;
    }
    this.trackSeq(frame.seq, emit);
    if (frame.type === 'status') {
      this.counters.statusFrames++;
      this.counters.deviceDroppedSamples = frame.droppedSamples;
      emit({ kind: 'status', status: frame });
      return;
    }
    const state = this.sensors.get(frame.sensorId);
    if (state === undefined) {
      this.counters.droppedUnknownSensor += frame.count;
      this.drop('EDGELOOP_ERR_UNKNOWN_SENSOR', frame.count, `sensor id ${frame.sensorId}`, emit);
      return;
    }
    const values = decodeSampleValues(frame, state.sensor);
    if (!values.ok) {
      this.counters.droppedBadPayload += frame.count;
      this.drop(values.code, frame.count, values.message, emit);
      return;
    }
    const name = state.sensor.name;
    const index = this.unwrap(state, frame.firstIndex);
    if (state.nextIndex >= 0 && index > state.nextIndex) {
      const lost = index - state.nextIndex;
      this.counters.samplesLost[name] = (this.counters.samplesLost[name] ?? 0) + lost;
      this.counters.samplesLostTotal += lost;
      emit({ kind: 'sampleGap', sensor: name, lost, fromIndex: state.nextIndex });
    }
    state.nextIndex = Math.max(state.nextIndex, index + frame.count);
    this.counters.samples[name] = (this.counters.samples[name] ?? 0) + frame.count;
    emit({
      kind: 'block',
      block: {
        sensor: state.sensor,
        firstIndex: index,
        timestampUs: frame.timestampUs,
        periodUs: 1e6 / state.sensor.rateHz,
        count: frame.count,
        values: values.value,
      },
    });
  }

  private onHello(device: DeviceDescriptor, seq: number, emit: (e: StreamEvent) => void): void {
    this.counters.hellos++;
    const first = this.device === undefined;
    const reboot = !first && this.device?.bootId !== device.bootId;
    if (first || reboot) {
      if (reboot) this.counters.reboots++;
      // A HELLO with seq 0 is the boot HELLO (docs/serial-protocol.md §5): every sensor's index starts at 0
      // right after it, so samples lost before a sensor's first frame that arrives are counted too. Any
      // other HELLO (an answer to HELLO_REQUEST mid-stream) leaves the baseline to the first frame seen.
      const start = seq === 0 ? 0 : -1;
      this.sensors = new Map(
        device.sensors.map((s) => [s.id, { sensor: s, nextIndex: start, lastRaw: -1, wraps: 0 }]),
      );
      this.lastSeq = seq;
    } else {
      this.trackSeq(seq, emit);
    }
    this.device = device;
    emit({ kind: 'hello', device, reboot, first });
  }

  private drop(code: ErrorCode, samples: number, reason: string, emit: (e: StreamEvent) => void): void {
    const c = this.counters;
    c.framesDropped[code] = (c.framesDropped[code] ?? 0) + 1;
    if (samples > 0) c.samplesDropped[code] = (c.samplesDropped[code] ?? 0) + samples;
    emit({ kind: 'dropped', code, reason });
  }

  private trackSeq(seq: number, emit: (e: StreamEvent) => void): void {
    if (this.lastSeq >= 0) {
      const delta = (seq - this.lastSeq + U32) % U32;
      if (delta === 0 || delta >= U32 / 2) {
        this.counters.framesOutOfOrder++;
        return;
      }
      if (delta > 1) {
        this.counters.framesMissing += delta - 1;
        emit({ kind: 'frameGap', missingFrames: delta - 1, afterSeq: this.lastSeq });
      }
    }
    this.lastSeq = seq;
  }

  private unwrap(state: SensorState, raw: number): number {
    if (state.lastRaw >= 0 && raw < state.lastRaw && state.lastRaw - raw > U32 / 2) state.wraps++;
    state.lastRaw = raw;
    return state.wraps * U32 + raw;
  }
}
