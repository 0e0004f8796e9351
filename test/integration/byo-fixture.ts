// Foreign ONNX models for the bring-your-own tests (`registry push --onnx`, `edgeloop features`), built
// with onnx-proto the way an exporter writes them, not by our trainer: a linear softmax classifier of any
// width and class count, whose batch dimension can be named, fixed, or left without a name at all. The
// graph is the shared test fixture's (test/helpers/onnx-fixture.ts) with the exporter's knobs set here.

import { softmaxOnnx } from '../helpers/onnx-fixture.ts';

export interface LinearOnnxOptions {
  readonly features: number;
  readonly classes: number;
  /**
   * The batch dimension: a name (dim_param), a size (dim_value), or null for a dimension with neither,
   * as some exporters write `[None, n]` (onnx.proto TensorShapeProto.Dimension: both fields are optional).
   */
  readonly batch?: string | number | null;
  /** Add an int64 ArgMax output "label" [batch]. Default true. */
  readonly label?: boolean;
}

/** features[batch, F] -MatMul(W)-Add(b)-Softmax-> probabilities[batch, C] (and ArgMax -> label[batch]). */
export function linearOnnx(options: LinearOnnxOptions): Uint8Array {
  const { features, classes } = options;
  return softmaxOnnx({
    features,
    classes,
    // Small deterministic weights, so the outputs differ between rows and classes.
    weights: Array.from({ length: features * classes }, (_, i) => Math.sin(i * 1.7) * 0.05),
    bias: Array.from({ length: classes }, (_, i) => i * 0.01),
    batch: options.batch === undefined ? 'batch' : options.batch,
    label: options.label ?? true,
    producerName: 'byo-test',
    producerVersion: '1.2.3',
  });
}
