// Issue #9 §1-2 with an external broker (Mosquitto, --mqtt): the collector's persistent QoS 1 session keeps
// what devices publish while the collector is stopped, and nothing is written twice after a restart, when
// the in-memory sequence trackers are empty and the store's (deviceId, runId, msgSeq) dedup decides.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitFor } from '../helpers/wait.ts';
import { startMosquitto } from './agent-mqtt-fixture.ts';
import {
  deviceClient,
  encodeTelemetry,
  startTestCollector,
  telemetry,
  telemetryTopic,
  type CollectorFixture,
} from './collector-fixture.ts';
import { haveCommand, requireTool } from '../helpers/tools.ts';

const haveMosquitto = haveCommand('mosquitto', ['-h']);

test(
  'external Mosquitto: the session keeps messages across a collector restart, and replays are not stored twice',
  { timeout: 60_000 },
  async (t) => {
    if (!requireTool(t, haveMosquitto, 'mosquitto', 'apt-get install mosquitto')) return;
    const broker = await startMosquitto();
    const dir = mkdtempSync(join(tmpdir(), 'edgeloop-collector-mosq-'));
    const dataDir = join(dir, 'data');
    let fx: CollectorFixture | undefined;
    const device = await deviceClient(broker.url, 'dev-a');
    try {
      fx = await startTestCollector({ mqtt: broker.url, dataDir });
      const first = fx;
      await waitFor('collector connected', () => first.collector.connected());
      const windows = (c: CollectorFixture): number =>
        c.collector.store.windows({ deviceId: 'dev-a', fromMs: 0, toMs: Number.MAX_SAFE_INTEGER }).length;
      const publish = async (from: number, to: number): Promise<void> => {
        for (let i = from; i <= to; i++)
          await device.publishAsync(telemetryTopic('dev-a'), encodeTelemetry(telemetry('dev-a', 11, i)), {
            qos: 1,
          });
      };
      await publish(1, 10);
      await waitFor(
        () => `10 windows (have ${windows(first)})`,
        () => windows(first) === 10,
      );
      await first.close();
      fx = undefined;

      // The collector is away: Mosquitto queues these for its persistent session.
      await publish(11, 20);
      fx = await startTestCollector({ mqtt: broker.url, dataDir });
      const second = fx;
      await waitFor(
        () => `20 windows after the restart (have ${windows(second)})`,
        () => windows(second) === 20,
      );

      // A full replay after the restart: the trackers are empty, the store refuses every row.
      await publish(1, 20);
      await waitFor('20 duplicates', async () => {
        const r = await second.collector.app.inject({ method: 'GET', url: '/metrics' });
        return /^edgeloop_collector_messages_duplicate_total 20$/m.test(r.body);
      });
      assert.equal(windows(second), 20);
    } finally {
      device.end(true);
      await fx?.close();
      rmSync(dir, { recursive: true, force: true });
      await broker.close();
    }
  },
);
