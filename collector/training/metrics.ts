// Classification metrics for validation folds and the held-out test report (issue #3 §3).

export interface ClassMetrics {
  readonly label: string;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  readonly support: number;
}

export interface ReliabilityBin {
  /** Bin bounds on the top-class confidence, [lower, upper) (the last bin includes 1). */
  readonly lower: number;
  readonly upper: number;
  readonly count: number;
  /** Mean top-class probability of the rows in the bin (0 when empty). */
  readonly confidence: number;
  /** Share of rows in the bin whose top class is right (0 when empty). */
  readonly accuracy: number;
}

export interface Calibration {
  readonly bins: readonly ReliabilityBin[];
  /** Expected calibration error: sum over bins of (count / n) * |accuracy - confidence|. */
  readonly ece: number;
}

export interface ClassificationMetrics {
  readonly accuracy: number;
  /** Unweighted mean of per-class F1 over the classes present in the truth or the predictions. */
  readonly macroF1: number;
  readonly perClass: readonly ClassMetrics[];
  /** confusion[actual][predicted], rows and columns in class order. */
  readonly confusion: readonly (readonly number[])[];
}

export function confusionMatrix(actual: Int32Array, predicted: Int32Array, c: number): number[][] {
  const m = Array.from({ length: c }, () => new Array<number>(c).fill(0));
  for (let i = 0; i < actual.length; i++) {
    const row = m[actual[i] as number];
    const k = predicted[i] as number;
    if (row !== undefined) row[k] = (row[k] ?? 0) + 1;
  }
  return m;
}

export function classificationMetrics(
  actual: Int32Array,
  predicted: Int32Array,
  classes: readonly string[],
): ClassificationMetrics {
  const c = classes.length;
  const confusion = confusionMatrix(actual, predicted, c);
  let correct = 0;
  const perClass: ClassMetrics[] = [];
  for (let k = 0; k < c; k++) {
    const tp = confusion[k]?.[k] ?? 0;
    correct += tp;
    let support = 0;
    let predictedK = 0;
    for (let j = 0; j < c; j++) {
      support += confusion[k]?.[j] ?? 0;
      predictedK += confusion[j]?.[k] ?? 0;
    }
    const precision = predictedK === 0 ? 0 : tp / predictedK;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    perClass.push({ label: classes[k] ?? String(k), precision, recall, f1, support });
  }
  // As scikit-learn: average over the classes that occur in the truth or the predictions, so a
  // validation fold that happens to lack a class is not capped at (c - 1) / c.
  const seen = perClass.filter((m, k) => m.support > 0 || confusion.some((row) => (row[k] ?? 0) > 0));
  const macroF1 = seen.length === 0 ? 0 : seen.reduce((s, m) => s + m.f1, 0) / seen.length;
  return { accuracy: actual.length === 0 ? 0 : correct / actual.length, macroF1, perClass, confusion };
}

/** Reliability diagram on the top-class confidence with `binCount` equal-width bins, plus ECE. */
export function calibration(
  probs: Float64Array | Float32Array,
  actual: Int32Array,
  c: number,
  binCount = 10,
): Calibration {
  const n = actual.length;
  const count = new Array<number>(binCount).fill(0);
  const conf = new Array<number>(binCount).fill(0);
  const hits = new Array<number>(binCount).fill(0);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < c; k++) if ((probs[i * c + k] as number) > (probs[i * c + best] as number)) best = k;
    const p = probs[i * c + best] as number;
    const b = Math.min(binCount - 1, Math.floor(p * binCount));
    count[b] = (count[b] as number) + 1;
    conf[b] = (conf[b] as number) + p;
    if (best === actual[i]) hits[b] = (hits[b] as number) + 1;
  }
  let ece = 0;
  const bins: ReliabilityBin[] = [];
  for (let b = 0; b < binCount; b++) {
    const nb = count[b] as number;
    const confidence = nb === 0 ? 0 : (conf[b] as number) / nb;
    const accuracy = nb === 0 ? 0 : (hits[b] as number) / nb;
    if (nb > 0) ece += (nb / n) * Math.abs(accuracy - confidence);
    bins.push({ lower: b / binCount, upper: (b + 1) / binCount, count: nb, confidence, accuracy });
  }
  return { bins, ece };
}
