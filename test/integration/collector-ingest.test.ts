// Issue #9 §1-2: the collector's runtime core with real components: embedded aedes broker with per-device
// credentials and ACL, the MQTT.js persistent subscriber, ingest batches into SQLite, and the one Fastify
// app (/metrics, probes, devices, dead letters). Agent-shaped publishers use MQTT.js directly.

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, test, type TestContext } from 'node:test';
import type { MqttClient } from 'mqtt';
import { waitFor } from '../helpers/wait.ts';
import {
  deviceClient,
  encodeTelemetry,
  startTestCollector,
  telemetry,
  telemetryTopic,
  type CollectorFixture,
} from './collector-fixture.ts';
import { promtoolCheck, requireTool } from '../helpers/tools.ts';

let fx: CollectorFixture;
const clients: MqttClient[] = [];

before(async () => {
  fx = await startTestCollector({ maxMessageBytes: 8192 });
  await waitFor('collector subscriber connected', () => fx.collector.connected());
});
after(async () => {
  for (const c of clients) c.end(true);
  await fx.close();
});

const windowsOf = (deviceId: string): number =>
  fx.collector.store.windows({ deviceId, fromMs: 0, toMs: Number.MAX_SAFE_INTEGER }).length;

async function metric(name: string): Promise<number> {
  const r = await fx.collector.app.inject({ method: 'GET', url: '/metrics' });
  let sum = 0;
  for (const line of r.body.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m !== null && `${m[1]}${m[2] ?? ''}`.startsWith(name)) sum += Number(m[3]);
  }
  return sum;
}

async function device(id: 'dev-a' | 'dev-b'): Promise<MqttClient> {
  const c = await deviceClient(fx.collector.brokerUrl, id);
  clients.push(c);
  return c;
}

test('telemetry from a device is stored exactly once, also when re-published', async () => {
  const a = await device('dev-a');
  const payloads = Array.from({ length: 25 }, (_, i) => encodeTelemetry(telemetry('dev-a', 42, i + 1)));
  for (const p of payloads) await a.publishAsync(telemetryTopic('dev-a'), p, { qos: 1 });
  await waitFor(
    () => `25 windows (have ${windowsOf('dev-a')})`,
    () => windowsOf('dev-a') === 25,
  );
  assert.equal(await metric('edgeloop_collector_acks_held'), 0, 'PUBACKs go out once the batch is written');

  for (const p of payloads) await a.publishAsync(telemetryTopic('dev-a'), p, { qos: 1 });
  await waitFor(
    '25 duplicates counted',
    async () => (await metric('edgeloop_collector_messages_duplicate_total')) >= 25,
  );
  assert.equal(windowsOf('dev-a'), 25);
  assert.equal(await metric('edgeloop_collector_messages_accepted_total'), 25);

  const r = await fx.collector.app.inject({ method: 'GET', url: '/api/v1/devices' });
  assert.equal(r.statusCode, 200);
  const body = r.json<{ devices: { deviceId: string; runId: number | null; sequence: unknown }[] }>();
  assert.deepEqual(
    body.devices.map((d) => [d.deviceId, d.runId, d.sequence]),
    [['dev-a', 42, { received: 25, missing: 0 }]],
  );
});

test('malformed, oversized and wrong-device payloads are dead-lettered and counted by reason', async () => {
  const a = await device('dev-a');
  const topic = telemetryTopic('dev-a');
  await a.publishAsync(topic, Buffer.from('{"v":1,"deviceId":'), { qos: 1 });
  await a.publishAsync(topic, Buffer.alloc(9000, 0x20), { qos: 1 });
  await a.publishAsync(topic, encodeTelemetry(telemetry('dev-b', 7, 1)), { qos: 1 });
  await a.publishAsync(topic, Buffer.from(JSON.stringify({ ...telemetry('dev-a', 7, 2), v: 2 })), { qos: 1 });
  const reasons = ['malformed', 'oversized', 'wrong_device', 'unknown_version'];
  await waitFor('four dead letters', async () => {
    const r = await fx.collector.app.inject({ method: 'GET', url: '/api/v1/dead-letters' });
    return r.json<{ deadLetters: unknown[] }>().deadLetters.length >= 4;
  });
  const r = await fx.collector.app.inject({ method: 'GET', url: '/api/v1/dead-letters?limit=10' });
  const letters = r.json<{ deadLetters: { reason: string; code: string; topic: string }[] }>().deadLetters;
  assert.deepEqual(
    letters.map((d) => d.reason),
    reasons,
  );
  assert.equal(letters[2]?.code, 'EDGELOOP_ERR_MQTT_DEVICE_MISMATCH');
  for (const reason of reasons)
    assert.equal(
      await metric(`edgeloop_collector_messages_dead_lettered_total{reason="${reason}"}`),
      1,
      reason,
    );
  assert.equal(windowsOf('dev-b'), 0, 'a payload naming dev-b on dev-a topic is not stored');
  const bad = await fx.collector.app.inject({ method: 'GET', url: '/api/v1/dead-letters?limit=0' });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json<{ error: { code: string } }>().error.code, 'EDGELOOP_ERR_HTTP_BAD_REQUEST');
});

test("the broker ACL refuses a device publishing under another device's topic, and bad credentials", async () => {
  const a = await device('dev-a');
  const before = await metric('edgeloop_collector_broker_refusals_total{operation="publish"}');
  const closed = new Promise<void>((resolve) =>
    a.once('close', () => {
      resolve();
    }),
  );
  a.publish(telemetryTopic('dev-b'), encodeTelemetry(telemetry('dev-b', 9, 1)), { qos: 0 });
  await closed; // aedes closes a client whose publish is not authorised
  assert.equal(await metric('edgeloop_collector_broker_refusals_total{operation="publish"}'), before + 1);

  // Subscribing to another device's command topic: SUBACK failure, counted.
  const b = await device('dev-b');
  await assert.rejects(
    b.subscribeAsync('edgeloop/v1/devices/dev-a/model/command', { qos: 1 }),
    (err: { packet?: { granted?: number[] } }) => err.packet?.granted?.[0] === 128,
  );
  const own = await b.subscribeAsync('edgeloop/v1/devices/dev-b/model/command', { qos: 1 });
  assert.equal(own[0]?.qos, 1);
  assert.equal(await metric('edgeloop_collector_broker_refusals_total{operation="subscribe"}'), 1);

  await assert.rejects(deviceClient(fx.collector.brokerUrl, 'dev-a', 'wrong-password'));
  assert.ok((await metric('edgeloop_collector_broker_refusals_total{operation="connect"}')) >= 1);
  assert.equal(windowsOf('dev-b'), 0);
});

test('probes: /healthz is 200, /readyz is 200 with store and mqtt ready', async () => {
  const h = await fx.collector.app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(h.statusCode, 200);
  assert.deepEqual(h.json(), { status: 'ok' });
  const r = await fx.collector.app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(r.statusCode, 200);
  assert.deepEqual(r.json(), { status: 'ready', checks: { store: true, mqtt: true } });
  const m = await fx.collector.app.inject({ method: 'POST', url: '/healthz' });
  assert.equal(m.statusCode, 405);
});

test('/metrics passes promtool check metrics', async (t: TestContext) => {
  const r = await fx.collector.app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(r.statusCode, 200);
  assert.match(String(r.headers['content-type']), /text\/plain/);
  for (const name of [
    'edgeloop_collector_messages_received_total',
    'edgeloop_collector_messages_accepted_total',
    'edgeloop_collector_messages_duplicate_total',
    'edgeloop_collector_messages_dead_lettered_total',
    'edgeloop_collector_batch_write_seconds_bucket',
    'edgeloop_collector_queue_depth',
    'edgeloop_collector_acks_held',
    'edgeloop_collector_broker_clients',
  ])
    assert.ok(r.body.includes(name), name);
  const checked = promtoolCheck(r.body);
  if (
    !requireTool(t, checked !== undefined, 'promtool', 'apt-get install prometheus') ||
    checked === undefined
  )
    return;
  assert.equal(checked.status, 0, `promtool check metrics:\n${checked.output}`);
  assert.equal(checked.output, '');
});

test('the registry is mounted on the same app when trusted keys are given', async () => {
  const { publicKey } = generateKeyPairSync('ed25519');
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const withRegistry = await startTestCollector({}, { trustedKeys: [pem] });
  try {
    const r = await withRegistry.collector.app.inject({ method: 'GET', url: '/api/v1/models' });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json(), { models: [] });
  } finally {
    await withRegistry.close();
  }
  const none = await fx.collector.app.inject({ method: 'GET', url: '/api/v1/models' });
  assert.equal(none.statusCode, 404);
  assert.equal(none.json<{ error: { code: string } }>().error.code, 'EDGELOOP_ERR_HTTP_NOT_FOUND');
});

test('a busy broker port is EDGELOOP_ERR_BROKER_LISTEN, and nothing is left open', async () => {
  await assert.rejects(startTestCollector({ brokerPort: fx.collector.brokerPort }), {
    code: 'EDGELOOP_ERR_BROKER_LISTEN',
  });
});
