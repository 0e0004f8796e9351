// The explanations a test report carries (docs/explanations.md, "Test reports"): permutation importance
// on the test partition and per-group performance. `edgeloop train`, the retraining worker and
// `edgeloop registry push --onnx` all call this one function with the model behind a BatchPredictor.

import { ok, type Result } from '../../shared/errors.ts';
import { groupPerformance, type GroupPerformance } from './group-performance.ts';
import { featureGroups } from './groups.ts';
import { permutationImportance, type PermutationImportance } from './permutation.ts';
import { argmaxAt, type BatchPredictor } from './predictor.ts';

export interface TestExplanations {
  readonly importance: PermutationImportance;
  readonly groupPerformance: GroupPerformance;
}

export interface TestExplanationsInput {
  readonly predictor: BatchPredictor;
  readonly x: Float32Array;
  readonly y: Int32Array;
  /** The test rows' group keys (`<device>@<minute>`) and true labels, in x's order. */
  readonly rows: readonly { readonly group: string; readonly label: string }[];
  readonly labels: readonly string[];
  readonly featureNames: readonly string[];
  readonly seed: number;
  /** Permutation repeats. Default 5. */
  readonly repeats?: number;
  /** Group flag margin on accuracy. Default DEFAULT_GROUP_MARGIN. */
  readonly groupMargin?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export async function explainTestSet(input: TestExplanationsInput): Promise<Result<TestExplanations>> {
  const { predictor, x, y, labels } = input;
  const c = predictor.classes;
  const n = y.length;
  const probs = await predictor.predict(x, n);
  if (!probs.ok) return probs;
  const predicted = Int32Array.from({ length: n }, (_, i) => argmaxAt(probs.value, i * c, c));
  const importance = await permutationImportance({
    predictor,
    x,
    y,
    labels,
    featureNames: input.featureNames,
    groups: featureGroups(input.featureNames),
    seed: input.seed,
    ...(input.repeats === undefined ? {} : { repeats: input.repeats }),
    ...(input.onProgress === undefined ? {} : { onProgress: input.onProgress }),
  });
  if (!importance.ok) return importance;
  return ok({
    importance: importance.value,
    groupPerformance: groupPerformance(input.rows, y, predicted, labels, input.groupMargin),
  });
}
