// The agent side of the MQTT integration tests: synthetic windows and the publishing path wired as the
// composition root wires it (link, status, publisher, window sink).

import type { Window } from '../../shared/samples.ts';
import { createMqttLink, type MqttLink } from '../../agent/adapters/mqtt.ts';
import type { Outbox } from '../../agent/outbox/types.ts';
import { Publisher } from '../../agent/publish/publisher.ts';
import { RawCapture } from '../../agent/publish/raw-capture.ts';
import { createMessageSequence, type MessageSequence } from '../../agent/publish/sequence.ts';
import { StatusReporter } from '../../agent/publish/status.ts';
import { TelemetryBuilder } from '../../agent/publish/telemetry.ts';
import { WindowSink } from '../../agent/publish/window-sink.ts';

/** A small synthetic window (2 sensors: a 3-axis 100 Hz accel, a 1 Hz temperature). */
export function fakeWindow(index: number, options: { readonly gapAt?: number } = {}): Window {
  const n = 100;
  const startUs = index * 1_000_000;
  const ts = new Float64Array(n);
  for (let i = 0; i < n; i++)
    ts[i] = startUs + i * 10_000 + (options.gapAt !== undefined && i >= options.gapAt ? 50_000 : 0);
  const axis = (a: number): Window['channels'][number] => {
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) values[i] = Math.sin((index * n + i) / 7 + a) * 0.5;
    return {
      channel: `accel.${'xyz'[a] as string}`,
      sensorId: 1,
      axis: a,
      unit: 'g',
      rateHz: 100,
      values,
      timestampsUs: ts,
      expected: n,
      missing: 0,
    };
  };
  return {
    deviceId: 'board',
    bootId: 0x1234_5678,
    index,
    startUs,
    endUs: startUs + 1_000_000,
    channels: [
      axis(0),
      axis(1),
      axis(2),
      {
        channel: 'temperature',
        sensorId: 5,
        axis: 0,
        unit: 'degC',
        rateHz: 1,
        values: new Float64Array([41.5]),
        timestampsUs: new Float64Array([startUs]),
        expected: 1,
        missing: 0,
      },
    ],
    integrity: {
      status: index % 10 === 3 ? 'suspect' : 'good',
      channels: {
        'accel.x': 'good',
        'accel.y': index % 10 === 3 ? 'suspect' : 'good',
        'accel.z': 'good',
        temperature: 'good',
      },
      flags:
        index % 10 === 3
          ? [
              {
                channel: 'accel.y',
                check: 'flatline',
                status: 'suspect',
                reason: '41 of 100 identical',
                value: 41,
                threshold: 30,
              },
            ]
          : [],
    },
  };
}

export const fakeCounters = (
  windows: number,
): {
  framesDecoded: number;
  framesInvalid: number;
  samples: number;
  gaps: number;
  samplesMissing: number;
  windows: number;
} => ({
  framesDecoded: windows * 10,
  framesInvalid: 0,
  samples: windows * 301,
  gaps: 0,
  samplesMissing: 0,
  windows,
});

export interface AgentStack {
  readonly link: MqttLink;
  readonly publisher: Publisher;
  readonly sink: WindowSink;
  readonly status: StatusReporter;
  readonly sequence: MessageSequence;
  /** Builds and enqueues window i (telemetry, plus raw per rawEvery). */
  pushWindow(i: number): void;
  close(): Promise<void>;
}

/** The publishing path of the agent as the composition root wires it (link, status, publisher, sink). */
export function startAgentStack(options: {
  readonly url: string;
  readonly deviceId: string;
  readonly outbox: Outbox;
  readonly rawEvery?: number;
  readonly maxInFlight?: number;
  readonly reconnectMaxMs?: number;
  readonly runId?: number;
}): AgentStack {
  const sequence = createMessageSequence(options.runId);
  const status = new StatusReporter({ deviceId: options.deviceId, agentVersion: '0.1.0-test', sequence });
  status.update({ model: { name: 'pump', version: '1.0.0' }, firmwareVersion: 'sim-1', bootId: 7 });
  const link = createMqttLink({
    url: options.url,
    clientId: options.deviceId,
    will: () => status.will(),
    reconnectPeriodMs: 100,
    reconnectMaxMs: options.reconnectMaxMs ?? 500,
    keepaliveSec: 5,
    connectTimeoutMs: 2000,
  });
  const publisher = new Publisher({
    outbox: options.outbox,
    link,
    status,
    idlePollMs: 20,
    failurePauseMs: 100,
    ...(options.maxInFlight === undefined ? {} : { maxInFlight: options.maxInFlight }),
  });
  const telemetry = new TelemetryBuilder({ deviceId: options.deviceId, sequence });
  const raw =
    options.rawEvery === undefined
      ? undefined
      : new RawCapture({ deviceId: options.deviceId, sequence, everyNthWindow: options.rawEvery });
  const sink = new WindowSink({
    outbox: options.outbox,
    telemetry,
    ...(raw === undefined ? {} : { raw }),
    notify: () => {
      publisher.notify();
    },
  });
  publisher.start();
  return {
    link,
    publisher,
    sink,
    status,
    sequence,
    pushWindow: (i) => {
      const r = sink.push({
        window: fakeWindow(i),
        features: {
          pipeline: 'edgeloop-features/v1',
          names: ['accel.x.rms', 'accel.x.kurtosis'],
          values: [0.1 * i, Number.NaN],
        },
        prediction: {
          label: 'normal',
          probabilities: { normal: 0.9, imbalance: 0.1 },
          model: { name: 'pump', version: '1.0.0' },
          latencyMs: 0.3,
        },
        counters: fakeCounters(i + 1),
      });
      if (!r.ok) throw new Error(r.message);
    },
    close: async () => {
      await publisher.close({ drainTimeoutMs: 2000 });
      await link.close({ timeoutMs: 2000 });
    },
  };
}
