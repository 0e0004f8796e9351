// Checks a freshly loaded session before it may serve (issue #4 §4 "check its I/O against the manifest,
// and run the golden inputs"). The registry ran the same checks on push (collector/registry/push-check.ts),
// but the agent repeats them on its own onnxruntime build and CPU: the signature proves who made the
// bundle, only running it here proves it computes the same numbers here. Both sides share the comparison
// (shared/bundle/io-check.ts, shared/platform/golden.ts), so they cannot disagree on what passes.

import { resolveGolden } from '../../shared/bundle/golden.ts';
import { replayGolden, type GoldenReplaySummary } from '../../shared/platform/golden.ts';
import { ioProblems } from '../../shared/bundle/io-check.ts';
import type { Manifest } from '../../shared/bundle/manifest.ts';
import { fail, ok, type Result } from '../../shared/errors.ts';
import type { OnnxSession } from '../../shared/platform/onnx.ts';

export function checkIo(manifest: Manifest, session: OnnxSession): Result<void> {
  const problems = [
    ...ioProblems('input', manifest.io.inputs, session.inputs),
    ...ioProblems('output', manifest.io.outputs, session.outputs),
  ];
  return problems.length === 0 ? ok(undefined) : fail('EDGELOOP_ERR_MODEL_IO_MISMATCH', problems.join('; '));
}

/** Runs every golden case and compares each declared output within the manifest's tolerance. */
export async function runGolden(
  manifest: Manifest,
  files: ReadonlyMap<string, Uint8Array>,
  session: OnnxSession,
): Promise<Result<GoldenReplaySummary>> {
  const golden = resolveGolden(manifest, files);
  if (!golden.ok) return golden;
  return replayGolden(manifest, golden.value, session, 'EDGELOOP_ERR_MODEL_GOLDEN_MISMATCH');
}
