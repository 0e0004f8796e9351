// Checks a freshly loaded session before it may serve (issue #4 §4 "check its I/O against the manifest,
// and run the golden inputs"). The registry ran the same checks on push (collector/registry/push-check.ts),
// but the agent repeats them on its own onnxruntime build and CPU: the signature proves who made the
// bundle, only running it here proves it computes the same numbers here.

import { compareTensor, resolveGolden, type GoldenTensor } from '../../shared/bundle/golden.ts';
import { goldenTypedArray, ioProblems } from '../../shared/bundle/io-check.ts';
import type { Manifest } from '../../shared/bundle/manifest.ts';
import { fail, ok, type Result } from '../../shared/errors.ts';
import type { OnnxFeed, OnnxSession } from '../adapters/onnxruntime.ts';

export function checkIo(manifest: Manifest, session: OnnxSession): Result<void> {
  const problems = [
    ...ioProblems('input', manifest.io.inputs, session.inputs),
    ...ioProblems('output', manifest.io.outputs, session.outputs),
  ];
  return problems.length === 0 ? ok(undefined) : fail('EDGELOOP_ERR_MODEL_IO_MISMATCH', problems.join('; '));
}

function toFeed(name: string, t: GoldenTensor, dtype: string): Result<OnnxFeed> {
  const r = goldenTypedArray(t, dtype);
  if (r.ok) return ok({ dtype: r.dtype, data: r.data, dims: r.dims });
  return fail('EDGELOOP_ERR_MODEL_GOLDEN_MISMATCH', `golden input "${name}" cannot be fed as ${dtype}`);
}

export interface GoldenSummary {
  readonly cases: number;
  readonly maxAbsError: number;
}

/** Runs every golden case and compares each declared output within the manifest's tolerance. */
export async function runGolden(
  manifest: Manifest,
  files: ReadonlyMap<string, Uint8Array>,
  session: OnnxSession,
): Promise<Result<GoldenSummary>> {
  const golden = resolveGolden(manifest, files);
  if (!golden.ok) return golden;
  const dtypes = new Map(manifest.io.inputs.map((i) => [i.name, i.dtype]));
  let maxAbsError = 0;
  for (const [index, c] of golden.value.cases.entries()) {
    const feeds: Record<string, OnnxFeed> = {};
    for (const [name, tensor] of Object.entries(c.inputs)) {
      const dtype = dtypes.get(name);
      if (dtype === undefined)
        return fail(
          'EDGELOOP_ERR_MODEL_GOLDEN_MISMATCH',
          `golden case ${index} feeds "${name}", not a model input`,
        );
      const feed = toFeed(name, tensor, dtype);
      if (!feed.ok) return feed;
      feeds[name] = feed.value;
    }
    const out = await session.run(feeds);
    if (!out.ok)
      return fail('EDGELOOP_ERR_MODEL_GOLDEN_MISMATCH', `golden case ${index} failed to run: ${out.message}`);
    for (const [name, expected] of Object.entries(c.outputs)) {
      const actual = out.value[name];
      if (actual === undefined)
        return fail(
          'EDGELOOP_ERR_MODEL_GOLDEN_MISMATCH',
          `golden case ${index}: the model has no output "${name}"`,
        );
      const cmp = compareTensor(expected, actual, manifest.golden.tolerance);
      maxAbsError = Math.max(maxAbsError, cmp.maxAbsError);
      if (!cmp.ok)
        return fail(
          'EDGELOOP_ERR_MODEL_GOLDEN_MISMATCH',
          `golden case ${index}, output "${name}": ${cmp.reason ?? 'differs'}`,
        );
    }
  }
  return ok({ cases: golden.value.cases.length, maxAbsError });
}
