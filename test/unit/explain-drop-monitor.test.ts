// The estimated-drop monitor (collector/explain/drop-monitor.ts): a device whose windows the model
// answers with low confidence has a CBPE accuracy below its test accuracy and raises a `performance`
// observation that the update-request rule takes (subject `model`); a confident device does not; a model
// whose calibration cannot be trusted is never alerted on; a new model starts the estimate over.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Observation } from '../../collector/monitor/types.ts';
import {
  createDropMonitor,
  DROP_CHECK,
  type ModelMetricsSource,
} from '../../collector/explain/drop-monitor.ts';
import type { IncomingMessage } from '../../collector/storage/types.ts';
import { judgeObservation, MODEL_SUBJECT } from '../../collector/updates/trigger.ts';
import type { ModelRef } from '../../shared/mqtt/schemas.ts';

const V1: ModelRef = { name: 'pump', version: '1.0.0' };
const V2: ModelRef = { name: 'pump', version: '2.0.0' };
const T0 = Date.UTC(2026, 0, 1);

function telemetry(
  deviceId: string,
  i: number,
  confidence: number,
  model: ModelRef = V1,
  integrity = 'good',
): IncomingMessage {
  const payload = {
    integrity: { status: integrity, channels: {}, flags: [] },
    v: 1,
    deviceId,
    runId: 1,
    msgSeq: i,
    tsMs: T0 + i * 1000,
    model,
    prediction: {
      label: 'normal',
      probabilities: {
        normal: confidence,
        imbalance: (1 - confidence) / 2,
        bearing_wear: (1 - confidence) / 2,
      },
      latencyMs: 1,
    },
  };
  return {
    message: { kind: 'telemetry', deviceId, payload },
    receivedMs: T0 + i * 1000,
  } as unknown as IncomingMessage;
}

const metrics =
  (ece: number | null): ModelMetricsSource =>
  (m) =>
    m.version === '1.0.0' || m.version === '2.0.0' ? { accuracy: 0.97, ece } : undefined;

const byDevice = (obs: readonly Observation[], id: string): Observation | undefined =>
  obs.find((o) => o.deviceId === id);

test('a device answered with low confidence raises a performance observation; a confident one does not', () => {
  const monitor = createDropMonitor(metrics(0.02), { windows: 200, minWindows: 50, margin: 0.1 });
  for (let i = 0; i < 49; i++) {
    monitor.observe(telemetry('unsure', i, 0.6));
    monitor.observe(telemetry('sure', i, 0.99));
  }
  assert.equal(monitor.evaluate(T0).observations.length, 0, 'fewer than minWindows: not judged');
  for (let i = 49; i < 120; i++) {
    monitor.observe(telemetry('unsure', i, 0.6));
    monitor.observe(telemetry('sure', i, 0.99));
  }
  const cycle = monitor.evaluate(T0 + 200_000);
  const unsure = byDevice(cycle.observations, 'unsure');
  const sure = byDevice(cycle.observations, 'sure');
  assert.ok(unsure !== undefined && sure !== undefined);
  assert.equal(unsure.kind, 'performance');
  assert.equal(unsure.check, DROP_CHECK);
  assert.equal(unsure.active, true);
  const [evidence] = unsure.evidence;
  assert.ok(evidence !== undefined);
  assert.equal(evidence.method, 'cbpe');
  assert.ok(Math.abs((evidence.statistic ?? 0) - 0.6) < 1e-9);
  assert.ok(Math.abs((evidence.threshold ?? 0) - 0.87) < 1e-9);
  assert.deepEqual(unsure.reference, { basis: 'model_reference', model: V1 });
  assert.equal(unsure.action?.kind, 'request_model_update');
  assert.deepEqual(unsure.window, { fromMs: T0, toMs: T0 + 119_000 + 1 });
  assert.match(unsure.summary, /estimated accuracy of pump@1\.0\.0 on unsure is 0\.600/);
  assert.equal(sure.active, false);
  assert.deepEqual(cycle.results.map((r) => [r.deviceId, r.status]).sort(), [
    ['sure', 'ok'],
    ['unsure', 'drop'],
  ]);

  // The update-request rule takes the drop like a drift of the model's inputs, about the whole model.
  const verdict = judgeObservation(unsure, { channelStatus: () => 'good' });
  assert.ok(verdict.raise);
  assert.equal(verdict.trigger.subject, MODEL_SUBJECT);
  assert.deepEqual(verdict.trigger.model, V1);
  assert.equal(judgeObservation(sure, { channelStatus: () => 'good' }).raise, false);
});

test('untrusted calibration is never alerted on; an unknown model is not judged; a new model starts over', () => {
  const poor = createDropMonitor(metrics(0.2), { windows: 100, minWindows: 50 });
  for (let i = 0; i < 100; i++) poor.observe(telemetry('d1', i, 0.5));
  const cycle = poor.evaluate(T0);
  assert.equal(byDevice(cycle.observations, 'd1')?.active, false);
  assert.equal(cycle.results[0]?.status, 'insufficient_data');

  // Windows that fail integrity (a broken sensor) are not the model's fault: left out of the estimate.
  const broken = createDropMonitor(metrics(0.01), { windows: 100, minWindows: 50 });
  for (let i = 0; i < 100; i++) broken.observe(telemetry('d1', i, 0.5, V1, 'fail'));
  assert.equal(broken.evaluate(T0).observations.length, 0);

  const unknown = createDropMonitor(metrics(0.01), { windows: 100, minWindows: 50 });
  for (let i = 0; i < 100; i++) unknown.observe(telemetry('d1', i, 0.5, { name: 'other', version: '9.9.9' }));
  assert.equal(unknown.evaluate(T0).observations.length, 0);

  const swap = createDropMonitor(metrics(0.01), { windows: 100, minWindows: 50 });
  for (let i = 0; i < 100; i++) swap.observe(telemetry('d1', i, 0.5));
  assert.equal(byDevice(swap.evaluate(T0).observations, 'd1')?.active, true);
  for (let i = 100; i < 120; i++) swap.observe(telemetry('d1', i, 0.99, V2));
  assert.equal(swap.evaluate(T0).observations.length, 0, 'the new model has too few windows yet');
});
