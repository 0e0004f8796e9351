// The live drift monitor (collector/drift/live, docs/monitors.md) on generated telemetry: steady AR(1)
// streams raise nothing for hours; a calibration bias is named on the right group with its cause; a
// failing channel is suppressed; temperature and humidity moving together are an environment change,
// on one device and across the fleet; the cooldown keeps a second automatic action away.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jensenShannonDistance } from '../../collector/drift/live/mix.ts';
import { createDriftMonitor, type DriftMonitor } from '../../collector/drift/live/monitor.ts';
import { WindowRing } from '../../collector/drift/live/ring.ts';
import type { DriftMonitorOptions } from '../../collector/drift/live/types.ts';
import type { ChannelHealth, Observation } from '../../collector/monitor/types.ts';
import type { MonitorResultInput } from '../../collector/storage/types.ts';
import { FeatureStream, fixedChannelHealth, telemetry } from './collector-drift-live-fixture.ts';

const T0 = 1_700_000_000_000;
const base: DriftMonitorOptions = {
  driftWindow: 300,
  driftFeatures: [],
  commissioningS: 600,
  driftPersistence: 3,
  driftCooldownS: 1800,
};

function monitor(
  options: Partial<DriftMonitorOptions> = {},
  health: ChannelHealth = fixedChannelHealth(),
): DriftMonitor {
  return createDriftMonitor({
    health,
    references: { reference: () => undefined },
    options: { ...base, ...options },
  });
}

interface Run {
  readonly observations: { readonly s: number; readonly o: Observation }[];
  readonly results: MonitorResultInput[];
}

/** Feeds `seconds` windows per device (one a second), evaluating every 10 s as the collector does. */
function drive(
  m: DriftMonitor,
  devices: number,
  seconds: number,
  shift: (device: number, name: string, t: number) => number = () => 0,
  phi = 0.5,
): Run {
  const streams = Array.from({ length: devices }, (_, i) => new FeatureStream(100 + i, phi));
  const out: Run = { observations: [], results: [] };
  for (let s = 0; s < seconds; s++) {
    streams.forEach((st, i) => {
      m.observe(
        telemetry(
          `dev-${i}`,
          s + 1,
          T0 + s * 1000,
          st.next((n, t) => shift(i, n, t)),
        ),
      );
    });
    if (s % 10 === 9) {
      const c = m.evaluate(T0 + s * 1000);
      for (const o of c.observations) out.observations.push({ s, o });
      out.results.push(...c.results);
    }
  }
  return out;
}

const active = (r: Run): { s: number; o: Observation }[] => r.observations.filter((x) => x.o.active);

test('steady AR(1) φ = 0.9 streams: two hours on three devices raise no observation, and result rows stay bounded', () => {
  const m = monitor();
  const r = drive(m, 3, 7200, undefined, 0.9);
  assert.deepEqual(
    active(r).map((x) => `${x.o.deviceId} ${x.o.check} ${x.o.subject} at ${x.s}`),
    [],
  );
  // Rows: per device, 6 groups on the baseline basis (+ the learning row), on change or once a minute.
  const perSubject = new Map<string, number>();
  for (const row of r.results) {
    const k = `${row.deviceId}|${row.monitor}|${row.channel}`;
    perSubject.set(k, (perSubject.get(k) ?? 0) + 1);
  }
  assert.ok(perSubject.size <= 3 * 7, `subjects ${perSubject.size}`);
  for (const [k, n] of perSubject) assert.ok(n <= 120 + 10, `${k}: ${n} rows in 120 minutes`);
  const snap = m.snapshot('dev-0').devices[0];
  assert.ok(snap !== undefined);
  assert.equal(snap.baseline.state, 'ready');
  assert.deepEqual(snap.bases, ['device_baseline']);
  assert.equal(snap.predictionMix, null);
});

test('a bias on accel.x is named on accel against the device baseline, cause calibration drift, within a few evaluations', () => {
  const onset = 900;
  const m = monitor();
  const r = drive(m, 1, 1500, (_d, n, t) => (n === 'accel.x.mean' && t >= onset ? 0.03 : 0));
  const first = active(r)[0];
  assert.ok(first !== undefined, 'no observation');
  const o = first.o;
  assert.equal(o.check, 'drift.device_baseline');
  assert.equal(o.subject, 'accel');
  assert.equal(o.kind, 'drift');
  assert.equal(o.cause, 'calibration_drift');
  assert.deepEqual(o.action, { kind: 'recalibrate_sensor', automatic: false });
  assert.equal(o.reference?.basis, 'device_baseline');
  // Decided within 7 evaluations (30 windows apart) of onset: the methods need ~30% of the window shifted
  // (first drift verdict), then driftPersistence (3) consecutive verdicts. Measured: 179 s.
  assert.ok(first.s - onset <= 7 * 30, `decided ${first.s - onset} s after onset`);
  assert.ok(o.sinceMs !== null && o.sinceMs >= T0 + onset * 1000, 'since is after onset');
  assert.ok(o.window !== null && o.window.toMs - o.window.fromMs >= 299_000);
  const e = o.evidence[0];
  assert.ok(e !== undefined);
  const detail = e.detail ?? {};
  assert.equal(detail.feature, 'accel.x.mean');
  assert.ok((e.effectSigma ?? 0) > 3, `effect ${e.effectSigma}σ`);
  // The window's mean shift: part of the 300-window window is still before onset.
  const physical = e.effectPhysical ?? 0;
  assert.ok(physical > 0.005 && physical <= 0.031, `effect ${String(physical)} g`);
  assert.equal(e.unit, 'g');
  assert.ok(e.threshold !== null && e.thresholdOrigin !== null);
  assert.equal(typeof detail.n, 'number');
  assert.equal(typeof detail.nEff, 'number');
  assert.match(o.summary, /accel.*accel\.x\.mean.*calibration drift/);
  // No other group moved.
  assert.deepEqual([...new Set(active(r).map((x) => x.o.subject))], ['accel']);
});

test('a failing channel is suppressed: the same bias on a failing accel.x raises nothing', () => {
  const onset = 900;
  const shift = (_d: number, n: string, t: number): number => (n === 'accel.x.mean' && t >= onset ? 0.03 : 0);
  const m = monitor({}, fixedChannelHealth({ 'dev-0': ['accel.x'] }));
  const r = drive(m, 1, 1500, shift);
  assert.deepEqual(active(r), []);
  const accel = m.snapshot('dev-0').devices[0]?.groups.find((g) => g.group === 'accel');
  const verdict = (f: string): string | undefined => accel?.features.find((x) => x.feature === f)?.verdict;
  assert.equal(verdict('accel.x.mean'), 'suppressed');
  assert.equal(verdict('accel.magnitude.mean'), 'suppressed', 'magnitude is computed from the failing axis');
  assert.equal(verdict('accel.y.mean'), 'ok');
  // Every accel channel failing: the group's row says suppressed.
  const all = monitor({}, fixedChannelHealth({ 'dev-0': ['accel.x', 'accel.y', 'accel.z'] }));
  const r2 = drive(all, 1, 1000, shift);
  assert.deepEqual(active(r2), []);
  const rows = r2.results.filter((x) => x.monitor === 'drift.device_baseline' && x.channel === 'accel');
  assert.ok(rows.length > 0 && rows.every((x) => x.status === 'suppressed'));
});

test('humidity and temperature moving together: environment change, update requested (not automatically)', () => {
  const m = monitor();
  const r = drive(m, 1, 1400, (_d, n, t) =>
    t < 900 ? 0 : n === 'humidity.mean' ? 15 : n === 'temperature.mean' ? 6 : 0,
  );
  const env = active(r).filter((x) => x.o.kind === 'environment');
  assert.deepEqual([...new Set(env.map((x) => x.o.subject))].sort(), ['humidity', 'temperature']);
  for (const { o } of env) {
    assert.equal(o.cause, 'environment_change');
    assert.deepEqual(o.action, { kind: 'request_model_update', automatic: false });
    assert.ok(o.evidence.some((e) => e.unit === '%RH' || e.unit === 'degC'));
  }
  assert.ok(active(r).every((x) => x.o.cause !== 'calibration_drift'));
});

test('below its physical floor an environment channel does not drift, however significant', () => {
  const m = monitor();
  // +3 %RH is ~5σ of the fixture's humidity, below the 10 %RH floor.
  const r = drive(m, 1, 1400, (_d, n, t) => (t >= 900 && n === 'humidity.mean' ? 3 : 0));
  assert.deepEqual(active(r), []);
});

test('the same environment group moving on many devices at once is a fleet-level observation', () => {
  const m = monitor();
  const r = drive(m, 5, 1400, (d, n, t) =>
    d < 4 && t >= 900 ? (n === 'humidity.mean' ? 15 : n === 'temperature.mean' ? 6 : 0) : 0,
  );
  const fleet = active(r).filter((x) => x.o.deviceId === null);
  assert.ok(fleet.length > 0, 'no fleet observation');
  assert.ok(fleet.every((x) => x.o.kind === 'environment' && x.o.cause === 'environment_change'));
  assert.deepEqual([...new Set(fleet.map((x) => x.o.subject))].sort(), ['humidity', 'temperature']);
  assert.ok(m.snapshot().fleet.some((f) => f.group === 'humidity' && f.devices === 4));
  assert.ok(active(r).every((x) => x.o.deviceId !== 'dev-4'));
});

test('cooldown: the first decision carries the automatic action, none again on that device within driftCooldownS', () => {
  const m = monitor({ automaticActions: ['recalibrate_sensor'] });
  const on = (t: number): boolean => (t >= 900 && t < 1500) || t >= 2100;
  const r = drive(m, 1, 2700, (_d, n, t) => (n === 'accel.x.mean' && on(t) ? 0.03 : 0));
  const acts = active(r).filter((x) => x.o.subject === 'accel');
  assert.ok(acts.length > 2);
  assert.equal(acts[0]?.o.action?.automatic, true);
  assert.ok(acts.slice(1).every((x) => x.o.action?.automatic === false));
  // It was resolved in between (inactive observations), and opened again after 2100 s.
  assert.ok(r.observations.some((x) => !x.o.active && x.s > 1500 && x.s < 2100));
  assert.ok(acts.some((x) => x.s > 2100));
});

test('insufficient data is a result row, never an observation', () => {
  const m = monitor({ driftWindow: 300, commissioningS: 60 });
  // NaN features (null in JSON): nothing to judge.
  for (let s = 0; s < 400; s++) {
    m.observe(telemetry('dev-0', s + 1, T0 + s * 1000, { 'accel.x.mean': null }));
    if (s % 10 === 9) assert.deepEqual(m.evaluate(T0 + s * 1000).observations, []);
  }
  const snap = m.snapshot('dev-0').devices[0];
  assert.equal(snap?.groups.find((g) => g.group === 'accel')?.status, 'insufficient_data');
});

test('Jensen–Shannon distance: 0 for equal mixes, 1 for disjoint ones, symmetric, finite with a missing label', () => {
  const a = new Map([
    ['normal', 0.9],
    ['imbalance', 0.1],
  ]);
  assert.equal(jensenShannonDistance(a, a), 0);
  assert.equal(jensenShannonDistance(new Map([['a', 1]]), new Map([['b', 1]])), 1);
  const b = new Map([['normal', 1]]);
  const d = jensenShannonDistance(a, b);
  assert.ok(d > 0 && d < 1 && Number.isFinite(d));
  assert.equal(d, jensenShannonDistance(b, a));
});

test('the window ring keeps the newest windows, oldest first, and NaN for null', () => {
  const ring = new WindowRing(3, 2);
  for (let t = 1; t <= 5; t++) ring.push(t * 1000, [t, t === 4 ? Number.NaN : -t], -1, Number.NaN);
  assert.deepEqual([...ring.column(0, new Float64Array(3))], [3, 4, 5]);
  assert.deepEqual([...ring.column(1, new Float64Array(3))], [-3, Number.NaN, -5]);
  assert.deepEqual(ring.span(), { fromMs: 3000, toMs: 5000 });
  assert.equal(ring.pushed, 5);
});
