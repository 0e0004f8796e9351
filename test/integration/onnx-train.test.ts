// Issue #3 §2-4: trainModel end to end, and reproducibility (same seed and data -> same ONNX bytes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { loadOnnxSession } from '../../shared/platform/onnx.ts';
import { Prng, shuffled } from '../../shared/random.ts';
import { syntheticRows } from '../../collector/training/synthetic.ts';
import { trainModel, type TrainModelOptions } from '../../collector/training/train.ts';

const rows = syntheticRows({ seed: 8, devices: 4, minutes: 10, rowsPerGroup: 4 });
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const base: TrainModelOptions = {
  rows,
  seed: 2024,
  search: { kind: 'random', trials: 3, folds: 3, space: { epochs: [12], hidden: [0, 8] } },
  testFraction: 0.25,
  pipelineId: 'synthetic-v1',
  latencySamples: 20,
};

test('same seed and data give identical ONNX bytes, digests, trials and metrics, whatever the row order', async () => {
  const a = await trainModel(base);
  const b = await trainModel({ ...base, rows: shuffled(rows, new Prng(5)) });
  assert.ok(a.ok && b.ok);
  assert.equal(sha(a.value.onnxBytes), sha(b.value.onnxBytes));
  assert.deepEqual(a.value.partitions, b.value.partitions);
  assert.deepEqual(
    a.value.trials.map((t) => [t.hyperparameters, t.foldScores]),
    b.value.trials.map((t) => [t.hyperparameters, t.foldScores]),
  );
  assert.deepEqual(a.value.report.json.metrics, b.value.report.json.metrics);
  assert.deepEqual(a.value.golden, b.value.golden);

  const c = await trainModel({ ...base, seed: 2025 });
  assert.ok(c.ok);
  assert.notEqual(sha(c.value.onnxBytes), sha(a.value.onnxBytes));
});

test('trainModel returns a tested model, every trial, lineage and a readable report', async () => {
  const progress: { trial: number; of: number; best: number }[] = [];
  const r = await trainModel({
    ...base,
    search: { ...base.search, kind: 'grid', trials: 4 },
    onProgress: (p) => progress.push(p),
  });
  assert.ok(r.ok, r.ok ? '' : r.message);
  const v = r.value;
  assert.equal(v.trials.length, 4);
  assert.equal(progress.length, 4);
  assert.equal(progress.at(-1)!.of, 4);
  assert.equal(v.hyperparameters, v.trials[v.bestTrial]!.hyperparameters);
  assert.equal(v.partitions.train.count + v.partitions.test.count, rows.length);
  assert.equal(v.partitions.test.digest, v.report.json.testDigest);
  assert.deepEqual(v.classes, ['normal', 'imbalance', 'misalignment', 'bearing_wear', 'overheating']);

  const rep = v.report.json;
  assert.ok(rep.metrics.macroF1 > 0.9, `macro-F1 ${rep.metrics.macroF1}`);
  assert.equal(
    rep.metrics.perClass.reduce((s, c) => s + c.support, 0),
    rep.rows,
  );
  assert.equal(
    rep.calibration.bins.reduce((s, b) => s + b.count, 0),
    rep.rows,
  );
  assert.equal(rep.latency.engine, 'onnxruntime-node');
  assert.equal(rep.latency.samples, 20);
  assert.ok(rep.latency.p50Ms > 0 && rep.latency.p99Ms >= rep.latency.p50Ms);
  assert.ok(
    rep.onnxParity !== undefined && rep.onnxParity.maxAbsDiff <= 1e-5 && rep.onnxParity.labelMismatches === 0,
  );
  assert.match(v.report.markdown, /## Confusion matrix\n\n.*\n\n\| true \\ predicted \| normal \| imbalance/);
  assert.match(v.report.markdown, /## Calibration \(reliability\)[\s\S]*\| Confidence bin \| Rows \|/);
  assert.equal(v.onnx.irVersion, 8);
  assert.equal(v.onnx.opsetVersion, 17);

  // Golden I/O replays exactly through a fresh session (what the registry checks on push).
  const loaded = await loadOnnxSession(v.onnxBytes);
  assert.ok(loaded.ok);
  const n = v.golden.inputs.length;
  const f = v.golden.inputs[0]!.length;
  const out = await loaded.value.run({
    features: { dtype: 'float32', data: Float32Array.from(v.golden.inputs.flat()), dims: [n, f] },
  });
  await loaded.value.close();
  assert.ok(out.ok);
  assert.deepEqual(Array.from(out.value.probabilities!.data as Float32Array), v.golden.probabilities.flat());
  assert.deepEqual(Array.from(out.value.label!.data as BigInt64Array, Number), v.golden.labels);
});

test('without onnxruntime the latency comes from the TypeScript model; bad data is a failure value', async () => {
  const r = await trainModel({ ...base, useOnnxRuntime: false, search: { ...base.search, trials: 1 } });
  assert.ok(r.ok);
  assert.equal(r.value.report.json.latency.engine, 'typescript');
  assert.equal(r.value.report.json.onnxParity, undefined);
  const bad = await trainModel({ ...base, rows: [] });
  assert.ok(!bad.ok);
  assert.equal(bad.code, 'EDGELOOP_ERR_TRAINING_DATA');
});
