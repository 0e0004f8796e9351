// Issue #3 §7, end to end: `edgeloop train` generates lab data from firmware-sim scenarios, trains with a
// small random search, tests, exports ONNX, signs with a fresh key and pushes to a real registry (SQLite
// in a temp dir, real HTTP on port 0) that trusts that key; the version goes to staging, then to
// production through a promotion gate it passes; the production bundle is pulled into a fresh directory
// and verified against the pinned key. A second run with the same seed must give identical dataset
// digests and identical ONNX bytes.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createRegistryServer } from '../../collector/registry/server.ts';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import { verifyBundleDir } from '../../collector/registry/bundle-io.ts';
import type { CliIO } from '../../cli/commands.ts';
import { registryCommand } from '../../cli/registry.ts';
import { trainCommand } from '../../cli/train.ts';

const TOKEN = 'e2e-write-token-0123456789';
const MODEL = 'e2e-condition';

function captureIO(): { io: CliIO; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (c: Buffer) => (o += c.toString()));
  stderr.on('data', (c: Buffer) => (e += c.toString()));
  return {
    io: { stdout, stderr, env: {}, signal: new AbortController().signal },
    out: () => o,
    err: () => e,
  };
}

// Small budget: 6 devices x 20 s per state (600 windows), 4 random trials of softmax regression or a
// tiny MLP, 2 folds, 40 epochs. Seeds 1-3 give macro-F1 1.000 at this budget; seeds 7 and 11 give
// 0.949 and 0.980 (a held-out normal device partly read as overheating), see docs/training.md.
const budget = (out: string, key: string): string[] => [
  '--out',
  out,
  '--seed',
  '1',
  '--search',
  'random',
  '--trials',
  '4',
  '--folds',
  '2',
  '--hidden',
  '0,8',
  '--devices-per-state',
  '6',
  '--seconds-per-device',
  '20',
  '--key',
  key,
  '--name',
  MODEL,
  '--version',
  '1.0.0',
];

interface ManifestView {
  name: string;
  version: string;
  metrics: { macroF1: number; accuracy: number };
  labels: string[];
  pipeline: { id: string; paramsHash: string };
  lineage: {
    origin: string;
    datasets: { digest: string; partition: string; rows: number; splitSeed: number }[];
    code: { commit: string | null; dirty: boolean | null };
    trials: unknown[];
    search: { method: string; seed: number; budget: number };
    libraries: Record<string, string>;
    startedAt: string;
    endedAt: string;
  };
  files: { path: string; role: string }[];
}

const readJson = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8'));

test('train -> sign -> push -> staging -> production -> pull -> verify, reproducibly', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-e2e-train-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const key = generateSigningKeyPair();
  const keyPath = join(dir, 'signing.key');
  const pubPath = join(dir, 'signing.pub');
  writeFileSync(keyPath, key.privateKeyPem, { mode: 0o600 });
  writeFileSync(pubPath, key.publicKeyPem);

  const server = await createRegistryServer({
    dataDir: join(dir, 'registry'),
    tokens: [{ token: TOKEN, actor: 'e2e' }],
    trustedKeys: [key.publicKeyPem],
    port: 0,
  });
  t.after(() => server.close());
  const client = ['--url', server.url, '--token', TOKEN];

  // 1. Train, push and promote to staging in one command.
  const first = join(dir, 'bundle-1');
  const run1 = captureIO();
  const code1 = await trainCommand.run(
    [...budget(first, keyPath), '--push', server.url, '--token', TOKEN, '--promote', 'staging'],
    run1.io,
  );
  assert.equal(code1, 0, `train failed:\n${run1.err()}`);
  assert.match(run1.out(), /macro-F1\s+\d\.\d{3}/);
  assert.match(run1.out(), new RegExp(`pushed ${MODEL}@1\\.0\\.0`));
  assert.match(run1.out(), /staging: \(none\) -> 1\.0\.0/);

  const manifest = readJson(join(first, 'manifest.json')) as ManifestView;
  const report = readJson(join(first, 'report.json')) as {
    metrics: { macroF1: number; accuracy: number };
    rows: number;
    onnxParity?: { maxAbsDiff: number; labelMismatches: number };
  };
  // The simulator's machine states are physically distinct signatures; the model must separate them
  // on devices it never saw (the test partition holds whole devices).
  t.diagnostic(
    `test macro-F1 ${report.metrics.macroF1.toFixed(4)}, accuracy ${report.metrics.accuracy.toFixed(4)}`,
  );
  assert.ok(report.metrics.macroF1 >= 0.9, `macro-F1 ${report.metrics.macroF1} below 0.9`);
  assert.equal(manifest.metrics.macroF1, report.metrics.macroF1);
  // Issue #3 §4: onnxruntime agrees with the TypeScript model on every label, and on every probability
  // within 1e-5, over the whole test partition. Lab data has features like pressure (~1013 hPa, std
  // ~0.02) that need the exported scaler to standardise in float64 (it did not, and the gap was 2.4e-5
  // here); measured about 3e-7 now.
  const parity = report.onnxParity;
  assert.ok(parity !== undefined);
  t.diagnostic(`onnx parity max |dp| ${parity.maxAbsDiff.toExponential(2)}`);
  assert.equal(parity.labelMismatches, 0);
  assert.ok(parity.maxAbsDiff <= 1e-5, `onnx parity ${parity.maxAbsDiff}`);
  // ...and the parity figure covers the whole test partition, not a sample of it.
  assert.equal(report.rows, manifest.lineage.datasets.find((d) => d.partition === 'test')?.rows);
  assert.deepEqual(manifest.labels, ['normal', 'imbalance', 'misalignment', 'bearing_wear', 'overheating']);
  assert.equal(manifest.pipeline.id, 'edgeloop-features/v1');
  // Lineage: both partitions with digests and the split seed, every trial, the search, libraries.
  const l = manifest.lineage;
  assert.equal(l.origin, 'trained');
  assert.deepEqual(
    l.datasets.map((d) => [d.partition, d.splitSeed]),
    [
      ['train', 1],
      ['test', 1],
    ],
  );
  assert.ok(l.datasets.every((d) => /^[0-9a-f]{64}$/.test(d.digest) && d.rows > 0));
  assert.equal(l.trials.length, 4);
  assert.deepEqual(l.search, { method: 'random', seed: 1, budget: 4 });
  for (const lib of ['node', 'onnxruntime-node', 'onnx-proto', 'fft.js']) assert.ok(l.libraries[lib], lib);
  assert.ok(Date.parse(l.startedAt) <= Date.parse(l.endedAt));
  assert.deepEqual(manifest.files.map((f) => f.path).sort(), [
    'dataset.json',
    'golden.json',
    'model.onnx',
    'reference.json',
    'report.json',
    'report.md',
  ]);

  // 2. A gate the model passes, then production by compare-and-set from "no production yet".
  const gate = captureIO();
  assert.equal(
    await registryCommand.run(
      ['policy', MODEL, '--min-macro-f1', '0.9', '--require-staging-first', ...client],
      gate.io,
    ),
    0,
    gate.err(),
  );
  const promote = captureIO();
  assert.equal(
    await registryCommand.run(
      [
        'promote',
        MODEL,
        '1.0.0',
        '--to',
        'production',
        '--expect',
        'none',
        '--reason',
        'e2e: gate passed',
        ...client,
      ],
      promote.io,
    ),
    0,
    promote.err(),
  );
  assert.match(promote.out(), /production: \(none\) -> 1\.0\.0/);
  const history = (await (await fetch(`${server.url}/api/v1/models/${MODEL}/history`)).json()) as {
    history: { alias: string; to: string; actor: string }[];
  };
  assert.deepEqual(history.history.map((h) => [h.alias, h.to, h.actor]).sort(), [
    ['production', '1.0.0', 'e2e'],
    ['staging', '1.0.0', 'e2e'],
  ]);

  // 3. Pull production into a fresh directory and verify it with the pinned key only.
  const pulled = join(dir, 'pulled');
  const pull = captureIO();
  assert.equal(
    await registryCommand.run(
      ['pull', MODEL, 'production', '--out', pulled, '--trusted-key', pubPath, ...client],
      pull.io,
    ),
    0,
    pull.err(),
  );
  const verified = await verifyBundleDir(pulled, [key.publicKeyPem]);
  assert.ok(verified.ok, verified.ok ? '' : verified.message);
  assert.equal(verified.value.keyId, key.keyId);
  for (const f of manifest.files)
    assert.deepEqual(readFileSync(join(pulled, f.path)), readFileSync(join(first, f.path)), f.path);
  assert.deepEqual(readFileSync(join(pulled, 'manifest.json')), readFileSync(join(first, 'manifest.json')));

  // 4. Reproducibility: the same seed and options give the same data and the same model bytes.
  const second = join(dir, 'bundle-2');
  const run2 = captureIO();
  assert.equal(await trainCommand.run(budget(second, keyPath), run2.io), 0, run2.err());
  const manifest2 = readJson(join(second, 'manifest.json')) as ManifestView;
  assert.deepEqual(manifest2.lineage.datasets, manifest.lineage.datasets);
  assert.deepEqual(readFileSync(join(second, 'model.onnx')), readFileSync(join(first, 'model.onnx')));
  assert.deepEqual(readFileSync(join(second, 'golden.json')), readFileSync(join(first, 'golden.json')));
  assert.deepEqual(readFileSync(join(second, 'reference.json')), readFileSync(join(first, 'reference.json')));
  assert.equal(manifest2.metrics.macroF1, manifest.metrics.macroF1);
});
