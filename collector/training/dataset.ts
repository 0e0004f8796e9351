// Datasets with lineage (issue #3 §2): validation, a seeded stratified split grouped by device-minute,
// grouped validation folds, and a SHA-256 content digest per partition.
import { createHash } from 'node:crypto';
import { EdgeloopError, fail, ok, type Result } from '../../shared/errors.ts';
import { deriveSeed, Prng, shuffled } from '../../shared/random.ts';

/** The machine states the simulator labels; models list them in this order (then any others, sorted). */
export const KNOWN_CLASSES = ['normal', 'imbalance', 'misalignment', 'bearing_wear', 'overheating'] as const;

export interface DatasetRow {
  readonly features: Float64Array | readonly number[];
  readonly label: string;
  /** Grouping key, device id + minute (e.g. `sim-1@12`): a group never straddles train and test. */
  readonly group: string;
  /** Window start, ms since the epoch. Part of the digest; not used for training. */
  readonly time: number;
}

export interface Partition {
  /** Rows in canonical order (sorted by their canonical line), which is also the training order. */
  readonly rows: readonly DatasetRow[];
  /** `sha256:<hex>` over the canonical rows, see `partitionDigest`. */
  readonly digest: string;
  readonly count: number;
  readonly groups: number;
  readonly classCounts: Readonly<Record<string, number>>;
}

export interface SplitResult {
  readonly train: Partition;
  readonly test: Partition;
  readonly seed: number;
  readonly testFraction: number;
}

/** Known classes present in the data in their fixed order, then any other labels sorted. */
export function classOrder(rows: readonly DatasetRow[]): string[] {
  const present = new Set(rows.map((r) => r.label));
  const known: string[] = KNOWN_CLASSES.filter((c) => present.has(c));
  const extra = [...present].filter((c) => !known.includes(c)).sort();
  return [...known, ...extra];
}

/** Checks the rows are usable: same width, finite numbers, keys present, at least two classes. */
export function validateRows(rows: readonly DatasetRow[]): Result<{ featureCount: number }> {
  const first = rows[0];
  if (first === undefined) return fail('EDGELOOP_ERR_TRAINING_DATA', 'the dataset has no rows');
  const width = first.features.length;
  if (width === 0) return fail('EDGELOOP_ERR_TRAINING_DATA', 'rows have no features');
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as DatasetRow;
    if (r.features.length !== width) {
      return fail(
        'EDGELOOP_ERR_TRAINING_DATA',
        `row ${i} has ${r.features.length} features, row 0 has ${width}`,
      );
    }
    for (const v of r.features) {
      if (!Number.isFinite(v)) return fail('EDGELOOP_ERR_TRAINING_DATA', `row ${i} has a non-finite feature`);
    }
    if (r.label === '' || r.group === '') {
      return fail('EDGELOOP_ERR_TRAINING_DATA', `row ${i} has an empty label or group`);
    }
    if (!Number.isFinite(r.time)) return fail('EDGELOOP_ERR_TRAINING_DATA', `row ${i} has a non-finite time`);
  }
  if (classOrder(rows).length < 2)
    return fail('EDGELOOP_ERR_TRAINING_DATA', 'the dataset has one class only');
  return ok({ featureCount: width });
}

/**
 * One row as canonical text: JSON-quoted group and label, the time, then the features, each number in
 * ECMAScript's shortest round-trip form (String(x)), which is exact for float64 and the same on every
 * engine; -0 prints as 0.
 */
export function canonicalRow(r: DatasetRow): string {
  return `${JSON.stringify(r.group)}\t${JSON.stringify(r.label)}\t${String(r.time)}\t${Array.from(r.features, String).join(',')}`;
}

/**
 * SHA-256 over `edgeloop-dataset-v1\n` then each canonical row and `\n`, in the order given (partitions are
 * already sorted, so the digest depends on the set of rows, not on the order they arrived in).
 */
export function partitionDigest(rows: readonly DatasetRow[]): string {
  const hash = createHash('sha256');
  hash.update('edgeloop-dataset-v1\n');
  for (const r of rows) hash.update(`${canonicalRow(r)}\n`);
  return `sha256:${hash.digest('hex')}`;
}

/** The partition with `extra` rows added (held-out recent data forced into test), re-sorted and re-digested. */
export function withExtraRows(p: Partition, extra: readonly DatasetRow[]): Partition {
  return extra.length === 0 ? p : makePartition([...p.rows, ...extra]);
}

function makePartition(rows: DatasetRow[]): Partition {
  const keyed = rows.map((r) => ({ r, k: canonicalRow(r) }));
  keyed.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  const sorted = keyed.map((x) => x.r);
  const classCounts: Record<string, number> = {};
  for (const r of sorted) classCounts[r.label] = (classCounts[r.label] ?? 0) + 1;
  return {
    rows: sorted,
    digest: partitionDigest(sorted),
    count: sorted.length,
    groups: new Set(sorted.map((r) => r.group)).size,
    classCounts,
  };
}

/** Groups by majority label (ties to the label first in class order), each group's list sorted. */
function groupsByLabel(rows: readonly DatasetRow[]): Map<string, string[]> {
  const counts = new Map<string, Map<string, number>>();
  for (const r of rows) {
    const c = counts.get(r.group) ?? new Map<string, number>();
    c.set(r.label, (c.get(r.label) ?? 0) + 1);
    counts.set(r.group, c);
  }
  const order = classOrder(rows);
  const byLabel = new Map<string, string[]>(order.map((l) => [l, []]));
  for (const group of [...counts.keys()].sort()) {
    const c = counts.get(group) as Map<string, number>;
    let best = '';
    let bestN = -1;
    for (const label of order) {
      const n = c.get(label) ?? 0;
      if (n > bestN) {
        best = label;
        bestN = n;
      }
    }
    byLabel.get(best)?.push(group);
  }
  return byLabel;
}

/**
 * Seeded train/test split, grouped and stratified: groups are bucketed by their majority label, each
 * bucket is shuffled with its own derived seed and round(testFraction * n) groups go to test (at least
 * one and at most n - 1 when the bucket has two or more). A group's rows all land on one side.
 */
export function splitDataset(
  rows: readonly DatasetRow[],
  seed: number,
  testFraction: number,
): Result<SplitResult> {
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new EdgeloopError(
      'EDGELOOP_ERR_CONFIG_INVALID',
      `testFraction must be in (0, 1), got ${testFraction}`,
    );
  }
  const valid = validateRows(rows);
  if (!valid.ok) return valid;
  const testGroups = new Set<string>();
  for (const [label, groups] of groupsByLabel(rows)) {
    if (groups.length < 2) continue;
    const n = Math.min(groups.length - 1, Math.max(1, Math.round(testFraction * groups.length)));
    for (const g of shuffled(groups, new Prng(deriveSeed(seed, 'split', label))).slice(0, n))
      testGroups.add(g);
  }
  const train: DatasetRow[] = [];
  const test: DatasetRow[] = [];
  for (const r of rows) (testGroups.has(r.group) ? test : train).push(r);
  if (test.length === 0 || train.length === 0) {
    return fail(
      'EDGELOOP_ERR_TRAINING_SPLIT',
      'no label has two or more groups, so the test partition is empty',
    );
  }
  return ok({ train: makePartition(train), test: makePartition(test), seed, testFraction });
}

/**
 * Grouped, stratified k-fold assignment for validation: returns the fold index of every row. Groups
 * are bucketed by majority label, shuffled per label, and dealt round-robin (continuing across labels
 * so folds stay balanced in size).
 */
export function groupedFolds(rows: readonly DatasetRow[], folds: number, seed: number): Result<number[]> {
  if (!Number.isInteger(folds) || folds < 2) {
    throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', `folds must be an integer >= 2, got ${folds}`);
  }
  const foldOf = new Map<string, number>();
  let next = 0;
  for (const [label, groups] of groupsByLabel(rows)) {
    for (const g of shuffled(groups, new Prng(deriveSeed(seed, 'folds', label)))) {
      foldOf.set(g, next % folds);
      next++;
    }
  }
  if (foldOf.size < folds) {
    return fail('EDGELOOP_ERR_TRAINING_SPLIT', `${foldOf.size} training groups cannot make ${folds} folds`);
  }
  return ok(rows.map((r) => foldOf.get(r.group) ?? 0));
}

/** Dense row-major matrix of the features and the label indices in `classes`. */
export function toMatrix(
  rows: readonly DatasetRow[],
  classes: readonly string[],
): { x: Float64Array; y: Int32Array; n: number; f: number } {
  const n = rows.length;
  const f = rows[0]?.features.length ?? 0;
  const x = new Float64Array(n * f);
  const y = new Int32Array(n);
  const index = new Map(classes.map((c, i) => [c, i]));
  for (let i = 0; i < n; i++) {
    const r = rows[i] as DatasetRow;
    x.set(r.features, i * f);
    const k = index.get(r.label);
    if (k === undefined)
      throw new EdgeloopError('EDGELOOP_ERR_TRAINING_DATA', `label "${r.label}" is not a class`);
    y[i] = k;
  }
  return { x, y, n, f };
}
