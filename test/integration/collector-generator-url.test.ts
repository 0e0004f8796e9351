// docs/alerts.md §Prometheus Alertmanager, `generatorURL`: a collector started with --public-url links
// its alerts under that URL, not under its listen address (which may be 0.0.0.0). A real collector (embedded
// broker, SQLite), a real HTTP receiver in Alertmanager's place, an integrity alert from a msgSeq gap.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  deviceClient,
  encodeTelemetry,
  startTestCollector,
  telemetry,
  telemetryTopic,
} from './collector-fixture.ts';
import { startReceiver } from '../unit/collector-alerts-fixture.ts';
import { waitFor } from '../helpers/wait.ts';

test('alerts sent to Alertmanager link to the alert under --public-url', async (t) => {
  const am = await startReceiver(t);
  const fx = await startTestCollector({
    alertmanagerUrl: am.url,
    alertMqtt: false,
    evaluateIntervalMs: 200,
    publicUrl: 'https://collector.factory.example',
  });
  t.after(() => fx.close());
  const dev = await deviceClient(fx.collector.brokerUrl, 'dev-a');
  t.after(() => dev.end(true));
  // Messages 1, then 50: 48 lost messages, an integrity alert.
  for (const seq of [1, 50])
    await dev.publishAsync(telemetryTopic('dev-a'), encodeTelemetry(telemetry('dev-a', 1, seq)), { qos: 1 });
  await waitFor('an alert posted to Alertmanager', () => am.requests.length > 0, { timeoutMs: 60_000 });
  const posted = JSON.parse(am.requests[0]?.body ?? '[]') as { generatorURL?: string }[];
  assert.match(
    posted[0]?.generatorURL ?? '',
    /^https:\/\/collector\.factory\.example\/api\/v1\/alerts\/\d+$/,
  );
});
