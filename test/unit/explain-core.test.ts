// The explanation core (collector/explain) against small models written as plain functions: the Shapley
// values of the sensor groups add up to f(window) - f(baseline) for every class, recover an additive
// model's per-group effects exactly, and the top features come from the top group; permutation importance,
// drift impact and the CBPE estimate tell an ignored feature from one the model depends on.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ok } from '../../shared/errors.ts';
import { Prng } from '../../shared/random.ts';
import { quantileOfValue, valueAtQuantile } from '../../collector/explain/baseline.ts';
import { estimatePerformance } from '../../collector/explain/cbpe.ts';
import { featureGroups, groupOfFeature } from '../../collector/explain/groups.ts';
import { driftImpact } from '../../collector/explain/impact.ts';
import { permutationImportance } from '../../collector/explain/permutation.ts';
import type { BatchPredictor } from '../../collector/explain/predictor.ts';
import { explainWindow, shapleyFromCoalitions } from '../../collector/explain/shapley.ts';

const NAMES = [
  'accel.x.rms',
  'accel.y.rms',
  'gyro.x.rms',
  'mag.x.mean',
  'humidity.mean',
  'pressure.mean',
  'temperature.mean',
];
const LABELS = ['normal', 'imbalance', 'overheating'];

/** A small nonlinear classifier: a tanh hidden layer, then softmax; feature 0 and 6 matter, 4 is ignored. */
function mlp(): BatchPredictor {
  const w = NAMES.length;
  const c = LABELS.length;
  const prng = new Prng(7, 'mlp');
  const hidden = 5;
  const w1 = Float64Array.from({ length: w * hidden }, (_, i) =>
    Math.floor(i / hidden) === 4 ? 0 : prng.gaussian(),
  );
  const w2 = Float64Array.from({ length: hidden * c }, () => prng.gaussian() * 2);
  return {
    width: w,
    classes: c,
    predict: (rows, n) => {
      const out = new Float32Array(n * c);
      for (let r = 0; r < n; r++) {
        const h = new Float64Array(hidden);
        for (let j = 0; j < hidden; j++) {
          let s = 0;
          for (let i = 0; i < w; i++) s += (rows[r * w + i] as number) * (w1[i * hidden + j] as number);
          h[j] = Math.tanh(s);
        }
        const z = Array.from({ length: c }, (_, k) =>
          h.reduce((s, hj, j) => s + hj * (w2[j * c + k] as number), 0),
        );
        const m = Math.max(...z);
        const e = z.map((v) => Math.exp(v - m));
        const sum = e.reduce((a, b) => a + b, 0);
        e.forEach((v, k) => (out[r * c + k] = v / sum));
      }
      return Promise.resolve(ok(out));
    },
  };
}

/** Class 1 when feature 0 is positive, else class 0; nothing else matters. */
function thresholdModel(width: number): BatchPredictor {
  return {
    width,
    classes: 2,
    predict: (rows, n) => {
      const out = new Float32Array(n * 2);
      for (let r = 0; r < n; r++) {
        const p = 1 / (1 + Math.exp(-8 * (rows[r * width] as number)));
        out[r * 2] = 1 - p;
        out[r * 2 + 1] = p;
      }
      return Promise.resolve(ok(out));
    },
  };
}

test('feature names group by sensor, in board order, and unknown sensors keep their prefix', () => {
  assert.equal(groupOfFeature('accel.magnitude.band3'), 'accelerometer');
  assert.equal(groupOfFeature('vib_rms'), 'vib_rms');
  const groups = featureGroups(['zeta.a', ...NAMES]);
  assert.deepEqual(
    groups.map((g) => g.name),
    ['accelerometer', 'gyroscope', 'magnetometer', 'humidity', 'pressure', 'temperature', 'zeta'],
  );
  assert.deepEqual(groups[0]?.indices, [1, 2]);
});

test('the group contributions add up to the prediction minus the baseline prediction, for every class', async () => {
  const predictor = mlp();
  const groups = featureGroups(NAMES);
  const prng = new Prng(3, 'windows');
  const baseline = Float32Array.from(NAMES, () => prng.gaussian() * 0.2);
  for (let t = 0; t < 25; t++) {
    const features = Float32Array.from(NAMES, () => prng.gaussian());
    const r = await explainWindow({
      predictor,
      labels: LABELS,
      featureNames: NAMES,
      groups,
      features,
      baseline,
    });
    assert.ok(r.ok);
    const e = r.value;
    assert.equal(e.inferences, 64 + groups.find((g) => g.name === e.topGroup)!.indices.length);
    const sum = e.groups.reduce((s, g) => s + g.contribution, 0);
    assert.ok(Math.abs(sum - e.delta) < 1e-6, `window ${t}: sum ${sum} vs delta ${e.delta}`);
    for (let k = 0; k < LABELS.length; k++) {
      const byClass = e.groups.reduce((s, g) => s + (g.byClass[k] as number), 0);
      const want = (e.probabilities[k] as number) - (e.baselineProbabilities[k] as number);
      assert.ok(Math.abs(byClass - want) < 1e-6, `class ${k}: ${byClass} vs ${want}`);
    }
    // The ignored humidity feature contributes nothing.
    assert.ok(Math.abs(e.groups.find((g) => g.group === 'humidity')!.contribution) < 1e-7);
    // The top features all come from the top group.
    const top = groups.find((g) => g.name === e.topGroup)!;
    for (const f of e.topFeatures) assert.ok(top.indices.includes(NAMES.indexOf(f.feature)));
  }
});

test('an additive model gets each group its own effect exactly', () => {
  // v(S) = sum of a_g over the groups in S, for three groups and one class.
  const a = [0.5, -0.2, 0.1];
  const v = Float64Array.from({ length: 8 }, (_, s) =>
    a.reduce((sum, x, g) => sum + ((s >> g) & 1 ? x : 0), 0),
  );
  const phi = shapleyFromCoalitions(v, 3, 1);
  a.forEach((x, g) => {
    assert.ok(Math.abs((phi[g] as number) - x) < 1e-12);
  });
  // An interaction (v = 1 only with groups 0 and 1 together) is split equally between them.
  const inter = Float64Array.from({ length: 8 }, (_, s) => ((s & 3) === 3 ? 1 : 0));
  const phi2 = shapleyFromCoalitions(inter, 3, 1);
  assert.deepEqual(
    Array.from(phi2, (x) => Math.round(x * 1e12) / 1e12),
    [0.5, 0.5, 0],
  );
});

test("a window whose width is not the model's is refused with a stable code", async () => {
  const predictor = mlp();
  const r = await explainWindow({
    predictor,
    labels: LABELS,
    featureNames: NAMES.slice(1),
    groups: featureGroups(NAMES.slice(1)),
    features: new Float32Array(6),
    baseline: new Float32Array(6),
  });
  assert.equal(r.ok ? 'ok' : r.code, 'EDGELOOP_ERR_EXPLAIN_INPUT');
});

function dataset(n: number, width: number, seed: number): { x: Float32Array; y: Int32Array } {
  const prng = new Prng(seed, 'data');
  const x = Float32Array.from({ length: n * width }, () => prng.gaussian());
  const y = Int32Array.from({ length: n }, (_, i) => ((x[i * width] as number) > 0 ? 1 : 0));
  return { x, y };
}

test('permutation importance: the feature the model uses drops macro-F1, the others do not', async () => {
  const names = ['accel.x.rms', 'gyro.x.rms', 'temperature.mean'];
  const { x, y } = dataset(400, 3, 1);
  const input = {
    predictor: thresholdModel(3),
    x,
    y,
    labels: ['normal', 'imbalance'],
    featureNames: names,
    groups: featureGroups(names),
    repeats: 4,
    seed: 11,
  };
  const r = await permutationImportance(input);
  assert.ok(r.ok);
  assert.equal(r.value.features.at(0)?.name, 'accel.x.rms');
  assert.ok((r.value.features.at(0)?.mean ?? 0) > 0.3);
  assert.equal(r.value.features.at(0)?.drops.length, 4);
  for (const f of r.value.features.slice(1)) assert.equal(f.mean, 0);
  assert.equal(r.value.groups.at(0)?.name, 'accelerometer');
  // Seeded: the same seed gives the same drops.
  // A fresh model and a copy of the data: nothing is shared with the first run but the seed.
  const again = await permutationImportance({
    ...input,
    predictor: thresholdModel(3),
    x: Float32Array.from(x),
  });
  assert.ok(again.ok);
  assert.deepEqual(again.value.features.at(0)?.drops, r.value.features.at(0)?.drops);
});

test('drift impact: a shift of an ignored feature changes nothing, the same shift of the used one a lot', async () => {
  const { x } = dataset(500, 3, 2);
  const column = (j: number) =>
    Array.from({ length: 500 }, (_, i) => x[i * 3 + j] as number).sort((a, b) => a - b);
  const shift = (j: number) => ({
    index: j,
    feature: `f${j}`,
    reference: column(j),
    live: column(j).map((v) => v + 1.5),
  });
  const ignored = await driftImpact({ predictor: thresholdModel(3), rows: x, shifts: [shift(2)] });
  const used = await driftImpact({ predictor: thresholdModel(3), rows: x, shifts: [shift(0)] });
  assert.ok(ignored.ok && used.ok);
  assert.equal(ignored.value.changedShare, 0);
  assert.equal(ignored.value.priority, 'low');
  assert.ok(used.value.changedShare > 0.3, `used feature impact ${used.value.changedShare}`);
  assert.equal(used.value.priority, 'high');
  assert.ok(used.value.mixShift > 0.3);
  const both = await driftImpact({ predictor: thresholdModel(3), rows: x, shifts: [shift(2), shift(0)] });
  assert.ok(both.ok);
  assert.deepEqual(
    both.value.features.map((f) => f.feature),
    ['f0', 'f2'],
  );
});

test('quantile helpers invert each other inside the sample', () => {
  const s = [1, 2, 2, 3, 10];
  assert.equal(valueAtQuantile(s, 0.5), 2);
  assert.equal(quantileOfValue(s, 2), 0.375);
  assert.equal(quantileOfValue(s, 0), 0);
  assert.equal(quantileOfValue(s, 11), 1);
  for (const q of [0.1, 0.3, 0.8, 0.95]) {
    const v = valueAtQuantile([0, 1, 2, 3, 4], q);
    assert.ok(Math.abs(quantileOfValue([0, 1, 2, 3, 4], v) - q) < 1e-12);
  }
});

test('CBPE: with calibrated probabilities the estimate matches the realised accuracy', () => {
  const prng = new Prng(5, 'cbpe');
  const n = 20_000;
  const probs = new Float64Array(n * 2);
  let right = 0;
  for (let i = 0; i < n; i++) {
    const p = 0.5 + prng.next() * 0.5; // confidence in class 0
    probs[i * 2] = p;
    probs[i * 2 + 1] = 1 - p;
    if (prng.next() < p) right++; // the truth is class 0 with probability p: calibrated
  }
  const e = estimatePerformance(probs, n, 2, 0.01);
  assert.ok(Math.abs(e.accuracy - right / n) < 0.01, `${e.accuracy} vs ${right / n}`);
  assert.equal(e.trusted, true);
  const poor = estimatePerformance(probs, n, 2, 0.2);
  assert.equal(poor.trusted, false);
  assert.match(poor.reason, /not calibrated enough/);
  assert.equal(estimatePerformance(probs, n, 2, null).trusted, false);
});
