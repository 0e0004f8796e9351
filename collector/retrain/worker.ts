// What the retraining child process does (issue 10 §2; run by cli/retrain-worker.ts, which injects
// firmware-sim's boards): read the job directory the parent wrote, build the dataset with a label source
// on every row, train, run the candidate and the production model on the same test rows, judge them
// (gate.ts), and write the signed bundle and result.json back into the job directory. The parent pushes
// the bundle and moves aliases; the child never touches the registry or the databases.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSignedBundle } from '../../shared/bundle/build.ts';
import { manifestDigest } from '../../shared/bundle/signing.ts';
import { ok, type Result } from '../../shared/errors.ts';
import { loadOnnxSession } from '../../shared/platform/onnx.ts';
import { encodeBundleArchive } from '../../shared/platform/tar.ts';
import { deriveSeed, Prng } from '../../shared/random.ts';
import { collectLineageEnv, trainBundleFiles } from '../training/bundle.ts';
import { type DatasetRow } from '../training/dataset.ts';
import { generateLabData } from '../training/lab-data.ts';
import type { LabSimulator } from '../training/lab-simulator.ts';
import { runOnnx } from '../training/train.ts';
import { trainModel } from '../training/train.ts';
import { summarizeSources, type CapturedWindow, type LabelInterval, type SourcedRow } from './assemble.ts';
import type { EstimatedConditions } from './conditions.ts';
import { buildRetrainRows } from './dataset.ts';
import { gateReasons, gateScores, type GateFigures, type GatePolicy } from './gate.ts';
import type { RetrainSources, TrainingProgress } from './types.ts';

export const JOB_FILE = 'job.json';
export const CAPTURED_FILE = 'captured.json';
export const RESULT_FILE = 'result.json';
export const BUNDLE_FILE = 'candidate.tar';

/** The original lab data's spec (lineage.labData of the production model). */
export interface LabSpec {
  readonly seed: number;
  readonly states: readonly string[];
  readonly devicesPerState: number;
  readonly secondsPerDevice: number;
  readonly windowMs: number;
}

/** job.json: everything the child needs besides the captured windows and the signing key (IPC). */
export interface WorkerJob {
  readonly jobId: string;
  readonly requestId: string | null;
  readonly model: string;
  readonly baseVersion: string;
  readonly candidateVersion: string;
  readonly productionVersion: string;
  /** Path of the production model's ONNX file and its class labels (manifest labels). */
  readonly productionModelPath: string;
  readonly productionLabels: readonly string[];
  readonly lab: LabSpec;
  readonly conditionsLab: { readonly devicesPerState: number; readonly secondsPerDevice: number };
  readonly sources: Required<RetrainSources>;
  readonly seed: number;
  readonly trials: number;
  readonly shuffleLabels: boolean;
  readonly policy: GatePolicy;
  readonly devices: readonly string[];
  readonly fromMs: number;
  readonly toMs: number;
  readonly labels: readonly (LabelInterval & { readonly id: string })[];
}

/** captured.json. */
export interface CapturedFile {
  readonly featureNames: readonly string[] | null;
  readonly windows: readonly CapturedWindow[];
  /** Per device: windows, first and last tsMs, digest of its windows. */
  readonly devices: readonly {
    readonly deviceId: string;
    readonly windows: number;
    readonly firstMs: number | null;
    readonly lastMs: number | null;
    readonly digest: string;
  }[];
}

export interface WorkerResult {
  readonly version: string;
  readonly verdict: 'pass' | 'refused';
  readonly code: string | null;
  readonly reasons: readonly string[];
  readonly gate: GateFigures;
  readonly metrics: { readonly accuracy: number; readonly macroF1: number; readonly testRows: number };
  readonly sources: ReturnType<typeof summarizeSources>;
  readonly captured: {
    readonly windows: number;
    readonly operator: number;
    readonly pseudo: number;
    readonly unlabelled: number;
    readonly skipped: number;
  };
  readonly conditions: EstimatedConditions | null;
  readonly bundleFile: string;
  readonly manifestDigest: string;
}

export interface WorkerDeps {
  readonly simulator: LabSimulator;
  readonly signingKeyPem: string;
  readonly onProgress: (p: TrainingProgress) => void;
}

/** Runs one job from its directory. Expected failures (bad data, ONNX) are values. */
export async function runRetrainJob(dir: string, deps: WorkerDeps): Promise<Result<WorkerResult>> {
  const job = JSON.parse(await readFile(join(dir, JOB_FILE), 'utf8')) as WorkerJob;
  const captured = JSON.parse(await readFile(join(dir, CAPTURED_FILE), 'utf8')) as CapturedFile;
  const startedAt = new Date().toISOString();
  const progress = (phase: string, done: number, of: number, message: string): void => {
    deps.onProgress({ phase, done, of, message });
  };

  // 1. The original lab data, regenerated from the production model's lineage: same seed, same rows.
  const labOf = job.lab.states.length * job.lab.devicesPerState;
  const lab = await generateLabData({
    simulator: deps.simulator,
    seed: job.lab.seed,
    states: job.lab.states,
    devicesPerState: job.lab.devicesPerState,
    secondsPerDevice: job.lab.secondsPerDevice,
    windowMs: job.lab.windowMs,
    onProgress: (p) => {
      progress('lab', p.done, labOf, p.deviceId);
    },
  });
  if (!lab.ok) return lab;
  const rows = await buildRetrainRows({
    simulator: deps.simulator,
    lab: lab.value,
    capturedFeatureNames: captured.featureNames,
    captured: captured.windows,
    labels: job.labels,
    sources: job.sources,
    seed: job.seed,
    conditionsLab: job.conditionsLab,
    onProgress: progress,
  });
  if (!rows.ok) return rows;
  const { recent, conditions } = rows.value;
  const cap = { recent, counts: rows.value.counts };
  let pool = rows.value.pool;
  if (job.shuffleLabels) {
    const prng = new Prng(deriveSeed(job.seed, 'shuffle-labels'));
    const labels = pool.map((r) => r.label);
    for (let i = labels.length - 1; i > 0; i--) {
      const j = Math.floor(prng.next() * (i + 1));
      [labels[i], labels[j]] = [labels[j] as string, labels[i] as string];
    }
    pool = pool.map((r, i) => ({ ...r, label: labels[i] as string }));
  }

  const trained = await trainModel({
    rows: pool,
    heldOut: cap.recent,
    seed: job.seed,
    search: { kind: 'random', trials: job.trials, folds: 3 },
    pipelineId: lab.value.pipeline.id,
    pipelineHash: lab.value.pipeline.paramsHash,
    producerVersion: collectLineageEnv().edgeloopVersion,
    featureNames: lab.value.featureNames,
    onProgress: (p) => {
      progress('search', p.trial, p.of, `best macro-F1 ${p.best.toFixed(3)}`);
    },
    onExplainProgress: (done, total) => {
      progress('importance', done, total, 'permutation importance on the test partition');
    },
  });
  if (!trained.ok) return trained;
  const r = trained.value;

  // 5. Candidate and production on the SAME test rows.
  progress('evaluate', 0, 2, 'candidate and production on the same test rows');
  const testRows = r.data.test.rows as readonly SourcedRow[];
  const actual = testRows.map((x) => x.label);
  const recentSet = new Set<DatasetRow>(cap.recent);
  const recentFlags = testRows.map((x) => recentSet.has(x));
  const cand = await predictLabels(r.onnxBytes, testRows, r.classes);
  if (!cand.ok) return cand;
  const prodBytes = new Uint8Array(await readFile(job.productionModelPath));
  const prod = await predictLabels(prodBytes, testRows, job.productionLabels);
  if (!prod.ok) return prod;
  progress('evaluate', 2, 2, 'done');
  const figures: GateFigures = {
    rows: testRows.length,
    recentRows: recentFlags.filter(Boolean).length,
    candidate: gateScores(actual, cand.value, recentFlags),
    production: gateScores(actual, prod.value, recentFlags),
  };
  const reasons = gateReasons(figures, job.policy);
  const code =
    reasons.length === 0
      ? null
      : figures.recentRows === 0
        ? 'EDGELOOP_ERR_TRAINING_NO_RECENT_DATA'
        : 'EDGELOOP_ERR_TRAINING_GATE_REFUSED';

  // 6. The signed bundle with lineage naming the request, the captured data and the label sources.
  progress('bundle', 0, 1, 'signed bundle');
  const trainRows = r.data.train.rows as readonly SourcedRow[];
  const sources = summarizeSources(trainRows, testRows);
  const env = collectLineageEnv();
  const parts = trainBundleFiles({
    name: job.model,
    version: job.candidateVersion,
    description: `Machine-condition classifier retrained from ${job.model} ${job.baseVersion} on captured data of ${job.devices.join(', ')} (training job ${job.jobId}${job.requestId === null ? '' : `, update request ${job.requestId}`}).`,
    result: r,
    lab: lab.value,
    seed: job.seed,
    search: { kind: 'random', trials: job.trials, folds: 3 },
    startedAt,
    endedAt: new Date().toISOString(),
    env,
    extraDatasets: sources.map((s) => ({
      name: `source:${s.source}`,
      digest: s.digest,
      rows: s.rows,
      splitSeed: job.seed,
      partition: s.partition,
    })),
    retraining: {
      trainingJob: job.jobId,
      updateRequest: job.requestId,
      baseVersion: job.baseVersion,
      productionVersion: job.productionVersion,
      captured: captured.devices.map((d) => ({
        deviceId: d.deviceId,
        fromMs: job.fromMs,
        toMs: job.toMs,
        windows: d.windows,
        firstMs: d.firstMs,
        lastMs: d.lastMs,
        digest: d.digest,
      })),
      operatorLabels: job.labels.map((l) => l.id),
      labelSources: sources.map((s) => ({
        source: s.source,
        partition: s.partition,
        rows: s.rows,
        digest: s.digest,
      })),
      conditions:
        conditions === null ? null : { ambientC: conditions.ambientC, offsets: { ...conditions.offsets } },
      gate: {
        verdict: reasons.length === 0 ? 'pass' : 'refused',
        rows: figures.rows,
        recentRows: figures.recentRows,
        candidate: { ...figures.candidate },
        production: { version: job.productionVersion, ...figures.production },
      },
      ...(job.shuffleLabels ? { shuffledLabels: true } : {}),
    },
  });
  if (!parts.ok) return parts;
  const signed = createSignedBundle(parts.value.manifest, parts.value.files, deps.signingKeyPem);
  if (!signed.ok) return signed;
  await writeFile(join(dir, BUNDLE_FILE), encodeBundleArchive(signed.value.contents));
  progress('bundle', 1, 1, 'written');
  const result: WorkerResult = {
    version: job.candidateVersion,
    verdict: reasons.length === 0 ? 'pass' : 'refused',
    code,
    reasons,
    gate: figures,
    metrics: {
      accuracy: r.report.json.metrics.accuracy,
      macroF1: r.report.json.metrics.macroF1,
      testRows: r.report.json.rows,
    },
    sources,
    captured: cap.counts,
    conditions,
    bundleFile: BUNDLE_FILE,
    manifestDigest: manifestDigest(signed.value.manifest),
  };
  await writeFile(join(dir, RESULT_FILE), `${JSON.stringify(result, null, 2)}\n`);
  return ok(result);
}

/** Labels an ONNX classifier of ours predicts for the rows (label output index into `classes`). */
async function predictLabels(
  bytes: Uint8Array,
  rows: readonly DatasetRow[],
  classes: readonly string[],
): Promise<Result<string[]>> {
  const loaded = await loadOnnxSession(bytes);
  if (!loaded.ok) return loaded;
  try {
    const f = rows[0]?.features.length ?? 0;
    const x = new Float64Array(rows.length * f);
    rows.forEach((r, i) => {
      x.set(r.features, i * f);
    });
    const out = await runOnnx(loaded.value, x, rows.length, f);
    if (!out.ok) return out;
    return ok(Array.from(out.value.labels, (k) => classes[Number(k)] ?? `#${String(k)}`));
  } finally {
    await loaded.value.close();
  }
}
