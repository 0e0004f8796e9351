// A real collector for the collector tests (test/integration/collector-*.test.ts, test/e2e/collector-*):
// embedded aedes broker and HTTP on port 0, SQLite in a temp directory, and agent-shaped publishers built
// with MQTT.js and the shared/mqtt payload helpers.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { loadCollectorConfig } from '../../collector/config.ts';
import { startCollector, type Collector, type CollectorDeps } from '../../collector/main.ts';
import { encodeJsonPayload } from '../../shared/mqtt/codec.ts';
import type { TelemetryPayload } from '../../shared/mqtt/schemas.ts';
import { buildTopic } from '../../shared/mqtt/topics.ts';
import { createLogger } from '../../shared/platform/logger.ts';

export const DEVICES = { 'dev-a': 'secret-a-0123456789', 'dev-b': 'secret-b-0123456789' } as const;
export const COLLECTOR_CREDENTIAL = { username: 'collector', password: 'collector-secret-0123' };

/** Writes a credentials file for the embedded broker into dir; returns its path. */
export function writeCredentials(dir: string): string {
  const path = join(dir, 'credentials.json');
  writeFileSync(path, JSON.stringify({ devices: DEVICES, collector: COLLECTOR_CREDENTIAL }));
  return path;
}

export interface CollectorFixture {
  readonly dir: string;
  readonly collector: Collector;
  readonly logs: string[];
  close(): Promise<void>;
}

/** flags override the defaults below (dataDir too: pass one to restart a collector on the same database). */
export async function startTestCollector(
  flags: Record<string, unknown> = {},
  deps: Omit<CollectorDeps, 'logger'> = {},
): Promise<CollectorFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-collector-'));
  const config = loadCollectorConfig(
    {
      dataDir: join(dir, 'data'),
      httpPort: 0,
      batchMaxDelayMs: 20,
      // The embedded broker's options; an external one (flags.mqtt) authenticates devices itself.
      ...(flags.mqtt === undefined
        ? { brokerPort: 0, brokerHost: '127.0.0.1', credentialsFile: writeCredentials(dir) }
        : {}),
      ...flags,
    },
    {},
  );
  const logs: string[] = [];
  let collector: Collector;
  try {
    collector = await startCollector(config, {
      ...deps,
      logger: createLogger({ stream: { write: (l: string) => logs.push(l) }, level: 'debug' }),
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    collector,
    logs,
    async close() {
      await collector.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A telemetry payload with a few features, valid against the schema. */
export function telemetry(deviceId: string, runId: number, msgSeq: number): TelemetryPayload {
  return {
    v: 1,
    deviceId,
    runId,
    msgSeq,
    tsMs: Date.now(),
    bootId: 3,
    window: { index: msgSeq, startUs: msgSeq * 1e6, endUs: (msgSeq + 1) * 1e6 },
    featurePipeline: 'edgeloop-features/v1',
    features: { accel_x_mean: msgSeq * 0.5, accel_x_std: 0.25, temp_mean: null },
    prediction: { label: 'normal', probabilities: { normal: 0.9, imbalance: 0.1 }, latencyMs: 0.4 },
    model: { name: 'fan', version: '1.0.0' },
    integrity: { status: 'good', channels: {}, flags: [] },
    counters: {
      framesDecoded: msgSeq,
      framesInvalid: 0,
      samples: msgSeq * 100,
      gaps: 0,
      samplesMissing: 0,
      windows: msgSeq,
    },
  };
}

export function encodeTelemetry(p: TelemetryPayload): Buffer {
  const r = encodeJsonPayload('telemetry', p);
  if (!r.ok) throw new Error(r.message);
  return Buffer.from(r.value);
}

export function telemetryTopic(deviceId: string): string {
  const r = buildTopic('telemetry', deviceId);
  if (!r.ok) throw new Error(r.message);
  return r.value;
}

/** An agent-shaped MQTT.js client of one device on the collector's broker. */
export async function deviceClient(
  url: string,
  deviceId: keyof typeof DEVICES,
  password: string = DEVICES[deviceId],
): Promise<MqttClient> {
  const client = connect(url, {
    clientId: deviceId,
    username: deviceId,
    password,
    reconnectPeriod: 0,
    protocolVersion: 4,
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => {
      resolve();
    });
    client.once('error', reject);
  });
  return client;
}
