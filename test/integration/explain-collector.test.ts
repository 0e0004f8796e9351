// The collector's explanations (docs/explanations.md §HTTP API) from the user's side, with real parts:
// a model trained by `edgeloop train`, pushed to the collector's registry; windows of three simulated
// boards (`edgeloop features --scenario`: steady, calibration-drift, bearing-wear) published over MQTT
// to the embedded broker with the model's own predictions, as agents publish them; operator labels
// posted to the maintenance-log API. Then, over HTTP:
// - every explained window satisfies the Shapley identity to 1e-6, and its probabilities are the stored
//   prediction's;
// - on calibration-drift the accelerometer (the drifted sensor) carries the largest change in
//   contribution between before the onset and after it; on steady the contributions are stable;
// - a drift alert on the drifted sensor is ranked above one on a sensor that did not move, which is low
//   priority but listed; the same shift on the features the model ignores has no impact, on its most
//   important feature a high one;
// - estimated (CBPE) accuracy tracks the realised one within the margins named below.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { connect, type MqttClient } from 'mqtt';
import { featuresCommand } from '../../cli/features.ts';
import { registryCommand } from '../../cli/registry.ts';
import { trainCommand } from '../../cli/train.ts';
import { driftImpact } from '../../collector/explain/impact.ts';
import { openExplainModel, type ExplainModel } from '../../collector/explain/model.ts';
import { readBundle } from '../../collector/index.ts';
import { parseManifest } from '../../shared/bundle/manifest.ts';
import { parseFeatureCsv } from '../../shared/features/csv.ts';
import { encodeJsonPayload } from '../../shared/mqtt/codec.ts';
import type { TelemetryPayload } from '../../shared/mqtt/schemas.ts';
import { buildTopic } from '../../shared/mqtt/topics.ts';
import { loadOnnxSession } from '../../shared/platform/onnx.ts';
import { runCommand } from '../helpers/run-command.ts';
import { waitFor } from '../helpers/wait.ts';
import { COLLECTOR_CREDENTIAL, startTestCollector, type CollectorFixture } from './collector-fixture.ts';

const MODEL = 'pump-condition';
const TOKEN = 'explain-token-0123456789';
const workerPath = fileURLToPath(new URL('../../cli/retrain-worker.ts', import.meta.url));
/** Scenario, device and device time simulated, s. */
const BOARDS = [
  { deviceId: 'pump-steady', scenario: 'steady', durationS: 400 },
  { deviceId: 'pump-drift', scenario: 'calibration-drift', durationS: 1200 },
  { deviceId: 'pump-wear', scenario: 'bearing-wear', durationS: 900 },
] as const;
/** Device time of the first window, ms: in the past, so the ranges are explicit. */
const T0 = Date.now() - 2 * 3_600_000;
const at = (s: number): number => T0 + s * 1000;

interface Json {
  [k: string]: unknown;
}

let dir = '';
let fx: CollectorFixture;
let model: ExplainModel;
let http = '';

async function api(path: string, body?: unknown): Promise<Json> {
  const res = await fetch(`${http}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as Json;
  assert.ok(res.ok, `${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function publishBoard(client: MqttClient, deviceId: string, csvPath: string): Promise<number> {
  const csv = parseFeatureCsv(readFileSync(csvPath, 'utf8'), csvPath);
  if (!csv.ok) throw new Error(csv.message);
  const names = csv.value.featureNames;
  const rows = csv.value.rows;
  const width = names.length;
  const x = new Float32Array(rows.length * width);
  rows.forEach((r, i) => {
    x.set(r, i * width);
  });
  const p = await model.predictor.predict(x, rows.length);
  if (!p.ok) throw new Error(p.message);
  const c = model.labels.length;
  const topic = buildTopic('telemetry', deviceId);
  if (!topic.ok) throw new Error(topic.message);
  const pending: Promise<unknown>[] = [];
  rows.forEach((r, i) => {
    const probabilities = Object.fromEntries(model.labels.map((l, k) => [l, p.value[i * c + k] as number]));
    let best = 0;
    for (let k = 1; k < c; k++)
      if ((p.value[i * c + k] as number) > (p.value[i * c + best] as number)) best = k;
    const payload: TelemetryPayload = {
      v: 1,
      deviceId,
      runId: 1,
      msgSeq: i,
      tsMs: at(i),
      bootId: 7,
      window: { index: i, startUs: i * 1e6, endUs: (i + 1) * 1e6 },
      featurePipeline: 'edgeloop-features/v1',
      features: Object.fromEntries(names.map((n, j) => [n, r[j] as number])),
      prediction: { label: model.labels[best] as string, probabilities, latencyMs: 0.5 },
      model: model.ref,
      integrity: { status: 'good', channels: {}, flags: [] },
      counters: {
        framesDecoded: i,
        framesInvalid: 0,
        samples: i * 100,
        gaps: 0,
        samplesMissing: 0,
        windows: i,
      },
    };
    const bytes = encodeJsonPayload('telemetry', payload);
    if (!bytes.ok) throw new Error(bytes.message);
    pending.push(client.publishAsync(topic.value, Buffer.from(bytes.value), { qos: 1 }));
  });
  await Promise.all(pending);
  return rows.length;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgeloop-explain-'));
  const bundle = join(dir, 'bundle');
  const trained = await runCommand(
    trainCommand,
    ['--out', bundle, '--seed', '1', '--name', MODEL, '--version', '1.0.0', '--trials', '2'],
    {},
    true,
  );
  assert.equal(trained.code, 0, trained.err);
  const pub = `${bundle}.signing.pub`;
  for (const b of BOARDS) {
    const f = await runCommand(featuresCommand, [
      '--scenario',
      b.scenario,
      '--duration',
      String(b.durationS),
      '--out',
      join(dir, `${b.deviceId}.csv`),
    ]);
    assert.equal(f.code, 0, f.err);
  }
  const contents = await readBundle(bundle);
  assert.ok(contents.ok);
  const manifest = parseManifest(JSON.parse(new TextDecoder().decode(contents.value.manifest)));
  assert.ok(manifest.ok);
  const opened = await openExplainModel(
    manifest.value,
    (p) => contents.value.files.get(p),
    (b) => loadOnnxSession(b),
  );
  assert.ok(opened.ok);
  model = opened.value;

  const passwords = Object.fromEntries(BOARDS.map((b) => [b.deviceId, `${b.deviceId}-secret-0123456789`]));
  const credentialsFile = join(dir, 'credentials.json');
  writeFileSync(credentialsFile, JSON.stringify({ devices: passwords, collector: COLLECTOR_CREDENTIAL }));
  fx = await startTestCollector(
    // No monitor cycle during the test: the alerts below are raised by the test itself.
    { credentialsFile, trustedKeys: [pub], evaluateIntervalMs: 3_600_000, alertMqtt: false },
    {
      trustedKeys: [readFileSync(pub, 'utf8')],
      registryTokens: [{ token: TOKEN, actor: 'test' }],
      retrainWorkerPath: workerPath,
    },
  );
  http = fx.collector.httpUrl;
  const pushed = await runCommand(
    registryCommand,
    ['push', bundle, '--url', http, '--token', TOKEN],
    {},
    true,
  );
  assert.equal(pushed.code, 0, pushed.err);

  let total = 0;
  for (const b of BOARDS) {
    const client = connect(fx.collector.brokerUrl, {
      clientId: b.deviceId,
      username: b.deviceId,
      password: `${b.deviceId}-secret-0123456789`,
      reconnectPeriod: 0,
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => {
        resolve();
      });
      client.once('error', reject);
    });
    total += await publishBoard(client, b.deviceId, join(dir, `${b.deviceId}.csv`));
    await client.endAsync();
  }
  await waitFor(
    `${total} windows stored`,
    () =>
      BOARDS.reduce(
        (n, b) =>
          n +
          fx.collector.store.windows({
            deviceId: b.deviceId,
            fromMs: 0,
            toMs: Number.MAX_SAFE_INTEGER,
            limit: 100_000,
          }).length,
        0,
      ) === total,
    { timeoutMs: 60_000, intervalMs: 200 },
  );
});

after(async () => {
  await model.close();
  await fx.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Explanation {
  delta: number;
  probabilities: number[];
  baselineProbabilities: number[];
  predicted: string;
  groups: { group: string; contribution: number; byClass: number[] }[];
  topGroup: string;
  topFeatures: { feature: string; effect: number }[];
}

test('a stored window is explained: the identity holds to 1e-6 and the probabilities are the stored ones', async () => {
  for (const b of BOARDS) {
    const stored = fx.collector.store.windows({
      deviceId: b.deviceId,
      fromMs: 0,
      toMs: Number.MAX_SAFE_INTEGER,
      limit: 100_000,
    });
    for (const w of stored.filter((_, i) => i % Math.floor(stored.length / 7) === 0)) {
      const e = (await api(`/api/v1/devices/${b.deviceId}/windows/${w.tsMs}/explanation`))
        .explanation as Explanation;
      const sum = e.groups.reduce((s, g) => s + g.contribution, 0);
      assert.ok(Math.abs(sum - e.delta) < 1e-6, `${b.deviceId}@${w.tsMs}: ${sum} vs ${e.delta}`);
      for (let k = 0; k < e.probabilities.length; k++) {
        const label = model.labels[k] as string;
        assert.ok(Math.abs((e.probabilities[k] ?? 0) - (w.prediction?.probabilities[label] ?? -1)) < 1e-6);
        const byClass = e.groups.reduce((s, g) => s + (g.byClass[k] ?? 0), 0);
        assert.ok(Math.abs(byClass - ((e.probabilities[k] ?? 0) - (e.baselineProbabilities[k] ?? 0))) < 1e-6);
      }
      assert.equal(e.predicted, w.prediction?.label);
      assert.deepEqual(
        e.groups.map((g) => g.group),
        ['accelerometer', 'gyroscope', 'magnetometer', 'humidity', 'pressure', 'temperature'],
      );
      assert.ok(e.topFeatures.length === 5 && e.topFeatures.every((f) => Number.isFinite(f.effect)));
    }
  }
  // The refusals: an unknown window and an unknown device.
  const none = await fetch(`${http}/api/v1/devices/pump-drift/windows/1/explanation`);
  assert.equal(none.status, 404);
  assert.equal(
    ((await none.json()) as { error: { code: string } }).error.code,
    'EDGELOOP_ERR_HTTP_NOT_FOUND',
  );
  const nobody = await fetch(`${http}/api/v1/devices/nobody/contributions`);
  assert.equal(nobody.status, 404);
  const typo = await fetch(`${http}/api/v1/devices/pump-drift/contributions?form=1`);
  assert.equal(typo.status, 400);
});

async function meanContributions(
  deviceId: string,
  fromS: number,
  toS: number,
): Promise<Record<string, number>> {
  const r = (await api(
    `/api/v1/devices/${deviceId}/contributions?from=${at(fromS)}&to=${at(toS)}&limit=300`,
  )) as { points: { contributions: Record<string, number> }[]; skipped: number };
  assert.equal(r.skipped, 0);
  assert.ok(r.points.length >= Math.min(100, toS - fromS));
  const sums: Record<string, number> = {};
  for (const p of r.points)
    for (const [g, v] of Object.entries(p.contributions)) sums[g] = (sums[g] ?? 0) + v / r.points.length;
  return sums;
}

const changes = (a: Record<string, number>, b: Record<string, number>): [string, number][] =>
  Object.keys(a)
    .map((g): [string, number] => [g, Math.abs((b[g] ?? 0) - (a[g] ?? 0))])
    .sort((x, y) => y[1] - x[1]);

test('calibration-drift: the accelerometer carries the largest change in contribution; steady: stable', async () => {
  // The accel.x bias ramps from 300 s (to 900 s), gyro.z's gain from 600 s, accel.y's noise from 900 s.
  const before = await meanContributions('pump-drift', 0, 300);
  const after = await meanContributions('pump-drift', 1000, 1200);
  const drift = changes(before, after);
  const [top] = drift;
  assert.ok(top !== undefined);
  assert.equal(top[0], 'accelerometer', JSON.stringify(drift));
  const first = await meanContributions('pump-steady', 0, 200);
  const second = await meanContributions('pump-steady', 200, 400);
  const [steadyTop] = changes(first, second);
  assert.ok(steadyTop !== undefined);
  // Stable: every group moves less than a third of the drifted accelerometer's change.
  assert.ok(steadyTop[1] < top[1] / 3, `steady ${JSON.stringify(steadyTop)} drift ${JSON.stringify(drift)}`);
});

test('drift alerts are ranked by impact; a sensor that did not move is low priority, and listed', async () => {
  const raise = (
    subject: string,
    feature: string,
    deviceId = 'pump-drift',
    sinceS = 300,
    fromS = 900,
    toS = 1200,
  ) =>
    fx.collector.store.raiseAlert(
      {
        dedupKey: `drift.model_reference|${deviceId}|${subject}`,
        kind: 'drift',
        severity: 'warning',
        deviceId,
        channel: subject,
        message: `${subject} moved away from the model's reference`,
        details: {
          kind: 'drift',
          check: 'drift.model_reference',
          subject,
          summary: `${subject} drift`,
          atMs: at(toS),
          sinceMs: at(sinceS),
          window: { fromMs: at(fromS), toMs: at(toS) },
          evidence: [
            {
              method: 'wasserstein',
              statistic: 1,
              threshold: 0.5,
              thresholdOrigin: 'test',
              detail: { feature },
            },
          ],
          reference: { basis: 'model_reference', model: model.ref },
          cause: 'calibration_drift',
          action: { kind: 'recalibrate_sensor', automatic: false },
        },
      },
      Date.now(),
    );
  // The calibration bias barely matters to the model; the bearing defect (its accelerometer's spectrum and
  // kurtosis moved) is what the model is for.
  const accel = raise('accel', 'accel.x.mean');
  const mag = raise('mag', 'mag.x.mean');
  const wear = raise('accel', 'accel.x.kurtosis', 'pump-wear', 120, 600, 900);
  const ranked = (await api('/api/v1/alerts/impact')).alerts as {
    alertId: number;
    priority: string;
    changedShare: number | null;
    meanConfidenceChange: number | null;
    reason: string | null;
  }[];
  const ids = ranked.map((r) => r.alertId);
  assert.ok(ids.includes(accel.id) && ids.includes(mag.id), JSON.stringify(ranked));
  const magRank = ranked.find((r) => r.alertId === mag.id);
  const accelRank = ranked.find((r) => r.alertId === accel.id);
  assert.ok(magRank !== undefined && accelRank !== undefined);
  assert.equal(magRank.priority, 'low', JSON.stringify(magRank));
  assert.ok((magRank.changedShare ?? 1) < 0.05);
  assert.ok(ids.indexOf(accel.id) < ids.indexOf(mag.id), JSON.stringify(ranked));
  assert.ok((accelRank.changedShare ?? -1) >= (magRank.changedShare ?? 0));
  assert.ok(Math.abs(magRank.meanConfidenceChange ?? 1) < 0.01, JSON.stringify(magRank));
  const wearRank = ranked.find((r) => r.alertId === wear.id);
  assert.equal(ranked[0]?.alertId, wear.id, JSON.stringify(ranked));
  assert.equal(wearRank?.priority, 'high', JSON.stringify(wearRank));

  const e = (await api(`/api/v1/alerts/${accel.id}/explanation`)).explanation as {
    windows: number;
    meanContributions: Record<string, number>;
    latest: Explanation | null;
    impact: {
      shifted: string[];
      rows: number;
      mixBefore: number[];
      mixAfter: number[];
      referenceRows: { source: string };
    } | null;
    impactUnavailable: string | null;
  };
  assert.ok(e.windows >= 250, String(e.windows));
  assert.ok(e.latest !== null && e.latest.topFeatures.length === 5);
  assert.ok(e.impact !== null, e.impactUnavailable ?? '');
  assert.ok(
    e.impact.shifted.includes('accel.x.mean') && e.impact.shifted.every((f) => f.startsWith('accel.')),
  );
  assert.equal(e.impact.referenceRows.source, 'device_history');
  assert.ok(e.impact.rows >= 250);
  assert.ok(Math.abs(e.impact.mixBefore.reduce((s, x) => s + x, 0) - 1) < 1e-9);
});

test('estimated accuracy (CBPE) tracks realised accuracy on steady and bearing-wear within the stated margins', async () => {
  await api('/api/v1/labels', { deviceId: 'pump-steady', state: 'normal', fromMs: at(0), toMs: at(400) });
  await api('/api/v1/labels', { deviceId: 'pump-wear', state: 'normal', fromMs: at(0), toMs: at(120) });
  await api('/api/v1/labels', {
    deviceId: 'pump-wear',
    state: 'bearing_wear',
    fromMs: at(120),
    toMs: at(900),
  });
  interface Perf {
    calibration: { ece: number | null; trusted: boolean };
    buckets: {
      fromMs: number;
      windows: number;
      estimated: { accuracy: number };
      realised: { windows: number; accuracy: number } | null;
      gap: number | null;
    }[];
    realisedBy: { state: Record<string, { windows: number }> };
  }
  const perf = async (id: string, toS: number) =>
    (await api(
      `/api/v1/devices/${id}/performance?from=${at(0)}&to=${at(toS)}&bucketMs=300000`,
    )) as unknown as Perf;
  const overall = (p: Perf) => {
    const n = p.buckets.reduce((s, b) => s + b.windows, 0);
    return {
      estimated: p.buckets.reduce((s, b) => s + b.estimated.accuracy * b.windows, 0) / n,
      realised: p.buckets.reduce((s, b) => s + (b.realised?.accuracy ?? 0) * b.windows, 0) / n,
    };
  };
  const steady = await perf('pump-steady', 400);
  assert.equal(steady.calibration.ece, model.ece);
  for (const b of steady.buckets) {
    assert.ok(b.realised !== null && b.realised.windows === b.windows);
    // Margin on steady: 0.03 per 5-minute bucket.
    assert.ok(Math.abs(b.gap ?? 1) <= 0.03, JSON.stringify(b));
  }
  const wear = await perf('pump-wear', 900);
  assert.deepEqual(Object.keys(wear.realisedBy.state).sort(), ['bearing_wear', 'normal']);
  const o = overall(wear);
  // Margins on bearing-wear: 0.05 per 5-minute bucket from 300 s on, 0.15 over the whole run. The bucket of
  // the onset (120 s, a defect ramping up from nothing) is where they part: there the model is confidently
  // "normal" on windows the maintenance log already calls bearing_wear, which no confidence-based
  // estimate can see (docs/explanations.md, "Limits").
  assert.ok(Math.abs(o.estimated - o.realised) <= 0.15, JSON.stringify({ o, buckets: wear.buckets }));
  for (const b of wear.buckets.filter((x) => x.fromMs >= at(300)))
    assert.ok(Math.abs(b.gap ?? 1) <= 0.05, JSON.stringify(b));
  // The fleet view covers every device's windows.
  const fleet = (await api(
    `/api/v1/performance?from=${at(0)}&to=${at(1200)}&bucketMs=600000`,
  )) as unknown as Perf;
  assert.equal(
    fleet.buckets.reduce((s, b) => s + b.windows, 0),
    400 + 1200 + 900,
  );
});

test('impact: the same shift on features the model ignores changes nothing, on its most important one a lot', async () => {
  const report = JSON.parse(readFileSync(join(dir, 'bundle', 'report.json'), 'utf8')) as {
    importance: { features: { name: string; mean: number; std: number }[] };
  };
  const ranked = report.importance.features;
  const top = ranked[0];
  assert.ok(top !== undefined && top.mean > 0.05, JSON.stringify(ranked.slice(0, 3)));
  const ignored = ranked.filter((f) => f.mean === 0 && f.std === 0).slice(0, 8);
  assert.ok(ignored.length >= 4, 'features whose shuffling never changed a prediction');
  const csv = parseFeatureCsv(readFileSync(join(dir, 'pump-steady.csv'), 'utf8'), 'steady');
  assert.ok(csv.ok);
  const names = csv.value.featureNames;
  const layout = model.layout(names);
  assert.ok(layout.ok);
  const rows = new Float32Array(csv.value.rows.length * names.length);
  csv.value.rows.forEach((r, i) => {
    rows.set(r, i * names.length);
  });
  // The same shift for each: the feature's whole distribution moved up by 10 reference σ.
  const impactOf = async (feature: string): Promise<number> => {
    const index = names.indexOf(feature);
    const ref = layout.value.reference[index];
    assert.ok(ref !== undefined);
    const r = await driftImpact({
      predictor: model.predictor,
      rows,
      shifts: [{ index, feature, reference: ref.sample, live: ref.sample.map((v) => v + 10 * ref.std) }],
    });
    assert.ok(r.ok);
    return r.value.changedShare;
  };
  const high = await impactOf(top.name);
  assert.ok(high >= 0.2, `${top.name}: ${high}`);
  for (const f of ignored) {
    const low = await impactOf(f.name);
    assert.ok(low < 0.02, `${f.name}: ${low}`);
  }
});
