// `edgeloop train --collector` (issue 10 §2 "edgeloop train gains these dataset sources through the same
// code path"): a real collector API (telemetry windows and operator labels, Fastify on port 0, the real
// SQLite store) serving captured windows of field devices with a calibration offset; the command reads
// them page by page, labels them, adds lab data under the estimated conditions, trains and writes a
// signed bundle whose lineage names the captured data and the label sources. Usage errors too.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { parseTrainArgs, trainCommand } from '../../cli/train.ts';
import { createHttpApp, listenHttp } from '../../collector/adapters/http.ts';
import { telemetryRoutes } from '../../collector/api/telemetry.ts';
import { trainingRoutes } from '../../collector/api/training.ts';
import type { Manifest } from '../../shared/bundle/manifest.ts';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import { EdgeloopError } from '../../shared/errors.ts';
import { retrainWorld, T0 } from './retrain-fixture.ts';

function codeOf(argv: string[]): string {
  try {
    parseTrainArgs(argv);
    return 'ok';
  } catch (err) {
    return err instanceof EdgeloopError ? err.code : String(err);
  }
}

test('train --collector: usage errors name what is missing', () => {
  assert.equal(codeOf(['--out', '/tmp/x', '--collector', 'http://h:1']), 'EDGELOOP_ERR_USAGE');
  assert.equal(
    codeOf(['--out', '/tmp/x', '--devices', 'a', '--from', '1', '--to', '2']),
    'EDGELOOP_ERR_USAGE',
  );
  assert.equal(
    codeOf(['--out', '/tmp/x', '--collector', 'http://h:1', '--devices', 'a', '--from', '5', '--to', '2']),
    'EDGELOOP_ERR_USAGE',
  );
  assert.equal(
    codeOf([
      '--out',
      '/tmp/x',
      '--collector',
      'http://h:1',
      '--devices',
      'a',
      '--from',
      'yesterday',
      '--to',
      '2',
    ]),
    'EDGELOOP_ERR_CONFIG_INVALID',
  );
  assert.equal(
    codeOf([
      '--out',
      '/tmp/x',
      '--collector',
      'http://h:1',
      '--devices',
      'a',
      '--from',
      '1',
      '--to',
      '2',
      '--lab-conditions',
      'maybe',
    ]),
    'EDGELOOP_ERR_CONFIG_INVALID',
  );
  const ok = parseTrainArgs([
    '--out',
    '/tmp/x',
    '--collector',
    'http://h:1',
    '--devices',
    'a,b',
    '--from',
    '2026-01-05T08:00:00Z',
    '--to',
    '1767603600000',
    '--pseudo-labels',
  ]);
  assert.ok(ok !== 'help' && ok.collector !== undefined);
  assert.deepEqual(ok.collector.devices, ['a', 'b']);
  assert.equal(ok.collector.fromMs, T0);
  assert.equal(ok.collector.pseudoLabels, true);
  assert.equal(ok.collector.labConditions, true);
});

test('train --collector: windows and labels over HTTP, same dataset code, lineage with sources', async (t) => {
  const w = await retrainWorld(t, 40);
  const rt = w.retraining();
  for (const [deviceId, state] of w.field)
    assert.ok(rt.labels.add({ deviceId, state, fromMs: T0, toMs: T0 + 60_000 }, 'ops', Date.now()).ok);
  const app = createHttpApp();
  await app.register(telemetryRoutes, { store: w.store, nowMs: () => T0 + 60_000 });
  await app.register(trainingRoutes, { retraining: rt, labels: rt.labels, authorize: () => 'test' });
  const http = await listenHttp(app);
  t.after(() => http.close());

  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-train-collector-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const key = generateSigningKeyPair();
  writeFileSync(join(dir, 'k.pem'), key.privateKeyPem);
  const out = join(dir, 'bundle');
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let err = '';
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  stdout.resume();
  const devices = [...w.field.keys()];
  const code = await trainCommand.run(
    [
      '--out',
      out,
      '--key',
      join(dir, 'k.pem'),
      '--seed',
      '3',
      '--devices-per-state',
      '3',
      '--seconds-per-device',
      '20',
      '--trials',
      '2',
      '--folds',
      '2',
      '--hidden',
      '0',
      '--collector',
      http.url,
      '--devices',
      devices.join(','),
      '--from',
      new Date(T0).toISOString(),
      '--to',
      String(T0 + 3_600_000),
    ],
    { stdout, stderr, env: {}, signal: new AbortController().signal },
  );
  assert.equal(code, 0, err);
  assert.match(err, /collector: \d+ windows of field-normal-1/);
  const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as Manifest;
  const r = m.lineage.retraining as {
    collector: string;
    captured: { deviceId: string; windows: number; digest: string }[];
    labelSources: { source: string; partition: string; rows: number }[];
    operatorLabels: string[];
    conditions: { offsets: Record<string, number> };
  };
  assert.equal(r.collector, http.url);
  assert.deepEqual(
    r.captured.map((c) => c.deviceId),
    devices,
  );
  assert.ok(r.captured.every((c) => c.windows > 30 && /^[0-9a-f]{64}$/.test(c.digest)));
  assert.equal(r.operatorLabels.length, devices.length);
  const by = (s: string, p: string): number =>
    r.labelSources.find((x) => x.source === s && x.partition === p)?.rows ?? 0;
  assert.ok(by('operator', 'test') > 0, 'recent captured rows are in the test partition');
  assert.ok(by('operator', 'train') > 0 && by('lab', 'train') > 0 && by('lab_conditions', 'train') > 0);
  assert.ok(Math.abs((r.conditions.offsets['accel.x'] ?? 0) - 0.3) < 0.1, JSON.stringify(r.conditions));
  assert.ok(m.lineage.datasets.some((d) => d.name === 'source:operator' && d.partition === 'test'));
  assert.deepEqual(m.lineage.labData, {
    seed: 3,
    states: ['normal', 'imbalance', 'misalignment', 'bearing_wear', 'overheating'],
    devicesPerState: 3,
    secondsPerDevice: 20,
    windowMs: 1000,
  });

  // A collector that is not there: a stable code, exit 1, no bundle left behind.
  const out2 = join(dir, 'bundle2');
  let err2 = '';
  const stderr2 = new PassThrough();
  stderr2.on('data', (c: Buffer) => (err2 += c.toString()));
  const code2 = await trainCommand.run(
    [
      '--out',
      out2,
      '--key',
      join(dir, 'k.pem'),
      '--devices-per-state',
      '1',
      '--seconds-per-device',
      '2',
      '--collector',
      'http://127.0.0.1:9',
      '--devices',
      'x',
      '--from',
      '1',
      '--to',
      '2',
    ],
    { stdout, stderr: stderr2, env: {}, signal: new AbortController().signal },
  );
  assert.equal(code2, 1, err2);
  assert.match(err2, /EDGELOOP_ERR_TRAINING_COLLECTOR_UNREACHABLE/);
});
