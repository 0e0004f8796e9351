// Model-update requests (issue #10 §1; docs/update-requests.md) with in-memory fakes of the rollout
// controller and the retraining service, synthetic drift observations shaped as the drift monitor emits
// them, and a real SQLite database (':memory:' or a file for the restart).

import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fail } from '../../shared/errors.ts';
import { ManualClock } from '../../shared/platform/clock.ts';
import { MemoryLogger } from '../../shared/platform/logger.ts';
import { openSqliteDatabase, type SqliteDatabase } from '../../shared/platform/sqlite.ts';
import type { Observation } from '../../collector/monitor/types.ts';
import {
  DECIDE_RETRY_MS,
  createUpdateRequests,
  type UpdateRequests,
} from '../../collector/updates/requests.ts';
import type { Retraining } from '../../collector/retrain/types.ts';
import type { RolloutController } from '../../collector/rollout/types.ts';
import type { RetrainingPort, RolloutPort, UpdatePolicy } from '../../collector/updates/types.ts';
import {
  FakeRetraining,
  FakeRollouts,
  MapHealth,
  MemoryReferences,
  MemoryRegistry,
  MemoryStore,
  MODEL,
  T0,
  driftObservation,
  profileAt,
  windowsAt,
} from './update-requests-fixture.ts';

const POLICY: UpdatePolicy = {
  autoRollout: true,
  cooldownS: 1800,
  fitWindowS: 600,
  fitMargin: 0.2,
  captureS: 3600,
};
const V1 = { name: MODEL, version: '1.0.0' };

interface Harness {
  readonly requests: UpdateRequests;
  readonly clock: ManualClock;
  readonly store: MemoryStore;
  readonly references: MemoryReferences;
  readonly registry: MemoryRegistry;
  readonly rollouts: FakeRollouts;
  readonly retraining: FakeRetraining;
  readonly health: MapHealth;
  readonly db: SqliteDatabase;
  readonly logger: MemoryLogger;
}

interface SetupOptions {
  readonly policy?: Partial<UpdatePolicy>;
  readonly db?: SqliteDatabase;
  readonly without?: readonly ('registry' | 'rollouts' | 'retraining')[];
  readonly rollouts?: FakeRollouts;
  readonly retraining?: FakeRetraining;
  /** Devices with drifted windows (accel.x.mean at 0.5) at T0. Default ['d1', 'd2', 'd3']. */
  readonly devices?: readonly string[];
}

/** v1.0.0 fits accel.x.mean at 0; the devices drifted to 0.5. 1.1.0 (approved) fits 0.5, 1.2.0 is not approved. */
function setup(t: TestContext, o: SetupOptions = {}): Harness {
  const db = o.db ?? openSqliteDatabase(':memory:');
  const clock = new ManualClock(T0);
  const store = new MemoryStore();
  for (const d of o.devices ?? ['d1', 'd2', 'd3']) store.add(windowsAt(d, 0.5, 300, T0, V1));
  const references = new MemoryReferences();
  references.set('1.0.0', profileAt(0));
  const registry = new MemoryRegistry();
  registry.push('1.0.0');
  registry.move('production', '1.0.0');
  const rollouts = o.rollouts ?? new FakeRollouts();
  const retraining = o.retraining ?? new FakeRetraining();
  const health = new MapHealth();
  const logger = new MemoryLogger();
  const without = new Set(o.without ?? []);
  const requests = createUpdateRequests({
    db,
    store,
    registry: without.has('registry') ? undefined : registry,
    references,
    channelHealth: health,
    rollouts: without.has('rollouts') ? undefined : rollouts,
    retraining: without.has('retraining') ? undefined : retraining,
    clock,
    logger,
    policy: { ...POLICY, ...o.policy },
  });
  t.after(() => {
    requests.close();
    if (o.db === undefined) db.close();
  });
  return { requests, clock, store, references, registry, rollouts, retraining, health, db, logger };
}

/** Pushes 1.1.0 fitting the drifted data (approved through staging) and 1.2.0 fitting it too, never aliased. */
function addBetterVersions(h: Harness): void {
  h.registry.push('1.1.0');
  h.references.set('1.1.0', profileAt(0.5));
  h.registry.move('staging', '1.1.0');
  h.registry.push('1.2.0');
  h.references.set('1.2.0', profileAt(0.5));
}

// The real services fit the ports this module declares (contract-10 R and T): tsc fails here when a seam
// drifts, e.g. a renamed method or a view whose id or state changes type.
type Fits<Port, Real extends Port> = Real;
export type RolloutSeam = Fits<RolloutPort, Pick<RolloutController, 'start' | 'get' | 'onEnded'>>;
export type RetrainingSeam = Fits<RetrainingPort, Pick<Retraining, 'open' | 'get' | 'onEnded'>>;

const updates = (obs: readonly Observation[]): Observation[] =>
  obs.filter((o) => o.check === 'update.request');

test('a calibration drift on one device raises one request; no better version: a retraining job', (t) => {
  const h = setup(t);
  const out = h.requests.handle([driftObservation({ deviceId: 'd1' })], T0);
  const all = h.requests.list();
  assert.equal(all.length, 1);
  const r = all[0];
  assert.ok(r);
  assert.equal(r.id, 'ur-1');
  assert.deepEqual(r.model, V1);
  assert.deepEqual(
    r.devices.map((d) => [d.deviceId, d.version, d.subjects, d.channels]),
    [['d1', '1.0.0', ['accel'], ['accel.x']]],
  );
  assert.equal(r.evidence[0]?.check, 'drift.model_reference');
  assert.equal(r.evidence[0].cause, 'calibration_drift');
  assert.equal(r.decision?.action, 'retrain');
  assert.ok((r.decision.current.distance ?? 0) > 1, `current fit ${String(r.decision.current.distance)}`);
  assert.match(r.decision.reason, /no newer approved version/);
  assert.equal(r.state, 'retraining');
  assert.equal(r.trainingJobId, 'tj-1');
  const job = h.retraining.opened[0];
  assert.ok(job);
  assert.deepEqual(job.input.devices, ['d1']);
  assert.equal(job.input.requestId, 'ur-1');
  assert.deepEqual(job.input.model, V1);
  // The data since the drift: from the start of the window judged drifting, not captureS back.
  const judged = r.evidence[0].window;
  assert.ok(judged !== null);
  assert.equal(job.input.fromMs, judged.fromMs);
  assert.ok(job.input.toMs - job.input.fromMs < POLICY.captureS * 1000);
  assert.equal(job.input.toMs, T0 + 1);
  assert.deepEqual(
    r.history.map((x) => x.to),
    ['open', 'open', 'retraining'],
  );
  // Its alert: one model_update observation, fleet-level, about the model.
  assert.equal(out.length, 1);
  const a = out[0];
  assert.ok(a);
  assert.equal(a.kind, 'model_update');
  assert.equal(a.check, 'update.request');
  assert.equal(a.deviceId, null);
  assert.equal(a.subject, MODEL);
  assert.equal(a.active, true);
  assert.equal(a.severity, 'warning');
  assert.match(a.summary, /d1/);
  assert.match(a.summary, /retrain/);
  assert.equal(h.rollouts.started.length, 0);
});

test('broken sensor, condition change, failing integrity, inactive, baseline and fleet observations raise none', (t) => {
  const h = setup(t);
  h.health.status.set('d3|accel.x', 'fail');
  h.health.status.set('d2|gyro', 'fail');
  const none: Observation[] = [
    driftObservation({ deviceId: 'd1', cause: 'broken_sensor', action: 'check_sensor' }),
    driftObservation({
      deviceId: 'd1',
      kind: 'condition',
      cause: 'machine_condition_change',
      action: 'inspect_machine',
    }),
    // Even with the action that raises: the cause forbids it.
    driftObservation({ deviceId: 'd1', cause: 'machine_condition_change', action: 'request_model_update' }),
    driftObservation({ deviceId: 'd3' }), // accel.x fails integrity
    driftObservation({ deviceId: 'd2', subject: 'gyro' }), // the gyro sensor fails integrity
    driftObservation({ deviceId: 'd1', active: false }),
    driftObservation({ deviceId: 'd1', basis: 'device_baseline' }),
    driftObservation({
      deviceId: null,
      kind: 'environment',
      cause: 'environment_change',
      action: 'request_model_update',
      model: null,
    }),
    driftObservation({ deviceId: 'd1', cause: 'unknown', action: 'none' }),
    driftObservation({ deviceId: 'd1', model: null }),
  ];
  for (let i = 0; i < 5; i++) assert.deepEqual(h.requests.handle(none, T0 + i * 10_000), []);
  assert.equal(h.requests.list().length, 0);
  assert.equal(h.retraining.opened.length, 0);
  // A suspect channel is doubt, not a broken sensor; environment change raises by its action.
  h.health.status.set('d1|accel.x', 'suspect');
  h.requests.handle(
    [
      driftObservation({ deviceId: 'd1' }),
      driftObservation({
        deviceId: 'd2',
        subject: 'temperature',
        kind: 'environment',
        cause: 'environment_change',
        action: 'request_model_update',
      }),
    ],
    T0,
  );
  const r = h.requests.list();
  assert.equal(r.length, 1);
  assert.deepEqual(
    r[0]?.devices.map((d) => [d.deviceId, d.integrity]),
    [
      ['d1', { accel: 'good', 'accel.x': 'suspect' }],
      ['d2', { temperature: 'good', 'temperature.x': 'good' }],
    ],
  );
});

test('one request per model gathers devices; the cooldown per (model, device) holds after it ends', (t) => {
  const h = setup(t);
  h.requests.handle([driftObservation({ deviceId: 'd1' })], T0);
  h.requests.handle(
    [driftObservation({ deviceId: 'd1' }), driftObservation({ deviceId: 'd2', subject: 'mag' })],
    T0 + 10_000,
  );
  let all = h.requests.list();
  assert.equal(all.length, 1);
  assert.deepEqual(
    all[0]?.devices.map((d) => d.deviceId),
    ['d1', 'd2'],
  );
  assert.deepEqual(all[0].channels, ['accel.x', 'mag.x']);
  assert.equal(all[0].evidence.length, 2);
  // A member drifting on after the decision costs no write (the record is unchanged).
  const before = JSON.stringify(h.requests.get('ur-1'));
  h.requests.handle([driftObservation({ deviceId: 'd1', windowToMs: T0 + 20_000 })], T0 + 20_000);
  assert.equal(JSON.stringify(h.requests.get('ur-1')), before);
  // A new group of a member is recorded.
  h.requests.handle([driftObservation({ deviceId: 'd1', subject: 'gyro' })], T0 + 30_000);
  assert.deepEqual(h.requests.get('ur-1')?.devices[0]?.subjects, ['accel', 'gyro']);
  // An operator dismisses it; the devices drifting on within the cooldown raise nothing.
  const dismissed = h.requests.dismiss('ur-1', 'alice', 'sensor recalibrated on site');
  assert.ok(dismissed.ok);
  assert.equal(dismissed.value.state, 'dismissed');
  assert.equal(dismissed.value.history.at(-1)?.actor, 'alice');
  const again = h.requests.dismiss('ur-1', 'alice', 'twice');
  assert.equal(again.ok, false);
  assert.equal(again.code, 'EDGELOOP_ERR_UPDATE_STATE');
  const notFound = h.requests.dismiss('ur-99', 'alice', 'x');
  assert.equal(!notFound.ok && notFound.code, 'EDGELOOP_ERR_UPDATE_NOT_FOUND');
  h.clock.advance(60_000);
  h.requests.handle(
    [driftObservation({ deviceId: 'd1' }), driftObservation({ deviceId: 'd2' })],
    h.clock.nowMs(),
  );
  assert.equal(h.requests.list().length, 1);
  // d3 was never in it: it raises a new request at once.
  h.requests.handle([driftObservation({ deviceId: 'd3' })], h.clock.nowMs());
  all = h.requests.list();
  assert.equal(all.length, 2);
  assert.deepEqual(
    all[0]?.devices.map((d) => d.deviceId),
    ['d3'],
  );
  h.requests.dismiss('ur-2', 'alice', 'done');
  // Past the cooldown d1 raises again.
  h.clock.advance(POLICY.cooldownS * 1000);
  h.requests.handle([driftObservation({ deviceId: 'd1' })], h.clock.nowMs());
  all = h.requests.list();
  assert.equal(all.length, 3);
  assert.equal(all[0]?.id, 'ur-3');
  assert.deepEqual(
    all[0].devices.map((d) => d.deviceId),
    ['d1'],
  );
  assert.deepEqual(
    h.requests.list({ state: 'dismissed' }).map((r) => r.id),
    ['ur-2', 'ur-1'],
  );
  assert.deepEqual(h.requests.list({ model: 'other' }), []);
  assert.equal(h.requests.list({ limit: 1 }).length, 1);
});

test('a newer approved version that fits better is rolled out at once with autoRollout', (t) => {
  const h = setup(t);
  addBetterVersions(h);
  h.requests.handle([driftObservation({ deviceId: 'd2' }), driftObservation({ deviceId: 'd1' })], T0);
  const r = h.requests.get('ur-1');
  assert.ok(r);
  assert.equal(r.decision?.action, 'rollout');
  assert.equal(r.decision.toVersion, '1.1.0');
  // 1.2.0 fits as well but was never approved (no alias ever pointed at it).
  assert.deepEqual(
    r.decision.candidates.map((c) => c.version),
    ['1.1.0'],
  );
  const cand = r.decision.candidates[0];
  assert.ok(cand?.distance !== null && cand?.distance !== undefined && r.decision.current.distance !== null);
  assert.ok(cand.distance < r.decision.current.distance * 0.8);
  assert.equal(r.state, 'rolling_out');
  assert.equal(r.rolloutId, 'ro-1');
  const started = h.rollouts.started[0];
  assert.ok(started);
  assert.equal(started.plan.model, MODEL);
  assert.equal(started.plan.toVersion, '1.1.0');
  assert.equal(started.plan.updateRequestId, 'ur-1');
  assert.deepEqual(started.plan.canary?.devices, ['d2', 'd1']);
  assert.deepEqual(started.plan.devices, ['d1', 'd2', 'd3']);
  assert.equal(h.retraining.opened.length, 0);
});

test('without autoRollout the rollout stays proposed until an operator approves it', (t) => {
  const h = setup(t, { policy: { autoRollout: false } });
  addBetterVersions(h);
  const out = h.requests.handle([driftObservation({ deviceId: 'd1' })], T0);
  let r = h.requests.get('ur-1');
  assert.equal(r?.state, 'rollout_proposed');
  assert.equal(r.rolloutPlan?.toVersion, '1.1.0');
  assert.equal(h.rollouts.started.length, 0);
  assert.match(updates(out)[0]?.summary ?? '', /proposed, waiting for approval/);
  const dismissed = h.requests.approve('ur-2', 'bob');
  assert.equal(!dismissed.ok && dismissed.code, 'EDGELOOP_ERR_UPDATE_NOT_FOUND');
  // The controller refuses the start (another rollout of the model runs): still proposed, the code says why.
  h.rollouts.refuse = fail('EDGELOOP_ERR_ROLLOUT_CONFLICT', 'ro-0 is running');
  const conflict = h.requests.approve('ur-1', 'bob');
  assert.equal(!conflict.ok && conflict.code, 'EDGELOOP_ERR_ROLLOUT_CONFLICT');
  assert.equal(h.requests.get('ur-1')?.state, 'rollout_proposed');
  h.rollouts.refuse = null;
  const approved = h.requests.approve('ur-1', 'bob');
  assert.ok(approved.ok);
  assert.equal(approved.value.state, 'rolling_out');
  assert.equal(h.rollouts.started[0]?.actor, 'bob');
  assert.equal(approved.value.history.at(-1)?.actor, 'bob');
  const twice = h.requests.approve('ur-1', 'bob');
  assert.equal(!twice.ok && twice.code, 'EDGELOOP_ERR_UPDATE_STATE');
  r = h.requests.get('ur-1');
  assert.equal(r?.rolloutId, 'ro-1');
});

test('an approved newer version that does not fit better by the margin: retraining', (t) => {
  const h = setup(t);
  h.registry.push('1.1.0');
  h.references.set('1.1.0', profileAt(0.1)); // a little closer, far from 20 % better
  h.registry.move('canary', '1.1.0');
  h.requests.handle([driftObservation({ deviceId: 'd1' })], T0);
  const r = h.requests.get('ur-1');
  assert.equal(r?.decision?.action, 'retrain');
  assert.deepEqual(
    r.decision.candidates.map((c) => c.version),
    ['1.1.0'],
  );
  assert.match(r.decision.reason, /fits better by 20%/);
  assert.equal(r.state, 'retraining');
});

test('outcomes: rollout completed resolves, rolled back fails; the alert ends with inactive observations', (t) => {
  const h = setup(t);
  addBetterVersions(h);
  h.requests.handle([driftObservation({ deviceId: 'd1' })], T0);
  h.rollouts.end('ro-1', 'completed');
  const r = h.requests.get('ur-1');
  assert.equal(r?.state, 'resolved');
  assert.match(r.outcome ?? '', /ro-1 completed/);
  assert.notEqual(r.endedMs, null);
  const out = h.requests.handle([], T0 + 10_000);
  assert.equal(out.length, 1);
  assert.equal(out[0]?.active, false);
  assert.equal(out[0].subject, MODEL);
  let clears = 1;
  while (h.requests.handle([], T0 + 10_000 * (clears + 1)).length > 0) clears++;
  assert.equal(clears, 10);
  // The next request of the same model, rolled back.
  h.clock.advance(POLICY.cooldownS * 1000 + 1);
  h.requests.handle([driftObservation({ deviceId: 'd1' })], h.clock.nowMs());
  assert.equal(h.requests.get('ur-2')?.rolloutId, 'ro-2');
  h.rollouts.end('ro-2', 'rolled_back');
  assert.equal(h.requests.get('ur-2')?.state, 'rollout_failed');
  assert.match(h.requests.get('ur-2')?.outcome ?? '', /rolled back/);
  // Unrelated ends change nothing.
  h.rollouts.end('ro-1', 'aborted');
  assert.equal(h.requests.get('ur-1')?.state, 'resolved');
});

test('outcomes: the gate refuses the candidate; a staged candidate is rolled out; a failed job says so', (t) => {
  const h = setup(t);
  h.requests.handle([driftObservation({ deviceId: 'd1' })], T0);
  h.retraining.end('tj-1', {
    state: 'refused',
    gate: { passed: false, reasons: ['macro-F1 0.71 is below production 0.80', 'recent rows: 0.55 < 0.60'] },
  });
  let r = h.requests.get('ur-1');
  assert.equal(r?.state, 'candidate_refused');
  assert.match(r.outcome ?? '', /macro-F1 0\.71 is below production 0\.80; recent rows/);
  assert.equal(h.rollouts.started.length, 0);

  h.requests.handle([driftObservation({ deviceId: 'd2' })], T0);
  assert.equal(h.requests.get('ur-2')?.trainingJobId, 'tj-2');
  h.retraining.end('tj-2', { state: 'succeeded', candidate: { model: MODEL, version: '1.0.1' } });
  r = h.requests.get('ur-2');
  assert.equal(r?.state, 'rolling_out');
  assert.equal(h.rollouts.started[0]?.plan.toVersion, '1.0.1');
  assert.deepEqual(h.rollouts.started[0].plan.canary?.devices, ['d2']);
  h.rollouts.end('ro-1', 'completed');
  assert.equal(h.requests.get('ur-2')?.state, 'resolved');

  h.requests.handle([driftObservation({ deviceId: 'd3' })], T0);
  h.retraining.end('tj-3', {
    state: 'failed',
    error: { code: 'EDGELOOP_ERR_TRAINING_WORKER_CRASHED', message: 'child exited 137' },
  });
  r = h.requests.get('ur-3');
  assert.equal(r?.state, 'retraining_failed');
  assert.match(r.outcome ?? '', /failed: child exited 137/);
});

test('a succeeded job without a named candidate: the version staging points at', (t) => {
  const h = setup(t);
  h.requests.handle([driftObservation({ deviceId: 'd1' })], T0);
  h.registry.push('1.0.1');
  h.registry.move('staging', '1.0.1');
  h.retraining.end('tj-1', { state: 'succeeded' });
  assert.equal(h.requests.get('ur-1')?.state, 'rolling_out');
  assert.equal(h.rollouts.started[0]?.plan.toVersion, '1.0.1');
});

test('missing registry, rollouts or retraining, or a refused start: the request says it cannot act', (t) => {
  const noRetrain = setup(t, { without: ['retraining'] });
  noRetrain.requests.handle([driftObservation({ deviceId: 'd1' })], T0);
  let r = noRetrain.requests.get('ur-1');
  assert.equal(r?.state, 'blocked');
  assert.equal(r.blocked?.code, 'EDGELOOP_ERR_UPDATE_CANNOT_ACT');
  assert.match(r.blocked.reason, /no retraining service/);
  // Still an open alert, saying why.
  const out = noRetrain.requests.handle([], T0 + 10_000);
  assert.equal(out[0]?.active, true);
  assert.match(out[0].summary, /cannot act/);

  const noRollouts = setup(t, { without: ['rollouts'] });
  addBetterVersions(noRollouts);
  noRollouts.requests.handle([driftObservation({ deviceId: 'd1' })], T0);
  r = noRollouts.requests.get('ur-1');
  assert.equal(r?.state, 'blocked');
  assert.match(r.blocked?.reason ?? '', /no rollout controller/);

  const noRegistry = setup(t, { without: ['registry'] });
  noRegistry.requests.handle([driftObservation({ deviceId: 'd1' })], T0);
  r = noRegistry.requests.get('ur-1');
  assert.equal(r?.state, 'retraining');
  assert.match(r.decision?.reason ?? '', /no registry mounted/);

  const refusing = setup(t);
  addBetterVersions(refusing);
  refusing.rollouts.refuse = fail('EDGELOOP_ERR_REGISTRY_NOT_FOUND', 'version pump@1.1.0');
  refusing.requests.handle([driftObservation({ deviceId: 'd1' })], T0);
  r = refusing.requests.get('ur-1');
  assert.equal(r?.state, 'blocked');
  assert.equal(r.blocked?.code, 'EDGELOOP_ERR_REGISTRY_NOT_FOUND');
  assert.deepEqual(
    r.history.map((x) => x.to),
    ['open', 'open', 'rollout_proposed', 'blocked'],
  );

  const jobRefused = setup(t);
  jobRefused.retraining.refuse = fail('EDGELOOP_ERR_TRAINING_JOB_INVALID', 'no production model');
  jobRefused.requests.handle([driftObservation({ deviceId: 'd1' })], T0);
  assert.equal(jobRefused.requests.get('ur-1')?.blocked?.code, 'EDGELOOP_ERR_TRAINING_JOB_INVALID');
});

test('no recent windows: the request waits, then decides once windows arrive', (t) => {
  const h = setup(t, { devices: [] });
  h.requests.handle([driftObservation({ deviceId: 'd9' })], T0);
  assert.equal(h.requests.get('ur-1')?.state, 'open');
  assert.equal(h.requests.get('ur-1')?.decision, null);
  h.store.add(windowsAt('d9', 0.5, 300, T0, V1));
  h.requests.handle([], T0 + 1000); // within DECIDE_RETRY_MS: not tried again yet
  assert.equal(h.requests.get('ur-1')?.state, 'open');
  h.requests.handle([], T0 + DECIDE_RETRY_MS);
  assert.equal(h.requests.get('ur-1')?.state, 'retraining');
});

test('a restart keeps requests, cooldowns and follows what ended while it was down', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-update-requests-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const path = join(dir, 'loop.sqlite');
  const retraining = new FakeRetraining();
  const rollouts = new FakeRollouts();
  const db1 = openSqliteDatabase(path);
  const first = setup(t, { db: db1, retraining, rollouts });
  first.requests.handle([driftObservation({ deviceId: 'd1' })], T0);
  first.requests.handle([driftObservation({ deviceId: 'd2' })], T0);
  first.requests.dismiss('ur-1', 'alice', 'test');
  first.requests.handle([driftObservation({ deviceId: 'd3' })], T0);
  assert.equal(first.requests.get('ur-2')?.state, 'retraining');
  first.requests.close();
  db1.close();
  // While down: the job succeeds (nobody listening).
  retraining.end('tj-1', { state: 'succeeded', candidate: { version: '1.0.1' } }, true);
  retraining.end('tj-2', { state: 'refused', reasons: ['worse on recent rows'] }, true);

  const db2 = openSqliteDatabase(path);
  t.after(() => {
    db2.close();
  });
  const second = setup(t, { db: db2, retraining: new FakeRetraining(), rollouts });
  // A fresh fake knows no jobs: nothing is decided from thin air.
  second.requests.handle([], T0 + 1000);
  assert.equal(second.requests.get('ur-2')?.state, 'retraining');
  second.requests.close();

  const third = setup(t, { db: db2, retraining, rollouts });
  const out = third.requests.handle([driftObservation({ deviceId: 'd1' })], T0 + 2000);
  assert.equal(third.requests.get('ur-1')?.state, 'dismissed');
  assert.equal(third.requests.get('ur-2')?.state, 'candidate_refused');
  assert.match(third.requests.get('ur-2')?.outcome ?? '', /worse on recent rows/);
  // d1 is still cooling down after its dismissed request.
  assert.equal(third.requests.list().length, 2);
  assert.deepEqual(
    updates(out).map((o) => o.active),
    [false],
  );
  assert.equal(third.requests.get('ur-1')?.history.length, 5);
});

test('a listener or a cycle that throws (the table is gone) never reaches the caller', (t) => {
  const h = setup(t);
  h.requests.handle([driftObservation({ deviceId: 'd1' })], T0);
  h.db.exec('DROP TABLE update_requests');
  assert.doesNotThrow(() => {
    h.retraining.end('tj-1', { state: 'refused' });
  });
  assert.ok(h.logger.records.some((r) => r.message === 'update request listener failed'));
  // Nor does a monitor cycle: it returns nothing and says why.
  assert.deepEqual(h.requests.handle([driftObservation({ deviceId: 'd2' })], T0), []);
  assert.ok(h.logger.records.some((r) => r.message === 'update request cycle failed' && r.level === 'error'));
});

test('the training job view as the retraining service gives it: candidateVersion, reasons, code and message', (t) => {
  const h = setup(t);
  h.requests.handle([driftObservation({ deviceId: 'd1' })], T0);
  h.retraining.end('tj-1', {
    state: 'refused',
    candidateVersion: '1.0.1',
    code: 'EDGELOOP_ERR_TRAINING_GATE_REFUSED',
    message: 'the candidate did not beat production',
    reasons: ['macro-F1 on recent rows 0.58 < 0.74 (production)'],
  });
  assert.match(
    h.requests.get('ur-1')?.outcome ?? '',
    /refused the candidate of tj-1: macro-F1 on recent rows 0\.58/,
  );
  h.requests.handle([driftObservation({ deviceId: 'd2' })], T0);
  h.retraining.end('tj-2', {
    state: 'failed',
    candidateVersion: '1.0.2',
    code: 'EDGELOOP_ERR_TRAINING_WORKER_CRASHED',
    message: 'worker exited with signal SIGKILL',
    reasons: [],
  });
  assert.match(
    h.requests.get('ur-2')?.outcome ?? '',
    /failed: worker exited with signal SIGKILL \[EDGELOOP_ERR_TRAINING_WORKER_CRASHED\]/,
  );
  h.requests.handle([driftObservation({ deviceId: 'd3' })], T0);
  h.retraining.end('tj-3', {
    state: 'succeeded',
    candidateVersion: '1.0.3',
    code: null,
    message: null,
    reasons: [],
  });
  assert.equal(h.rollouts.started[0]?.plan.toVersion, '1.0.3');
  // The rollout completes but the gate kept production where it was: resolved, and it says so.
  const view = h.rollouts.views.get('ro-1');
  assert.ok(view);
  Object.assign(view, { production: { moved: false, message: 'gate: canary too short' } });
  h.rollouts.end('ro-1', 'completed');
  assert.equal(h.requests.get('ur-3')?.state, 'resolved');
  assert.match(h.requests.get('ur-3')?.outcome ?? '', /production did not move: gate: canary too short/);
});

test('requireDeviceChange: a mismatch with the reference alone raises none; with the device baseline confirming, one', (t) => {
  const h = setup(t, { policy: { requireDeviceChange: true } });
  // The device's operating point sits off the pooled class reference, but its own baseline saw no change.
  h.requests.handle([driftObservation({ deviceId: 'd1' })], T0);
  assert.deepEqual(h.requests.list(), []);
  // Another group moving against the baseline does not confirm this one.
  h.requests.handle(
    [
      driftObservation({ deviceId: 'd1' }),
      driftObservation({ deviceId: 'd1', basis: 'device_baseline', subject: 'gyro' }),
    ],
    T0 + 1000,
  );
  assert.deepEqual(h.requests.list(), []);
  // The same group on both bases: a change on the device that the model no longer fits.
  h.requests.handle(
    [driftObservation({ deviceId: 'd1' }), driftObservation({ deviceId: 'd1', basis: 'device_baseline' })],
    T0 + 2000,
  );
  const all = h.requests.list();
  assert.equal(all.length, 1);
  assert.deepEqual(
    all[0]?.devices.map((d) => d.deviceId),
    ['d1'],
  );
});

test('a member re-diagnosed as a machine condition change is withdrawn; a request left empty is dismissed', (t) => {
  const h = setup(t);
  // d1 and d2 both drift as calibration drift would (bearing wear looks like this before the mix moves).
  h.requests.handle([driftObservation({ deviceId: 'd1' }), driftObservation({ deviceId: 'd2' })], T0);
  // A moved prediction mix alone (kind condition, cause unknown) withdraws nobody: calibration drift moves it.
  h.requests.handle([driftObservation({ deviceId: 'd1', kind: 'condition', cause: 'unknown' })], T0 + 500);
  const first = h.requests.list()[0];
  assert.ok(first !== undefined);
  const id = first.id;
  assert.deepEqual(
    first.devices.map((d) => d.deviceId),
    ['d1', 'd2'],
  );
  // d2's accel is now a condition change: it leaves the request, d1 stays.
  const condition = driftObservation({
    deviceId: 'd2',
    kind: 'condition',
    cause: 'machine_condition_change',
  });
  h.requests.handle([condition], T0 + 1000);
  const after = h.requests.get(id);
  assert.ok(after !== undefined);
  assert.deepEqual(
    after.devices.map((d) => d.deviceId),
    ['d1'],
  );
  assert.ok(after.evidence.every((e) => e.deviceId === 'd1'));
  assert.match(after.history.at(-1)?.note ?? '', /withdrawn d2/);
  assert.notEqual(after.state, 'dismissed');
  // d1 too: nothing is left, the request ends and its alert goes with it.
  const out = h.requests.handle(
    [driftObservation({ deviceId: 'd1', kind: 'condition', cause: 'machine_condition_change' })],
    T0 + 2000,
  );
  const ended = h.requests.get(id);
  assert.equal(ended?.state, 'dismissed');
  assert.match(ended.outcome ?? '', /machine condition change/);
  assert.ok(updates(out).every((o) => !o.active));
});

test('an estimated accuracy drop (a performance observation) raises a request about the whole model', (t) => {
  const h = setup(t, { policy: { requireDeviceChange: true, onEstimatedDrop: true } });
  const drop: Observation = {
    kind: 'performance',
    deviceId: 'd1',
    subject: null,
    check: 'performance.estimated_drop',
    active: true,
    severity: 'warning',
    atMs: T0,
    sinceMs: T0 - 300_000,
    window: { fromMs: T0 - 300_000, toMs: T0 },
    summary: 'estimated accuracy of pump@1.0.0 on d1 is 0.600',
    evidence: [{ method: 'cbpe', statistic: 0.6, threshold: 0.87, thresholdOrigin: 'config' }],
    reference: { basis: 'model_reference', model: V1 },
    cause: 'unknown',
    action: { kind: 'request_model_update', automatic: false },
  };
  // requireDeviceChange asks a sensor group's own baseline to confirm; a drop is about the model, not a group.
  h.requests.handle([drop], T0);
  const [r] = h.requests.list();
  assert.ok(r);
  assert.deepEqual(
    r.devices.map((d) => [d.deviceId, d.subjects]),
    [['d1', ['model']]],
  );
  assert.equal(r.evidence[0]?.check, 'performance.estimated_drop');
  assert.equal(r.decision?.action, 'retrain');
  h.requests.handle([{ ...drop, active: false }], T0 + 1000);
  assert.equal(h.requests.list().length, 1);
  // Off by default (--update-on-estimated-drop false): the alert alone raises no request.
  const off = setup(t, { policy: { requireDeviceChange: true } });
  off.requests.handle([drop], T0);
  assert.deepEqual(off.requests.list(), []);
});
