// The pure half of checking a loaded model against its bundle (docs/model-bundle.md): the registry runs it
// on push (collector/registry/push-check.ts) and the agent again before a hot swap (agent/models/checks.ts).
// The runtimes may not import each other, so the shared logic lives here; each caller keeps its own error
// codes and wording, which is why these return plain problems rather than `Result` failures.

import type { GoldenTensor } from './golden.ts';
import type { TensorSpec } from './manifest.ts';

/** One model input or output as a runtime reports it (structurally the adapters' `OnnxValueInfo`). */
export interface IoValueInfo {
  readonly name: string;
  /** onnxruntime's element type name ('float32', 'int64', ...), or 'non-tensor'. */
  readonly dtype: string;
  /** Dimensions; a string or a negative number is a dynamic dimension. */
  readonly shape: readonly (number | string)[];
}

export interface IoProblemOptions {
  /** Append the model's own names to a "not a model input/output" problem (the registry's wording). */
  readonly listModelNames?: boolean;
}

const isDynamic = (d: number | string): boolean => typeof d === 'string' || d < 0;

/** Differences between the manifest's declared tensors and the model's (names, dtypes, ranks, fixed dims). */
export function ioProblems(
  kind: 'input' | 'output',
  declared: readonly TensorSpec[],
  actual: readonly IoValueInfo[],
  options: IoProblemOptions = {},
): string[] {
  const problems: string[] = [];
  const byName = new Map(actual.map((a) => [a.name, a]));
  for (const d of declared) {
    const a = byName.get(d.name);
    if (a === undefined) {
      const names = options.listModelNames
        ? ` (model has ${actual.map((x) => `"${x.name}"`).join(', ')})`
        : '';
      problems.push(`manifest ${kind} "${d.name}" is not a model ${kind}${names}`);
      continue;
    }
    byName.delete(d.name);
    if (a.dtype !== d.dtype)
      problems.push(`${kind} "${d.name}": model dtype ${a.dtype}, manifest ${d.dtype}`);
    const shapeOk =
      a.shape.length === d.shape.length &&
      d.shape.every((dim, i) => {
        const m = a.shape[i] as number | string;
        // A fixed manifest dimension must be the same fixed size; a named one must be dynamic in the model.
        return typeof dim === 'number' ? m === dim : isDynamic(m);
      });
    if (!shapeOk)
      problems.push(
        `${kind} "${d.name}": model shape [${a.shape.join(', ')}], manifest [${d.shape.join(', ')}]`,
      );
  }
  for (const extra of byName.keys()) problems.push(`model ${kind} "${extra}" is not in the manifest`);
  return problems;
}

/**
 * The output holding the class probabilities, by the agent's rule (agent/inference/onnx-engine.ts
 * bindModel): the float32 output named "probabilities", else the only float32 output.
 */
export function probabilitiesOutput(outputs: readonly TensorSpec[]): TensorSpec | undefined {
  const floats = outputs.filter((o) => o.dtype === 'float32');
  return floats.find((o) => o.name === 'probabilities') ?? (floats.length === 1 ? floats[0] : undefined);
}

/**
 * Whether the labels name every probability column, one each (issue #8 §5: 4 labels on a 5-column model
 * were certified). The class count is the last dimension of the probabilities output: its fixed size
 * in the signature, else the size seen in `observed` (a run's outputs, name -> dims). Returns the
 * problem, or undefined when the count matches or cannot be known (no probabilities output, no run).
 */
export function labelCountProblem(
  outputs: readonly TensorSpec[],
  labels: readonly string[],
  observed: Readonly<Record<string, { readonly dims: readonly number[] }>> = {},
): string | undefined {
  const probs = probabilitiesOutput(outputs);
  if (probs === undefined) return undefined;
  const declared = probs.shape[probs.shape.length - 1];
  const seen = observed[probs.name]?.dims;
  const classes = typeof declared === 'number' ? declared : seen?.[seen.length - 1];
  if (classes === undefined || classes === labels.length) return undefined;
  return `output "${probs.name}" has ${classes} probability columns but there are ${labels.length} labels (${labels.join(', ')}); give one label per column, in column order`;
}

/** Element types a golden tensor can be turned into (structurally the adapters' feed dtypes). */
export type GoldenFeedDtype = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'bool';
export type GoldenTypedData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export type GoldenTypedArrayResult =
  | {
      readonly ok: true;
      readonly dtype: GoldenFeedDtype;
      readonly data: GoldenTypedData;
      readonly dims: readonly number[];
    }
  /**
   * 'dtype': the dtype is not one we can build a typed array for; 'values': the tensor's JSON values are
   * not numbers, so they cannot be that dtype. The caller maps these to its own error code and message.
   */
  | { readonly ok: false; readonly problem: 'dtype' | 'values' };

/** Turns a golden tensor's JSON values into the typed array onnxruntime is fed for `dtype`. */
export function goldenTypedArray(t: GoldenTensor, dtype: string): GoldenTypedArrayResult {
  const n = t.data.every((v) => typeof v === 'number') ? t.data : undefined;
  const dims = t.dims;
  switch (dtype) {
    case 'float32':
      return n ? { ok: true, dtype, data: Float32Array.from(n), dims } : { ok: false, problem: 'values' };
    case 'float64':
      return n ? { ok: true, dtype, data: Float64Array.from(n), dims } : { ok: false, problem: 'values' };
    case 'int32':
      return n ? { ok: true, dtype, data: Int32Array.from(n), dims } : { ok: false, problem: 'values' };
    case 'int64':
      // JSON numbers carry int64 values (golden.ts keeps them within ±2^53); truncate any fraction.
      return n
        ? { ok: true, dtype, data: BigInt64Array.from(n.map((v) => BigInt(Math.trunc(v)))), dims }
        : { ok: false, problem: 'values' };
    case 'uint8':
      return n ? { ok: true, dtype, data: Uint8Array.from(n), dims } : { ok: false, problem: 'values' };
    case 'bool':
      // onnxruntime takes bool tensors as bytes; a golden file may hold booleans or 0/1.
      return {
        ok: true,
        dtype,
        data: Uint8Array.from(t.data.map((v) => (v === true || v === 1 ? 1 : 0))),
        dims,
      };
    default:
      return { ok: false, problem: 'dtype' };
  }
}
