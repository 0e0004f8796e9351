// Bring-your-own-model checks from field trials (issue #8 §5): what `registry push --onnx` must accept
// (an unnamed batch dimension) and refuse with a code before anything is pushed (labels that do not match
// the probability columns, a dataset header that is not the pipeline's feature names, --golden-rows 0),
// and what it must record (library versions in the lineage).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PassThrough } from 'node:stream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registryCommand } from '../../cli/registry.ts';
import { createFeaturePipeline, featurePipelineId } from '../../shared/features/pipeline.ts';
import { referenceSensors } from '../../shared/sensors.ts';
import { linearOnnx } from './byo-fixture.ts';
import { startHarness, WRITE_TOKEN, type Harness } from './registry-fixture.ts';

// The humidity sensor alone gives the smallest real feature vector: humidity.value.{mean,min,max,last}.
const humidity = referenceSensors.filter((s) => s.name === 'humidity');
const NAMES = createFeaturePipeline().featureNames(humidity);

async function cli(
  argv: string[],
  env: Record<string, string>,
): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await registryCommand.run(argv, { stdout, stderr, env, signal: new AbortController().signal });
  return { code, out, err };
}

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
