// The demo's pure parts (cli/demo/): the plan's devices and scenarios, the milestones from snapshots, the
// summary and its outcome, and the options.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadLoopDemoConfig } from '../../cli/demo/command.ts';
import { demoDevices, demoTimeline } from '../../cli/demo/plan.ts';
import { Story } from '../../cli/demo/story.ts';
import { buildSummary, summaryText } from '../../cli/demo/summary.ts';
import type { AlertView, Snapshot } from '../../cli/demo/watch.ts';
import { parseScenario } from '../../firmware-sim/scenario.ts';

test('plan: roles in order, then steady; every scenario parses; seeds differ per device and per demo seed', () => {
  const devices = demoDevices(5, 1, 1800);
  assert.deepEqual(
    devices.map((d) => [d.deviceId, d.role]),
    [
      ['pump-1', 'recalibrated'],
      ['pump-2', 'stuck-sensor'],
      ['pump-3', 'environment'],
      ['pump-4', 'steady'],
      ['pump-5', 'steady'],
    ],
  );
  for (const d of devices) {
    const s = parseScenario(d.scenario, d.deviceId);
    assert.ok(s.ok, s.ok ? '' : s.message);
    assert.equal(s.value.durationS, 1800);
    assert.equal(s.value.deviceId, d.deviceId);
  }
  const bias = parseScenario(devices[0]?.scenario, 'pump-1');
  assert.ok(bias.ok);
  assert.deepEqual(
    bias.value.events.map((e) => [e.kind, e.at]),
    [['bias_ramp', demoTimeline.biasAtS]],
  );
  assert.equal(new Set(devices.map((d) => d.seed)).size, 5);
  assert.notEqual(demoDevices(1, 2, 1800)[0]?.seed, devices[0]?.seed);
  assert.deepEqual(
    demoDevices(1, 1, 600).map((d) => d.role),
    ['recalibrated'],
  );
});

const alert = (id: number, over: Partial<AlertView>): AlertView => ({
  id,
  deviceId: 'pump-1',
  kind: 'drift',
  severity: 'warning',
  subject: 'accel',
  state: 'open',
  cause: 'calibration_drift',
  message: 'accel moved',
  openedMs: 1000 + id,
  ...over,
});

const snapshot = (over: Partial<Snapshot>): Snapshot => ({
  atMs: 0,
  devices: [
    { deviceId: 'pump-1', online: true, model: '1.0.0', lastSeenMs: 0, received: 100, missing: 0 },
    { deviceId: 'pump-2', online: true, model: '1.0.0', lastSeenMs: 0, received: 100, missing: 0 },
  ],
  alerts: [],
  requests: [],
  jobs: {},
  rollouts: {},
  production: '1.0.0',
  ...over,
});

test('story: each alert, request state, job end and rollout phase is one line, once', () => {
  const story = new Story();
  assert.deepEqual(story.next(snapshot({})), []);
  const a = alert(1, {});
  const info = alert(2, { severity: 'info', kind: 'integrity', message: 'offline (expected)' });
  const lines = story.next(snapshot({ alerts: [a, info] }));
  assert.deepEqual(lines, ['ALERT    drift (calibration drift) on pump-1 accel: accel moved']);
  assert.deepEqual(story.next(snapshot({ alerts: [a, info] })), []);
  // A re-diagnosis (drift, cause unknown → environment) is a line of its own.
  const h = alert(4, {
    deviceId: 'pump-3',
    subject: 'humidity',
    cause: 'unknown',
    message: 'humidity moved',
  });
  story.next(snapshot({ alerts: [a, h] }));
  assert.deepEqual(
    story.next(snapshot({ alerts: [a, { ...h, kind: 'environment', cause: 'environment_change' }] })),
    ['CHANGED  pump-3 humidity is now environment (environment change): humidity moved'],
  );
  const request = {
    id: 'ur-1',
    state: 'retraining',
    devices: ['pump-1'],
    channels: ['accel.x'],
    trainingJobId: 'tj-1',
    rolloutId: null,
    outcome: null,
    blocked: null,
    endedMs: null,
  };
  const job = {
    id: 'tj-1',
    state: 'running',
    candidateVersion: '1.0.1',
    progress: null,
    message: null,
    reasons: [],
  };
  const l2 = story.next(snapshot({ alerts: [a], requests: [request], jobs: { 'tj-1': job } }));
  assert.equal(l2.length, 2);
  assert.match(l2[0] ?? '', /^REQUEST {2}ur-1: the model no longer fits pump-1 \(accel\.x\); retraining$/);
  assert.match(l2[1] ?? '', /^RETRAIN {2}job tj-1: candidate 1\.0\.1/);
  const rollout = {
    id: 'ro-2',
    state: 'rolled_back',
    fromVersion: '1.0.0',
    toVersion: '1.0.1',
    createdMs: 1,
    currentPhase: 0,
    phases: [{ devices: ['pump-1'], verdict: 'fail' }],
    counts: { reverted: 1 },
    reason: 'update request ur-1',
    production: null,
    analyses: [
      {
        phase: 0,
        verdict: 'fail',
        checks: [{ name: 'latency_p95', detail: 'p95 60 ms after vs 10 ms before' }],
      },
    ],
  };
  const l3 = story.next(
    snapshot({
      alerts: [{ ...a, state: 'resolved' }],
      requests: [
        { ...request, state: 'rollout_failed', rolloutId: 'ro-2', outcome: 'rollout ro-2 rolled_back' },
      ],
      jobs: { 'tj-1': { ...job, state: 'succeeded' } },
      rollouts: { 'ro-2': rollout },
    }),
  );
  assert.deepEqual(
    l3.map((l) => l.slice(0, 9)),
    ['RESOLVED ', 'REQUEST  ', 'RETRAIN  ', 'ROLLOUT  ', 'ROLLOUT  ', 'ROLLOUT  '],
  );
  assert.match(l3.join('\n'), /canary \[pump-1\] fail: latency_p95 p95 60 ms after vs 10 ms before/);
  assert.match(l3.join('\n'), /ro-2 rolled back$/m);
  // A model_update alert has no device: it names its subject.
  assert.match(
    new Story().next(
      snapshot({ alerts: [alert(3, { deviceId: '', kind: 'model_update', subject: 'pump-condition' })] }),
    )[0] ?? '',
    / on pump-condition: /,
  );
});

test('summary: outcome, distinct alerts with the story flag, loss, and the table', () => {
  const devices = demoDevices(2, 1, 1800);
  const base = {
    seed: 1,
    speed: 5,
    deviceTimeS: 700.4,
    wallS: 180.2,
    devices,
    fleet: 0,
    modelBefore: '1.0.0',
    samplesLost: { 'pump-1': 0, 'pump-2': 3 },
    windows: { 'pump-1': 600, 'pump-2': 598 },
  };
  const none = buildSummary({ ...base, last: snapshot({}) });
  assert.equal(none.outcome, 'no_request');
  assert.deepEqual(none.lost, { messages: 0, samples: 3 });
  const request = {
    id: 'ur-1',
    state: 'resolved',
    devices: ['pump-1'],
    channels: ['accel.x'],
    trainingJobId: null,
    rolloutId: 'ro-2',
    outcome: 'rollout ro-2 completed',
    blocked: null,
    endedMs: 2000,
  };
  const s = buildSummary({
    ...base,
    last: snapshot({
      production: '1.0.1',
      alerts: [
        alert(5, {
          deviceId: 'pump-2',
          kind: 'integrity',
          subject: 'accel.z',
          cause: 'broken_sensor',
          openedMs: 900,
        }),
        alert(6, {
          deviceId: 'pump-2',
          kind: 'integrity',
          subject: 'accel.z',
          cause: 'broken_sensor',
          openedMs: 1500,
          state: 'resolved',
        }),
        alert(7, { openedMs: 1200 }),
        alert(8, { deviceId: 'pump-2', kind: 'drift', subject: 'temperature', cause: null, openedMs: 2500 }),
        alert(9, { severity: 'info', kind: 'integrity', subject: '' }),
      ],
      requests: [request],
    }),
  });
  assert.equal(s.outcome, 'updated');
  assert.equal(s.modelAfter, '1.0.1');
  assert.deepEqual(s.alertsByKind, { integrity: 2, drift: 2 });
  assert.deepEqual(
    s.alerts.map((a) => [a.deviceId, a.kind, a.subject, a.count, a.live, a.story]),
    [
      ['pump-1', 'drift', 'accel', 1, 1, true],
      ['pump-2', 'drift', 'temperature', 1, 1, false],
      ['pump-2', 'integrity', 'accel.z', 2, 1, true],
    ],
  );
  assert.deepEqual(s.devices[1]?.alerts, ['integrity accel.z', 'drift temperature']);
  assert.equal(s.deviceTimeS, 700);
  const text = summaryText(s);
  assert.match(text, /^pump-2 +stuck-sensor +598 +1\.0\.0 +0 +3 +integrity accel\.z, drift temperature$/m);
  assert.match(text, /^outcome: updated$/m);
  assert.match(text, /^lost: 0 messages, 3 samples$/m);
  // The story ends when the rollout starts: alerts opened during the rollout are not story alerts.
  const rolled = buildSummary({
    ...base,
    last: snapshot({
      alerts: [
        alert(7, { openedMs: 1200 }),
        alert(10, { deviceId: 'pump-2', kind: 'device.model', subject: '', cause: null, openedMs: 1600 }),
      ],
      requests: [{ ...request, state: 'rollout_failed' }],
      rollouts: {
        'ro-2': {
          id: 'ro-2',
          state: 'rolled_back',
          fromVersion: '1.0.0',
          toVersion: '1.0.1',
          createdMs: 1500,
          currentPhase: 0,
          phases: [{ devices: ['pump-1'], verdict: 'fail' }],
          counts: {},
          reason: '',
          production: null,
          analyses: [
            {
              phase: 0,
              verdict: 'fail',
              checks: [
                { name: 'device_failures', status: 'pass', detail: '0 rolled back' },
                { name: 'latency_p95', status: 'fail', detail: 'slow' },
              ],
            },
          ],
        },
      },
    }),
  });
  assert.equal(rolled.outcome, 'rolled_back');
  assert.equal(rolled.rollout?.reason, 'latency_p95 slow');
  assert.deepEqual(
    rolled.alerts.map((a) => [a.kind, a.story]),
    [
      ['drift', true],
      ['device.model', false],
    ],
  );
  const refused = buildSummary({
    ...base,
    last: snapshot({ requests: [{ ...request, state: 'candidate_refused' }] }),
  });
  assert.equal(refused.outcome, 'refused');
});

test('options: defaults, variables, and errors that name the option', () => {
  assert.deepEqual(
    { ...loadLoopDemoConfig([], {}) },
    {
      devices: 3,
      fleet: 0,
      durationS: 1800,
      speed: 5,
      seed: 1,
      summaryJson: '',
      keepRunning: false,
      dataDir: '',
    },
  );
  const c = loadLoopDemoConfig(['--devices', '4', '--keep-running'], {
    EDGELOOP_SPEED: '8',
    EDGELOOP_FLEET: '20',
  });
  assert.equal(c.devices, 4);
  assert.equal(c.speed, 8);
  assert.equal(c.fleet, 20);
  assert.equal(c.keepRunning, true);
  assert.throws(() => loadLoopDemoConfig(['--speed', '50'], {}), /--speed 50: expected 1\.\.10/);
  assert.throws(
    () => loadLoopDemoConfig(['--duration', '10'], {}),
    /--duration 10: expected seconds of device time/,
  );
  assert.throws(() => loadLoopDemoConfig(['--fleet', '-1'], {}), /--fleet -1: expected an integer 0\.\.1000/);
});
