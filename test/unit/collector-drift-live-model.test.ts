// The live drift monitor against a model's reference profile (collector/drift/live, docs/monitors.md):
// class-conditional where the prediction is confident, so a machine entering another state it was trained
// on is a condition change (prediction mix), not data drift; a sensor bias is still drift against the
// model's reference. The profile's `classes` part is built here in its stored shape (pooled bins).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectorDefaults } from '../../collector/config.ts';
import { createDriftMonitor } from '../../collector/drift/live/monitor.ts';
import type { Observation } from '../../collector/monitor/types.ts';
import {
  confident,
  FeatureStream,
  fixedChannelHealth,
  imbalance,
  profileWithClasses,
  telemetry,
} from './collector-drift-live-fixture.ts';

const T0 = 1_700_000_000_000;
const model = { name: 'pump', version: '3' };

test('a machine entering a trained state: condition change (prediction mix), not drift against the model', () => {
  const profile = profileWithClasses();
  const m = createDriftMonitor({
    health: fixedChannelHealth(),
    references: {
      reference: (r) => (r.name === model.name && r.version === model.version ? profile : undefined),
    },
    options: {
      driftWindow: 300,
      driftFeatures: [],
      commissioningS: 600,
      driftPersistence: 3,
      driftCooldownS: 1800,
    },
  });
  const change = 900;
  const streams = [new FeatureStream(11, 0.5), new FeatureStream(12, 0.5)];
  const seen: { s: number; o: Observation }[] = [];
  for (let s = 0; s < 1500; s++) {
    // dev-0: the machine goes into imbalance (and the model says so); dev-1: an accel.x bias, still "normal".
    const inImbalance = s >= change;
    m.observe(
      telemetry(
        'dev-0',
        s + 1,
        T0 + s * 1000,
        streams[0]!.next(inImbalance ? imbalance : undefined),
        confident(inImbalance ? 'imbalance' : 'normal'),
        model,
      ),
    );
    m.observe(
      telemetry(
        'dev-1',
        s + 1,
        T0 + s * 1000,
        streams[1]!.next((n, t) => (n === 'accel.x.mean' && t >= change ? 0.03 : 0)),
        confident('normal'),
        model,
      ),
    );
    if (s % 10 === 9)
      for (const o of m.evaluate(T0 + s * 1000).observations) if (o.active) seen.push({ s, o });
  }
  const dev0 = seen.filter((x) => x.o.deviceId === 'dev-0');
  const condition = dev0.filter((x) => x.o.check === 'condition.prediction_mix');
  const first = condition[0]?.o;
  assert.ok(first !== undefined, 'no condition observation');
  assert.equal(first.kind, 'condition');
  assert.equal(first.cause, 'machine_condition_change');
  assert.deepEqual(first.action, { kind: 'inspect_machine', automatic: false });
  assert.ok(first.evidence.some((e) => e.method === 'jensen_shannon' && (e.statistic ?? 0) > 0.3));
  // Never drift against the model (the features are where the imbalance class puts them) ...
  assert.deepEqual(
    dev0.filter((x) => x.o.check === 'drift.model_reference').map((x) => x.o.subject),
    [],
  );
  // ... and what the baseline (learned in normal running) sees is explained as the condition change.
  for (const x of dev0)
    assert.equal(x.o.kind, 'condition', `${x.o.check} ${String(x.o.subject)} ${String(x.o.cause)}`);
  const snap = m.snapshot('dev-0').devices[0];
  assert.deepEqual(snap?.bases, ['model_reference', 'device_baseline']);
  assert.ok(
    snap.groups.some((g) => g.basis === 'model_reference' && g.features.some((f) => f.label === 'imbalance')),
  );
  assert.equal(snap.predictionMix?.moved, true);

  // dev-1: a bias is drift against the model's (normal class) reference, cause calibration drift.
  const dev1 = seen.filter((x) => x.o.deviceId === 'dev-1');
  const ref = dev1.find((x) => x.o.check === 'drift.model_reference');
  assert.ok(ref !== undefined, 'no drift against the model reference');
  assert.equal(ref.o.subject, 'accel');
  assert.equal(ref.o.cause, 'calibration_drift');
  assert.deepEqual(ref.o.reference, { basis: 'model_reference', model });
  assert.ok(dev1.every((x) => x.o.check !== 'condition.prediction_mix'));
});

test('a model unknown to the reference source: only the device baseline applies', () => {
  const m = createDriftMonitor({
    health: fixedChannelHealth(),
    references: { reference: () => undefined },
    options: {
      driftWindow: 300,
      driftFeatures: [],
      commissioningS: 600,
      driftPersistence: 3,
      driftCooldownS: 1800,
    },
  });
  const st = new FeatureStream(3, 0.5);
  for (let s = 0; s < 700; s++) {
    m.observe(telemetry('dev-0', s + 1, T0 + s * 1000, st.next(), confident('normal'), model));
    if (s % 10 === 9) m.evaluate(T0 + s * 1000);
  }
  const snap = m.snapshot('dev-0').devices[0];
  assert.deepEqual(snap?.bases, ['device_baseline']);
  assert.equal(snap.predictionMix?.reference, null);
  assert.deepEqual(snap.predictionMix.baseline, { normal: 1 });
  assert.equal(m.snapshot('nope').devices.length, 0);
});

test('the collector config is the monitor options (wiring: createDriftMonitor({ health, references, options: config }))', () => {
  const m = createDriftMonitor({
    health: fixedChannelHealth(),
    references: { reference: () => undefined },
    options: { ...collectorDefaults, driftWindow: 50, commissioningS: 30 },
  });
  const st = new FeatureStream(5, 0.5);
  for (let s = 0; s < 100; s++) m.observe(telemetry('dev-0', s + 1, T0 + s * 1000, st.next()));
  const c = m.evaluate(T0 + 100_000);
  assert.equal(m.name, 'drift');
  assert.ok(c.results.some((r) => r.monitor === 'drift.device_baseline' && r.channel === 'accel'));
  assert.equal(m.snapshot().features.length, 27);
});

test('a model sure of no class (a bias makes it hesitate): the pooled profile judges, and the bias is drift', () => {
  const profile = profileWithClasses();
  const m = createDriftMonitor({
    health: fixedChannelHealth(),
    references: {
      reference: (r) => (r.name === model.name && r.version === model.version ? profile : undefined),
    },
    options: {
      driftWindow: 300,
      driftFeatures: [],
      commissioningS: 600,
      driftPersistence: 3,
      driftCooldownS: 1800,
    },
  });
  const change = 900;
  const stream = new FeatureStream(13, 0.5);
  const seen: Observation[] = [];
  for (let s = 0; s < 1500; s++) {
    const biased = s >= change;
    m.observe(
      telemetry(
        'dev-2',
        s + 1,
        T0 + s * 1000,
        stream.next((n) => (n === 'accel.x.mean' && biased ? 0.03 : 0)),
        biased ? { label: 'normal', probabilities: { normal: 0.55, imbalance: 0.45 } } : confident('normal'),
        model,
      ),
    );
    if (s % 10 === 9) for (const o of m.evaluate(T0 + s * 1000).observations) if (o.active) seen.push(o);
  }
  const ref = seen.find((o) => o.check === 'drift.model_reference' && o.subject === 'accel');
  assert.ok(
    ref !== undefined,
    `no drift against the model reference: ${seen.map((o) => o.check).join(', ')}`,
  );
  assert.equal(ref.cause, 'calibration_drift');
  const group = m
    .snapshot('dev-2')
    .devices[0]?.groups.find((g) => g.basis === 'model_reference' && g.group === 'accel');
  assert.equal(group?.status, 'drift');
  // Judged on the pooled profile: no class named.
  assert.ok(group.features.every((f) => f.label === null));
});
