// Explanations of a bring-your-own ONNX model (docs/explanations.md), from the user's side: a foreign
// softmax graph (not our trainer's) over twelve named features is pushed with `registry push --onnx`
// and a labelled dataset, which gives its bundle a report.json with permutation importance; then
// `edgeloop explain --bundle --window` explains windows offline. The Shapley identity holds to 1e-6 on
// every window, the magnetometer (zero weights) contributes nothing and ranks last, and bad windows are
// refused with a stable code.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { explainCommand } from '../../cli/explain.ts';
import { registryCommand } from '../../cli/registry.ts';
import { Prng } from '../../shared/random.ts';
import { softmaxOnnx } from '../helpers/onnx-fixture.ts';
import { runCommand } from '../helpers/run-command.ts';
import { startHarness, WRITE_TOKEN } from './registry-fixture.ts';

const NAMES = [
  'accel.x.rms',
  'accel.y.rms',
  'accel.z.rms',
  'gyro.x.rms',
  'gyro.y.rms',
  'gyro.z.rms',
  'mag.x.mean',
  'mag.y.mean',
  'mag.z.mean',
  'humidity.mean',
  'pressure.mean',
  'temperature.mean',
];
const LABELS = ['normal', 'imbalance', 'overheating'];
const binPath = fileURLToPath(new URL('../../bin/edgeloop.js', import.meta.url));

/** [feature][class] weights: accel and gyro say imbalance, temperature overheating, the magnetometer nothing. */
function weights(): number[] {
  const w: number[] = [];
  for (const name of NAMES) {
    if (name.startsWith('accel.')) w.push(-1, 2, 0);
    else if (name.startsWith('gyro.')) w.push(-0.5, 1, 0);
    else if (name === 'temperature.mean') w.push(-1, 0, 3);
    else if (name.startsWith('mag.')) w.push(0, 0, 0);
    else w.push(0.1, 0, -0.1);
  }
  return w;
}

test('a bring-your-own model: report.json importance at push, exact group Shapley values offline', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-explain-byo-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const prng = new Prng(4, 'byo-dataset');
  const rows: number[][] = [];
  const labels: string[] = [];
  for (let i = 0; i < 300; i++) {
    const row = NAMES.map(() => prng.gaussian());
    rows.push(row);
    const accel = (row[0] ?? 0) + (row[1] ?? 0) + (row[2] ?? 0);
    labels.push((row[11] ?? 0) > 1 ? 'overheating' : accel > 1.5 ? 'imbalance' : 'normal');
  }
  const csv = [`${NAMES.join(',')},label`, ...rows.map((r, i) => `${r.join(',')},${labels[i] ?? ''}`)];
  writeFileSync(join(dir, 'dataset.csv'), `${csv.join('\n')}\n`);
  writeFileSync(
    join(dir, 'model.onnx'),
    softmaxOnnx({ features: NAMES.length, classes: 3, weights: weights(), bias: [0.5, 0, 0], batch: 'N' }),
  );
  const h = await startHarness(t);
  writeFileSync(join(dir, 'signing.key'), h.key.privateKeyPem);
  writeFileSync(join(dir, 'signing.pub'), h.key.publicKeyPem);
  const bundle = join(dir, 'bundle');
  const push = await runCommand(
    registryCommand,
    [
      'push',
      '--onnx',
      join(dir, 'model.onnx'),
      '--labels',
      LABELS.join(','),
      '--pipeline',
      'acme-features/v2',
      '--pipeline-hash',
      'abcdef0123456789',
      '--dataset',
      join(dir, 'dataset.csv'),
      '--key',
      join(dir, 'signing.key'),
      '--name',
      'acme-pump',
      '--version',
      '2.0.0',
      '--out',
      bundle,
    ],
    { EDGELOOP_REGISTRY_URL: h.server.url, EDGELOOP_REGISTRY_TOKEN: WRITE_TOKEN },
    true,
  );
  assert.equal(push.code, 0, push.err);
  assert.match(push.out, /report\.json: permutation importance/);

  const report = JSON.parse(readFileSync(join(bundle, 'report.json'), 'utf8')) as {
    schema: string;
    importance: { groups: { name: string; mean: number }[]; features: { name: string; mean: number }[] };
    groupPerformance: { states: { name: string }[] };
  };
  assert.equal(report.schema, 'edgeloop-byo-report-v1');
  const groups = report.importance.groups.map((g) => g.name);
  assert.equal(groups.length, 6);
  const mag = report.importance.groups.find((g) => g.name === 'magnetometer');
  assert.equal(mag?.mean, 0, 'zero weights: shuffling the magnetometer changes no prediction');
  assert.ok(['accelerometer', 'temperature'].includes(groups[0] ?? ''), groups.join(','));
  for (const f of report.importance.features.filter((x) => x.name.startsWith('mag.')))
    assert.equal(f.mean, 0);
  assert.deepEqual(report.groupPerformance.states.map((s) => s.name).sort(), [...LABELS].sort());

  // Offline: twelve windows, as a JSON object by name, a JSON array, and CSV rows.
  const pub = join(dir, 'signing.pub');
  for (let i = 0; i < 12; i++) {
    const row = rows[i * 20] as number[];
    let argv: string[];
    if (i % 3 === 0) {
      writeFileSync(
        join(dir, 'w.json'),
        JSON.stringify(Object.fromEntries(NAMES.map((n, j) => [n, row[j]]))),
      );
      argv = ['--window', join(dir, 'w.json')];
    } else if (i % 3 === 1) {
      writeFileSync(join(dir, 'w.json'), JSON.stringify(row));
      argv = ['--window', join(dir, 'w.json')];
    } else {
      argv = ['--window', join(dir, 'dataset.csv'), '--row', String(i * 20 + 1)];
    }
    const r = await runCommand(explainCommand, ['--bundle', bundle, '--trusted-key', pub, '--json', ...argv]);
    assert.equal(r.code, 0, r.err);
    const e = JSON.parse(r.out) as {
      signatureChecked: boolean;
      delta: number;
      probabilities: number[];
      baselineProbabilities: number[];
      predictedIndex: number;
      groups: { group: string; contribution: number; byClass: number[] }[];
      topGroup: string;
      topFeatures: { feature: string }[];
      inferences: number;
    };
    assert.equal(e.signatureChecked, true);
    const sum = e.groups.reduce((s, g) => s + g.contribution, 0);
    assert.ok(Math.abs(sum - e.delta) < 1e-6, `window ${i}: ${sum} vs ${e.delta}`);
    for (let k = 0; k < LABELS.length; k++) {
      const byClass = e.groups.reduce((s, g) => s + (g.byClass[k] ?? 0), 0);
      const want = (e.probabilities[k] ?? 0) - (e.baselineProbabilities[k] ?? 0);
      assert.ok(Math.abs(byClass - want) < 1e-6, `window ${i} class ${k}`);
    }
    const magC = e.groups.find((g) => g.group === 'magnetometer');
    assert.ok(magC !== undefined && Math.abs(magC.contribution) < 1e-9);
    // 64 coalitions, then one occlusion row per feature of the top group (3 per IMU sensor, 1 per slow one).
    assert.equal(e.inferences, 64 + (['humidity', 'pressure', 'temperature'].includes(e.topGroup) ? 1 : 3));
  }

  // The readable form, and the refusals.
  const text = await runCommand(explainCommand, ['--bundle', bundle, '--window', join(dir, 'dataset.csv')]);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /acme-pump@2\.0\.0 predicts \w+/);
  assert.match(text.out, /Contribution of each sensor group/);
  assert.match(text.err, /signature was not checked/);
  writeFileSync(join(dir, 'short.json'), JSON.stringify({ 'accel.x.rms': 1 }));
  const short = await runCommand(
    explainCommand,
    ['--bundle', bundle, '--window', join(dir, 'short.json')],
    {},
    true,
  );
  assert.notEqual(short.code, 0);
  assert.match(short.err, /EDGELOOP_ERR_EXPLAIN_INPUT/);
  assert.match(short.err, /lacks 11 of the model's 12 features/);
  const past = await runCommand(
    explainCommand,
    ['--bundle', bundle, '--window', join(dir, 'dataset.csv'), '--row', '999'],
    {},
    true,
  );
  assert.match(past.err, /EDGELOOP_ERR_EXPLAIN_INPUT/);
  // Exit codes through the real command line: 1 for a window that cannot be explained, 2 for a usage error.
  const cli = (argv: string[]) =>
    spawnSync(process.execPath, [binPath, 'explain', ...argv], {
      env: { ...process.env, EDGELOOP_FROM_SOURCE: '1' },
      encoding: 'utf8',
    });
  const one = cli(['--bundle', bundle, '--window', join(dir, 'short.json')]);
  assert.equal(one.status, 1, one.stderr);
  assert.match(one.stderr, /EDGELOOP_ERR_EXPLAIN_INPUT/);
  const two = cli(['--window', join(dir, 'short.json')]);
  assert.equal(two.status, 2, two.stderr);
  assert.match(cli(['--help']).stdout, /edgeloop explain --bundle/);
  const nobundle = await runCommand(
    explainCommand,
    ['--bundle', join(dir, 'nope'), '--window', join(dir, 'short.json')],
    {},
    true,
  );
  assert.notEqual(nobundle.code, 0);
});
