// The feature CSV (docs/features.md "Exporting feature vectors"): one contract for the file that
// `edgeloop features` writes and that `registry push --onnx` and external trainers (pandas, scikit-learn,
// PyTorch) read. The header is the feature pipeline's names in vector order, optionally followed by a
// `label` column; each row is one window's float32 feature vector, in time order.

import { fail, ok, type Result } from '../errors.ts';

/** The optional last column: the window's class label (lab data), a string. */
export const FEATURE_CSV_LABEL = 'label';

/** The header line (no newline): the feature names, then `label` when the rows are labelled. */
export function featureCsvHeader(featureNames: readonly string[], labelled = false): string {
  for (const n of featureNames) {
    if (n === FEATURE_CSV_LABEL || /[",\r\n]/.test(n) || n.trim() !== n || n === '')
      throw new TypeError(`feature name ${JSON.stringify(n)} cannot be a CSV column`);
  }
  return [...featureNames, ...(labelled ? [FEATURE_CSV_LABEL] : [])].join(',');
}

/**
 * A float32 value as the shortest decimal with 9 significant digits at most: 9 digits identify every
 * float32 exactly (IEEE 754 §5.12.2), so reading the row back and rounding to float32 gives the very
 * numbers the model is fed, without printing float64 noise like 0.10000000149011612.
 */
function formatValue(v: number): string {
  if (!Number.isFinite(v)) throw new TypeError(`feature value ${v} is not finite`);
  return String(Number(v.toPrecision(9)));
}

/** One data line (no newline): the values, then the label when given. */
export function featureCsvRow(values: ArrayLike<number>, label?: string): string {
  const cells = Array.from(values, formatValue);
  if (label !== undefined) {
    if (/[",\r\n]/.test(label) || label === '')
      throw new TypeError(`label ${JSON.stringify(label)} cannot be a CSV cell`);
    cells.push(label);
  }
  return cells.join(',');
}

export interface FeatureCsv {
  readonly name: string;
  readonly featureNames: readonly string[];
  readonly rows: readonly (readonly number[])[];
  /** Per row, when the file has a `label` column. */
  readonly labels?: readonly string[];
}

/**
 * Parses a feature CSV: a header of feature names (and an optional last `label` column), then one row of
 * numbers (and its label) per line. Blank lines and `#` comments are skipped.
 */
export function parseFeatureCsv(text: string, name: string): Result<FeatureCsv> {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.startsWith('#'));
  const header = lines[0];
  if (header === undefined) return fail('EDGELOOP_ERR_INPUT_READ', `${name} is empty`);
  const columns = header.split(',').map((s) => s.trim());
  const labelled = columns[columns.length - 1] === FEATURE_CSV_LABEL;
  const featureNames = labelled ? columns.slice(0, -1) : columns;
  const rows: number[][] = [];
  const labels: string[] = [];
  for (const [i, line] of lines.slice(1).entries()) {
    const cells = line.split(',').map((s) => s.trim());
    const label = labelled ? cells.pop() : undefined;
    const row = cells.map(Number);
    if (
      cells.length !== featureNames.length ||
      row.some((v, j) => !Number.isFinite(v) || cells[j] === '') ||
      label === ''
    ) {
      return fail(
        'EDGELOOP_ERR_CSV_LINE',
        `${name} line ${i + 2}: expected ${featureNames.length} numbers${labelled ? ' and a label' : ''}`,
      );
    }
    rows.push(row);
    if (label !== undefined) labels.push(label);
  }
  return ok({ name, featureNames, rows, ...(labelled ? { labels } : {}) });
}
