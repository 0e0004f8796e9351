// The one golden replay (docs/model-bundle.md, "golden.json"; issue #7 §1): feed each golden case's inputs
// to a loaded model and compare every declared output within the manifest's tolerance. The registry runs it
// before it certifies a push (collector/registry/push-check.ts) and the agent again before a hot swap
// (agent/models/checks.ts). It was written twice and the copies diverged (only the registry read bool
// outputs), so a bundle the registry certified could fail on the agent; one replay keeps them equal.
//
// It lives in pure shared/ rather than shared/platform/ because it does no I/O itself: the caller hands it
// an already-loaded session through the small `GoldenSession` interface below (structurally the platform
// adapter's `OnnxSession`, shared/platform/onnx.ts), so it can also be tested against a fake.

import { fail, ok, type ErrorCode, type Result } from '../errors.ts';
import { compareTensor, type GoldenData, type GoldenTensor } from './golden.ts';
import { goldenTypedArray, type GoldenFeedDtype, type GoldenTypedData } from './io-check.ts';
import type { Manifest } from './manifest.ts';

export interface GoldenFeed {
  readonly dtype: GoldenFeedDtype;
  readonly data: GoldenTypedData;
  readonly dims: readonly number[];
}

export interface GoldenOutput {
  /** onnxruntime's element type name; 'bool' outputs arrive as bytes (0 or 1). */
  readonly dtype: string;
  readonly data: GoldenTypedData | readonly string[];
  readonly dims: readonly number[];
}

/** What the replay needs of a loaded model (the platform's OnnxSession has this shape). */
export interface GoldenSession {
  run(feeds: Readonly<Record<string, GoldenFeed>>): Promise<Result<Record<string, GoldenOutput>>>;
}

export interface GoldenReplaySummary {
  readonly cases: number;
  /** Largest absolute error over every numeric golden output (0 when all are exact kinds). */
  readonly maxAbsError: number;
}

type Element = number | bigint | string | boolean;

/**
 * Records a model output as a golden tensor, the inverse of the comparison below: int64 as JSON numbers
 * (golden.ts keeps them within ±2^53), bool bytes as JSON booleans.
 */
export function goldenTensorFrom(output: GoldenOutput): GoldenTensor {
  const data =
    output.dtype === 'bool'
      ? Array.from(output.data as ArrayLike<number>, (v) => v !== 0)
      : Array.from(output.data as ArrayLike<number | bigint | string>, (v) =>
          typeof v === 'bigint' ? Number(v) : v,
        );
  return { dims: [...output.dims], data: data as GoldenTensor['data'] };
}

/**
 * Bool outputs are compared as booleans on both sides: onnxruntime hands bool tensors back as bytes, and a
 * golden file may hold JSON booleans or 0/1 (as goldenTypedArray accepts for bool inputs). Comparing as
 * booleans rather than as 0/1 numbers keeps a loose float tolerance from excusing a flipped bit. Returns
 * undefined when the output is not a bool one, and a reason when the golden values are not booleans.
 */
function asBooleans(
  expected: GoldenTensor,
  actual: GoldenOutput,
): { readonly expected: GoldenTensor; readonly actual: Element[] } | { readonly reason: string } | undefined {
  if (actual.dtype !== 'bool' && !expected.data.some((v) => typeof v === 'boolean')) return undefined;
  const want: boolean[] = [];
  for (const v of expected.data) {
    if (typeof v === 'boolean') want.push(v);
    else if (v === 0 || v === 1) want.push(v === 1);
    else return { reason: `golden value ${JSON.stringify(v)} is not a bool (true, false, 0 or 1)` };
  }
  const got = Array.from(actual.data as ArrayLike<Element>, (v) =>
    typeof v === 'number' || typeof v === 'bigint' ? v !== 0 && v !== 0n : v,
  );
  return { expected: { dims: expected.dims, data: want }, actual: got };
}

/**
 * Replays every golden case through `session`. Each failure carries `mismatchCode` (the caller's own:
 * EDGELOOP_ERR_REGISTRY_GOLDEN_MISMATCH on push, EDGELOOP_ERR_MODEL_GOLDEN_MISMATCH on the agent), with a
 * message naming the case and output.
 */
export async function replayGolden(
  manifest: Manifest,
  golden: GoldenData,
  session: GoldenSession,
  mismatchCode: ErrorCode,
): Promise<Result<GoldenReplaySummary>> {
  const dtypes = new Map(manifest.io.inputs.map((i) => [i.name, i.dtype]));
  let maxAbsError = 0;
  for (const [index, c] of golden.cases.entries()) {
    const feeds: Record<string, GoldenFeed> = {};
    for (const [name, tensor] of Object.entries(c.inputs)) {
      const dtype = dtypes.get(name);
      if (dtype === undefined)
        return fail(mismatchCode, `golden case ${index} feeds "${name}", which is not a model input`);
      const r = goldenTypedArray(tensor, dtype);
      if (!r.ok)
        return fail(
          mismatchCode,
          r.problem === 'dtype'
            ? `golden input "${name}" has dtype ${dtype}, which cannot be fed`
            : `golden input "${name}" holds values that are not ${dtype}`,
        );
      feeds[name] = { dtype: r.dtype, data: r.data, dims: r.dims };
    }
    const out = await session.run(feeds);
    if (!out.ok) return fail(mismatchCode, `golden case ${index} did not run: ${out.message}`);
    for (const [name, expected] of Object.entries(c.outputs)) {
      const actual = out.value[name];
      if (actual === undefined)
        return fail(mismatchCode, `golden case ${index}: the model produced no output "${name}"`);
      const bools = asBooleans(expected, actual);
      if (bools !== undefined && 'reason' in bools)
        return fail(mismatchCode, `golden case ${index}, output "${name}": ${bools.reason}`);
      const cmp =
        bools === undefined
          ? compareTensor(expected, actual, manifest.golden.tolerance)
          : compareTensor(
              bools.expected,
              { dims: actual.dims, data: bools.actual },
              manifest.golden.tolerance,
            );
      if (!cmp.ok)
        return fail(mismatchCode, `golden case ${index}, output "${name}": ${cmp.reason ?? 'differs'}`);
      if (Number.isFinite(cmp.maxAbsError)) maxAbsError = Math.max(maxAbsError, cmp.maxAbsError);
    }
  }
  return ok({ cases: golden.cases.length, maxAbsError });
}
