// A model whose output is a bool tensor passes the golden check on the registry (push certification) and
// on the agent (before a hot swap) alike: one replay serves both (shared/platform/golden.ts). Before
// issue #7 the agent compared onnxruntime's bool bytes with the golden file's JSON booleans and refused a
// bundle the registry had certified.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkIo, runGolden } from '../../agent/models/checks.ts';
import { certifyModel } from '../../collector/registry/push-check.ts';
import type { GoldenData } from '../../shared/bundle/golden.ts';
import type { Manifest } from '../../shared/bundle/manifest.ts';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import type { Result } from '../../shared/errors.ts';
import { loadOnnxSession } from '../../shared/platform/onnx.ts';
import { goldenFor, greaterIo, greaterOnnx, signTestBundle, sineReference } from '../helpers/onnx-fixture.ts';

const F = 3;
const key = generateSigningKeyPair();
const rows = [
  [0.5, -1, 2],
  [-0.25, 0.75, 0],
  [3, 3, -3],
];

async function bundleWith(
  edit?: (g: GoldenData) => void,
): Promise<{ manifest: Manifest; files: ReadonlyMap<string, Uint8Array> }> {
  const model = greaterOnnx(F, 0);
  const golden = await goldenFor(model, rows);
  edit?.(golden);
  const b = signTestBundle(key, {
    name: 'above-zero',
    version: '1.0.0',
    model,
    golden,
    io: greaterIo(F),
    labels: ['below', 'above'],
    reference: sineReference(['f0', 'f1', 'f2'], 100),
    pipeline: { id: 'edgeloop.features.v1', paramsHash: 'ab12cd34ef56ab12' },
  });
  return { manifest: b.manifest, files: b.contents.files };
}

async function agentCheck(
  manifest: Manifest,
  files: ReadonlyMap<string, Uint8Array>,
): Promise<Result<unknown>> {
  const model = files.get('model.onnx');
  assert.ok(model);
  const s = await loadOnnxSession(model);
  assert.ok(s.ok, s.ok ? '' : s.message);
  try {
    const io = checkIo(manifest, s.value);
    if (!io.ok) return io;
    return await runGolden(manifest, files, s.value);
  } finally {
    await s.value.close();
  }
}

test('the golden file records the bool output as JSON booleans, as bundle tooling writes it', async () => {
  const golden = await goldenFor(greaterOnnx(F, 0), rows);
  assert.deepEqual(golden.cases[0]?.outputs.above, { dims: [1, F], data: [true, false, true] });
});

test('a bool-output model passes the golden check on the registry and on the agent', async () => {
  const { manifest, files } = await bundleWith();
  const registry = await certifyModel(manifest, files, loadOnnxSession);
  assert.ok(registry.ok, registry.ok ? '' : registry.message);
  assert.equal(registry.value.goldenCases, rows.length);
  const agent = await agentCheck(manifest, files);
  assert.ok(agent.ok, agent.ok ? '' : agent.message);
  assert.deepEqual(agent.value, { cases: rows.length, maxAbsError: 0 });
});

test('golden bool outputs written as 0/1 pass on both sides too', async () => {
  const { manifest, files } = await bundleWith((g) => {
    for (const c of g.cases) {
      const t = c.outputs.above!;
      t.data = (t.data as boolean[]).map((v) => (v ? 1 : 0));
    }
  });
  assert.ok((await certifyModel(manifest, files, loadOnnxSession)).ok);
  assert.ok((await agentCheck(manifest, files)).ok);
});

test('a flipped bool is refused on both sides, each with its own code', async () => {
  const { manifest, files } = await bundleWith((g) => {
    const t = g.cases[1]!.outputs.above!;
    t.data = (t.data as boolean[]).map((v, i) => (i === 2 ? !v : v));
  });
  const registry = await certifyModel(manifest, files, loadOnnxSession);
  assert.ok(!registry.ok);
  assert.equal(registry.code, 'EDGELOOP_ERR_REGISTRY_GOLDEN_MISMATCH');
  assert.match(registry.message, /golden case 1, output "above": element 2 differs/);
  const agent = await agentCheck(manifest, files);
  assert.ok(!agent.ok);
  assert.equal(agent.code, 'EDGELOOP_ERR_MODEL_GOLDEN_MISMATCH');
  assert.match(agent.message, /golden case 1, output "above": element 2 differs/);
});
