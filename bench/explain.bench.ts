// Explanation cost (docs/explanations.md) against plain inference, measured in the same run on the same
// model and the same windows:
// 1. plain inference of one window (predictor.predict(row, 1), batch 1): the baseline of every ratio;
// 2. one window's explanation (explainWindow): 2^G coalition rows in one batch, then the occlusion batch of
//    the top group's features (topFeatures 5), or the coalitions alone (topFeatures 0);
// 3. 1,000 windows explained one after another against the same 1,000 windows inferred one by one
//    (batch 1) and in one batch of 1,000;
// 4. permutation importance as the test report runs it (5 repeats) on the test partition `edgeloop train`
//    holds out at its defaults, against one inference of that whole test partition.
//
// The model is trained here the way `edgeloop train` trains it (lab data at its defaults: 6 devices per
// state x 30 s; a small search), packed into a signed bundle and opened with openExplainModel, the opener
// `edgeloop explain` and the collector use (onnxruntime-node, one intra-op thread). The windows are a second
// lab run with another seed: devices the model never saw, through the agent's own feature pipeline.
//
// Run: npm run bench -- explain   (BENCH_RUNS overrides 7 repeats)

import { cpus, loadavg } from 'node:os';
import { firmwareSimLab } from '../cli/lab-simulator.ts';
import { openExplainModel } from '../collector/explain/model.ts';
import { permutationImportance } from '../collector/explain/permutation.ts';
import { explainWindow, type WindowExplanation } from '../collector/explain/shapley.ts';
import { collectLineageEnv, trainBundleFiles } from '../collector/training/bundle.ts';
import { toMatrix } from '../collector/training/dataset.ts';
import { generateLabData } from '../collector/training/lab-data.ts';
import type { SearchOptions } from '../collector/training/search.ts';
import { trainModel } from '../collector/training/train.ts';
import { createSignedBundle } from '../shared/bundle/build.ts';
import { generateSigningKeyPair } from '../shared/bundle/signing.ts';
import { loadOnnxSession } from '../shared/platform/onnx.ts';
import { fmt, median, section, type Row } from './lib.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const WINDOWS = 1000;
/** The test report's default (collector/explain/test-report.ts). */
const IMPORTANCE_REPEATS = 5;
const PERMUTATION_RUNS = Math.min(RUNS, 5);

const must = <T>(r: { ok: true; value: T } | { ok: false; code: string; message: string }): T => {
  if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
  return r.value;
};
const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;
const load0 = loadavg();

// --- The model: `edgeloop train`'s lab data at its defaults, a small search, a signed bundle. ---
const startedAt = new Date().toISOString();
const lab = must(
  await generateLabData({ simulator: firmwareSimLab, seed: 1, devicesPerState: 6, secondsPerDevice: 30 }),
);
// hidden 32 is the widest model in the default search space, so the costlier of its architectures.
const search: SearchOptions = { kind: 'random', trials: 2, folds: 2, space: { hidden: [32] } };
const result = must(
  await trainModel({
    rows: lab.rows,
    seed: 1,
    search,
    pipelineId: lab.pipeline.id,
    pipelineHash: lab.pipeline.paramsHash,
    featureNames: lab.featureNames,
    // Timed below, on its own: the test report's run would only add to the setup.
    importanceRepeats: 0,
  }),
);
const parts = must(
  trainBundleFiles({
    name: 'bench-explain',
    version: '1.0.0',
    result,
    lab,
    seed: 1,
    search,
    startedAt,
    endedAt: new Date().toISOString(),
    env: collectLineageEnv(),
  }),
);
const bundle = must(createSignedBundle(parts.manifest, parts.files, generateSigningKeyPair().privateKeyPem));
const model = must(
  await openExplainModel(
    bundle.manifest,
    (p) => parts.files.get(p),
    (b) => loadOnnxSession(b),
  ),
);
const { predictor, labels, featureNames } = model;
const layout = must(model.layout(featureNames));
const width = predictor.width;

// --- The windows: another lab run (seed 2), devices the model never saw. ---
const field = must(
  await generateLabData({ simulator: firmwareSimLab, seed: 2, devicesPerState: 4, secondsPerDevice: 55 }),
);
if (field.rows.length < WINDOWS)
  throw new Error(`the second lab run gave ${field.rows.length} windows, need ${WINDOWS}`);
if (field.featureNames.join(',') !== featureNames.join(','))
  throw new Error('the second lab run has other features than the model');
const windows = field.rows.slice(0, WINDOWS).map((r) => Float32Array.from(r.features));
const allWindows = new Float32Array(WINDOWS * width);
windows.forEach((w, i) => {
  allWindows.set(w, i * width);
});

const explainOne = async (features: Float32Array, topFeatures: number): Promise<WindowExplanation> =>
  must(
    await explainWindow({
      predictor,
      labels,
      featureNames,
      groups: layout.groups,
      features,
      baseline: layout.baseline,
      scales: layout.scales,
      topFeatures,
    }),
  );

// --- Checks: what is timed is the real thing (the identity holds, the row counts are as documented). ---
let identityError = 0;
let rowsTop5 = 0;
let rowsTop0 = 0;
const topGroups = new Map<string, number>();
for (const w of windows) {
  const e5 = await explainOne(w, 5);
  const e0 = await explainOne(w, 0);
  const sum = e5.groups.reduce((s, g) => s + g.contribution, 0);
  identityError = Math.max(identityError, Math.abs(sum - e5.delta));
  rowsTop5 += e5.inferences;
  rowsTop0 += e0.inferences;
  topGroups.set(e5.topGroup, (topGroups.get(e5.topGroup) ?? 0) + 1);
}
const coalitions = 2 ** layout.groups.length;
if (rowsTop0 !== coalitions * WINDOWS) throw new Error(`topFeatures 0 ran ${rowsTop0} rows`);

// --- Timings: every variant once per repeat, interleaved, so the machine's noise falls on all alike. ---
interface Pass {
  readonly totalMs: number;
  /** Median of the per-window times of this pass. */
  readonly perWindowMs: number;
  readonly rssDeltaMiB: number;
}
const rssMiB = (): number => process.memoryUsage.rss() / 2 ** 20;
async function pass(one: (w: Float32Array) => Promise<unknown>): Promise<Pass> {
  const per = new Float64Array(WINDOWS);
  const rss0 = rssMiB();
  const t0 = nowMs();
  for (let i = 0; i < WINDOWS; i++) {
    const s = nowMs();
    await one(windows[i] as Float32Array);
    per[i] = nowMs() - s;
  }
  const totalMs = nowMs() - t0;
  return { totalMs, perWindowMs: median(Array.from(per)), rssDeltaMiB: rssMiB() - rss0 };
}
const plainOne = async (w: Float32Array): Promise<unknown> => must(await predictor.predict(w, 1));
const explain5 = (w: Float32Array): Promise<unknown> => explainOne(w, 5);
const explain0 = (w: Float32Array): Promise<unknown> => explainOne(w, 0);
const batched = async (): Promise<number> => {
  const t0 = nowMs();
  must(await predictor.predict(allWindows, WINDOWS));
  return nowMs() - t0;
};

// Warm-up: one pass of each (the checks above already ran the explanations once).
await pass(plainOne);
await batched();
const plain: Pass[] = [];
const top5: Pass[] = [];
const top0: Pass[] = [];
const batch: number[] = [];
for (let r = 0; r < RUNS; r++) {
  plain.push(await pass(plainOne));
  // A batch of 1,000 takes about a millisecond: five per repeat, so its median is not one noisy sample.
  for (let k = 0; k < 5; k++) batch.push(await batched());
  top5.push(await pass(explain5));
  top0.push(await pass(explain0));
}
const med = (xs: readonly Pass[], k: keyof Pass): number => median(xs.map((p) => p[k]));

// Heap the explanations themselves hold: 1,000 of them kept (what an API answer over 1,000 windows holds).
global.gc?.();
const heap0 = process.memoryUsage().heapUsed;
const kept: WindowExplanation[] = [];
for (const w of windows) kept.push(await explainOne(w, 5));
global.gc?.();
const keptMiB = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
const keptCount = kept.length;
kept.length = 0;

// --- Permutation importance on the test partition, against one inference of the whole partition. ---
const test = toMatrix(result.data.test.rows, result.classes);
const testX = Float32Array.from(test.x);
const testOnce: number[] = [];
for (let i = 0; i < 10; i++) must(await predictor.predict(testX, test.n));
for (let i = 0; i < 50; i++) {
  const t0 = nowMs();
  must(await predictor.predict(testX, test.n));
  testOnce.push(nowMs() - t0);
}
const permutationMs: number[] = [];
let permutationBaselineF1 = 0;
for (let r = 0; r < PERMUTATION_RUNS; r++) {
  const t0 = nowMs();
  const pi = must(
    await permutationImportance({
      predictor,
      x: testX,
      y: test.y,
      labels,
      featureNames,
      groups: layout.groups,
      repeats: IMPORTANCE_REPEATS,
      seed: 1,
    }),
  );
  permutationMs.push(nowMs() - t0);
  permutationBaselineF1 = pi.baseline;
}
await model.close();
const load1 = loadavg();

// --- The section. ---
const plain1 = med(plain, 'perWindowMs');
const plainK = med(plain, 'totalMs');
const passes = layout.groups.length + width;
const rows: Row[] = [
  { metric: 'plain inference, one window (batch 1): the baseline', median: plain1, unit: 'ms' },
  {
    metric: `explanation of one window, topFeatures 5 (${coalitions} coalition rows + the top group's occlusion batch)`,
    median: med(top5, 'perWindowMs'),
    baseline: plain1,
    unit: 'ms',
  },
  {
    metric: `explanation of one window, topFeatures 0 (${coalitions} coalition rows only)`,
    median: med(top0, 'perWindowMs'),
    baseline: plain1,
    unit: 'ms',
  },
  {
    metric: `${fmt(WINDOWS)} windows explained one after another, topFeatures 5 (vs inferred one by one)`,
    median: med(top5, 'totalMs'),
    baseline: plainK,
    unit: 'ms',
  },
  {
    metric: `${fmt(WINDOWS)} windows explained one after another, topFeatures 0 (vs inferred one by one)`,
    median: med(top0, 'totalMs'),
    baseline: plainK,
    unit: 'ms',
  },
  {
    metric: `${fmt(WINDOWS)} windows inferred in one batch of ${fmt(WINDOWS)} (vs one by one)`,
    median: median(batch),
    baseline: plainK,
    unit: 'ms',
  },
  {
    metric: `${fmt(WINDOWS)} windows explained, topFeatures 5, vs inferred in one batch`,
    median: med(top5, 'totalMs'),
    baseline: median(batch),
    unit: 'ms',
  },
  {
    metric: `RSS growth over ${fmt(WINDOWS)} explanations, topFeatures 5 (vs over ${fmt(WINDOWS)} plain inferences)`,
    median: med(top5, 'rssDeltaMiB'),
    baseline: med(plain, 'rssDeltaMiB'),
    unit: 'MiB',
    ratio: '',
  },
  {
    metric: `heap held by ${fmt(keptCount)} explanations kept (topFeatures 5)`,
    median: global.gc === undefined ? 'n/a (no --expose-gc)' : keptMiB,
    unit: global.gc === undefined ? '' : 'MiB',
  },
  {
    metric: `permutation importance, ${IMPORTANCE_REPEATS} repeats, test partition ${test.n} rows x ${width} features (vs one inference of the partition)`,
    median: median(permutationMs) / 1000,
    baseline: median(testOnce) / 1000,
    unit: 's',
  },
];
const runs = (xs: readonly number[]): string => xs.map((x) => fmt(x)).join(', ');
const groupSizes = layout.groups.map((g) => `${g.name} ${g.indices.length}`).join(', ');
const topShare = [...topGroups.entries()]
  .sort(([, a], [, b]) => b - a)
  .map(([g, n]) => `${g} ${n}`)
  .join(', ');
const hp = result.hyperparameters;
process.stdout.write(
  section('Explanations vs plain inference', 'npm run bench -- explain', rows, [
    `Model: trained in the bench as \`edgeloop train\` does it (lab data at its defaults, ${lab.rows.length} windows: ${lab.summary.devicesPerState} devices per state x ${lab.summary.secondsPerDevice} s, seed 1; random search ${search.trials} trials, ${search.folds} folds, hidden ${hp.hidden}, ${hp.epochs} epochs), test macro-F1 ${result.report.json.metrics.macroF1.toFixed(3)}, signed into a bundle and opened with openExplainModel (onnxruntime-node, one intra-op thread, ${labels.length} classes, ${width} features in ${layout.groups.length} sensor groups: ${groupSizes}).`,
    `Windows: the first ${WINDOWS} of a second lab run (seed 2, ${field.summary.devicesPerState} devices per state x ${field.summary.secondsPerDevice} s), devices the model never saw. Each window is one predictor.predict call for plain inference, one explainWindow call for an explanation (reference medians as the baseline row); ${fmt(RUNS)} repeats, each variant once per repeat, interleaved, after a warm-up pass (the batch of ${fmt(WINDOWS)} five times per repeat); one-window rows are the median over repeats of each pass's median per-window time, ${fmt(WINDOWS)}-window rows the median of the passes' wall times.`,
    `Model rows per explanation: ${coalitions} coalitions, plus the top group's occlusion batch with topFeatures 5: ${fmt(rowsTop5 / WINDOWS)} rows on average (top group: ${topShare}). Shapley identity over the ${WINDOWS} windows: |sum of contributions - delta| at most ${identityError.toExponential(1)}.`,
    `Permutation importance: permutationImportance as the test report calls it (${IMPORTANCE_REPEATS} repeats, seed 1) over ${layout.groups.length} groups + ${width} features = ${passes * IMPORTANCE_REPEATS} shuffled passes of the test partition plus 1, baseline macro-F1 ${permutationBaselineF1.toFixed(3)}; median of ${PERMUTATION_RUNS} runs. Baseline: one predictor.predict of the whole partition (median of 50).`,
    `Memory: RSS growth is VmRSS after a timed pass minus before it (median over repeats); the heap row is heapUsed after a forced GC with ${fmt(keptCount)} explanations kept, minus before.`,
    `Runs (ms): plain one by one ${runs(plain.map((p) => p.totalMs))}; batch of ${fmt(WINDOWS)} ${fmt(Math.min(...batch))} to ${fmt(Math.max(...batch))}; explained topFeatures 5 ${runs(top5.map((p) => p.totalMs))}; topFeatures 0 ${runs(top0.map((p) => p.totalMs))}; permutation importance ${runs(permutationMs)}.`,
    `Machine load average (1 min) at the start and end of the run: ${load0[0]?.toFixed(2) ?? '?'}, ${load1[0]?.toFixed(2) ?? '?'} on ${cpus().length} cores (a shared, noisy machine): read the ratios more than the absolute times.`,
  ]),
);
