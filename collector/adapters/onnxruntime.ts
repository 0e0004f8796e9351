// The collector's only door to onnxruntime-node (STYLE.md: one adapter file per I/O library). Training
// (latency, parity) and the registry (push checks: the model loads, its I/O matches the manifest, golden
// outputs reproduce) take the `OnnxModel` interface, never the library.
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { fail, ok, type Result } from '../../shared/errors.ts';

/** Tensor element types we feed and read. Other types may appear in `OnnxValueInfo.dtype` as strings. */
export type OnnxTensorDtype = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'bool';

export type OnnxTensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

/** One model input or output as the session reports it. */
export interface OnnxValueInfo {
  readonly name: string;
  /** onnxruntime's element type name ('float32', 'int64', ...), or 'non-tensor' for sequences and maps. */
  readonly dtype: string;
  /** Dimensions; a string is a symbolic dimension (e.g. 'N'); empty when the model does not declare a shape. */
  readonly shape: readonly (number | string)[];
}

export interface OnnxFeed {
  readonly dtype: OnnxTensorDtype;
  readonly data: OnnxTensorData;
  readonly dims: readonly number[];
}

export interface OnnxOutput {
  readonly dtype: string;
  readonly data: OnnxTensorData | readonly string[];
  readonly dims: readonly number[];
}

export interface OnnxModel {
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  /** Runs the model. A bad feed (wrong name, dtype or shape) is a failure value, not a throw. */
  run(feeds: Readonly<Record<string, OnnxFeed>>): Promise<Result<Record<string, OnnxOutput>>>;
  /** Releases the native session. Idempotent. */
  close(): Promise<void>;
}

export interface OnnxLoadOptions {
  /**
   * Threads inside one operator. Default 1: the models are small, and one thread keeps latency
   * predictable and leaves the event loop's cores to the collector.
   */
  readonly intraOpNumThreads?: number;
}

function describe(meta: InferenceSession.ValueMetadata): OnnxValueInfo {
  if (!meta.isTensor) return { name: meta.name, dtype: 'non-tensor', shape: [] };
  return { name: meta.name, dtype: meta.type, shape: [...meta.shape] };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Loads ONNX bytes into an onnxruntime-node CPU session. An invalid model is a failure value. */
export async function loadOnnxModel(
  bytes: Uint8Array,
  options: OnnxLoadOptions = {},
): Promise<Result<OnnxModel>> {
  let session: InferenceSession;
  try {
    session = await InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      intraOpNumThreads: options.intraOpNumThreads ?? 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
  } catch (err) {
    return fail('EDGELOOP_ERR_ONNX_LOAD', message(err));
  }
  const inputs = session.inputMetadata.map(describe);
  const outputs = session.outputMetadata.map(describe);
  let closed = false;

  return ok({
    inputs,
    outputs,
    async run(feeds) {
      if (closed) return fail('EDGELOOP_ERR_ONNX_RUN', 'the session is closed');
      const tensors: Record<string, Tensor> = {};
      try {
        for (const [name, feed] of Object.entries(feeds)) {
          tensors[name] = new Tensor(feed.dtype, feed.data, feed.dims);
        }
        const results = await session.run(tensors);
        const out: Record<string, OnnxOutput> = {};
        for (const [name, value] of Object.entries(results)) {
          // Every graph we build or accept has tensor outputs; anything else (ONNX-ML maps) is rejected.
          if (!(value instanceof Tensor))
            return fail('EDGELOOP_ERR_ONNX_RUN', `output "${name}" is not a tensor`);
          out[name] = {
            dtype: value.type,
            data: value.data as OnnxTensorData | string[],
            dims: [...value.dims],
          };
        }
        return ok(out);
      } catch (err) {
        return fail('EDGELOOP_ERR_ONNX_RUN', message(err));
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await session.release();
    },
  });
}
