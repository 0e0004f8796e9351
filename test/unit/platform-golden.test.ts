import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GoldenData } from '../../shared/bundle/golden.ts';
import { goldenTensorFrom, replayGolden } from '../../shared/platform/golden.ts';
import type { OnnxOutput, OnnxSession } from '../../shared/platform/onnx.ts';
import type { Manifest } from '../../shared/bundle/manifest.ts';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import { ok } from '../../shared/errors.ts';
import { fixtureBundle } from './bundle-fixture.ts';

const base = fixtureBundle(generateSigningKeyPair().privateKeyPem).manifest;
/** A loose float tolerance: a bool compared as 0/1 numbers would pass a flipped bit under it. */
const manifest: Manifest = { ...base, golden: { ...base.golden, tolerance: { absolute: 2, relative: 0 } } };

/** A session that answers every run with the same outputs, and records the feeds. */
function fakeSession(outputs: Record<string, OnnxOutput>): Pick<OnnxSession, 'run'> & { feeds: unknown[] } {
  const feeds: unknown[] = [];
  return {
    feeds,
    run(f) {
      feeds.push(f);
      return Promise.resolve(ok(outputs));
    },
  };
}

const golden = (above: GoldenData['cases'][number]['outputs'][string]): GoldenData => ({
  schemaVersion: 1,
  cases: [{ inputs: { features: { dims: [1, 2], data: [1.5, -2] } }, outputs: { above } }],
});
const boolOut = (bytes: number[]): OnnxOutput => ({
  dtype: 'bool',
  data: Uint8Array.from(bytes),
  dims: [1, 2],
});

test('replayGolden feeds golden inputs with the manifest dtype', async () => {
  const s = fakeSession({ above: boolOut([1, 0]) });
  const r = await replayGolden(
    manifest,
    golden({ dims: [1, 2], data: [true, false] }),
    s,
    'EDGELOOP_ERR_MODEL_GOLDEN_MISMATCH',
  );
  assert.ok(r.ok);
  assert.deepEqual(r.value, { cases: 1, maxAbsError: 0 });
  assert.deepEqual(s.feeds, [
    { features: { dtype: 'float32', data: Float32Array.from([1.5, -2]), dims: [1, 2] } },
  ]);
});

test('bool outputs: bytes match JSON booleans or 0/1, and a flipped bit fails even under a loose tolerance', async () => {
  const code = 'EDGELOOP_ERR_REGISTRY_GOLDEN_MISMATCH' as const;
  const s = fakeSession({ above: boolOut([1, 0]) });
  assert.ok((await replayGolden(manifest, golden({ dims: [1, 2], data: [1, 0] }), s, code)).ok);
  const flipped = await replayGolden(manifest, golden({ dims: [1, 2], data: [true, true] }), s, code);
  assert.ok(!flipped.ok);
  assert.equal(flipped.code, code);
  assert.match(flipped.message, /golden case 0, output "above": element 1 differs/);
  const notBool = await replayGolden(manifest, golden({ dims: [1, 2], data: [1, 0.5] }), s, code);
  assert.ok(!notBool.ok);
  assert.match(notBool.message, /golden value 0.5 is not a bool/);
});

test('goldenTensorFrom records bool bytes as booleans and int64 as numbers', () => {
  assert.deepEqual(goldenTensorFrom(boolOut([0, 1])), { dims: [1, 2], data: [false, true] });
  assert.deepEqual(goldenTensorFrom({ dtype: 'int64', data: BigInt64Array.from([3n]), dims: [1] }), {
    dims: [1],
    data: [3],
  });
});
