// Message streams for the central integrity monitor's tests: payloads go through the real decodeMessage,
// so every message the tests feed is one the collector's ingest would accept.

import assert from 'node:assert/strict';
import { decodeMessage, type DecodedMessage } from '../../shared/mqtt/codec.ts';
import type { StatusPayload, TelemetryPayload } from '../../shared/mqtt/schemas.ts';
import type { IncomingMessage } from '../../collector/storage/types.ts';

export const CHANNELS = [
  'accel.x',
  'accel.y',
  'accel.z',
  'gyro.x',
  'gyro.y',
  'gyro.z',
  'mag.x',
  'mag.y',
  'mag.z',
  'humidity',
  'pressure',
  'temperature',
] as const;

/** A healthy window's physics features (values measured on the simulator's steady scenario). */
export const STEADY_FEATURES: Readonly<Record<string, number | null>> = {
  'accel.x.mean': 0.001,
  'accel.y.mean': -0.002,
  'accel.z.mean': 1.0,
  'accel.magnitude.mean': 1.0003,
  'accel.magnitude.std': 0.02,
  'mag.magnitude.mean': 42.9,
  'humidity.mean': 45.5,
  'pressure.mean': 1012.8,
  'temperature.mean': 27.5,
};

const enc = new TextEncoder();

export function decode(topicKind: 'telemetry' | 'status', payload: object): DecodedMessage {
  const deviceId = (payload as { deviceId: string }).deviceId;
  const r = decodeMessage(
    `edgeloop/v1/devices/${deviceId}/${topicKind}`,
    enc.encode(JSON.stringify(payload)),
  );
  assert.ok(r.ok, r.ok ? '' : r.message);
  return r.value;
}

export interface Flag {
  readonly channel: string;
  readonly check: TelemetryPayload['integrity']['flags'][number]['check'];
  readonly status: 'suspect' | 'fail';
  readonly value?: number;
  readonly threshold?: number;
}

export interface WindowOptions {
  /** Sender clock minus collector clock, ms (positive: sender ahead). Default 0. */
  readonly skewMs?: number;
  /** Transport latency: receivedMs − (true send time), ms. Default 40. */
  readonly latencyMs?: number;
  readonly flags?: readonly Flag[];
  readonly features?: Readonly<Record<string, number | null>>;
  /** Samples lost in this window (added to the agent's samplesMissing). */
  readonly samplesMissing?: number;
  /** Skip this many msgSeq numbers before the window (messages lost on the way). */
  readonly lose?: number;
}

/**
 * One simulated agent: 1 s windows, msgSeq +1 per message, counters growing like an agent's. `t` is the
 * collector's clock (ms); each window is created at t and received at t + latency.
 */
export class Agent {
  seq = 0;
  index = 0;
  t: number;
  bootId = 7;
  samples = 0;
  missing = 0;
  /** Device time of the next window start, µs since boot. */
  deviceUs = 5_000_000;

  constructor(
    readonly deviceId: string,
    public runId: number,
    startMs: number,
  ) {
    this.t = startMs;
  }

  /** Builds the next window's payload (created at this.t) without advancing time. */
  payload(o: WindowOptions = {}): TelemetryPayload {
    this.seq += 1 + (o.lose ?? 0);
    const flags = o.flags ?? [];
    const channels: Record<string, 'good' | 'suspect' | 'fail'> = {};
    for (const c of CHANNELS) channels[c] = 'good';
    for (const f of flags) if (channels[f.channel] !== 'fail') channels[f.channel] = f.status;
    const lost = o.samplesMissing ?? 0;
    this.samples += 3213 - lost;
    this.missing += lost;
    const p: TelemetryPayload = {
      v: 1,
      deviceId: this.deviceId,
      runId: this.runId,
      msgSeq: this.seq,
      tsMs: Math.round(this.t + (o.skewMs ?? 0)),
      bootId: this.bootId,
      window: { index: this.index, startUs: this.deviceUs, endUs: this.deviceUs + 1_000_000 },
      featurePipeline: 'edgeloop-features/v1',
      features: { ...STEADY_FEATURES, ...o.features },
      prediction: null,
      model: null,
      integrity: {
        status: flags.some((f) => f.status === 'fail') ? 'fail' : flags.length > 0 ? 'suspect' : 'good',
        channels,
        flags: flags.map((f) => ({
          channel: f.channel,
          check: f.check,
          status: f.status,
          reason: `${f.check} on ${f.channel}`,
          ...(f.value === undefined ? {} : { value: f.value }),
          ...(f.threshold === undefined ? {} : { threshold: f.threshold }),
        })),
      },
      counters: {
        framesDecoded: this.seq * 100,
        framesInvalid: 0,
        samples: this.samples,
        gaps: lost > 0 ? 1 : 0,
        samplesMissing: this.missing,
        windows: this.index + 1,
      },
    };
    this.index++;
    this.deviceUs += 1_000_000;
    return p;
  }

  /** The next window, received now; then time advances one second. */
  window(o: WindowOptions = {}): IncomingMessage {
    const p = this.payload(o);
    const m = { message: decode('telemetry', p), receivedMs: this.t + (o.latencyMs ?? 40) };
    this.t += 1000;
    return m;
  }

  status(
    state: StatusPayload['state'],
    reason: StatusPayload['reason'],
    extra: Partial<StatusPayload> = {},
  ): IncomingMessage {
    const will = reason === 'lwt';
    const p: StatusPayload = {
      v: 1,
      deviceId: this.deviceId,
      runId: this.runId,
      msgSeq: will ? 0 : ++this.seq,
      tsMs: Math.round(this.t),
      state,
      reason,
      model: null,
      firmwareVersion: null,
      agentVersion: 'test 1.0',
      bootId: will ? null : this.bootId,
      ...extra,
    };
    return { message: decode('status', p), receivedMs: this.t + 40 };
  }
}
