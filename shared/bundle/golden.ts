// Golden inputs and outputs (docs/model-bundle.md, "golden.json"): cases the model was run on when the
// bundle was made. The registry refuses a push whose model does not reproduce them, and the agent
// re-runs them before a hot swap. Tensors are flat, row-major, with their dims, so any model's I/O fits.

import { z } from 'zod';
import { fail, ok, type Result } from '../errors.ts';
import { canonicalJsonBytes } from './canonical-json.ts';
import { formatIssues, type Manifest, type Tolerance } from './manifest.ts';

export const GOLDEN_FILE = 'golden.json';
export const DEFAULT_GOLDEN_TOLERANCE: Tolerance = { absolute: 1e-5, relative: 1e-4 };

export const goldenTensorSchema = z
  .strictObject({
    dims: z.array(z.number().int().nonnegative()),
    /** Flat row-major data. int64 values travel as JSON numbers, so they must be within ±2^53. */
    data: z.union([z.array(z.number()), z.array(z.string()), z.array(z.boolean())]),
  })
  .refine((t) => t.dims.reduce((a, b) => a * b, 1) === t.data.length, {
    message: 'data length must equal the product of dims',
  });
export type GoldenTensor = z.infer<typeof goldenTensorSchema>;

export const goldenCaseSchema = z.strictObject({
  inputs: z.record(z.string(), goldenTensorSchema),
  outputs: z.record(z.string(), goldenTensorSchema),
});
export type GoldenCase = z.infer<typeof goldenCaseSchema>;

export const goldenDataSchema = z.strictObject({
  schemaVersion: z.literal(1),
  cases: z.array(goldenCaseSchema).min(1),
});
export type GoldenData = z.infer<typeof goldenDataSchema>;

export function parseGolden(input: unknown): Result<GoldenData> {
  let value: unknown = input;
  if (input instanceof Uint8Array) {
    try {
      value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(input));
    } catch {
      return fail('EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID', 'golden file is not UTF-8 JSON');
    }
  }
  const r = goldenDataSchema.safeParse(value);
  if (!r.success)
    return fail('EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID', `golden data invalid: ${formatIssues(r.error)}`);
  return ok(r.data);
}

export function encodeGolden(golden: GoldenData): Uint8Array {
  return canonicalJsonBytes(golden);
}

/** The golden cases of a verified bundle, from golden.path or golden.inline. Also checks the case count. */
export function resolveGolden(
  manifest: Manifest,
  files: ReadonlyMap<string, Uint8Array>,
): Result<GoldenData> {
  let r: Result<GoldenData>;
  if (manifest.golden.path !== undefined) {
    const bytes = files.get(manifest.golden.path);
    if (bytes === undefined)
      return fail('EDGELOOP_ERR_BUNDLE_MISSING_FILE', `golden file ${manifest.golden.path} is missing`);
    r = parseGolden(bytes);
  } else {
    r = parseGolden(manifest.golden.inline);
  }
  if (r.ok && r.value.cases.length !== manifest.golden.cases) {
    return fail(
      'EDGELOOP_ERR_BUNDLE_MANIFEST_INVALID',
      `golden holds ${r.value.cases.length} cases, manifest says ${manifest.golden.cases}`,
    );
  }
  return r;
}

export interface TensorComparison {
  readonly ok: boolean;
  /** Largest |actual - expected| over numeric elements (0 for exact kinds). */
  readonly maxAbsError: number;
  /** First failing flat index, or -1. */
  readonly firstMismatch: number;
  readonly reason?: string;
}

/**
 * Compares a produced tensor with a golden one. Floats pass when |a - e| <= absolute + relative * |e|
 * (numpy.allclose); strings and booleans must be equal; bigint (onnxruntime int64) compares as number.
 */
export function compareTensor(
  expected: GoldenTensor,
  actual: { readonly dims: readonly number[]; readonly data: ArrayLike<number | bigint | string | boolean> },
  tolerance: Tolerance,
): TensorComparison {
  if (actual.dims.length !== expected.dims.length || actual.dims.some((d, i) => d !== expected.dims[i])) {
    return {
      ok: false,
      maxAbsError: Infinity,
      firstMismatch: -1,
      reason: `dims [${actual.dims.join(',')}] != expected [${expected.dims.join(',')}]`,
    };
  }
  if (actual.data.length !== expected.data.length) {
    return {
      ok: false,
      maxAbsError: Infinity,
      firstMismatch: -1,
      reason: `length ${actual.data.length} != expected ${expected.data.length}`,
    };
  }
  let maxAbsError = 0;
  let firstMismatch = -1;
  for (let i = 0; i < expected.data.length; i++) {
    const e = expected.data[i];
    const raw = actual.data[i];
    const a = typeof raw === 'bigint' ? Number(raw) : raw;
    let good: boolean;
    if (typeof e === 'number' && typeof a === 'number') {
      const err = Math.abs(a - e);
      if (err > maxAbsError || Number.isNaN(err)) maxAbsError = Number.isNaN(err) ? Infinity : err;
      good = err <= tolerance.absolute + tolerance.relative * Math.abs(e);
    } else {
      good = a === e;
    }
    if (!good && firstMismatch < 0) firstMismatch = i;
  }
  return firstMismatch < 0
    ? { ok: true, maxAbsError, firstMismatch }
    : {
        ok: false,
        maxAbsError,
        firstMismatch,
        reason: `element ${firstMismatch} differs beyond tolerance (max abs error ${maxAbsError})`,
      };
}
