// Performance without labels (docs/explanations.md, "Estimated performance"): confidence-based
// performance estimation as NannyML's CBPE does it. With calibrated probabilities, a window predicted as
// class k is right with probability p_k, so the expected confusion counts follow from the probabilities
// alone: expected accuracy is the mean top-class probability, and the expected per-class TP, FP and FN give
// an expected macro-F1. It is only as good as the calibration, so the test report's ECE travels with it
// and an estimate from a poorly calibrated model is marked untrusted.

export interface EstimatedPerformance {
  readonly windows: number;
  readonly accuracy: number;
  readonly macroF1: number;
  /** ECE measured in the model's test report, when known. */
  readonly calibrationEce: number | null;
  /** False when the ECE is above the trust limit (or unknown): the estimate cannot be relied on. */
  readonly trusted: boolean;
  readonly reason: string;
}

/** ECE above which an estimate is reported as untrusted. */
export const DEFAULT_MAX_TRUSTED_ECE = 0.05;

/** CBPE over `n` probability rows of `c` classes. */
export function estimatePerformance(
  probs: ArrayLike<number>,
  n: number,
  c: number,
  calibrationEce: number | null,
  maxTrustedEce = DEFAULT_MAX_TRUSTED_ECE,
): EstimatedPerformance {
  const tp = new Float64Array(c);
  const fp = new Float64Array(c);
  const fn = new Float64Array(c);
  let acc = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < c; k++) if ((probs[i * c + k] as number) > (probs[i * c + best] as number)) best = k;
    for (let k = 0; k < c; k++) {
      const p = probs[i * c + k] as number;
      if (k === best) {
        tp[k] = (tp[k] as number) + p;
        fp[k] = (fp[k] as number) + (1 - p);
      } else {
        fn[k] = (fn[k] as number) + p;
      }
    }
    acc += probs[i * c + best] as number;
  }
  let f1Sum = 0;
  let classes = 0;
  for (let k = 0; k < c; k++) {
    const denom = 2 * (tp[k] as number) + (fp[k] as number) + (fn[k] as number);
    // As the realised macro-F1: classes with neither expected support nor predictions are left out.
    if (denom < 1e-9) continue;
    f1Sum += (2 * (tp[k] as number)) / denom;
    classes++;
  }
  const trusted = calibrationEce !== null && calibrationEce <= maxTrustedEce;
  return {
    windows: n,
    accuracy: n === 0 ? 0 : acc / n,
    macroF1: classes === 0 ? 0 : f1Sum / classes,
    calibrationEce,
    trusted,
    reason:
      calibrationEce === null
        ? 'the model has no measured calibration (no ece in its test metrics), so the estimate cannot be trusted'
        : trusted
          ? `calibration error ${calibrationEce.toFixed(3)} <= ${maxTrustedEce}: the estimate can be trusted`
          : `calibration error ${calibrationEce.toFixed(3)} > ${maxTrustedEce}: the model's probabilities are not calibrated enough to trust the estimate`,
  };
}
