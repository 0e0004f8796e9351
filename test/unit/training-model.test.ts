import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classOrder, splitDataset, toMatrix } from '../../collector/training/dataset.ts';
import { calibration, classificationMetrics } from '../../collector/training/metrics.ts';
import {
  applyScaler,
  argmaxRows,
  fitScaler,
  type Hyperparameters,
  predictScaled,
  trainMlp,
} from '../../collector/training/model.ts';
import { runSearch, searchCandidates, type SearchProgress } from '../../collector/training/search.ts';
import { syntheticRows } from '../../collector/training/synthetic.ts';

const rows = syntheticRows({ seed: 5, devices: 4, minutes: 8, rowsPerGroup: 4 });
const classes = classOrder(rows);
const m = toMatrix(rows, classes);
const scaler = fitScaler(m.x, m.n, m.f);
const xs = applyScaler(scaler, m.x, m.n, m.f);
const hp: Hyperparameters = { hidden: 8, learningRate: 0.02, l2: 1e-4, epochs: 15, batchSize: 16 };

test('the scaler centres and scales every feature; a constant feature passes through centred', () => {
  for (let j = 0; j < m.f; j++) {
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < m.n; i++) {
      s += xs[i * m.f + j]!;
      s2 += xs[i * m.f + j]! ** 2;
    }
    assert.ok(Math.abs(s / m.n) < 1e-9);
    assert.ok(Math.abs(s2 / m.n - 1) < 1e-9);
  }
  const c = fitScaler(Float64Array.from([3, 3, 3]), 3, 1);
  assert.equal(c.std[0], 1);
  assert.deepEqual(Array.from(applyScaler(c, Float64Array.from([3, 4]), 2, 1)), [0, 1]);
});

test('training is deterministic: the same seed gives the same weights bit-for-bit, another seed differs', () => {
  const a = trainMlp(xs, m.y, m.n, m.f, classes.length, hp, 123);
  const b = trainMlp(xs, m.y, m.n, m.f, classes.length, hp, 123);
  const c = trainMlp(xs, m.y, m.n, m.f, classes.length, hp, 124);
  for (const key of ['w1', 'b1', 'w2', 'b2'] as const) {
    assert.deepEqual(Buffer.from(a[key].buffer), Buffer.from(b[key].buffer), `${key} differs`);
  }
  assert.notDeepEqual(Buffer.from(a.w2.buffer), Buffer.from(c.w2.buffer));
});

test('the MLP and softmax regression both learn separable data, and probabilities sum to 1', () => {
  for (const hidden of [0, 8]) {
    const w = trainMlp(xs, m.y, m.n, m.f, classes.length, { ...hp, hidden }, 1);
    const p = predictScaled(w, xs, m.n);
    for (let i = 0; i < m.n; i++) {
      let s = 0;
      for (let k = 0; k < classes.length; k++) s += p[i * classes.length + k]!;
      assert.ok(Math.abs(s - 1) < 1e-12);
    }
    const metrics = classificationMetrics(m.y, argmaxRows(p, m.n, classes.length), classes);
    assert.ok(metrics.accuracy > 0.95, `hidden=${hidden} accuracy ${metrics.accuracy}`);
  }
});

test('metrics: confusion matrix, per-class precision/recall/F1 and macro-F1 on a worked example', () => {
  const actual = Int32Array.from([0, 0, 0, 1, 1, 2]);
  const predicted = Int32Array.from([0, 0, 1, 1, 2, 2]);
  const r = classificationMetrics(actual, predicted, ['a', 'b', 'c']);
  assert.deepEqual(r.confusion, [
    [2, 1, 0],
    [0, 1, 1],
    [0, 0, 1],
  ]);
  assert.equal(r.accuracy, 4 / 6);
  assert.deepEqual(
    r.perClass.map((c) => [c.precision, c.recall, c.support]),
    [
      [1, 2 / 3, 3],
      [0.5, 0.5, 2],
      [0.5, 1, 1],
    ],
  );
  const f1 = [0.8, 0.5, 2 / 3];
  assert.ok(Math.abs(r.macroF1 - (f1[0]! + f1[1]! + f1[2]!) / 3) < 1e-12);
  // A class absent from both truth and predictions does not drag macro-F1 down.
  const r2 = classificationMetrics(actual, predicted, ['a', 'b', 'c', 'd']);
  assert.ok(Math.abs(r2.macroF1 - r.macroF1) < 1e-12);
});

test('calibration bins the top-class confidence and computes ECE', () => {
  // Two rows at 0.9 confidence (one right), one at 0.6 (right).
  const probs = Float64Array.from([0.9, 0.1, 0.9, 0.1, 0.4, 0.6]);
  const actual = Int32Array.from([0, 1, 1]);
  const c = calibration(probs, actual, 2, 10);
  assert.equal(c.bins.length, 10);
  assert.deepEqual([c.bins[9]!.count, c.bins[9]!.accuracy], [2, 0.5]);
  assert.ok(Math.abs(c.bins[9]!.confidence - 0.9) < 1e-12);
  assert.deepEqual([c.bins[6]!.count, c.bins[6]!.accuracy], [1, 1]);
  const ece = (2 / 3) * Math.abs(0.5 - 0.9) + (1 / 3) * Math.abs(1 - 0.6);
  assert.ok(Math.abs(c.ece - ece) < 1e-12);
});

test('grid search covers the grid, or a seeded sample of it; random search is seeded and in range', () => {
  const space = { hidden: [0, 4], learningRate: [0.01, 0.1], l2: [0, 1e-3], epochs: [5], batchSize: [8] };
  assert.equal(searchCandidates({ kind: 'grid', trials: 100, folds: 2, space }, 1).length, 8);
  const g1 = searchCandidates({ kind: 'grid', trials: 3, folds: 2, space }, 1);
  assert.equal(g1.length, 3);
  assert.deepEqual(g1, searchCandidates({ kind: 'grid', trials: 3, folds: 2, space }, 1));
  const r1 = searchCandidates({ kind: 'random', trials: 20, folds: 2, space }, 9);
  assert.deepEqual(r1, searchCandidates({ kind: 'random', trials: 20, folds: 2, space }, 9));
  assert.notDeepEqual(r1, searchCandidates({ kind: 'random', trials: 20, folds: 2, space }, 10));
  for (const c of r1) {
    assert.ok(c.learningRate >= 0.01 && c.learningRate <= 0.1);
    assert.ok(c.l2 === 0 || (c.l2 >= 1e-3 && c.l2 <= 1e-3));
    assert.ok([0, 4].includes(c.hidden));
  }
  assert.throws(() => searchCandidates({ kind: 'grid', trials: 0, folds: 2 }, 1), /trials/);
});

test('the search records every trial with fold scores, reports progress, and repeats exactly', async () => {
  const split = splitDataset(rows, 2, 0.25);
  assert.ok(split.ok);
  const t = toMatrix(split.value.train.rows, classes);
  const data = { rows: split.value.train.rows, x: t.x, y: t.y, f: t.f, classes };
  const options = { kind: 'random' as const, trials: 3, folds: 3, space: { epochs: [5], hidden: [0, 4] } };
  const progress: SearchProgress[] = [];
  const a = await runSearch(data, options, 4, (p) => progress.push(p));
  const b = await runSearch(data, options, 4);
  assert.ok(a.ok && b.ok);
  assert.equal(a.value.trials.length, 3);
  assert.deepEqual(
    progress.map((p) => [p.trial, p.of]),
    [
      [1, 3],
      [2, 3],
      [3, 3],
    ],
  );
  for (const trial of a.value.trials) {
    assert.equal(trial.foldScores.length, 3);
    assert.ok(trial.meanMacroF1 <= a.value.best.meanMacroF1);
  }
  assert.equal(progress.at(-1)!.best, a.value.best.meanMacroF1);
  assert.deepEqual(
    a.value.trials.map((x) => x.foldScores),
    b.value.trials.map((x) => x.foldScores),
  );
});
