// The one golden replay (docs/model-bundle.md, "golden.json"; issue #7 §1): feed each golden case's inputs
// to a loaded model and compare every declared output within the manifest's tolerance. The registry runs it
// before it certifies a push (collector/registry/push-check.ts) and the agent again before a hot swap
// (agent/models/checks.ts). It was written twice and the copies diverged (only the registry read bool
// outputs), so a bundle the registry certified could fail on the agent; one replay keeps them equal.
//
// It lives beside the ONNX adapter rather than in pure shared/bundle/ because it drives an `OnnxSession`
// and speaks the adapter's tensor types; a pure copy would need a second, structural set of those types.
// It does no I/O of its own (a test can hand it a fake session), and the rules it applies stay pure:
// compareTensor (shared/bundle/golden.ts) and goldenTypedArray (shared/bundle/io-check.ts).

import { compareTensor, type GoldenData, type GoldenTensor } from '../bundle/golden.ts';
import { goldenTypedArray } from '../bundle/io-check.ts';
import type { Manifest } from '../bundle/manifest.ts';
import { fail, ok, type ErrorCode, type Result } from '../errors.ts';
import type { OnnxFeed, OnnxOutput, OnnxSession } from './onnx.ts';

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
export function goldenTensorFrom(output: OnnxOutput): GoldenTensor {
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
  actual: OnnxOutput,
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
  session: Pick<OnnxSession, 'run'>,
  mismatchCode: ErrorCode,
): Promise<Result<GoldenReplaySummary>> {
  const dtypes = new Map(manifest.io.inputs.map((i) => [i.name, i.dtype]));
  let maxAbsError = 0;
  for (const [index, c] of golden.cases.entries()) {
    const feeds: Record<string, OnnxFeed> = {};
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
