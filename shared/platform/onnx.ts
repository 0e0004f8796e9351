// The only door to onnxruntime-node (STYLE.md: one adapter file per I/O library), shared by both runtimes
// (issue #7 §1): the agent's model manager and inference engine, and the collector's training (latency,
// parity) and registry (push checks) take the `OnnxSession` interface, never the library, so tests can
// wrap a real session (slowed, failing) without touching it.
//
// Note on blocking: onnxruntime-node 1.30's `run` defers to setImmediate and then runs synchronously on the
// main thread (node_modules/onnxruntime-node/dist/backend.js). docs/agent-models.md has the event-loop lag
// this costs at the reference feature width, and why no worker thread is needed for it.
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { fail, ok, type Result } from '../errors.ts';

/**
 * Tensor element types we feed (golden inputs, feature vectors). Other types may appear in
 * `OnnxValueInfo.dtype` and `OnnxOutput.dtype` as strings.
 */
export type OnnxTensorDtype = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'bool';
/** bool tensors travel as Uint8Array (one byte per element, 0 or 1), int64 as BigInt64Array. */
export type OnnxTensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

/** One model input or output as the session reports it. */
export interface OnnxValueInfo {
  readonly name: string;
  /** onnxruntime's element type name ('float32', 'int64', ...), or 'non-tensor' for sequences and maps. */
  readonly dtype: string;
  /**
   * Dimensions; a string (a symbolic dimension such as 'N') or a negative number is dynamic. Empty when the
   * model does not declare a shape.
   */
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

export interface OnnxSession {
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  /**
   * Runs the model. A bad feed (wrong name, dtype or shape) or a runtime error is a failure value
   * (EDGELOOP_ERR_ONNX_RUN), never a throw.
   */
  run(feeds: Readonly<Record<string, OnnxFeed>>): Promise<Result<Record<string, OnnxOutput>>>;
  /** Releases the native session. Idempotent; a run after close is a failure value. */
  close(): Promise<void>;
}

export interface OnnxSessionOptions {
  /**
   * Threads inside one operator. Default 1: the models are small, and one thread keeps latency predictable
   * and leaves the other core to ingestion and publishing (agent) or the event loop (collector).
   */
  readonly intraOpNumThreads?: number;
}

/** How a runtime gets a session from model bytes; tests pass a wrapper around loadOnnxSession. */
export type OnnxSessionLoader = (bytes: Uint8Array) => Promise<Result<OnnxSession>>;

function describe(meta: InferenceSession.ValueMetadata): OnnxValueInfo {
  if (!meta.isTensor) return { name: meta.name, dtype: 'non-tensor', shape: [] };
  return { name: meta.name, dtype: meta.type, shape: [...meta.shape] };
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Loads ONNX bytes into a CPU session. An invalid model is EDGELOOP_ERR_ONNX_LOAD, not a throw. */
export async function loadOnnxSession(
  bytes: Uint8Array,
  options: OnnxSessionOptions = {},
): Promise<Result<OnnxSession>> {
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
      try {
        const tensors: Record<string, Tensor> = {};
        for (const [name, feed] of Object.entries(feeds))
          tensors[name] = new Tensor(feed.dtype, feed.data, feed.dims);
        const results = await session.run(tensors);
        const out: Record<string, OnnxOutput> = {};
        for (const [name, value] of Object.entries(results)) {
          // Every graph we build or accept has tensor outputs; anything else (ONNX-ML maps) is refused.
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
