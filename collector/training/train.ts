// trainModel: dataset -> split -> search -> final fit -> ONNX -> test report (issue #3 §2-4).
// cli/train.ts feeds it feature rows and packs the result into a signed bundle; see docs/training.md.
import { quantile } from 'simple-statistics';
import { loadOnnxSession, type OnnxSession } from '../../shared/platform/onnx.ts';
import { fail, ok, type Result } from '../../shared/errors.ts';
import {
  classOrder,
  type DatasetRow,
  type Partition,
  splitDataset,
  withExtraRows,
  toMatrix,
  validateRows,
} from './dataset.ts';
import { calibration, classificationMetrics } from './metrics.ts';
import {
  applyScaler,
  argmaxRows,
  fitScaler,
  type Hyperparameters,
  predictProba,
  type Scaler,
  type TrainedModel,
  trainMlp,
} from './model.ts';
import {
  exportOnnx,
  INPUT_NAME,
  LABEL_NAME,
  type OnnxExportMetadata,
  PROBABILITIES_NAME,
} from './onnx-export.ts';
import { deriveSeed } from '../../shared/random.ts';
import { sessionPredictor, type BatchPredictor } from '../explain/predictor.ts';
import { explainTestSet, type TestExplanations } from '../explain/test-report.ts';
import { type LatencyReport, type ParityReport, renderMarkdown, type TestReport } from './report.ts';
import { runSearch, type SearchOptions, type SearchProgress, type Trial } from './search.ts';
import { systemClock, type WallClock } from '../../shared/platform/clock.ts';

export interface TrainModelOptions {
  readonly rows: readonly DatasetRow[];
  /** Seeds the split, the folds, the search and every model init. */
  readonly seed: number;
  readonly search: SearchOptions;
  /** Share of groups held out for the test partition, in (0, 1). Default 0.2. */
  readonly testFraction?: number;
  /**
   * Rows always placed in the test partition, never trained on (retraining's held-out recent captured
   * data, docs/retraining.md). Their labels must be among the classes of `rows`. Default none.
   */
  readonly heldOut?: readonly DatasetRow[];
  /** Feature pipeline id and parameter hash, written into the ONNX metadata. Default 'unknown'. */
  readonly pipelineId?: string;
  readonly pipelineHash?: string;
  /** ONNX producer_version. Default '0.0.0'. */
  readonly producerVersion?: string;
  /** Time and check parity in onnxruntime-node. Default true; false uses the TypeScript model for latency. */
  readonly useOnnxRuntime?: boolean;
  /** Single-row inferences timed for the latency figures. Default 200 (capped at the test size x 4). */
  readonly latencySamples?: number;
  /** Test rows kept as golden inputs/outputs. Default 8. */
  readonly goldenRows?: number;
  readonly onProgress?: (p: SearchProgress) => void;
  /** Input feature names, for the report's permutation importance (default `f0`, `f1`, ...). */
  readonly featureNames?: readonly string[];
  /** Permutation-importance repeats on the test partition (docs/explanations.md). Default 5; 0 skips it. */
  readonly importanceRepeats?: number;
  /** Accuracy gap from which a device or state group is flagged in the report. Default 0.1. */
  readonly groupMargin?: number;
  /** Called while permutation importance runs (features and groups done of total). */
  readonly onExplainProgress?: (done: number, total: number) => void;
  /** Wall clock for startedAt/endedAt. Default the system clock. */
  readonly clock?: WallClock;
}

export interface PartitionSummary {
  readonly digest: string;
  readonly count: number;
  readonly groups: number;
  readonly classCounts: Readonly<Record<string, number>>;
}

export interface Golden {
  /** Raw feature rows as float32 values (what the ONNX input received). */
  readonly inputs: readonly (readonly number[])[];
  /** onnxruntime-node outputs for those rows (the TypeScript model's when onnxruntime was not used). */
  readonly probabilities: readonly (readonly number[])[];
  readonly labels: readonly number[];
}

export interface TrainModelResult {
  readonly model: TrainedModel;
  readonly scaler: Scaler;
  readonly classes: readonly string[];
  readonly onnxBytes: Uint8Array;
  readonly onnx: OnnxExportMetadata;
  readonly report: { readonly json: TestReport; readonly markdown: string };
  readonly trials: readonly Trial[];
  readonly bestTrial: number;
  readonly hyperparameters: Hyperparameters;
  readonly partitions: {
    readonly seed: number;
    readonly testFraction: number;
    readonly train: PartitionSummary;
    readonly test: PartitionSummary;
  };
  /** The partitions themselves (canonical row order), e.g. for the drift reference profile. */
  readonly data: { readonly train: Partition; readonly test: Partition };
  readonly golden: Golden;
  readonly timings: {
    readonly startedAt: string;
    readonly endedAt: string;
    readonly searchMs: number;
    readonly fitMs: number;
    readonly testMs: number;
    readonly totalMs: number;
  };
}

const summary = (p: Partition): PartitionSummary => ({
  digest: p.digest,
  count: p.count,
  groups: p.groups,
  classCounts: p.classCounts,
});

export async function runOnnx(model: OnnxSession, x: Float64Array, n: number, f: number) {
  const r = await model.run({ [INPUT_NAME]: { dtype: 'float32', data: Float32Array.from(x), dims: [n, f] } });
  if (!r.ok) return r;
  const probs = r.value[PROBABILITIES_NAME]?.data;
  const labels = r.value[LABEL_NAME]?.data;
  if (!(probs instanceof Float32Array) || !(labels instanceof BigInt64Array)) {
    return fail(
      'EDGELOOP_ERR_ONNX_RUN',
      'the exported model did not return float32 probabilities and int64 labels',
    );
  }
  return ok({ probs, labels });
}

function latencyFrom(engine: LatencyReport['engine'], ms: readonly number[]): LatencyReport {
  return {
    engine,
    batchSize: 1,
    samples: ms.length,
    // NaN (null in JSON) when latencySamples is 0.
    p50Ms: ms.length === 0 ? Number.NaN : quantile(ms, 0.5),
    p99Ms: ms.length === 0 ? Number.NaN : quantile(ms, 0.99),
    meanMs: ms.reduce((s, v) => s + v, 0) / Math.max(1, ms.length),
  };
}

/** Trains, tests and exports a classifier. Expected failures (bad data, empty partitions, ONNX) are values. */
export async function trainModel(options: TrainModelOptions): Promise<Result<TrainModelResult>> {
  const clock = options.clock ?? systemClock;
  const startedAt = new Date(clock.nowMs()).toISOString();
  const t0 = performance.now();
  const valid = validateRows(options.rows);
  if (!valid.ok) return valid;
  const f = valid.value.featureCount;
  const classes = classOrder(options.rows);
  const split = splitDataset(options.rows, options.seed, options.testFraction ?? 0.2);
  if (!split.ok) return split;
  const heldOut = options.heldOut ?? [];
  if (heldOut.length > 0) {
    const all = validateRows([...options.rows, ...heldOut]);
    if (!all.ok) return all;
    const unknown = heldOut.find((r) => !classes.includes(r.label));
    if (unknown !== undefined)
      return fail('EDGELOOP_ERR_TRAINING_DATA', `held-out row label ${unknown.label} is not a trained class`);
  }
  const { train } = split.value;
  const test = withExtraRows(split.value.test, heldOut);

  const tm = toMatrix(train.rows, classes);
  const search = await runSearch(
    { rows: train.rows, x: tm.x, y: tm.y, f, classes },
    options.search,
    options.seed,
    options.onProgress,
  );
  if (!search.ok) return search;
  const t1 = performance.now();

  const hp = search.value.best.hyperparameters;
  const scaler = fitScaler(tm.x, tm.n, f);
  const weights = trainMlp(
    applyScaler(scaler, tm.x, tm.n, f),
    tm.y,
    tm.n,
    f,
    classes.length,
    hp,
    deriveSeed(options.seed, 'final'),
  );
  const model: TrainedModel = { classes, scaler, weights, hyperparameters: hp };
  const exported = exportOnnx(model, {
    pipelineId: options.pipelineId ?? 'unknown',
    ...(options.pipelineHash === undefined ? {} : { pipelineHash: options.pipelineHash }),
    ...(options.producerVersion === undefined ? {} : { producerVersion: options.producerVersion }),
  });
  const t2 = performance.now();

  // Metrics come from the TypeScript model (float64, pure); parity below shows ONNX agrees within 1e-5.
  const te = toMatrix(test.rows, classes);
  const c = classes.length;
  const probs = predictProba(model, te.x, te.n);
  const predicted = argmaxRows(probs, te.n, c);
  const metrics = classificationMetrics(te.y, predicted, classes);
  const goldenCount = Math.min(options.goldenRows ?? 8, te.n);
  let goldenProbs: ArrayLike<number> = probs;
  let goldenLabels: ArrayLike<number | bigint> = predicted;
  let latency: LatencyReport;
  let onnxParity: ParityReport | undefined;
  const samples = Math.min(options.latencySamples ?? 200, te.n * 4);
  let explanations: TestExplanations | undefined;
  const repeats = options.importanceRepeats ?? 5;
  const featureNames = options.featureNames ?? Array.from({ length: f }, (_, j) => `f${j}`);
  // Through the model as a black box, the same code a bring-your-own model gets (docs/explanations.md).
  const explainTest = async (predictor: BatchPredictor): Promise<Result<TestExplanations | undefined>> =>
    repeats === 0
      ? ok(undefined)
      : explainTestSet({
          predictor,
          x: Float32Array.from(te.x),
          y: te.y,
          rows: test.rows,
          labels: classes,
          featureNames,
          seed: deriveSeed(options.seed, 'importance'),
          repeats,
          ...(options.groupMargin === undefined ? {} : { groupMargin: options.groupMargin }),
          ...(options.onExplainProgress === undefined ? {} : { onProgress: options.onExplainProgress }),
        });

  if (options.useOnnxRuntime ?? true) {
    const loaded = await loadOnnxSession(exported.bytes);
    if (!loaded.ok) return loaded;
    const session = loaded.value;
    try {
      const all = await runOnnx(session, te.x, te.n, f);
      if (!all.ok) return all;
      let maxAbsDiff = 0;
      for (let i = 0; i < probs.length; i++)
        maxAbsDiff = Math.max(maxAbsDiff, Math.abs((all.value.probs[i] as number) - (probs[i] as number)));
      let labelMismatches = 0;
      for (let i = 0; i < te.n; i++) if (Number(all.value.labels[i]) !== predicted[i]) labelMismatches++;
      onnxParity = { maxAbsDiff, labelMismatches };
      goldenProbs = all.value.probs;
      goldenLabels = all.value.labels;
      const ms: number[] = [];
      for (let s = -10; s < samples; s++) {
        const row = s < 0 ? 0 : s % te.n;
        const start = performance.now();
        const r = await runOnnx(session, te.x.subarray(row * f, (row + 1) * f), 1, f);
        const elapsed = performance.now() - start;
        if (!r.ok) return r;
        if (s >= 0) ms.push(elapsed);
      }
      latency = latencyFrom('onnxruntime-node', ms);
      const explained = await explainTest(
        sessionPredictor(session, { input: INPUT_NAME, output: PROBABILITIES_NAME, width: f, classes: c }),
      );
      if (!explained.ok) return explained;
      explanations = explained.value;
    } finally {
      await session.close();
    }
  } else {
    const ms: number[] = [];
    for (let s = -10; s < samples; s++) {
      const row = s < 0 ? 0 : s % te.n;
      const start = performance.now();
      predictProba(model, te.x.subarray(row * f, (row + 1) * f), 1);
      if (s >= 0) ms.push(performance.now() - start);
    }
    latency = latencyFrom('typescript', ms);
    const explained = await explainTest({
      width: f,
      classes: c,
      predict: (rows, n) => {
        const p = predictProba(model, Float64Array.from(rows), n);
        return Promise.resolve(ok(Float32Array.from(p)));
      },
    });
    if (!explained.ok) return explained;
    explanations = explained.value;
  }

  const json: TestReport = {
    schema: 'edgeloop-test-report-v1',
    classes,
    rows: te.n,
    testDigest: test.digest,
    hyperparameters: hp,
    metrics,
    calibration: calibration(probs, te.y, c),
    latency,
    ...(onnxParity === undefined ? {} : { onnxParity }),
    ...(explanations === undefined ? {} : explanations),
  };
  const golden: Golden = {
    // Rounded to float32, the exact values the model saw, so the registry can replay them bit-for-bit.
    inputs: Array.from({ length: goldenCount }, (_, i) =>
      Array.from(te.x.subarray(i * f, (i + 1) * f), Math.fround),
    ),
    probabilities: Array.from({ length: goldenCount }, (_, i) =>
      Array.from({ length: c }, (_, k) => Number(goldenProbs[i * c + k])),
    ),
    labels: Array.from({ length: goldenCount }, (_, i) => Number(goldenLabels[i])),
  };
  const t3 = performance.now();
  return ok({
    model,
    scaler,
    classes,
    onnxBytes: exported.bytes,
    onnx: exported.metadata,
    report: { json, markdown: renderMarkdown(json) },
    trials: search.value.trials,
    bestTrial: search.value.best.index,
    hyperparameters: hp,
    partitions: {
      seed: options.seed,
      testFraction: split.value.testFraction,
      train: summary(train),
      test: summary(test),
    },
    data: { train, test },
    golden,
    timings: {
      startedAt,
      endedAt: new Date(clock.nowMs()).toISOString(),
      searchMs: t1 - t0,
      fitMs: t2 - t1,
      testMs: t3 - t2,
      totalMs: t3 - t0,
    },
  });
}
