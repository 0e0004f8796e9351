// `edgeloop train --collector` (issue 10 §2): the captured rows next to the lab data, built by the same
// code as the collector's retraining child (buildRetrainRows), and what lineage says about them (the
// captured data's digests and time ranges, the operator labels, the label sources with row counts and
// digests, the estimated conditions).

import {
  buildRetrainRows,
  summarizeSources,
  type LabData,
  type SourcedRow,
  type RetrainRows,
  type TrainModelResult,
} from '../collector/index.ts';
import type { DatasetRef, Lineage } from '../shared/bundle/manifest.ts';
import { EdgeloopError } from '../shared/errors.ts';
import type { CliIO } from './commands.ts';
import { firmwareSimLab } from './lab-simulator.ts';
import type { createProgress } from './progress.ts';
import type { TrainConfig } from './train-config.ts';
import { fetchCollectorData, type CollectorData } from './train-collector.ts';

export interface FieldRows extends RetrainRows {
  readonly data: CollectorData;
}

/** Reads the collector and builds the rows; undefined without --collector. */
export async function collectorRows(
  cfg: TrainConfig,
  io: CliIO,
  lab: LabData,
  progress: ReturnType<typeof createProgress>,
): Promise<FieldRows | undefined> {
  const c = cfg.collector;
  if (c === undefined) return undefined;
  const data = await fetchCollectorData(
    { url: c.url, devices: c.devices, fromMs: c.fromMs, toMs: c.toMs, token: cfg.token },
    (deviceId, n) => {
      progress.line(`collector: ${n} windows of ${deviceId}`);
    },
  );
  progress.line(`collector: ${data.labels.length} operator labels`);
  const states = lab.summary.states.length;
  const step = c.labConditions
    ? progress.step('lab data under estimated conditions', states * cfg.devicesPerState)
    : undefined;
  const rows = await buildRetrainRows({
    simulator: firmwareSimLab,
    lab,
    capturedFeatureNames: data.featureNames,
    captured: data.windows,
    labels: data.labels,
    sources: {
      original: true,
      captured: true,
      operatorLabels: true,
      labUnderConditions: c.labConditions,
      pseudoLabels: c.pseudoLabels,
    },
    seed: cfg.seed,
    conditionsLab: { devicesPerState: cfg.devicesPerState, secondsPerDevice: cfg.secondsPerDevice },
    signal: io.signal,
    onProgress: (phase, done, _of, message) => {
      if (phase === 'lab_conditions') step?.update(done, message);
      else if (done === 1) progress.line(`captured: ${message}`);
    },
  });
  if (!rows.ok) throw new EdgeloopError(rows.code, rows.message);
  const cond = rows.value.conditions;
  step?.end(
    cond === null
      ? 'no conditions estimated'
      : `ambient ${cond.ambientC === null ? 'n/a' : `${cond.ambientC} °C`}, offsets ${JSON.stringify(cond.offsets)}`,
  );
  return { ...rows.value, data };
}

/** extraDatasets and lineage.retraining for trainBundleFiles. */
export function fieldLineage(
  cfg: TrainConfig,
  field: FieldRows,
  r: TrainModelResult,
): { extraDatasets: DatasetRef[]; retraining: NonNullable<Lineage['retraining']> } {
  const sources = summarizeSources(
    r.data.train.rows as readonly SourcedRow[],
    r.data.test.rows as readonly SourcedRow[],
  );
  const c = cfg.collector;
  const cond = field.conditions;
  return {
    extraDatasets: sources.map((s) => ({
      name: `source:${s.source}`,
      digest: s.digest,
      rows: s.rows,
      splitSeed: cfg.seed,
      partition: s.partition,
    })),
    retraining: {
      updateRequest: null,
      collector: c?.url ?? null,
      captured: field.data.devices.map((d) => ({
        deviceId: d.deviceId,
        fromMs: c?.fromMs ?? null,
        toMs: c?.toMs ?? null,
        windows: d.windows,
        firstMs: d.firstMs,
        lastMs: d.lastMs,
        digest: d.digest,
      })),
      operatorLabels: field.data.labels.map((l) => l.id),
      labelSources: sources.map((s) => ({
        source: s.source,
        partition: s.partition,
        rows: s.rows,
        digest: s.digest,
      })),
      conditions: cond === null ? null : { ambientC: cond.ambientC, offsets: { ...cond.offsets } },
    },
  };
}
