// The job directory a retraining child reads (docs/retraining.md "The job"): job.json (the input, the
// original lab data spec from the production model's lineage, the production model file, the gate
// policy, the operator labels) and captured.json (the captured windows of the job's devices and range,
// read from the telemetry store page by page, with a digest per device).

import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fail, ok, type Result } from '../../shared/errors.ts';
import type { Registry } from '../registry/registry.ts';
import type { TelemetryStore, WindowRecord } from '../storage/types.ts';
import { capturedDigest, type CapturedWindow } from './assemble.ts';
import { DEFAULT_MAX_REGRESSION } from './gate.ts';
import type { LabelStore } from './labels.ts';
import type { TrainingJobView } from './types.ts';
import { CAPTURED_FILE, JOB_FILE, type CapturedFile, type LabSpec, type WorkerJob } from './worker.ts';

export interface JobDirDeps {
  readonly registry: Registry;
  readonly store: TelemetryStore;
  readonly labels: LabelStore;
  readonly workDir: string;
}

/** Captured windows read per store query (the store's own page size). */
const PAGE = 5000;
/** Most captured windows a job takes over all its devices (bounds the job file and the child's memory). */
export const MAX_CAPTURED_WINDOWS = 200_000;

function windowJson(w: WindowRecord): CapturedWindow {
  let top: { label: string; confidence: number } | null = null;
  if (w.prediction !== null) {
    const conf = w.prediction.probabilities[w.prediction.label];
    top = { label: w.prediction.label, confidence: typeof conf === 'number' ? conf : 0 };
  }
  return {
    deviceId: w.deviceId,
    tsMs: w.tsMs,
    values: Array.from(w.values, (v) => (Number.isNaN(v) ? null : v)),
    prediction: top,
  };
}

function labSpecOf(registry: Registry, model: string, version: string): LabSpec | undefined {
  const v = registry.getVersion(model, version);
  if (!v.ok) return undefined;
  const spec = v.value.manifest.lineage.labData as Partial<LabSpec> | undefined;
  if (spec?.seed !== undefined && spec.states !== undefined && spec.devicesPerState !== undefined)
    return {
      seed: spec.seed,
      states: spec.states,
      devicesPerState: spec.devicesPerState,
      secondsPerDevice: spec.secondsPerDevice ?? 30,
      windowMs: spec.windowMs ?? 1000,
    };
  // Bundles from before lineage.labData: dataset.json names the generator and every lab device.
  const f = registry.file(model, version, 'dataset.json');
  if (!f.ok) return undefined;
  try {
    const d = JSON.parse(readFileSync(f.value.diskPath, 'utf8')) as {
      generator?: { seed?: number; secondsPerDevice?: number; windowMs?: number };
      devices?: { state: string }[];
    };
    const devices = d.devices ?? [];
    const states = [...new Set(devices.map((x) => x.state))];
    if (d.generator?.seed === undefined || states.length === 0) return undefined;
    return {
      seed: d.generator.seed,
      states,
      devicesPerState: Math.round(devices.length / states.length),
      secondsPerDevice: d.generator.secondsPerDevice ?? 30,
      windowMs: d.generator.windowMs ?? 1000,
    };
  } catch {
    return undefined;
  }
}

export async function prepareJobDir(deps: JobDirDeps, job: TrainingJobView): Promise<Result<string>> {
  const { registry, labels } = deps;
  const input = job.input;
  const name = input.model.name;
  const prod = registry.getVersion(name, job.productionVersion);
  if (!prod.ok)
    return fail(
      'EDGELOOP_ERR_TRAINING_JOB_INVALID',
      `production ${name} ${job.productionVersion}: ${prod.message}`,
    );
  const modelFile = prod.value.manifest.files.find((f) => f.role === 'model');
  const stored =
    modelFile === undefined ? undefined : registry.file(name, job.productionVersion, modelFile.path);
  if (stored === undefined || !stored.ok)
    return fail(
      'EDGELOOP_ERR_TRAINING_JOB_INVALID',
      `production ${name} ${job.productionVersion} has no model file`,
    );
  const lab =
    labSpecOf(registry, name, job.productionVersion) ?? labSpecOf(registry, name, input.model.version);
  if (lab === undefined)
    return fail(
      'EDGELOOP_ERR_TRAINING_JOB_INVALID',
      `neither ${name} ${job.productionVersion} nor ${input.model.version} says how its lab data was made (lineage.labData or dataset.json): retrain it with edgeloop train`,
    );
  const windows: CapturedWindow[] = [];
  const devices: CapturedFile['devices'][number][] = [];
  let featureNames: readonly string[] | null = null;
  for (const deviceId of input.devices) {
    const mine: CapturedWindow[] = [];
    let cursor = input.fromMs;
    while (cursor < input.toMs && windows.length + mine.length < MAX_CAPTURED_WINDOWS) {
      const page = deps.store.windows({ deviceId, fromMs: cursor, toMs: input.toMs, limit: PAGE });
      for (const w of page) {
        featureNames ??= w.featureNames;
        // A window of another layout (another pipeline) cannot be a row of this model's dataset.
        if (w.featureNames.join('\n') === featureNames.join('\n')) mine.push(windowJson(w));
      }
      const last = page.at(-1);
      if (page.length < PAGE || last === undefined) break;
      cursor = last.tsMs + 1;
    }
    windows.push(...mine);
    devices.push({
      deviceId,
      windows: mine.length,
      firstMs: mine[0]?.tsMs ?? null,
      lastMs: mine.at(-1)?.tsMs ?? null,
      digest: capturedDigest(mine),
    });
  }
  const policy = registry.getPolicy(name);
  const p = policy.ok ? policy.value.policy : null;
  const s = input.sources ?? {};
  const workerJob: WorkerJob = {
    jobId: job.id,
    requestId: input.requestId,
    model: name,
    baseVersion: input.model.version,
    candidateVersion: job.candidateVersion,
    productionVersion: job.productionVersion,
    productionModelPath: stored.value.diskPath,
    productionLabels: prod.value.manifest.labels,
    lab,
    conditionsLab: {
      devicesPerState: input.conditionsLab?.devicesPerState ?? lab.devicesPerState,
      secondsPerDevice: input.conditionsLab?.secondsPerDevice ?? lab.secondsPerDevice,
    },
    sources: {
      original: s.original ?? true,
      captured: s.captured ?? true,
      operatorLabels: s.operatorLabels ?? true,
      labUnderConditions: s.labUnderConditions ?? true,
      pseudoLabels: s.pseudoLabels ?? false,
    },
    seed: input.seed ?? 1,
    trials: input.trials ?? 6,
    shuffleLabels: input.shuffleLabels ?? false,
    policy: {
      maxRegressionVsProduction: p?.maxRegressionVsProduction ?? DEFAULT_MAX_REGRESSION,
      ...(p?.minMacroF1 === undefined ? {} : { minMacroF1: p.minMacroF1 }),
    },
    devices: input.devices,
    fromMs: input.fromMs,
    toMs: input.toMs,
    labels: labels
      .list({ fromMs: input.fromMs, toMs: input.toMs })
      .filter((l) => input.devices.includes(l.deviceId))
      .map((l) => ({ id: l.id, deviceId: l.deviceId, state: l.state, fromMs: l.fromMs, toMs: l.toMs })),
  };
  const dir = join(deps.workDir, job.id);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const captured: CapturedFile = { featureNames, windows, devices };
  await writeFile(join(dir, CAPTURED_FILE), JSON.stringify(captured));
  await writeFile(join(dir, JOB_FILE), `${JSON.stringify(workerJob, null, 2)}\n`);
  return ok(dir);
}
