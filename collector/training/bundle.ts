// Packs a training run into bundle files and a manifest (docs/model-bundle.md, docs/training.md
// "edgeloop train"): the ONNX model, the drift reference profile of the train partition, golden I/O
// replayed by the registry and the agent, the test report (JSON and Markdown), the lab dataset
// description, and full lineage. Pure apart from the git and package.json look-ups in collectLineageEnv.

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ok, type Result } from '../../shared/errors.ts';
import { lineageLibraries } from '../../shared/platform/package-info.ts';
import type { ManifestInput } from '../../shared/bundle/build.ts';
import {
  DEFAULT_GOLDEN_TOLERANCE,
  encodeGolden,
  GOLDEN_FILE,
  type GoldenData,
} from '../../shared/bundle/golden.ts';
import type { DatasetRef, IoSignature, Lineage, Metrics } from '../../shared/bundle/manifest.ts';
import {
  buildReferenceProfile,
  encodeReferenceProfile,
  REFERENCE_FILE,
  summarizeReference,
} from '../../shared/bundle/reference.ts';
import type { DatasetRow } from './dataset.ts';
import type { LabData } from './lab-data.ts';
import { INPUT_NAME, LABEL_NAME, PROBABILITIES_NAME } from './onnx-export.ts';
import type { SearchOptions } from './search.ts';
import type { TrainModelResult } from './train.ts';

/** Sorted subsample points per feature in reference.json: 192 features x 1000 points keeps it ~4 MB at most. */
export const TRAIN_REFERENCE_SAMPLE = 1000;
/** Sorted subsample points per class and feature (classes x 192 features x 500 points at most). */
export const TRAIN_CLASS_REFERENCE_SAMPLE = 500;
export const DATASET_FILE = 'dataset.json';
export const MODEL_FILE = 'model.onnx';

// collector/training/ -> the package root (the git checkout and package.json live there).
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface LineageEnv {
  readonly code: { readonly commit: string | null; readonly dirty: boolean | null };
  readonly libraries: Readonly<Record<string, string>>;
  readonly edgeloopVersion: string;
}

function git(args: readonly string[]): string | null {
  try {
    return execFileSync('git', args, {
      cwd: repoRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    });
  } catch {
    return null; // no git, not a checkout (an npm install), or a timeout: the commit is unknown
  }
}

/** The code commit and dirty flag (null when git or the checkout is absent) and the library versions. */
export function collectLineageEnv(): LineageEnv {
  const head = git(['rev-parse', 'HEAD'])?.trim() ?? '';
  const commit = /^[0-9a-f]{40,64}$/.test(head) ? head : null;
  const status = commit === null ? null : git(['status', '--porcelain']);
  // Found by searching upward for edgeloop's package.json, so it is right from dist/ too (issue #8 §5).
  const libraries = lineageLibraries(['onnxruntime-node', 'onnx-proto', 'protobufjs', 'fft.js', 'zod']);
  const edgeloopVersion = libraries.edgeloop ?? '0.0.0';
  return {
    code: { commit, dirty: status === null ? null : status.trim() !== '' },
    libraries,
    edgeloopVersion,
  };
}

export interface TrainBundleInput {
  readonly name: string;
  readonly version: string;
  readonly description?: string;
  readonly result: TrainModelResult;
  readonly lab: LabData;
  readonly seed: number;
  readonly search: SearchOptions;
  /** Whole run, lab data generation included (ISO times). */
  readonly startedAt: string;
  readonly endedAt: string;
  readonly env: LineageEnv;
  /** More dataset references for lineage (retraining: one per label source and partition). */
  readonly extraDatasets?: readonly DatasetRef[];
  /** Retraining provenance for lineage.retraining (docs/retraining.md). */
  readonly retraining?: Lineage['retraining'];
}

const digestHex = (d: string): string => d.replace(/^sha256:/, '');
const enc = new TextEncoder();

/** Train rows per device in time order: lag-1 autocorrelation and PSI chunks assume consecutive windows. */
function timeOrdered(rows: readonly DatasetRow[]): DatasetRow[] {
  const device = (r: DatasetRow): string => r.group.slice(0, r.group.lastIndexOf('@'));
  return [...rows].sort((a, b) => {
    const da = device(a);
    const db = device(b);
    return da < db ? -1 : da > db ? 1 : a.time - b.time;
  });
}

/** The test metrics the manifest carries (the registry's gate reads macroF1). */
export function manifestMetrics(result: TrainModelResult): Metrics {
  const r = result.report.json;
  const perClass: Record<string, Record<string, number>> = {};
  for (const c of r.metrics.perClass)
    perClass[c.label] = { precision: c.precision, recall: c.recall, f1: c.f1, support: c.support };
  return {
    accuracy: r.metrics.accuracy,
    macroF1: r.metrics.macroF1,
    perClass,
    ece: r.calibration.ece,
    testRows: r.rows,
    latencyMs: { p50: r.latency.p50Ms, p99: r.latency.p99Ms },
    // The promotion gate's maxGroupGap reads this (docs/explanations.md, "Per-group performance").
    ...(r.groupPerformance?.worstDevice == null
      ? {}
      : { worstDeviceGap: r.groupPerformance.worstDevice.gap }),
  };
}

/** golden.json from the run's golden rows: one case per row, batch 1, outputs from onnxruntime. */
export function goldenData(result: TrainModelResult): GoldenData {
  const g = result.golden;
  const f = g.inputs[0]?.length ?? 0;
  const c = result.classes.length;
  return {
    schemaVersion: 1,
    cases: g.inputs.map((row, i) => ({
      inputs: { [INPUT_NAME]: { dims: [1, f], data: [...row] } },
      outputs: {
        [PROBABILITIES_NAME]: { dims: [1, c], data: [...(g.probabilities[i] ?? [])] },
        [LABEL_NAME]: { dims: [1], data: [g.labels[i] ?? 0] },
      },
    })),
  };
}

/** Files and manifest input of a trained bundle; sign with createSignedBundle. */
export function trainBundleFiles(
  input: TrainBundleInput,
): Result<{ manifest: ManifestInput; files: Map<string, Uint8Array> }> {
  const { result, lab } = input;
  const train = timeOrdered(result.data.train.rows);
  const columns = lab.featureNames.map((name, j) => ({
    name,
    values: Float64Array.from(train, (r) => r.features[j] as number),
  }));
  // Labels known: the profile also gets one class-conditional profile per machine state, so drift is
  // judged against the class the model predicts (docs/model-bundle.md, "classes").
  const profile = buildReferenceProfile(columns, {
    sampleSize: TRAIN_REFERENCE_SAMPLE,
    labels: train.map((r) => r.label),
    classSampleSize: TRAIN_CLASS_REFERENCE_SAMPLE,
  });
  if (!profile.ok) return profile;
  const golden = goldenData(result);
  const p = result.partitions;
  const dataset = {
    schema: 'edgeloop-lab-dataset-v1',
    source: 'firmware-sim',
    generator: {
      seed: lab.summary.seed,
      secondsPerDevice: lab.summary.secondsPerDevice,
      windowMs: lab.summary.windowMs,
    },
    pipeline: { ...lab.pipeline.ref, params: lab.pipeline.params },
    devices: lab.summary.devices,
    windows: lab.summary.windows,
    rows: lab.summary.rows,
    perClass: lab.summary.perClass,
    skipped: lab.summary.skipped,
    partitions: { seed: p.seed, testFraction: p.testFraction, train: p.train, test: p.test },
  };
  const files = new Map<string, Uint8Array>([
    [MODEL_FILE, result.onnxBytes],
    [REFERENCE_FILE, encodeReferenceProfile(profile.value)],
    [GOLDEN_FILE, encodeGolden(golden)],
    ['report.json', enc.encode(`${JSON.stringify(result.report.json, null, 2)}\n`)],
    ['report.md', enc.encode(result.report.markdown)],
    [DATASET_FILE, enc.encode(`${JSON.stringify(dataset, null, 2)}\n`)],
  ]);
  const io: IoSignature = {
    inputs: result.onnx.inputs.map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape] })),
    outputs: result.onnx.outputs.map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape] })),
  };
  const manifest: ManifestInput = {
    name: input.name,
    version: input.version,
    createdAt: input.endedAt,
    description:
      input.description ??
      `Machine-condition classifier (${result.classes.join(', ')}) trained by edgeloop train on firmware-sim lab data.`,
    io,
    pipeline: lab.pipeline.ref,
    labels: [...result.classes],
    reference: summarizeReference(profile.value),
    metrics: manifestMetrics(result),
    golden: { path: GOLDEN_FILE, cases: golden.cases.length, tolerance: DEFAULT_GOLDEN_TOLERANCE },
    lineage: {
      origin: 'trained',
      datasets: [
        {
          name: 'lab',
          digest: digestHex(p.train.digest),
          rows: p.train.count,
          splitSeed: p.seed,
          partition: 'train',
        },
        {
          name: 'lab',
          digest: digestHex(p.test.digest),
          rows: p.test.count,
          splitSeed: p.seed,
          partition: 'test',
        },
        ...(input.extraDatasets ?? []),
      ],
      code: input.env.code,
      hyperparameters: { ...result.hyperparameters },
      trials: result.trials.map((t) => ({
        index: t.index,
        params: { ...t.hyperparameters },
        score: t.meanMacroF1,
        metrics: { foldMacroF1: [...t.foldScores] },
        durationMs: t.durationMs,
      })),
      search: { method: input.search.kind, seed: input.seed, budget: input.search.trials },
      startedAt: input.startedAt,
      endedAt: input.endedAt,
      libraries: { ...input.env.libraries },
      // Enough to regenerate the lab rows byte for byte (retraining does: docs/retraining.md).
      labData: {
        seed: lab.summary.seed,
        states: [...lab.summary.states],
        devicesPerState: lab.summary.devicesPerState,
        secondsPerDevice: lab.summary.secondsPerDevice,
        windowMs: lab.summary.windowMs,
      },
      ...(input.retraining === undefined ? {} : { retraining: input.retraining }),
    },
    onnx: {
      opset: result.onnx.opsetVersion,
      irVersion: result.onnx.irVersion,
      opsetImports: { [result.onnx.opsetDomain]: result.onnx.opsetVersion },
      producer: `${result.onnx.producerName} ${result.onnx.producerVersion}`,
    },
    roles: { [DATASET_FILE]: 'other' },
  };
  return ok({ manifest, files });
}
