// The fleet telemetry the ingest and decode benchmarks feed: real payloads from the shared builder (the
// reference board's 192 features, a 3-class prediction, agent-shaped counters), one window per device per
// second of sender time, devices interleaved, so every message is what an agent would publish.
import { createFeaturePipeline } from '../shared/features/pipeline.ts';
import { encodeJsonPayload } from '../shared/mqtt/codec.ts';
import { buildTelemetryPayload } from '../shared/mqtt/telemetry.ts';
import { buildTopic } from '../shared/mqtt/topics.ts';
import { referenceSensors } from '../shared/sensors.ts';
import { fakeCounters, fakeWindow } from '../test/integration/agent-mqtt-fixture.ts';

const pipeline = createFeaturePipeline();
const featureNames = pipeline.featureNames(referenceSensors);

export const benchDeviceId = (d: number): string => `dev-${String(d).padStart(5, '0')}`;

export interface TelemetryMessagesOptions {
  readonly messages: number;
  readonly devices: number;
  readonly runId: number;
  /** Sender time of each device's first window, ms. */
  readonly tsMs: number;
}

export function telemetryMessages(o: TelemetryMessagesOptions): { topic: string; payload: Uint8Array }[] {
  const out: { topic: string; payload: Uint8Array }[] = [];
  for (let i = 0; i < o.messages; i++) {
    const d = i % o.devices;
    const seq = Math.floor(i / o.devices) + 1;
    const values = featureNames.map((_, k) => Math.fround(Math.sin(i * 0.013 + k) * (1 + (k % 7))));
    const r = buildTelemetryPayload(
      {
        window: fakeWindow(seq),
        features: { pipeline: pipeline.id, names: featureNames, values },
        prediction: {
          label: 'normal',
          probabilities: { normal: 0.91, imbalance: 0.05, misalignment: 0.04 },
          model: { name: 'fan', version: '1.2.0' },
          latencyMs: 0.42,
        },
        counters: fakeCounters(seq),
      },
      { deviceId: benchDeviceId(d), runId: o.runId, tsMs: o.tsMs + seq * 1000, nextSeq: () => seq },
    );
    if (!r.ok) throw new Error(r.message);
    const e = encodeJsonPayload('telemetry', r.value);
    const t = buildTopic('telemetry', benchDeviceId(d));
    if (!e.ok) throw new Error(e.message);
    if (!t.ok) throw new Error(t.message);
    out.push({ topic: t.value, payload: e.value });
  }
  return out;
}
