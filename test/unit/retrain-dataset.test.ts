// Retraining dataset assembly (issue 10 §2 "Data"): label sources, held-out recent rows, pseudo-labels
// only when enabled, condition estimation from feature means, and the gate rule.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assembleCaptured,
  capturedDigest,
  labelAt,
  summarizeSources,
  type CapturedWindow,
} from '../../collector/retrain/assemble.ts';
import { estimateConditions } from '../../collector/retrain/conditions.ts';
import { gateReasons, gateScores, macroF1 } from '../../collector/retrain/gate.ts';
import type { DatasetRow } from '../../collector/training/dataset.ts';

const classes = ['normal', 'imbalance'];
const win = (deviceId: string, tsMs: number, label = 'normal', confidence = 0.95): CapturedWindow => ({
  deviceId,
  tsMs,
  values: [tsMs / 1000, 1],
  prediction: { label, confidence },
});

test('labelAt: the last recorded label covering the time wins; [from, to)', () => {
  const labels = [
    { deviceId: 'd1', state: 'normal', fromMs: 0, toMs: 100 },
    { deviceId: 'd1', state: 'imbalance', fromMs: 50, toMs: 100 },
    { deviceId: 'd2', state: 'normal', fromMs: 0, toMs: 100 },
  ];
  assert.equal(labelAt(labels, 'd1', 10), 'normal');
  assert.equal(labelAt(labels, 'd1', 50), 'imbalance');
  assert.equal(labelAt(labels, 'd1', 100), undefined);
  assert.equal(labelAt(labels, 'd3', 10), undefined);
});

test('assembleCaptured: operator rows split newest-last into recent; unlabelled dropped; pseudo off by default', () => {
  const windows = Array.from({ length: 10 }, (_, i) => win('d1', i * 1000)).concat(
    Array.from({ length: 4 }, (_, i) => win('d2', 100_000 + i * 1000, 'imbalance')),
  );
  const labels = [{ deviceId: 'd1', state: 'normal', fromMs: 0, toMs: 10_000 }];
  const a = assembleCaptured(windows, { classes, labels, operatorLabels: true, pseudoLabels: false });
  assert.equal(a.counts.operator, 10);
  assert.equal(a.counts.unlabelled, 4);
  assert.equal(a.counts.pseudo, 0);
  assert.equal(a.recent.length, 3, '30 % of 10, the newest');
  assert.deepEqual(
    a.recent.map((r) => r.time),
    [7000, 8000, 9000],
  );
  assert.ok(a.train.every((r) => r.time < 7000 && r.source === 'operator'));
  assert.ok(a.recent.every((r) => r.source === 'operator' && r.group.startsWith('d1@')));

  const p = assembleCaptured(windows, { classes, labels, operatorLabels: true, pseudoLabels: true });
  assert.equal(p.counts.pseudo, 4);
  assert.ok(p.train.filter((r) => r.source === 'pseudo').every((r) => r.label === 'imbalance'));
  assert.ok(
    p.recent.every((r) => r.source !== 'pseudo'),
    'pseudo-labels are never test rows',
  );

  // Operator labels switched off: nothing is labelled (and pseudo still needs enabling).
  const off = assembleCaptured(windows, { classes, labels, operatorLabels: false, pseudoLabels: false });
  assert.equal(off.train.length + off.recent.length, 0);
  assert.equal(off.counts.unlabelled, 14);
});

test('assembleCaptured: low-confidence predictions, unknown labels and missing features are not rows', () => {
  const windows = [
    win('d1', 0, 'normal', 0.5),
    win('d1', 1000, 'overheating', 0.99),
    { ...win('d1', 2000), values: [null, 1] },
    win('d1', 3000, 'normal', 0.99),
  ];
  const labels = [{ deviceId: 'd1', state: 'overheating', fromMs: 1000, toMs: 2000 }];
  const a = assembleCaptured(windows, { classes, labels, operatorLabels: true, pseudoLabels: true });
  assert.equal(a.counts.skipped, 2, 'the overheating label is not a model class; one window has a null');
  assert.equal(a.counts.unlabelled, 1);
  assert.equal(a.counts.pseudo, 1);
});

test('summarizeSources: counts and digests per source and partition; digest independent of order', () => {
  const rows = [
    { features: [1], label: 'normal', group: 'a@0', time: 1, source: 'lab' as const },
    { features: [2], label: 'normal', group: 'b@0', time: 2, source: 'operator' as const },
    { features: [3], label: 'normal', group: 'c@0', time: 3, source: 'operator' as const },
  ];
  const s1 = summarizeSources(rows, rows.slice(2));
  const s2 = summarizeSources([...rows].reverse(), rows.slice(2));
  assert.deepEqual(s1, s2);
  assert.deepEqual(
    s1.map((s) => `${s.source}/${s.partition}/${s.rows}`),
    ['lab/train/1', 'operator/train/2', 'operator/test/1'],
  );
  assert.match(s1[0]?.digest ?? '', /^[0-9a-f]{64}$/);
  assert.notEqual(capturedDigest([win('d1', 0)]), capturedDigest([win('d1', 1)]));
});

test('estimateConditions: ambient from temperature minus each state machine heat; offsets beyond 3 σ only', () => {
  const names = ['accel.x.mean', 'accel.y.mean', 'accel.magnitude.mean', 'temperature.mean'];
  const lab: DatasetRow[] = [];
  const ambient = new Map<string, number>();
  for (let d = 0; d < 6; d++) {
    const a = 19 + d;
    ambient.set(`lab-${d}`, a);
    for (const [state, heat] of [
      ['normal', 6],
      ['overheating', 22],
    ] as const)
      for (let i = 0; i < 5; i++)
        lab.push({
          features: [0.01 * ((d + i) % 3), 0.02 * ((d * i) % 2), 1, a + heat + 0.01 * i],
          label: state,
          group: `lab-${d}@0`,
          time: i,
        });
  }
  const captured: DatasetRow[] = Array.from({ length: 20 }, (_, i) => ({
    features: [0.31 + 0.001 * (i % 3), 0.01, 1.2, 30 + 6 + 0.01 * (i % 5)],
    label: 'normal',
    group: 'f@0',
    time: i,
  }));
  const c = estimateConditions({
    featureNames: names,
    lab,
    labAmbientC: (r) => ambient.get(r.group.slice(0, r.group.indexOf('@'))),
    captured,
  });
  assert.ok(c.ambientC !== null && Math.abs(c.ambientC - 30) < 0.1, `ambient ${String(c.ambientC)}`);
  assert.ok(Math.abs((c.offsets['accel.x'] ?? 0) - 0.3) < 0.02, JSON.stringify(c.offsets));
  assert.equal(c.offsets['accel.y'], undefined, 'within the lab spread: no offset');
  assert.ok(!('accel.magnitude' in c.offsets), 'derived magnitudes are not channels firmware-sim can offset');
  assert.ok(!('temperature' in c.offsets), 'temperature is the ambient, not an offset');
  assert.deepEqual(c.rowsPerState, { normal: 20 });
  // No state in common with the lab: nothing to compare with.
  const none = estimateConditions({
    featureNames: names,
    lab,
    labAmbientC: () => 20,
    captured: captured.map((r) => ({ ...r, label: 'imbalance' })),
  });
  assert.equal(none.ambientC, null);
  assert.deepEqual(none.offsets, {});
});

test('gate: macro-F1, recent rows, and the rule', () => {
  assert.equal(macroF1(['a', 'b'], ['a', 'b']), 1);
  assert.equal(macroF1(['a', 'a'], ['b', 'b']), 0);
  const s = gateScores(['a', 'b', 'a', 'b'], ['a', 'b', 'b', 'b'], [false, false, true, true]);
  assert.equal(s.all, (2 / 3 + 0.8) / 2);
  assert.equal(s.recent, (0 + 2 / 3) / 2);
  const policy = { maxRegressionVsProduction: 0.02 };
  const base = { rows: 100, recentRows: 20 };
  assert.deepEqual(
    gateReasons(
      { ...base, candidate: { all: 0.95, recent: 0.9 }, production: { all: 0.96, recent: 0.6 } },
      policy,
    ),
    [],
    'better on recent, 0.01 lower overall: passes',
  );
  assert.deepEqual(
    gateReasons(
      { ...base, candidate: { all: 0.95, recent: 0.9 }, production: { all: 0.95, recent: 0.9 } },
      policy,
    ),
    [],
    'equal on recent: not lower, passes',
  );
  const worseRecent = gateReasons(
    { ...base, candidate: { all: 0.99, recent: 0.5 }, production: { all: 0.9, recent: 0.6 } },
    policy,
  );
  assert.equal(worseRecent.length, 1);
  assert.match(worseRecent[0] ?? '', /recent rows 0\.5000 is below production's 0\.6000/);
  const worseAll = gateReasons(
    { ...base, candidate: { all: 0.9, recent: 0.9 }, production: { all: 0.95, recent: 0.6 } },
    policy,
  );
  assert.equal(worseAll.length, 1);
  assert.match(worseAll[0] ?? '', /at most 0\.02/);
  const noRecent = gateReasons(
    { rows: 100, recentRows: 0, candidate: { all: 1, recent: null }, production: { all: 0.5, recent: null } },
    policy,
  );
  assert.match(noRecent[0] ?? '', /no recent labelled captured rows/);
  const min = gateReasons(
    { ...base, candidate: { all: 0.7, recent: 0.9 }, production: { all: 0.7, recent: 0.6 } },
    { ...policy, minMacroF1: 0.8 },
  );
  assert.match(min[0] ?? '', /policy minimum 0\.8/);
});
