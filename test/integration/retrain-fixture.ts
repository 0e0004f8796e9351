// Retraining tests' world: a real registry (SQLite + blobs) holding a small trained production model, a
// real SQLite telemetry store holding the captured windows of "field" devices (firmware-sim boards with a
// calibration offset on accel.x, their wire bytes through the same decoder, windower and pipeline as the
// agent's, published as telemetry payloads and decoded as ingest does), the loop database, and the
// retraining service with the real worker (cli/retrain-worker.ts) as its child process.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { firmwareSimLab } from '../../cli/lab-simulator.ts';
import { collectLineageEnv, trainBundleFiles } from '../../collector/training/bundle.ts';
import { generateLabData } from '../../collector/training/lab-data.ts';
import { trainModel } from '../../collector/training/train.ts';
import { openRegistry, type Registry } from '../../collector/registry/registry.ts';
import { createRetraining, type RetrainingService } from '../../collector/retrain/retraining.ts';
import { openSqliteTelemetryStore } from '../../collector/storage/sqlite-store.ts';
import type { IncomingMessage, TelemetryStore } from '../../collector/storage/types.ts';
import { createSignedBundle } from '../../shared/bundle/build.ts';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import { decodeMessage, encodeJsonPayload } from '../../shared/mqtt/codec.ts';
import { buildTelemetryPayload } from '../../shared/mqtt/telemetry.ts';
import { buildTopic } from '../../shared/mqtt/topics.ts';
import { systemClock } from '../../shared/platform/clock.ts';
import { noopLogger } from '../../shared/platform/logger.ts';
import { loadOnnxSession } from '../../shared/platform/onnx.ts';
import { openSqliteDatabase, type SqliteDatabase } from '../../shared/platform/sqlite.ts';
import { encodeBundleArchive } from '../../shared/platform/tar.ts';
import { fakeCounters, fakeWindow } from './agent-mqtt-stack.ts';

export const MODEL = 'machine-condition';
export const BASE_VERSION = '1.0.0';
/** Device time of the first captured window. */
export const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);
export const workerPath = fileURLToPath(new URL('../../cli/retrain-worker.ts', import.meta.url));

export interface RetrainWorld {
  readonly dir: string;
  readonly registry: Registry;
  readonly store: TelemetryStore;
  readonly db: SqliteDatabase;
  readonly keyPem: string;
  /** Field device id -> its true state. */
  readonly field: ReadonlyMap<string, string>;
  readonly fieldSeconds: number;
  retraining(workerPathOverride?: string, signingKeyPem?: string): RetrainingService;
}

/** Trains and registers the production model: 3 devices per state x 20 s, 2 trials. */
async function registerBase(registry: Registry, keyPem: string): Promise<void> {
  const lab = await generateLabData({
    simulator: firmwareSimLab,
    seed: 1,
    devicesPerState: 3,
    secondsPerDevice: 20,
  });
  if (!lab.ok) throw new Error(lab.message);
  const search = { kind: 'random', trials: 2, folds: 2, space: { hidden: [0] } } as const;
  const r = await trainModel({
    rows: lab.value.rows,
    seed: 1,
    search,
    pipelineId: lab.value.pipeline.id,
    pipelineHash: lab.value.pipeline.paramsHash,
  });
  if (!r.ok) throw new Error(r.message);
  const now = new Date().toISOString();
  const parts = trainBundleFiles({
    name: MODEL,
    version: BASE_VERSION,
    result: r.value,
    lab: lab.value,
    seed: 1,
    search,
    startedAt: now,
    endedAt: now,
    env: collectLineageEnv(),
  });
  if (!parts.ok) throw new Error(parts.message);
  const signed = createSignedBundle(parts.value.manifest, parts.value.files, keyPem);
  if (!signed.ok) throw new Error(signed.message);
  const pushed = await registry.push(MODEL, encodeBundleArchive(signed.value.contents), 'test');
  if (!pushed.ok) throw new Error(pushed.message);
  const moved = registry.moveAlias({
    model: MODEL,
    alias: 'production',
    version: BASE_VERSION,
    reason: 'test',
    actor: 'test',
  });
  if (!moved.ok) throw new Error(moved.message);
}

/** Captured telemetry: one field device per state, accel.x reading 0.3 g high (a calibration drift). */
async function captureField(store: TelemetryStore, seconds: number): Promise<Map<string, string>> {
  const lab = await generateLabData({
    simulator: firmwareSimLab,
    seed: 99,
    devicesPerState: 1,
    secondsPerDevice: seconds,
    devicePrefix: 'field',
    conditions: { offsets: { 'accel.x': 0.3 }, ambientC: 31 },
  });
  if (!lab.ok) throw new Error(lab.message);
  const field = new Map<string, string>();
  const batch: IncomingMessage[] = [];
  const seq = new Map<string, number>();
  for (const row of lab.value.rows) {
    const deviceId = row.group.slice(0, row.group.lastIndexOf('@'));
    field.set(deviceId, row.label);
    const n = (seq.get(deviceId) ?? 0) + 1;
    seq.set(deviceId, n);
    const tsMs = T0 + (row.time - Date.UTC(2025, 0, 1));
    const p = buildTelemetryPayload(
      {
        window: fakeWindow(n),
        features: {
          pipeline: lab.value.pipeline.id,
          names: [...lab.value.featureNames],
          values: Array.from(row.features),
        },
        prediction: null,
        counters: fakeCounters(n),
      },
      { deviceId, runId: 1, tsMs, nextSeq: () => n },
    );
    if (!p.ok) throw new Error(p.message);
    const topic = buildTopic('telemetry', deviceId);
    const payload = encodeJsonPayload('telemetry', p.value);
    if (!topic.ok || !payload.ok) throw new Error('encode');
    const m = decodeMessage(topic.value, payload.value);
    if (!m.ok) throw new Error(m.message);
    batch.push({ message: m.value, receivedMs: tsMs });
  }
  store.writeBatch(batch);
  return field;
}

export async function retrainWorld(t: TestContext, fieldSeconds = 40): Promise<RetrainWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-retrain-'));
  const key = generateSigningKeyPair();
  const registry = openRegistry({
    dataDir: join(dir, 'registry'),
    trustedKeys: [key.publicKeyPem],
    loadModel: loadOnnxSession,
  });
  const store = openSqliteTelemetryStore(join(dir, 'telemetry.sqlite'), {
    windowRetentionMs: Number.POSITIVE_INFINITY,
  });
  const db = openSqliteDatabase(join(dir, 'loop.sqlite'));
  const services: RetrainingService[] = [];
  t.after(async () => {
    for (const s of services) await s.close();
    db.close();
    store.close();
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await registerBase(registry, key.privateKeyPem);
  const field = await captureField(store, fieldSeconds);
  return {
    dir,
    registry,
    store,
    db,
    keyPem: key.privateKeyPem,
    field,
    fieldSeconds,
    retraining(override, signingKeyPem) {
      const s = createRetraining({
        db,
        store,
        registry,
        signingKeyPem: signingKeyPem ?? key.privateKeyPem,
        workerPath: override ?? workerPath,
        workDir: join(dir, 'training'),
        clock: systemClock,
        logger: noopLogger,
      });
      services.push(s);
      return s;
    },
  };
}
