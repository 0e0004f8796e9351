// The retraining gate (issue 10 §2 "Test and gate"): the candidate and the current production model are
// run on the SAME test rows (the candidate's test partition: lab, lab under conditions, and the held-out
// recent captured rows) and compared. The rule (docs/retraining.md):
//   1. there must be recent rows (captured, operator-labelled, held out): without them nothing shows the
//      candidate fits the field better;
//   2. macro-F1 on the recent rows: candidate >= production (not lower);
//   3. macro-F1 on all test rows: candidate at most `maxRegressionVsProduction` below production (the
//      registry policy's, default 0.02);
//   4. the registry policy's `minMacroF1`, when set, on all test rows.
// Pure.

export interface GateScores {
  readonly all: number;
  readonly recent: number | null;
}

export interface GateFigures {
  readonly rows: number;
  readonly recentRows: number;
  readonly candidate: GateScores;
  readonly production: GateScores;
}

export interface GatePolicy {
  readonly maxRegressionVsProduction: number;
  readonly minMacroF1?: number;
}

export const DEFAULT_MAX_REGRESSION = 0.02;

/** Macro-F1 over the labels present in truth or predictions (as training/metrics.ts computes it). */
export function macroF1(actual: readonly string[], predicted: readonly string[]): number {
  const labels = [...new Set([...actual, ...predicted])];
  if (labels.length === 0) return 0;
  let sum = 0;
  for (const l of labels) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < actual.length; i++) {
      const a = actual[i] === l;
      const p = predicted[i] === l;
      if (a && p) tp++;
      else if (p) fp++;
      else if (a) fn++;
    }
    sum += tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
  }
  return sum / labels.length;
}

/** Scores of one model's predictions: over all rows and over the rows flagged recent. */
export function gateScores(
  actual: readonly string[],
  predicted: readonly string[],
  recent: readonly boolean[],
): GateScores {
  const ra: string[] = [];
  const rp: string[] = [];
  for (let i = 0; i < actual.length; i++)
    if (recent[i] === true) {
      ra.push(actual[i] as string);
      rp.push(predicted[i] as string);
    }
  return { all: macroF1(actual, predicted), recent: ra.length === 0 ? null : macroF1(ra, rp) };
}

const f = (x: number): string => x.toFixed(4);

/** Reasons the candidate does not beat production; empty when it does. */
export function gateReasons(g: GateFigures, policy: GatePolicy): string[] {
  const reasons: string[] = [];
  const c = g.candidate;
  const p = g.production;
  if (g.recentRows === 0 || c.recent === null || p.recent === null)
    reasons.push(
      'no recent labelled captured rows in the test partition: nothing shows the candidate fits the field',
    );
  else if (c.recent < p.recent)
    reasons.push(
      `macro-F1 on ${g.recentRows} recent rows ${f(c.recent)} is below production's ${f(p.recent)}`,
    );
  if (p.all - c.all > policy.maxRegressionVsProduction)
    reasons.push(
      `macro-F1 on all ${g.rows} test rows ${f(c.all)} is ${f(p.all - c.all)} below production's ${f(p.all)}; at most ${policy.maxRegressionVsProduction} is allowed`,
    );
  if (policy.minMacroF1 !== undefined && c.all < policy.minMacroF1)
    reasons.push(
      `macro-F1 on all ${g.rows} test rows ${f(c.all)} is below the policy minimum ${policy.minMacroF1}`,
    );
  return reasons;
}
