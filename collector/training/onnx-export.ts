// Scaler + MLP -> ONNX (issue #3 §4), built with the protobufjs classes from `onnx-proto`, never by
// hand-writing bytes. The graph uses default-domain ops only, so any onnxruntime since 1.13 loads it:
//   features[N,F] -Cast(double)-Sub(mean)-Div(std)-Cast(float)
//     -MatMul(W1)-Add(b1)-Relu-MatMul(W2)-Add(b2)-Softmax -> probabilities[N,C]
//   probabilities -ArgMax(axis=1, keepdims=0) -> label[N] (int64 index into the class labels)
// With hidden = 0 the W1/b1/Relu nodes are left out (softmax regression).
// The scaler runs in float64 because a float32 mean is off by up to half an ulp of the feature: for
// pressure (~1013 hPa, ulp 6.1e-5, std ~0.02) that is 1.5e-3 of a standard deviation, which moved the
// probabilities by up to 2.4e-5 on lab data, above the 1e-5 parity bound of issue #3 §4. A float32
// input is exact in float64, so Cast-Sub-Div in double matches the TypeScript scaler to the last bit
// before the single rounding back to float32. onnxruntime's CPU provider has Cast, Sub and Div for double.
import onnxProto from 'onnx-proto';
import { fail, ok, type Result } from '../../shared/errors.ts';
import type { TrainedModel } from './model.ts';

const { onnx } = onnxProto;

/** ONNX IR version 8 (ONNX 1.10+) and default-domain opset 17 (ONNX 1.12+): onnxruntime >= 1.13 reads both. */
export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET_VERSION = 17;

export const INPUT_NAME = 'features';
export const PROBABILITIES_NAME = 'probabilities';
export const LABEL_NAME = 'label';

export interface OnnxTensorSignature {
  readonly name: string;
  readonly dtype: 'float32' | 'int64';
  /** 'N' is the dynamic batch dimension. */
  readonly shape: readonly (number | string)[];
}

export interface OnnxExportMetadata {
  readonly irVersion: number;
  readonly opsetVersion: number;
  readonly opsetDomain: '';
  readonly producerName: string;
  readonly producerVersion: string;
  readonly inputs: readonly OnnxTensorSignature[];
  readonly outputs: readonly OnnxTensorSignature[];
  readonly classes: readonly string[];
  /** The same key/value pairs written to the model's metadata_props. */
  readonly metadataProps: Readonly<Record<string, string>>;
}

export interface OnnxExportOptions {
  /** Feature pipeline the model expects its input from (written to metadata_props `edgeloop.pipeline_id`). */
  readonly pipelineId: string;
  /** Parameter hash of that pipeline, if known. */
  readonly pipelineHash?: string;
  /** Default '0.0.0'. Keep it free of build times so the bytes stay reproducible. */
  readonly producerVersion?: string;
}

export interface OnnxExport {
  readonly bytes: Uint8Array;
  readonly metadata: OnnxExportMetadata;
}

/** A float32 initializer; raw_data is little-endian per the ONNX spec, whatever the host's byte order. */
function floatTensor(
  name: string,
  dims: number[],
  values: Float64Array,
): InstanceType<typeof onnx.TensorProto> {
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] as number, true);
  return onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw });
}

/** A float64 initializer (the scaler's mean and std, kept at full precision), little-endian raw_data. */
function doubleTensor(
  name: string,
  dims: number[],
  values: Float64Array,
): InstanceType<typeof onnx.TensorProto> {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i] as number, true);
  return onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.DOUBLE, rawData: raw });
}

function valueInfo(sig: OnnxTensorSignature): InstanceType<typeof onnx.ValueInfoProto> {
  const elemType =
    sig.dtype === 'float32' ? onnx.TensorProto.DataType.FLOAT : onnx.TensorProto.DataType.INT64;
  const dim = sig.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return onnx.ValueInfoProto.create({ name: sig.name, type: { tensorType: { elemType, shape: { dim } } } });
}

function node(
  opType: string,
  input: string[],
  output: string[],
  attribute: { name: string; i: number }[] = [],
): InstanceType<typeof onnx.NodeProto> {
  return onnx.NodeProto.create({
    name: output[0] ?? opType,
    opType,
    input,
    output,
    attribute: attribute.map((a) => ({ name: a.name, i: a.i, type: onnx.AttributeProto.AttributeType.INT })),
  });
}

/** Builds and encodes the ONNX model. Same model and options give the same bytes. */
export function exportOnnx(model: TrainedModel, options: OnnxExportOptions): OnnxExport {
  const { features: f, hidden: h, classes: c } = model.weights;
  const inputs: OnnxTensorSignature[] = [{ name: INPUT_NAME, dtype: 'float32', shape: ['N', f] }];
  const outputs: OnnxTensorSignature[] = [
    { name: PROBABILITIES_NAME, dtype: 'float32', shape: ['N', c] },
    { name: LABEL_NAME, dtype: 'int64', shape: ['N'] },
  ];
  const initializer = [
    doubleTensor('scaler_mean', [f], model.scaler.mean),
    doubleTensor('scaler_std', [f], model.scaler.std),
  ];
  // Standardise in float64 (see the header), then one rounding to float32 for the layers.
  const nodes = [
    node('Cast', [INPUT_NAME], ['features_f64'], [{ name: 'to', i: onnx.TensorProto.DataType.DOUBLE }]),
    node('Sub', ['features_f64', 'scaler_mean'], ['centred']),
    node('Div', ['centred', 'scaler_std'], ['scaled_f64']),
    node('Cast', ['scaled_f64'], ['scaled'], [{ name: 'to', i: onnx.TensorProto.DataType.FLOAT }]),
  ];
  let last = 'scaled';
  if (h > 0) {
    initializer.push(floatTensor('w1', [f, h], model.weights.w1), floatTensor('b1', [h], model.weights.b1));
    nodes.push(
      node('MatMul', [last, 'w1'], ['hidden_mm']),
      node('Add', ['hidden_mm', 'b1'], ['hidden_pre']),
      node('Relu', ['hidden_pre'], ['hidden']),
    );
    last = 'hidden';
  }
  initializer.push(
    floatTensor('w2', [h > 0 ? h : f, c], model.weights.w2),
    floatTensor('b2', [c], model.weights.b2),
  );
  nodes.push(
    node('MatMul', [last, 'w2'], ['logits_mm']),
    node('Add', ['logits_mm', 'b2'], ['logits']),
    node('Softmax', ['logits'], [PROBABILITIES_NAME], [{ name: 'axis', i: -1 }]),
    node(
      'ArgMax',
      [PROBABILITIES_NAME],
      [LABEL_NAME],
      [
        { name: 'axis', i: 1 },
        { name: 'keepdims', i: 0 },
      ],
    ),
  );

  const metadataProps: Record<string, string> = {
    'edgeloop.classes': JSON.stringify(model.classes),
    'edgeloop.pipeline_id': options.pipelineId,
    'edgeloop.feature_count': String(f),
  };
  if (options.pipelineHash !== undefined) metadataProps['edgeloop.pipeline_hash'] = options.pipelineHash;
  const producerVersion = options.producerVersion ?? '0.0.0';

  const proto = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET_VERSION }],
    producerName: 'edgeloop',
    producerVersion,
    graph: {
      name: 'edgeloop_classifier',
      node: nodes,
      initializer,
      input: inputs.map(valueInfo),
      output: outputs.map(valueInfo),
    },
    metadataProps: Object.entries(metadataProps).map(([key, value]) => ({ key, value })),
  });
  const bytes = onnx.ModelProto.encode(proto).finish();
  return {
    bytes,
    metadata: {
      irVersion: ONNX_IR_VERSION,
      opsetVersion: ONNX_OPSET_VERSION,
      opsetDomain: '',
      producerName: 'edgeloop',
      producerVersion,
      inputs,
      outputs,
      classes: [...model.classes],
      metadataProps,
    },
  };
}

export interface OnnxInspection {
  readonly irVersion: number;
  /** Every opset import; the default ONNX domain is ''. */
  readonly opsets: readonly { readonly domain: string; readonly version: number }[];
  readonly producerName: string;
  readonly producerVersion: string;
  readonly metadataProps: Readonly<Record<string, string>>;
}

/**
 * Reads the header fields of any ONNX file (ours or one exported from PyTorch or scikit-learn) without
 * running it, e.g. to record opset and IR versions in a bundle manifest. Undecodable bytes are a failure.
 */
export function inspectOnnx(bytes: Uint8Array): Result<OnnxInspection> {
  let decoded: InstanceType<typeof onnx.ModelProto>;
  try {
    decoded = onnx.ModelProto.decode(bytes);
  } catch (err) {
    return fail(
      'EDGELOOP_ERR_ONNX_LOAD',
      `not an ONNX protobuf: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const metadataProps: Record<string, string> = {};
  for (const p of decoded.metadataProps) metadataProps[p.key ?? ''] = p.value ?? '';
  return ok({
    irVersion: Number(decoded.irVersion),
    opsets: decoded.opsetImport.map((o) => ({ domain: o.domain ?? '', version: Number(o.version) })),
    producerName: decoded.producerName,
    producerVersion: decoded.producerVersion,
    metadataProps,
  });
}
