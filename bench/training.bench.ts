// Training and search time per trial, and exported-model inference latency in onnxruntime-node (batch 1
// and batch 64), against the in-process TypeScript model on the same rows in the same run (issue #3 §7).
// Run: node --import tsx bench/training.bench.ts
import { loadOnnxSession } from '../shared/platform/onnx.ts';
import { predictProba } from '../collector/training/model.ts';
import { toMatrix } from '../collector/training/dataset.ts';
import { syntheticRows } from '../collector/training/synthetic.ts';
import { trainModel } from '../collector/training/train.ts';
import { quantile } from 'simple-statistics';
import { median, section, timeRuns } from './lib.ts';

// 192 features: the width of edgeloop-features/v1 on the reference board.
const F = 192;
const rows = syntheticRows({ seed: 1, devices: 4, minutes: 20, rowsPerGroup: 25, features: F });
const trials = 4;
const folds = 3;
const result = await trainModel({
  rows,
  seed: 7,
  search: { kind: 'random', trials, folds, space: { hidden: [16, 32], epochs: [20], batchSize: [32] } },
  latencySamples: 50,
});
if (!result.ok) throw new Error(result.message);
const r = result.value;
const perTrial = r.trials.map((t) => t.durationMs);

const loaded = await loadOnnxSession(r.onnxBytes);
if (!loaded.ok) throw new Error(loaded.message);
const session = loaded.value;
const test = toMatrix(r.data.test.rows, r.classes);
const feed = (start: number, n: number) => ({
  features: {
    dtype: 'float32' as const,
    data: Float32Array.from(test.x.subarray(start * F, (start + n) * F)),
    dims: [n, F],
  },
});
const one = feed(0, 1);
const batch = feed(0, Math.min(64, test.n));
const b64 = Math.min(64, test.n);
const onnx1 = await timeRuns(() => session.run(one), 500, 50);
const onnx64 = await timeRuns(() => session.run(batch), 200, 20);
const x1 = test.x.subarray(0, F);
const x64 = test.x.subarray(0, b64 * F);
const ts1 = await timeRuns(() => predictProba(r.model, x1, 1), 500, 50);
const ts64 = await timeRuns(() => predictProba(r.model, x64, b64), 200, 20);
await session.close();

process.stdout.write(
  section(
    'Training and ONNX inference',
    'npm run bench -- training',
    [
      {
        metric: `search trial (${folds} folds, ~${Math.round((r.partitions.train.count * (folds - 1)) / folds)} rows x ${F} features, 20 epochs)`,
        median: median(perTrial),
        unit: 'ms',
      },
      {
        metric: `final fit + export (${r.partitions.train.count} rows, hidden ${r.hyperparameters.hidden})`,
        median: r.timings.fitMs,
        unit: 'ms',
      },
      {
        metric: 'inference batch 1, p50 (onnxruntime-node vs TypeScript)',
        median: median(onnx1),
        baseline: median(ts1),
        unit: 'ms',
      },
      {
        metric: 'inference batch 1, p99 (onnxruntime-node vs TypeScript)',
        median: quantile(onnx1, 0.99),
        baseline: quantile(ts1, 0.99),
        unit: 'ms',
      },
      {
        metric: `inference batch ${b64}, p50 (onnxruntime-node vs TypeScript)`,
        median: median(onnx64),
        baseline: median(ts64),
        unit: 'ms',
      },
      {
        metric: `throughput batch ${b64} (onnxruntime-node vs TypeScript)`,
        median: (b64 * 1000) / median(onnx64),
        baseline: (b64 * 1000) / median(ts64),
        unit: 'rows/s',
      },
    ],
    [
      `Synthetic separable rows (${rows.length}: 4 devices x 20 minutes x 25 windows), random search with ${trials} trials.`,
      `Test macro-F1 ${r.report.json.metrics.macroF1.toFixed(3)}; ONNX parity max |Δp| ${r.report.json.onnxParity?.maxAbsDiff.toExponential(2) ?? 'n/a'}.`,
      'onnxruntime runs with one intra-op thread (the adapter default). Batch-1 times include the N-API call and tensor wrapping.',
    ],
  ),
);
