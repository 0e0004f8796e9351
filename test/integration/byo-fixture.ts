// Foreign ONNX models for the bring-your-own tests (`registry push --onnx`, `edgeloop features`), built
// with onnx-proto the way an exporter writes them, not by our trainer: a linear softmax classifier of any
// width and class count, whose batch dimension can be named, fixed, or left without a name at all.

import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

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
  const batch = options.batch === undefined ? 'batch' : options.batch;
  const f32 = (name: string, dims: number[], values: readonly number[]) => {
    const raw = new Uint8Array(values.length * 4);
    const view = new DataView(raw.buffer);
    values.forEach((v, i) => {
      view.setFloat32(i * 4, v, true);
    });
    return onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw });
  };
  const dim = (d: string | number | null) =>
    d === null ? {} : typeof d === 'number' ? { dimValue: d } : { dimParam: d };
  const vi = (name: string, elemType: number, dims: (number | string | null)[]) =>
    onnx.ValueInfoProto.create({
      name,
      type: { tensorType: { elemType, shape: { dim: dims.map(dim) } } },
    });
  // Small deterministic weights, so the outputs differ between rows and classes.
  const w = Array.from({ length: features * classes }, (_, i) => Math.sin(i * 1.7) * 0.05);
  const b = Array.from({ length: classes }, (_, i) => i * 0.01);
  const INT = onnx.AttributeProto.AttributeType.INT;
  const withLabel = options.label ?? true;
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'byo-test',
    producerVersion: '1.2.3',
    graph: {
      name: 'linear',
      initializer: [f32('w', [features, classes], w), f32('b', [classes], b)],
      node: [
        onnx.NodeProto.create({ opType: 'MatMul', input: ['features', 'w'], output: ['mm'] }),
        onnx.NodeProto.create({ opType: 'Add', input: ['mm', 'b'], output: ['logits'] }),
        onnx.NodeProto.create({
          opType: 'Softmax',
          input: ['logits'],
          output: ['probabilities'],
          attribute: [{ name: 'axis', i: -1, type: INT }],
        }),
        ...(withLabel
          ? [
              onnx.NodeProto.create({
                opType: 'ArgMax',
                input: ['probabilities'],
                output: ['label'],
                attribute: [
                  { name: 'axis', i: 1, type: INT },
                  { name: 'keepdims', i: 0, type: INT },
                ],
              }),
            ]
          : []),
      ],
      input: [vi('features', onnx.TensorProto.DataType.FLOAT, [batch, features])],
      output: [
        vi('probabilities', onnx.TensorProto.DataType.FLOAT, [batch, classes]),
        ...(withLabel ? [vi('label', onnx.TensorProto.DataType.INT64, [batch])] : []),
      ],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
