// The retraining dataset (issue 10 §2 "Data"): lab rows, captured windows labelled by operator labels
// (or, only when enabled, by confident predictions of the current model), and lab rows made under the
// estimated field conditions. Every row carries its label source; the captured labelled rows of each
// device's most recent stretch are held out for the test partition (the gate judges on them). Pure.

import { createHash } from 'node:crypto';
import type { DatasetRow } from '../training/dataset.ts';
import { partitionDigest } from '../training/dataset.ts';

export type LabelSource = 'lab' | 'operator' | 'lab_conditions' | 'pseudo';
export const labelSources: readonly LabelSource[] = ['lab', 'operator', 'lab_conditions', 'pseudo'];

/** One captured window as the parent hands it to the child (captured.json). */
export interface CapturedWindow {
  readonly deviceId: string;
  readonly tsMs: number;
  /** Feature values in `featureNames` order; null where the telemetry had none. */
  readonly values: readonly (number | null)[];
  readonly prediction: { readonly label: string; readonly confidence: number } | null;
}

export interface LabelInterval {
  readonly deviceId: string;
  readonly state: string;
  readonly fromMs: number;
  readonly toMs: number;
}

export interface AssembleOptions {
  readonly classes: readonly string[];
  readonly labels: readonly LabelInterval[];
  readonly operatorLabels: boolean;
  readonly pseudoLabels: boolean;
  /** Top-class probability a prediction needs to become a pseudo-label. Default 0.9. */
  readonly pseudoMinConfidence?: number;
  /** Share of each device's most recent operator-labelled windows held out for test. Default 0.3. */
  readonly recentFraction?: number;
}

export interface SourcedRow extends DatasetRow {
  readonly source: LabelSource;
}

export interface CapturedAssembly {
  /** Labelled captured rows for the training pool (operator rows not held out, and pseudo rows). */
  readonly train: SourcedRow[];
  /** Held-out recent operator-labelled rows: always in the test partition. */
  readonly recent: SourcedRow[];
  readonly counts: {
    readonly windows: number;
    readonly operator: number;
    readonly pseudo: number;
    readonly unlabelled: number;
    /** Windows with a missing (imputed) feature, or a label outside the model's classes. */
    readonly skipped: number;
  };
}

/** The operator label of a window: the last recorded label of its device covering tsMs. */
export function labelAt(
  labels: readonly LabelInterval[],
  deviceId: string,
  tsMs: number,
): string | undefined {
  let hit: string | undefined;
  for (const l of labels) if (l.deviceId === deviceId && tsMs >= l.fromMs && tsMs < l.toMs) hit = l.state;
  return hit;
}

const groupOf = (deviceId: string, tsMs: number): string => `${deviceId}@${Math.floor(tsMs / 60_000)}`;

export function assembleCaptured(windows: readonly CapturedWindow[], o: AssembleOptions): CapturedAssembly {
  const minConf = o.pseudoMinConfidence ?? 0.9;
  const recentFraction = o.recentFraction ?? 0.3;
  const operatorByDevice = new Map<string, SourcedRow[]>();
  const pseudo: SourcedRow[] = [];
  let skipped = 0;
  let unlabelled = 0;
  for (const w of windows) {
    if (w.values.some((v) => v === null || !Number.isFinite(v))) {
      skipped++;
      continue;
    }
    const features = Float64Array.from(w.values as number[]);
    const base = { features, group: groupOf(w.deviceId, w.tsMs), time: w.tsMs };
    const op = o.operatorLabels ? labelAt(o.labels, w.deviceId, w.tsMs) : undefined;
    if (op !== undefined) {
      if (!o.classes.includes(op)) {
        skipped++;
        continue;
      }
      const list = operatorByDevice.get(w.deviceId) ?? [];
      list.push({ ...base, label: op, source: 'operator' });
      operatorByDevice.set(w.deviceId, list);
    } else if (
      o.pseudoLabels &&
      w.prediction !== null &&
      w.prediction.confidence >= minConf &&
      o.classes.includes(w.prediction.label)
    ) {
      pseudo.push({ ...base, label: w.prediction.label, source: 'pseudo' });
    } else unlabelled++;
  }
  const train: SourcedRow[] = [];
  const recent: SourcedRow[] = [];
  for (const device of [...operatorByDevice.keys()].sort()) {
    const rows = (operatorByDevice.get(device) ?? []).sort((a, b) => a.time - b.time);
    // The newest stretch of each device is the "recent data" of the issue: never trained on. A device
    // with a single labelled window gives it to test (something recent to judge on beats one more row).
    const held = Math.max(1, Math.round(rows.length * recentFraction));
    train.push(...rows.slice(0, rows.length - held));
    recent.push(...rows.slice(rows.length - held));
  }
  train.push(...pseudo);
  const operator = train.filter((r) => r.source === 'operator').length + recent.length;
  return {
    train,
    recent,
    counts: { windows: windows.length, operator, pseudo: pseudo.length, unlabelled, skipped },
  };
}

/** Rows per label source (and partition) for lineage. */
export interface SourceSummary {
  readonly source: LabelSource;
  readonly partition: 'train' | 'test';
  readonly rows: number;
  /** Hex SHA-256 of the rows' canonical text (training/dataset.ts partitionDigest), without `sha256:`. */
  readonly digest: string;
}

export function summarizeSources(train: readonly SourcedRow[], test: readonly SourcedRow[]): SourceSummary[] {
  const out: SourceSummary[] = [];
  for (const [partition, rows] of [
    ['train', train],
    ['test', test],
  ] as const) {
    for (const source of labelSources) {
      const mine = rows.filter((r) => r.source === source);
      if (mine.length === 0) continue;
      const sorted = [...mine].sort((a, b) =>
        a.group < b.group ? -1 : a.group > b.group ? 1 : a.time - b.time,
      );
      out.push({
        source,
        partition,
        rows: mine.length,
        digest: partitionDigest(sorted).replace(/^sha256:/, ''),
      });
    }
  }
  return out;
}

/** Digest of the captured windows as handed to the worker (device, time, values), hex SHA-256. */
export function capturedDigest(windows: readonly CapturedWindow[]): string {
  const h = createHash('sha256');
  h.update('edgeloop-captured-v1\n');
  for (const w of windows)
    h.update(`${w.deviceId}\t${w.tsMs}\t${w.values.map((v) => (v === null ? '' : String(v))).join(',')}\n`);
  return h.digest('hex');
}

/** Tags plain rows with a source. */
export const sourced = (rows: readonly DatasetRow[], source: LabelSource): SourcedRow[] =>
  rows.map((r) => ({ ...r, source }));
