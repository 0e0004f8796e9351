// Bring-your-own-model checks from field trials (issue #8 §5): what `registry push --onnx` must accept
// (an unnamed batch dimension) and refuse with a code before anything is pushed (labels that do not match
// the probability columns, a dataset header that is not the pipeline's feature names, --golden-rows 0),
// and what it must record (library versions in the lineage).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registryCommand } from '../../cli/registry.ts';
import { runCommand, type CommandRun } from '../helpers/run-command.ts';
import { packageOnnxModel } from '../../collector/registry/byo.ts';
import { createSignedBundle } from '../../shared/bundle/build.ts';
import { encodeBundleArchive } from '../../shared/platform/tar.ts';
import { loadOnnxSession } from '../../shared/platform/onnx.ts';
import { createFeaturePipeline, featurePipelineId } from '../../shared/features/pipeline.ts';
import { referenceSensors } from '../../shared/sensors.ts';
import { linearOnnx } from './byo-fixture.ts';
import { errorCode, push, startHarness, WRITE_TOKEN, type Harness } from './registry-fixture.ts';

/** The version npm installed, from the package's own package.json ('.' is edgeloop itself). */
function installed(name: string): string {
  const path = name === '.' ? '../../package.json' : `../../node_modules/${name}/package.json`;
  return (JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { version: string }).version;
}

// The humidity sensor alone gives the smallest real feature vector: humidity.value.{mean,min,max,last}.
const humidity = referenceSensors.filter((s) => s.name === 'humidity');
const NAMES = createFeaturePipeline().featureNames(humidity);

const cli = (argv: string[], env: Record<string, string>): Promise<CommandRun> =>
  runCommand(registryCommand, argv, env);

interface Setup {
  readonly h: Harness;
  readonly work: string;
  /** Runs push --onnx with the given model bytes, header and extra flags. */
  push(
    model: Uint8Array,
    extra: string[],
    header?: readonly string[],
  ): Promise<{ code: number; out: string; err: string }>;
}

async function setup(t: { after(fn: () => unknown): void }): Promise<Setup> {
  const h = await startHarness(t);
  const work = mkdtempSync(join(tmpdir(), 'edgeloop-byo-checks-'));
  t.after(() => {
    rmSync(work, { recursive: true, force: true });
  });
  writeFileSync(join(work, 'signing.key'), h.key.privateKeyPem);
  const env = { EDGELOOP_REGISTRY_URL: h.server.url, EDGELOOP_REGISTRY_TOKEN: WRITE_TOKEN };
  let n = 0;
  return {
    h,
    work,
    async push(model, extra, header = NAMES) {
      n++;
      writeFileSync(join(work, `m${n}.onnx`), model);
      const rows = Array.from({ length: 40 }, (_, i) =>
        header.map((_, j) => (50 + 10 * Math.sin(i * 0.3 + j)).toFixed(3)).join(','),
      );
      writeFileSync(join(work, `d${n}.csv`), `${header.join(',')}\n${rows.join('\n')}\n`);
      return cli(
        [
          'push',
          '--onnx',
          join(work, `m${n}.onnx`),
          '--pipeline',
          featurePipelineId,
          '--dataset',
          join(work, `d${n}.csv`),
          '--key',
          join(work, 'signing.key'),
          '--name',
          'byo',
          ...extra,
        ],
        env,
      );
    },
  };
}

interface Json {
  [k: string]: unknown;
}

test('push --onnx: a batch dimension with neither name nor size becomes <tensor>_dim0 and certifies', async (t) => {
  const s = await setup(t);
  const model = linearOnnx({ features: NAMES.length, classes: 2, batch: null });
  const r = await s.push(model, ['--labels', 'normal,imbalance', '--version', '1.0.0']);
  assert.equal(r.code, 0, r.err);
  const v = (await (await s.h.call('/api/v1/models/byo/versions/1.0.0')).json()) as { manifest: Json };
  assert.deepEqual(v.manifest.io, {
    inputs: [{ name: 'features', dtype: 'float32', shape: ['features_dim0', NAMES.length] }],
    outputs: [
      { name: 'probabilities', dtype: 'float32', shape: ['probabilities_dim0', 2] },
      { name: 'label', dtype: 'int64', shape: ['label_dim0'] },
    ],
  });
});

test('push --onnx: labels that do not name every probability column are refused; so is such a bundle', async (t) => {
  const s = await setup(t);
  const model = linearOnnx({ features: NAMES.length, classes: 5 });
  const r = await s.push(model, ['--labels', 'a,b,c,d', '--version', '1.0.0']);
  assert.equal(r.code, 1, r.out);
  assert.match(
    r.err,
    /output "probabilities" has 5 probability columns but there are 4 labels \(a, b, c, d\).*\[EDGELOOP_ERR_REGISTRY_LABELS_MISMATCH\]/,
  );
  // The registry refuses it too, when a bundle built by other means (here: re-signed with one label
  // fewer) reaches it.
  const bytes = linearOnnx({ features: NAMES.length, classes: 5 });
  const packaged = await packageOnnxModel(
    {
      onnx: bytes,
      name: 'byo',
      version: '2.0.0',
      labels: ['a', 'b', 'c', 'd', 'e'],
      pipeline: createFeaturePipeline().ref,
      dataset: { name: 'd.csv', featureNames: NAMES, rows: [[40, 39, 41, 40.5]] },
      createdAt: '2026-01-01T00:00:00.000Z',
    },
    (b) => loadOnnxSession(b),
  );
  assert.ok(packaged.ok, packaged.ok ? '' : packaged.message);
  assert.deepEqual(packaged.value.manifest.io.outputs[0]?.shape, ['batch', 5]);
  const four = { ...packaged.value.manifest, labels: ['a', 'b', 'c', 'd'] };
  const signed = createSignedBundle(four, packaged.value.files, s.h.key.privateKeyPem);
  assert.ok(signed.ok);
  const res = await push(s.h, encodeBundleArchive(signed.value.contents), 'byo');
  assert.equal(res.status, 422);
  assert.equal(await errorCode(res), 'EDGELOOP_ERR_REGISTRY_LABELS_MISMATCH');
  const list = await s.h.call('/api/v1/models/byo/versions');
  assert.equal(list.status, 404, 'nothing was stored');
});

test('push --onnx: a dataset header that is not the pipeline feature names is refused, naming the column', async (t) => {
  const s = await setup(t);
  const model = linearOnnx({ features: NAMES.length, classes: 2 });
  const labels = ['--labels', 'normal,imbalance', '--version', '1.0.0'];
  const numbered = NAMES.map((_, j) => `f${j}`);
  const r = await s.push(model, labels, numbered);
  assert.equal(r.code, 1);
  assert.match(
    r.err,
    /column 1 is "f0", which is not a feature name of edgeloop-features\/v1 \(they read like "accel\.x\.mean".*\[EDGELOOP_ERR_REGISTRY_FEATURES_MISMATCH\]/,
  );
  // Right names in the wrong order: the first column out of place is named.
  const swapped = [NAMES[0]!, NAMES[2]!, NAMES[1]!, NAMES[3]!];
  const r2 = await s.push(model, labels, swapped);
  assert.equal(r2.code, 1);
  assert.match(r2.err, /column 2 is "humidity\.max", edgeloop-features\/v1 has "humidity\.min" there/);
  // A header that stops short of the sensor's features.
  const r3 = await s.push(linearOnnx({ features: 3, classes: 2 }), labels, NAMES.slice(0, 3));
  assert.match(r3.err, /stops after 3 columns; edgeloop-features\/v1 continues with "humidity\.last"/);
  const list = await s.h.call('/api/v1/models/byo/versions');
  assert.equal(list.status, 404, 'nothing was pushed');
});

test('push --onnx: --golden-rows must be an integer >= 1', async (t) => {
  const s = await setup(t);
  const model = linearOnnx({ features: NAMES.length, classes: 2 });
  for (const bad of ['0', '-2', '1.5', 'abc']) {
    const r = await s.push(model, [
      '--labels',
      'normal,imbalance',
      '--version',
      '1.0.0',
      `--golden-rows=${bad}`,
    ]);
    assert.notEqual(r.code, 0, bad);
    assert.match(r.err, /--golden-rows must be an integer >= 1.*EDGELOOP_ERR_CONFIG_INVALID/, bad);
  }
  const ok = await s.push(model, [
    '--labels',
    'normal,imbalance',
    '--version',
    '1.0.0',
    '--golden-rows',
    '3',
  ]);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /\(3 golden cases\)/);
});

test('push --onnx: the lineage records onnxruntime-node and onnx-proto with their installed versions', async (t) => {
  const s = await setup(t);
  const r = await s.push(linearOnnx({ features: NAMES.length, classes: 2 }), [
    '--labels',
    'normal,imbalance',
    '--version',
    '1.0.0',
  ]);
  assert.equal(r.code, 0, `${r.err}${s.h.internalErrors.map(String).join('\n')}`);
  const v = (await (await s.h.call('/api/v1/models/byo/versions/1.0.0')).json()) as { manifest: Json };
  const libraries = (v.manifest.lineage as Json).libraries as Record<string, string>;
  assert.equal(libraries['onnxruntime-node'], installed('onnxruntime-node'));
  assert.equal(libraries['onnx-proto'], installed('onnx-proto'));
  assert.equal(libraries.edgeloop, installed('.'));
  assert.equal(libraries.node, process.versions.node);
});
