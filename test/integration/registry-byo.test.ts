// Bring your own model (issue #3 section 7): an ONNX graph built in the test (byo-fixture.ts), not by our trainer, is
// packaged by `edgeloop registry push --onnx`, certified by the registry like any bundle, and pulls back
// verifiable. A dataset that does not fit the model is refused with a code before anything is pushed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registryCommand } from '../../cli/registry.ts';
import { runCommand, type CommandRun } from '../helpers/run-command.ts';
import { verifyBundleDir } from '../../collector/registry/bundle-io.ts';
import { featurePipelineId, createFeaturePipeline } from '../../shared/features/pipeline.ts';
import { referenceSensors } from '../../shared/sensors.ts';
import { linearOnnx } from './byo-fixture.ts';
import { startHarness, WRITE_TOKEN } from './registry-fixture.ts';

// The dataset header is the pipeline's feature names (issue #8 §5): here the humidity sensor's four.
const NAMES = createFeaturePipeline().featureNames(referenceSensors.filter((s) => s.name === 'humidity'));
const FEATURES = NAMES.length;

const cli = (argv: string[], env: Record<string, string>): Promise<CommandRun> =>
  runCommand(registryCommand, argv, env);

interface Json {
  [k: string]: unknown;
}

test('push --onnx packages a foreign model that the registry certifies', async (t) => {
  const h = await startHarness(t);
  const work = mkdtempSync(join(tmpdir(), 'edgeloop-registry-byo-'));
  t.after(() => {
    rmSync(work, { recursive: true, force: true });
  });
  const env = { EDGELOOP_REGISTRY_URL: h.server.url, EDGELOOP_REGISTRY_TOKEN: WRITE_TOKEN };
  writeFileSync(join(work, 'model.onnx'), linearOnnx({ features: FEATURES, classes: 2, batch: 'N' }));
  writeFileSync(join(work, 'signing.key'), h.key.privateKeyPem);
  writeFileSync(join(work, 'signing.pub'), h.key.publicKeyPem);
  const header = NAMES.join(',');
  const rows = Array.from({ length: 120 }, (_, i) =>
    Array.from({ length: FEATURES }, (_, j) => Math.sin(i * 0.3 + j).toFixed(4)).join(','),
  );
  writeFileSync(join(work, 'features.csv'), `${header}\n${rows.join('\n')}\n`);
  writeFileSync(join(work, 'metrics.json'), JSON.stringify({ macroF1: 0.91, accuracy: 0.93 }));
  const base = [
    'push',
    '--onnx',
    join(work, 'model.onnx'),
    '--labels',
    'normal,imbalance',
    '--pipeline',
    featurePipelineId,
  ];
  const rest = [
    '--dataset',
    join(work, 'features.csv'),
    '--key',
    join(work, 'signing.key'),
    '--name',
    'byo-pump',
  ];

  const r = await cli(
    [
      ...base,
      ...rest,
      '--version',
      '0.1.0',
      '--metrics',
      join(work, 'metrics.json'),
      '--golden-rows',
      '5',
      '--out',
      join(work, 'bundle'),
    ],
    env,
  );
  assert.equal(r.code, 0, r.err);
  assert.match(
    r.out,
    /^packaged and pushed byo-pump@0\.1\.0 manifest [0-9a-f]{64} \(5 golden cases\)\n {2}no report\.json: the dataset has no label column, so permutation importance was not computed\n$/,
  );

  const v = (await (await h.call('/api/v1/models/byo-pump/versions/0.1.0')).json()) as { manifest: Json };
  const m = v.manifest;
  assert.deepEqual(m.io, {
    inputs: [{ name: 'features', dtype: 'float32', shape: ['N', FEATURES] }],
    outputs: [
      { name: 'probabilities', dtype: 'float32', shape: ['N', 2] },
      { name: 'label', dtype: 'int64', shape: ['N'] },
    ],
  });
  assert.deepEqual(m.pipeline, { id: featurePipelineId, paramsHash: createFeaturePipeline().paramsHash });
  assert.deepEqual(m.metrics, { macroF1: 0.91, accuracy: 0.93 });
  assert.deepEqual(m.onnx, { opset: 17, irVersion: 8, opsetImports: { '': 17 }, producer: 'byo-test 1.2.3' });
  const lineage = m.lineage as Json;
  assert.equal(lineage.origin, 'imported');
  assert.equal(((lineage.datasets as Json[])[0] as Json).rows, 120);
  assert.deepEqual((m.reference as Json).features, NAMES);
  // The local copy written with --out verifies against the public key.
  const local = await verifyBundleDir(join(work, 'bundle'), [h.key.publicKeyPem]);
  assert.ok(local.ok, local.ok ? '' : local.message);

  // A model whose input is narrower than the dataset is refused locally, with a code.
  writeFileSync(join(work, 'narrow.onnx'), linearOnnx({ features: FEATURES - 1, classes: 2 }));
  const wide = await cli(
    [
      ...base.map((a) => (a.endsWith('model.onnx') ? join(work, 'narrow.onnx') : a)),
      ...rest,
      '--version',
      '0.2.0',
    ],
    env,
  );
  assert.equal(wide.code, 1);
  assert.match(
    wide.err,
    /takes 3 features, the dataset has 4 columns\..*\[EDGELOOP_ERR_REGISTRY_IO_MISMATCH\]/,
  );
  // Missing flags are a usage error.
  const usage = await cli(['push', '--onnx', join(work, 'model.onnx')], env);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /needs --pipeline/);
  const versions = (await (await h.call('/api/v1/models/byo-pump/versions')).json()) as { versions: Json[] };
  assert.deepEqual(
    versions.versions.map((x) => x.version),
    ['0.1.0'],
  );
});
