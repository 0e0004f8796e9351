// Issue #9 §8 "Resilience": SIGKILL `edgeloop collector` (external Mosquitto) with a batch in hand, then
// restart it: nothing is lost and nothing is stored twice. The collector holds each message's PUBACK until
// its batch is committed (collector/adapters/mqtt.ts), so Mosquitto resends the killed batch to the
// persistent session, and the store's dedup keeps replays out.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/wait.ts';
import { startMosquitto } from '../integration/agent-mqtt-fixture.ts';
import {
  deviceClient,
  encodeTelemetry,
  startTestCollector,
  telemetry,
  telemetryTopic,
} from '../integration/collector-fixture.ts';
import { haveCommand, requireTool } from '../helpers/tools.ts';

const bin = fileURLToPath(new URL('../../bin/edgeloop.js', import.meta.url));
const haveMosquitto = haveCommand('mosquitto', ['-h']);

test(
  'SIGKILL with a batch in hand, then a restart: no loss, no duplicates',
  { timeout: 90_000 },
  async (t) => {
    if (!requireTool(t, haveMosquitto, 'mosquitto', 'apt-get install mosquitto')) return;
    const broker = await startMosquitto();
    const dir = mkdtempSync(join(tmpdir(), 'edgeloop-collector-kill-'));
    const dataDir = join(dir, 'data');
    const child = spawn(
      process.execPath,
      [bin, 'collector', '--data-dir', dataDir, '--mqtt', broker.url, '--http-port', '0'].concat([
        '--batch-max-delay-ms',
        '60000',
        '--batch-max-messages',
        '1000',
      ]),
      { env: { ...process.env, EDGELOOP_FROM_SOURCE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => {
      child.once('exit', (_code, signal) => {
        resolve(signal);
      });
    });
    const device = await deviceClient(broker.url, 'dev-a');
    try {
      await waitFor(
        () => `the start line (stdout ${out}, stderr ${err})`,
        () => /collector listening on (\S+) /.test(out),
        { timeoutMs: 30_000 },
      );
      const httpUrl = (/collector listening on (\S+) /.exec(out) as RegExpExecArray)[1] as string;
      await waitFor('collector ready', async () => (await fetch(`${httpUrl}/readyz`)).status === 200);
      for (let i = 1; i <= 30; i++)
        await device.publishAsync(telemetryTopic('dev-a'), encodeTelemetry(telemetry('dev-a', 3, i)), {
          qos: 1,
        });
      await waitFor('30 messages in the ingest queue', async () => {
        const text = await (await fetch(`${httpUrl}/metrics`)).text();
        return /^edgeloop_collector_queue_depth 30$/m.test(text);
      });
      child.kill('SIGKILL');
      assert.equal(await exited, 'SIGKILL');

      const fx = await startTestCollector({ mqtt: broker.url, dataDir });
      try {
        const windows = (): number =>
          fx.collector.store.windows({ deviceId: 'dev-a', fromMs: 0, toMs: Number.MAX_SAFE_INTEGER }).length;
        await waitFor(
          () => `30 windows after the restart (have ${windows()})`,
          () => windows() === 30,
        );
        // A replay of everything after the restart is still stored once.
        for (let i = 1; i <= 30; i++)
          await device.publishAsync(telemetryTopic('dev-a'), encodeTelemetry(telemetry('dev-a', 3, i)), {
            qos: 1,
          });
        await waitFor('30 duplicates', async () => {
          const r = await fx.collector.app.inject({ method: 'GET', url: '/metrics' });
          return /^edgeloop_collector_messages_duplicate_total 30$/m.test(r.body);
        });
        assert.equal(windows(), 30);
      } finally {
        await fx.close();
      }
    } finally {
      device.end(true);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      await broker.close();
    }
  },
);
