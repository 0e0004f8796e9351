// The trigger rule against what the real live drift monitor emits (collector/drift/live): every cycle's
// observations, active and inactive, go to the update requests as the collector feeds them. A sensor bias
// on one device (calibration drift against the model's reference) raises a request naming that device and
// channel; a machine entering a trained state (condition change) and the same bias on a channel that fails
// integrity raise none. Scenario as in collector-drift-live-model.test.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../shared/platform/clock.ts';
import { MemoryLogger } from '../../shared/platform/logger.ts';
import { openSqliteDatabase } from '../../shared/platform/sqlite.ts';
import { createDriftMonitor } from '../../collector/drift/live/monitor.ts';
import type { Observation } from '../../collector/monitor/types.ts';
import type { WindowRecord } from '../../collector/storage/types.ts';
import { createUpdateRequests } from '../../collector/updates/requests.ts';
import {
  confident,
  FEATURES,
  FeatureStream,
  fixedChannelHealth,
  imbalance,
  profileWithClasses,
  telemetry,
} from './collector-drift-live-fixture.ts';
import { FakeRetraining, FakeRollouts, MemoryStore } from './update-requests-fixture.ts';

const T0 = 1_700_000_000_000;
const model = { name: 'pump', version: '3' };

function windowOf(
  deviceId: string,
  seq: number,
  tsMs: number,
  features: Record<string, number>,
): WindowRecord {
  return {
    deviceId,
    runId: 1,
    msgSeq: seq,
    tsMs,
    receivedMs: tsMs,
    bootId: 1,
    windowIndex: seq,
    startUs: 0,
    endUs: 1,
    featurePipeline: 'p',
    featureNames: FEATURES,
    values: Float32Array.from(FEATURES, (n) => features[n] ?? Number.NaN),
    model,
    prediction: null,
    integrityStatus: 'good',
    integrityFlags: [],
    counters: { framesDecoded: 0, framesInvalid: 0, samples: 0, gaps: 0, samplesMissing: 0, windows: 0 },
  };
}

test('real drift observations: a calibration bias raises a request; a condition change and a failing channel do not', (t) => {
  const profile = profileWithClasses();
  const references = {
    reference: (r: { name: string; version: string }) =>
      r.name === model.name && r.version === model.version ? profile : undefined,
  };
  // dev-2's accel.x fails integrity (a broken sensor with the same bias as dev-1).
  const health = fixedChannelHealth({ 'dev-2': ['accel.x'] });
  const monitor = createDriftMonitor({
    health,
    references,
    options: {
      driftWindow: 300,
      driftFeatures: [],
      commissioningS: 600,
      driftPersistence: 3,
      driftCooldownS: 1800,
    },
  });
  const db = openSqliteDatabase(':memory:');
  const store = new MemoryStore();
  const retraining = new FakeRetraining();
  const requests = createUpdateRequests({
    db,
    store,
    registry: undefined,
    references,
    channelHealth: health,
    rollouts: new FakeRollouts(),
    retraining,
    clock: new ManualClock(T0),
    logger: new MemoryLogger(),
    policy: {
      autoRollout: false,
      cooldownS: 1800,
      fitWindowS: 300,
      fitMargin: 0.1,
      captureS: 3600,
      // As the collector runs it: the device's own baseline must confirm the move.
      requireDeviceChange: true,
    },
  });
  t.after(() => {
    requests.close();
    db.close();
  });
  const change = 900;
  const bias = (n: string, s: number): number => (n === 'accel.x.mean' && s >= change ? 0.03 : 0);
  const streams = [new FeatureStream(11, 0.5), new FeatureStream(12, 0.5), new FeatureStream(13, 0.5)];
  const drift: Observation[] = [];
  const own: Observation[] = [];
  for (let s = 0; s < 1500; s++) {
    const ts = T0 + s * 1000;
    const inImbalance = s >= change;
    const rows: [string, Record<string, number>, string][] = [
      [
        'dev-0',
        (streams[0] as FeatureStream).next(inImbalance ? imbalance : undefined),
        inImbalance ? 'imbalance' : 'normal',
      ],
      ['dev-1', (streams[1] as FeatureStream).next((n) => bias(n, s)), 'normal'],
      ['dev-2', (streams[2] as FeatureStream).next((n) => bias(n, s)), 'normal'],
    ];
    for (const [id, f, label] of rows) {
      monitor.observe(telemetry(id, s + 1, ts, f, confident(label), model));
      store.add([windowOf(id, s + 1, ts, f)]);
    }
    if (s % 10 === 9) {
      const cycle = monitor.evaluate(ts).observations;
      drift.push(...cycle.filter((o) => o.active));
      own.push(...requests.handle(cycle, ts));
    }
  }
  // The monitor saw all three (so the test is about the rule, not a quiet monitor) ...
  assert.ok(drift.some((o) => o.deviceId === 'dev-0' && o.cause === 'machine_condition_change'));
  assert.ok(
    drift.some(
      (o) => o.deviceId === 'dev-1' && o.check === 'drift.model_reference' && o.cause === 'calibration_drift',
    ),
  );
  // ... and one request came of it: dev-1's accel, with its channel, decided (no registry: retraining).
  const all = requests.list();
  assert.equal(all.length, 1, JSON.stringify(all.map((r) => r.devices)));
  const r = all[0];
  assert.ok(r);
  assert.deepEqual(r.model, model);
  assert.deepEqual(
    r.devices.map((d) => d.deviceId),
    ['dev-1'],
  );
  assert.deepEqual(r.devices[0]?.subjects, ['accel']);
  assert.ok(r.channels.includes('accel.x'), r.channels.join());
  assert.equal(r.evidence[0]?.cause, 'calibration_drift');
  assert.ok((r.decision?.current.distance ?? 0) > 0);
  assert.equal(r.state, 'retraining');
  assert.deepEqual(retraining.opened[0]?.input.devices, ['dev-1']);
  // Its alert was raised every cycle since, about the model, never about a device.
  assert.ok(own.length > 0);
  assert.ok(
    own.every((o) => o.kind === 'model_update' && o.deviceId === null && o.subject === 'pump' && o.active),
  );
});
