// The retraining dataset from its sources (issue 10 §2), shared by the collector's retraining child and
// `edgeloop train --collector` (the same code path): given the original lab data, the captured windows
// and the operator labels, it labels the captured windows (assemble.ts), estimates the field conditions
// (conditions.ts), makes lab data under them with firmware-sim (through the injected LabSimulator), and
// returns the training pool and the held-out recent rows, each row tagged with its label source.

import { fail, ok, type Result } from '../../shared/errors.ts';
import { deriveSeed } from '../../shared/random.ts';
import type { DatasetRow } from '../training/dataset.ts';
import { generateLabData, type LabData } from '../training/lab-data.ts';
import type { LabSimulator } from '../training/lab-simulator.ts';
import {
  assembleCaptured,
  sourced,
  type CapturedAssembly,
  type CapturedWindow,
  type LabelInterval,
  type SourcedRow,
} from './assemble.ts';
import { estimateConditions, type EstimatedConditions } from './conditions.ts';
import type { RetrainSources } from './types.ts';

export interface RetrainRowsInput {
  readonly simulator: LabSimulator;
  /** The original lab data (regenerated from the production model's lineage, or just generated). */
  readonly lab: LabData;
  /** Feature names of the captured windows (null when there are none). */
  readonly capturedFeatureNames: readonly string[] | null;
  readonly captured: readonly CapturedWindow[];
  readonly labels: readonly LabelInterval[];
  readonly sources: Required<RetrainSources>;
  /** Seeds the lab data under conditions. */
  readonly seed: number;
  /** Lab devices per state and seconds per device under the estimated conditions. */
  readonly conditionsLab: { readonly devicesPerState: number; readonly secondsPerDevice: number };
  readonly onProgress?: (phase: string, done: number, of: number, message: string) => void;
  readonly signal?: AbortSignal;
}

export interface RetrainRows {
  /** Training pool: lab, lab_conditions, operator (not held out) and pseudo rows. */
  readonly pool: SourcedRow[];
  /** Held-out recent operator-labelled captured rows: test only. */
  readonly recent: SourcedRow[];
  readonly counts: CapturedAssembly['counts'];
  readonly conditions: EstimatedConditions | null;
  readonly labConditions: LabData | null;
}

const deviceOfGroup = (g: string): string => g.slice(0, g.lastIndexOf('@'));

export async function buildRetrainRows(i: RetrainRowsInput): Promise<Result<RetrainRows>> {
  const progress = i.onProgress ?? (() => undefined);
  const { lab } = i;
  const featureNames = lab.featureNames;
  if (i.capturedFeatureNames !== null && i.capturedFeatureNames.join('\n') !== featureNames.join('\n'))
    return fail(
      'EDGELOOP_ERR_TRAINING_DATA',
      `captured windows have ${i.capturedFeatureNames.length} features that differ from the lab pipeline's ${featureNames.length}: another feature pipeline or board`,
    );
  const classes = [...new Set(lab.rows.map((r) => r.label))];

  progress('captured', 0, 1, `${i.captured.length} windows`);
  const cap = assembleCaptured(i.sources.captured ? i.captured : [], {
    classes,
    labels: i.labels,
    operatorLabels: i.sources.operatorLabels,
    pseudoLabels: i.sources.pseudoLabels,
  });
  progress(
    'captured',
    1,
    1,
    `${cap.counts.operator} operator-labelled, ${cap.counts.pseudo} pseudo, ${cap.counts.unlabelled} unlabelled`,
  );

  // Conditions from the captured windows: the operator label where there is one, else the model's
  // prediction (the estimate only needs the state, to compare like with like).
  let conditions: EstimatedConditions | null = null;
  let labc: LabData | null = null;
  if (i.sources.labUnderConditions && i.captured.length > 0) {
    const ambientOf = new Map(lab.summary.devices.map((d) => [d.deviceId, d.ambientC]));
    const forEstimate: DatasetRow[] = [...cap.train, ...cap.recent].filter((r) => r.source === 'operator');
    const labelled = new Set(forEstimate.map((r) => `${deviceOfGroup(r.group)}\t${r.time}`));
    for (const w of i.captured) {
      if (labelled.has(`${w.deviceId}\t${w.tsMs}`) || w.prediction === null) continue;
      if (w.values.some((v) => v === null)) continue;
      forEstimate.push({
        features: w.values as number[],
        label: w.prediction.label,
        group: `${w.deviceId}@0`,
        time: w.tsMs,
      });
    }
    conditions = estimateConditions({
      featureNames,
      lab: lab.rows,
      labAmbientC: (r) => ambientOf.get(deviceOfGroup(r.group)),
      captured: forEstimate,
    });
    const states = lab.summary.states;
    const of = states.length * i.conditionsLab.devicesPerState;
    const made = await generateLabData({
      simulator: i.simulator,
      seed: deriveSeed(i.seed, 'lab-conditions'),
      states,
      devicesPerState: i.conditionsLab.devicesPerState,
      secondsPerDevice: i.conditionsLab.secondsPerDevice,
      windowMs: lab.summary.windowMs,
      devicePrefix: 'labc',
      conditions: {
        ...(conditions.ambientC === null ? {} : { ambientC: conditions.ambientC }),
        offsets: conditions.offsets,
      },
      ...(i.signal === undefined ? {} : { signal: i.signal }),
      onProgress: (p) => {
        progress('lab_conditions', p.done, of, p.deviceId);
      },
    });
    if (!made.ok) return made;
    labc = made.value;
  }

  const pool: SourcedRow[] = [
    ...(i.sources.original ? sourced(lab.rows, 'lab') : []),
    ...(labc === null ? [] : sourced(labc.rows, 'lab_conditions')),
    ...cap.train,
  ];
  return ok({ pool, recent: cap.recent, counts: cap.counts, conditions, labConditions: labc });
}
