// `edgeloop features` (issue #8 §5): the pipeline's vectors as a CSV from a capture, a scenario or the lab
// data generator, with the header the pipeline defines, float32-exact values, and a file that
// `registry push --onnx --dataset` accepts as it is (the label column of lab data included).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { featureRows } from '../../agent/index.ts';
import { featuresCommand } from '../../cli/features.ts';
import { registryCommand } from '../../cli/registry.ts';
import type { Command } from '../../cli/commands.ts';
import { featureHeaderProblem } from '../../collector/registry/byo.ts';
import { createBoard, loadScenario } from '../../firmware-sim/index.ts';
import { parseFeatureCsv } from '../../shared/features/csv.ts';
import { createFeaturePipeline, featurePipelineId } from '../../shared/features/pipeline.ts';
import { referenceSensors } from '../../shared/sensors.ts';
import { linearOnnx } from './byo-fixture.ts';
import { startHarness, WRITE_TOKEN } from './registry-fixture.ts';
import { runCommand, type CommandRun } from '../helpers/run-command.ts';

const pipeline = createFeaturePipeline();
const NAMES = pipeline.featureNames(referenceSensors);

const run = (cmd: Command, argv: string[], env: Record<string, string> = {}): Promise<CommandRun> =>
  runCommand(cmd, argv, env, true);

function tmp(t: { after(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-features-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

test('features --scenario writes the pipeline header and float32 rows; a capture of the same board gives the same file', async (t) => {
  const dir = tmp(t);
  const r = await run(featuresCommand, [
    '--scenario',
    'steady',
    '--duration',
    '12',
    '--out',
    join(dir, 'sim.csv'),
  ]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /12 rows x 192 features to .*sim\.csv: 12 of 12 windows/);
  const text = readFileSync(join(dir, 'sim.csv'), 'utf8');
  const csv = parseFeatureCsv(text, 'sim.csv');
  assert.ok(csv.ok, csv.ok ? '' : csv.message);
  assert.deepEqual(csv.value.featureNames, NAMES);
  assert.equal(featureHeaderProblem(csv.value.featureNames, pipeline), undefined);
  assert.equal(csv.value.rows.length, 12);
  assert.equal(csv.value.labels, undefined);

  // The same board's bytes saved as a capture file (what `edgeloop sim --out` writes) give the same CSV.
  const scenario = loadScenario('steady');
  assert.ok(scenario.ok);
  const board = createBoard({ scenario: scenario.value, seed: 1 });
  const bytes: Uint8Array[] = [];
  for (let s = 1; s <= 12; s++) bytes.push(board.generate(s * 1e6));
  writeFileSync(join(dir, 'capture.bin'), Buffer.concat(bytes));
  // Every value reads back (rounded to float32, as push --onnx and a float32 model input do) as the very
  // feature the agent computes for that window.
  async function* once(): AsyncIterable<Uint8Array> {
    yield await Promise.resolve(Buffer.concat(bytes));
  }
  const agentRows = await featureRows(once());
  assert.ok(agentRows.ok, agentRows.ok ? '' : agentRows.message);
  assert.equal(agentRows.value.rows.length, 12);
  csv.value.rows.forEach((row, i) => {
    assert.deepEqual(Float32Array.from(row), agentRows.value.rows[i]?.values, `row ${i}`);
  });
  const cap = await run(featuresCommand, ['--capture', join(dir, 'capture.bin')]);
  assert.equal(cap.code, 0, cap.err);
  assert.equal(cap.out, text);
});

test('features --lab adds a label column; both CSVs go through registry push --onnx as datasets', async (t) => {
  const dir = tmp(t);
  const lab = await run(featuresCommand, [
    '--lab',
    '--states',
    'normal,imbalance',
    '--devices-per-state',
    '1',
    '--seconds-per-device',
    '4',
    '--out',
    join(dir, 'lab.csv'),
  ]);
  assert.equal(lab.code, 0, lab.err);
  const text = readFileSync(join(dir, 'lab.csv'), 'utf8');
  assert.equal(text.split('\n')[0], [...NAMES, 'label'].join(','));
  const csv = parseFeatureCsv(text, 'lab.csv');
  assert.ok(csv.ok, csv.ok ? '' : csv.message);
  assert.deepEqual(csv.value.featureNames, NAMES);
  assert.deepEqual([...new Set(csv.value.labels)].sort(), ['imbalance', 'normal']);
  assert.equal(csv.value.labels?.length, csv.value.rows.length);

  const sim = await run(featuresCommand, [
    '--scenario',
    'steady',
    '--duration',
    '10',
    '--out',
    join(dir, 'sim.csv'),
  ]);
  assert.equal(sim.code, 0, sim.err);

  const h = await startHarness(t);
  writeFileSync(join(dir, 'model.onnx'), linearOnnx({ features: NAMES.length, classes: 2 }));
  writeFileSync(join(dir, 'signing.key'), h.key.privateKeyPem);
  const env = { EDGELOOP_REGISTRY_URL: h.server.url, EDGELOOP_REGISTRY_TOKEN: WRITE_TOKEN };
  for (const [file, version] of [
    ['lab.csv', '1.0.0'],
    ['sim.csv', '1.1.0'],
  ] as const) {
    const push = await run(
      registryCommand,
      [
        'push',
        '--onnx',
        join(dir, 'model.onnx'),
        '--labels',
        'normal,imbalance',
        '--pipeline',
        featurePipelineId,
        '--dataset',
        join(dir, file),
        '--key',
        join(dir, 'signing.key'),
        '--name',
        'exported',
        '--version',
        version,
      ],
      env,
    );
    assert.equal(push.code, 0, `${file}: ${push.err}`);
    const v = (await (await h.call(`/api/v1/models/exported/versions/${version}`)).json()) as {
      manifest: { reference: { features: string[]; rows: number } };
    };
    assert.deepEqual(v.manifest.reference.features, NAMES);
  }
});

test('features: one source exactly, --help, and a capture with no window is an error with a code', async (t) => {
  const dir = tmp(t);
  const none = await run(featuresCommand, []);
  assert.notEqual(none.code, 0);
  assert.match(none.err, /exactly one source.*EDGELOOP_ERR_USAGE/);
  const two = await run(featuresCommand, ['--lab', '--scenario', 'steady']);
  assert.match(two.err, /exactly one source/);
  assert.match(featuresCommand.help, /--capture <file\|->/);
  assert.match(featuresCommand.help, /registry push --onnx/);
  writeFileSync(join(dir, 'junk.bin'), Buffer.alloc(4096, 0x55));
  const junk = await run(featuresCommand, ['--capture', join(dir, 'junk.bin')]);
  assert.notEqual(junk.code, 0);
  assert.match(junk.err, /no complete window.*EDGELOOP_ERR_INPUT_READ/);
});
