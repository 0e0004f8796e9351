// The model as a black box (docs/explanations.md): rows of features in, class probabilities out. Every
// explanation here is computed through this interface, so it works the same for edgeloop's own models and
// for a bring-your-own ONNX model run in onnxruntime-node; tests pass a plain function.

import type { Manifest } from '../../shared/bundle/manifest.ts';
import { probabilitiesOutput } from '../../shared/bundle/io-check.ts';
import { fail, ok, type Result } from '../../shared/errors.ts';
import type { OnnxSession } from '../../shared/platform/onnx.ts';

export interface BatchPredictor {
  readonly width: number;
  readonly classes: number;
  /** `n` rows (row-major, `width` each) to `n * classes` probabilities. */
  predict(rows: Float32Array, n: number): Promise<Result<Float32Array>>;
}

/** Rows per session run: large enough to amortise the call, small enough to bound the output buffer. */
const CHUNK_ROWS = 4096;

/**
 * A predictor over an onnxruntime session, bound by the manifest the way the agent binds it: the one
 * float32 [batch, features] input and the probabilities output. A model with a fixed batch of 1 is run
 * row by row.
 */
export function onnxPredictor(
  session: OnnxSession,
  manifest: Manifest,
  width: number,
): Result<BatchPredictor> {
  const input = manifest.io.inputs[0];
  const output = probabilitiesOutput(manifest.io.outputs);
  if (
    manifest.io.inputs.length !== 1 ||
    input === undefined ||
    input.dtype !== 'float32' ||
    input.shape.length !== 2
  )
    return fail('EDGELOOP_ERR_MODEL_IO_MISMATCH', 'an explanation needs one float32 [batch, features] input');
  if (output === undefined)
    return fail('EDGELOOP_ERR_MODEL_IO_MISMATCH', 'the model has no float32 probabilities output');
  return ok(
    sessionPredictor(session, {
      input: input.name,
      output: output.name,
      width,
      classes: manifest.labels.length,
      rowsPerRun: input.shape[0] === 1 ? 1 : CHUNK_ROWS,
    }),
  );
}

export interface SessionBinding {
  readonly input: string;
  readonly output: string;
  readonly width: number;
  readonly classes: number;
  /** Rows per run: 1 for a model with a fixed batch of 1. */
  readonly rowsPerRun?: number;
}

/** A predictor over a session whose tensor names are known (the trainer's own export). */
export function sessionPredictor(session: OnnxSession, b: SessionBinding): BatchPredictor {
  const { width, classes } = b;
  const chunk = b.rowsPerRun ?? CHUNK_ROWS;
  const predict = async (rows: Float32Array, n: number): Promise<Result<Float32Array>> => {
    const out = new Float32Array(n * classes);
    for (let start = 0; start < n; start += chunk) {
      const m = Math.min(chunk, n - start);
      const r = await session.run({
        [b.input]: {
          dtype: 'float32',
          data: rows.subarray(start * width, (start + m) * width),
          dims: [m, width],
        },
      });
      if (!r.ok) return r;
      const p = r.value[b.output]?.data;
      if (!(p instanceof Float32Array) || p.length !== m * classes)
        return fail(
          'EDGELOOP_ERR_ONNX_RUN',
          `output "${b.output}" did not hold ${m} x ${classes} float32 scores`,
        );
      out.set(p, start * classes);
    }
    return ok(out);
  };
  return { width, classes, predict };
}

/** Index of the largest of `classes` values at `offset`. */
export function argmaxAt(p: ArrayLike<number>, offset: number, classes: number): number {
  let best = 0;
  for (let k = 1; k < classes; k++) if ((p[offset + k] as number) > (p[offset + best] as number)) best = k;
  return best;
}
