// What ingestion produces from the wire and what windowing, integrity and features consume. The same
// types serve the agent (live serial), `edgeloop decode` (captured bytes) and training (lab data).

import type { SensorDescriptor } from './sensors.ts';

/** A run of consecutive samples of one sensor, as one SAMPLES frame (or one CSV line) delivered them. */
export interface SampleBlock {
  readonly sensor: SensorDescriptor;
  /** Per-sensor index of the first sample since boot (u32 on the wire; kept monotonic here). */
  readonly firstIndex: number;
  /** Device time of the first sample, microseconds. */
  readonly timestampUs: number;
  /** Sample spacing in microseconds (1e6 / rateHz, or measured in CSV mode). */
  readonly periodUs: number;
  readonly count: number;
  /** Physical values, interleaved by sample: count × sensor.axes.length. */
  readonly values: Float64Array;
}

export type FlagStatus = 'good' | 'suspect' | 'fail';

export const integrityCheckNames = [
  'range',
  'clipping',
  'nan',
  'flatline',
  'spike',
  'gap',
  'jitter',
  'timestamp',
] as const;
export type IntegrityCheckName = (typeof integrityCheckNames)[number];

export interface IntegrityFlag {
  /** Channel name, e.g. "accel.x". */
  readonly channel: string;
  readonly check: IntegrityCheckName;
  readonly status: FlagStatus;
  /** Human-readable reason with the numbers, e.g. "412 of 1000 samples at full scale (+16 g)". */
  readonly reason: string;
  /** The measured quantity and the threshold it crossed, for dashboards and alerts. */
  readonly value?: number;
  readonly threshold?: number;
}

export interface IntegritySummary {
  /** Worst status over all channels. */
  readonly status: FlagStatus;
  /** Worst status per channel. */
  readonly channels: Readonly<Record<string, FlagStatus>>;
  /** Every non-good flag. */
  readonly flags: readonly IntegrityFlag[];
}

export interface ChannelWindow {
  /** "accel.x", or the sensor name for a scalar sensor. */
  readonly channel: string;
  readonly sensorId: number;
  /** Axis position within the sensor. */
  readonly axis: number;
  readonly unit: string;
  /** Declared (binary mode) or measured (CSV mode) rate. */
  readonly rateHz: number;
  readonly values: Float64Array;
  /** Device time of each value, microseconds. */
  readonly timestampsUs: Float64Array;
  /** Samples the window should hold at the declared rate. */
  readonly expected: number;
  /** Samples known lost inside the window (sample index gaps). */
  readonly missing: number;
}

export interface Window {
  readonly deviceId: string;
  readonly bootId: number;
  /** Window number since the stream (re)started alignment. */
  readonly index: number;
  readonly startUs: number;
  readonly endUs: number;
  readonly channels: readonly ChannelWindow[];
  readonly integrity: IntegritySummary;
}
