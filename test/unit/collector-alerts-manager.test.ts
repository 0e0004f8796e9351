// The alert manager's lifecycle (docs/alerts.md §Lifecycle): dedup, hysteresis, escalation,
// acknowledgement, restart, against the real SQLite store.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AlertManager, type AlertStore } from '../../collector/alerts/manager.ts';
import type { AlertDetails } from '../../collector/alerts/types.ts';
import { observationKey } from '../../collector/monitor/types.ts';
import { collectorAlertEventSchema } from '../../shared/mqtt/schemas.ts';
import { alertEventPayload } from '../../collector/alerts/payload.ts';
import { MemoryLogger } from '../../shared/platform/logger.ts';
import { T0, obs, recorder, tempStore } from './collector-alerts-fixture.ts';

test('an active observation opens one alert that explains itself; repeats count occurrences, not events', (t) => {
  const { store } = tempStore(t);
  const rec = recorder();
  const m = new AlertManager({ store, clearAfter: 3, notify: rec.notify });
  m.handle([obs()], T0);
  m.handle([obs({ atMs: T0 + 10_000 })], T0 + 10_000);
  m.handle([obs({ atMs: T0 + 20_000 })], T0 + 20_000);

  const all = store.alerts();
  assert.equal(all.length, 1);
  const a = all[0]!;
  assert.equal(a.state, 'open');
  assert.equal(a.occurrences, 3);
  assert.equal(a.kind, 'drift');
  assert.equal(a.deviceId, 'dev-1');
  assert.equal(a.channel, 'accel.x');
  assert.equal(a.dedupKey, observationKey(obs()));
  assert.equal(a.openedMs, T0);
  assert.equal(a.lastSeenMs, T0 + 20_000);
  const d = a.details as AlertDetails;
  assert.equal(d.check, 'drift.model_reference');
  assert.deepEqual(d.evidence[0], obs().evidence[0]);
  assert.equal(d.evidence[0]?.effectSigma, 2.4);
  assert.equal(d.evidence[0].effectPhysical, 0.31);
  assert.deepEqual(d.window, { fromMs: T0 - 300_000, toMs: T0 });
  assert.equal(d.sinceMs, T0 - 600_000);
  assert.deepEqual(d.reference, {
    basis: 'model_reference',
    model: { name: 'pump-anomaly', version: '1.2.0' },
  });
  assert.equal(d.cause, 'calibration_drift');
  assert.deepEqual(d.action, { kind: 'recalibrate_sensor', automatic: false });
  assert.equal(d.atMs, T0 + 20_000, 'the latest evidence is kept');

  assert.deepEqual(
    rec.events.map((e) => e.type),
    ['opened'],
  );
  // The event is the documented payload.
  const p = collectorAlertEventSchema.safeParse(alertEventPayload(rec.events[0]!));
  assert.ok(p.success, p.error?.message);
});

test('hysteresis: a flapping condition keeps one alert; it resolves after clearAfter inactive in a row', (t) => {
  const { store } = tempStore(t);
  const rec = recorder();
  const m = new AlertManager({ store, clearAfter: 3, notify: rec.notify });
  const flips = [true, false, false, true, false, true, false, false, true];
  flips.forEach((active, i) => {
    m.handle([obs({ active, atMs: T0 + i })], T0 + i);
  });
  assert.equal(store.alerts().length, 1);
  assert.equal(store.alerts()[0]!.state, 'open');
  assert.equal(store.alerts()[0]!.occurrences, 4);
  assert.deepEqual(
    rec.events.map((e) => e.type),
    ['opened'],
  );

  m.handle([obs({ active: false })], T0 + 100);
  m.handle([obs({ active: false })], T0 + 101);
  assert.equal(store.alerts()[0]!.state, 'open', 'two inactive are not enough');
  m.handle([obs({ active: false })], T0 + 102);
  const a = store.alerts()[0]!;
  assert.equal(a.state, 'resolved');
  assert.equal(a.resolvedMs, T0 + 102);
  assert.deepEqual(
    rec.events.map((e) => e.type),
    ['opened', 'resolved'],
  );
  assert.equal(m.live().length, 0);

  // The same condition again is a new alert.
  m.handle([obs()], T0 + 200);
  assert.equal(store.alerts().length, 2);
  assert.equal(store.alerts({ state: 'open' }).length, 1);
  // An inactive observation of a key never raised does nothing.
  m.handle([obs({ active: false, subject: 'accel.y' })], T0 + 201);
  assert.equal(store.alerts().length, 2);
});

test('severity rises (one escalated event) and never falls while the alert is live', (t) => {
  const { store } = tempStore(t);
  const rec = recorder();
  const m = new AlertManager({ store, clearAfter: 2, notify: rec.notify });
  m.handle([obs({ severity: 'warning' })], T0);
  m.handle([obs({ severity: 'critical' })], T0 + 1);
  m.handle([obs({ severity: 'warning' })], T0 + 2);
  m.handle([obs({ severity: 'critical' })], T0 + 3);
  assert.equal(store.alerts()[0]!.severity, 'critical');
  assert.deepEqual(
    rec.events.map((e) => [e.type, e.alert.severity]),
    [
      ['opened', 'warning'],
      ['escalated', 'critical'],
    ],
  );
});

test('acknowledged alerts stay until they clear; acknowledging twice or an unknown id changes nothing', (t) => {
  const { store } = tempStore(t);
  const rec = recorder();
  const m = new AlertManager({ store, clearAfter: 2, notify: rec.notify });
  m.handle([obs()], T0);
  const id = store.alerts()[0]!.id;
  const a = m.acknowledge(id, 'ops@plant', T0 + 5);
  assert.equal(a?.state, 'acknowledged');
  assert.equal(a.acknowledgedBy, 'ops@plant');
  assert.equal(a.acknowledgedMs, T0 + 5);
  assert.equal(m.acknowledge(id, 'someone else', T0 + 6)?.acknowledgedBy, 'ops@plant');
  assert.equal(m.acknowledge(9999, 'x', T0), undefined);

  m.handle([obs()], T0 + 10);
  assert.equal(store.alerts()[0]!.state, 'acknowledged', 'still live while the condition holds');
  assert.equal(store.alerts()[0]!.occurrences, 2);
  m.handle([obs({ active: false })], T0 + 20);
  m.handle([obs({ active: false })], T0 + 30);
  assert.equal(store.alerts()[0]!.state, 'resolved');
  assert.deepEqual(
    rec.events.map((e) => e.type),
    ['opened', 'acknowledged', 'resolved'],
  );
  assert.equal(rec.events[1]!.alert.acknowledgedBy, 'ops@plant');
  // Acknowledging a resolved alert returns it unchanged.
  assert.equal(m.acknowledge(id, 'late', T0 + 40)?.state, 'resolved');
  assert.equal(rec.events.length, 3);
});

test('open and acknowledged alerts survive a restart: the new manager continues them', (t) => {
  const h = tempStore(t);
  const m1 = new AlertManager({ store: h.store, clearAfter: 2 });
  m1.handle(
    [obs(), obs({ subject: 'accel.y' }), obs({ kind: 'integrity', check: 'integrity.stale', subject: null })],
    T0,
  );
  const y = h.store.alerts().find((a) => a.channel === 'accel.y')!;
  m1.acknowledge(y.id, 'ops', T0 + 1);

  const store = h.reopen();
  const rec = recorder();
  const m2 = new AlertManager({ store, clearAfter: 2, notify: rec.notify });
  assert.equal(m2.live().length, 3);
  assert.equal(m2.liveById(y.id)?.state, 'acknowledged');
  m2.handle([obs()], T0 + 10);
  assert.equal(store.alerts({ state: 'open' }).length, 2, 'no second alert for a known key');
  assert.equal(rec.events.length, 0, 'continuing an alert is not an event');
  m2.handle([obs({ subject: 'accel.y', active: false })], T0 + 20);
  m2.handle([obs({ subject: 'accel.y', active: false })], T0 + 30);
  assert.deepEqual(
    rec.events.map((e) => [e.type, e.alert.id]),
    [['resolved', y.id]],
  );
});

test('a failing store or a throwing channel costs an observation, never the evaluation', (t) => {
  const { store } = tempStore(t);
  let fail = true;
  const flaky: AlertStore = {
    raiseAlert: (a, now) => {
      if (fail) throw new Error('SQLITE_FULL');
      return store.raiseAlert(a, now);
    },
    acknowledgeAlert: (id, by, now) => store.acknowledgeAlert(id, by, now),
    resolveAlert: (id, now) => store.resolveAlert(id, now),
    alerts: (q) => store.alerts(q),
  };
  const log = new MemoryLogger();
  const m = new AlertManager({
    store: flaky,
    clearAfter: 1,
    logger: log,
    notify: () => {
      throw new Error('channel bug');
    },
  });
  assert.doesNotThrow(() => {
    m.handle([obs(), obs({ subject: 'accel.z' })], T0);
  });
  assert.equal(m.storeFailures(), 2);
  assert.equal(m.live().length, 0);
  fail = false;
  m.handle([obs()], T0 + 1);
  assert.equal(m.live().length, 1);
  assert.ok(log.records.some((r) => r.message === 'alert notification failed'));
  assert.ok(log.records.some((r) => r.message === 'alert store write failed'));
});

test('clearAfter below 1 is a configuration bug', (t) => {
  const { store } = tempStore(t);
  assert.throws(() => new AlertManager({ store, clearAfter: 0 }), RangeError);
});
