// The agent's publishing path against real brokers (issue #4 §6 "Real brokers"): the embedded aedes broker
// on port 0 and the system Mosquitto on 127.0.0.1:1883. Telemetry and raw blocks stream from an outbox
// through the publisher; a subscriber decodes every message with the shared codec and checks each msgSeq
// arrives exactly once, the retained online status, and that the outbox is empty once all is acked.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { MemoryOutbox } from '../../agent/outbox/memory-outbox.ts';
import { buildTopic } from '../../shared/mqtt/topics.ts';
import {
  startAedes,
  startAgentStack,
  Subscriber,
  systemMosquitto,
  type Broker,
} from './agent-mqtt-fixture.ts';
import { waitFor } from '../helpers/wait.ts';
import { requireTool } from '../helpers/tools.ts';

const WINDOWS = 200;
const RAW_EVERY = 5;

async function streamOnce(t: { after(fn: () => Promise<void>): void }, broker: Broker): Promise<void> {
  const deviceId = `stream-${Math.random().toString(16).slice(2, 10)}`;
  const sub = await Subscriber.connect(broker.url, `edgeloop/v1/devices/${deviceId}/#`);
  t.after(() => sub.close());
  const outbox = new MemoryOutbox({ clock: { nowMs: () => Date.now() }, replayRatePerSec: Infinity });
  const agent = startAgentStack({ url: broker.url, deviceId, outbox, rawEvery: RAW_EVERY, maxInFlight: 16 });
  t.after(() => agent.close());

  for (let i = 0; i < WINDOWS; i++) {
    agent.pushWindow(i);
    if (i % 20 === 0) await new Promise((r) => setImmediate(r));
  }
  const rawPerCapture = 2; // accel (3 axes) and temperature
  const expected = WINDOWS + (WINDOWS / RAW_EVERY) * rawPerCapture + 1; // + online status
  await waitFor(`${expected} messages via ${broker.name}`, () => sub.received.length >= expected, {
    timeoutMs: 20_000,
  });
  await waitFor('the outbox to drain', () => outbox.stats().depth === 0);

  assert.deepEqual(sub.invalid, [], 'every payload decodes under the shared schemas');
  assert.equal(sub.received.length, expected);
  const telemetry = sub.of('telemetry');
  assert.equal(telemetry.length, WINDOWS);
  assert.deepEqual(
    telemetry.map((m) => m.payload.window.index).sort((a, b) => a - b),
    Array.from({ length: WINDOWS }, (_, i) => i),
  );
  assert.equal(sub.of('raw').length, (WINDOWS / RAW_EVERY) * rawPerCapture);
  // One stream, msgSeq 1..expected, no hole.
  assert.equal(sub.trackers.size, 1);
  const tracker = [...sub.trackers.values()][0];
  assert.ok(tracker !== undefined);
  assert.equal(tracker.received, expected);
  assert.equal(tracker.missing, 0);
  assert.equal(tracker.highest, agent.sequence.last);

  const status = sub.of('status')[0];
  assert.equal(sub.of('status').length, 1);
  assert.ok(status !== undefined);
  assert.equal(status.payload.state, 'online');
  assert.equal(status.payload.model?.version, '1.0.0');
  // Imputed/NaN features travel as null, never as an invalid number.
  assert.equal(telemetry[0]?.payload.features['accel.x.kurtosis'], null);

  const stats = agent.publisher.stats();
  assert.equal(stats.ackedTotal, expected - 1);
  assert.equal(stats.failedTotal, 0);
  assert.equal(outbox.stats().ackedTotal, expected - 1);

  // The status is retained: a late subscriber gets it at once.
  const late = await Subscriber.connect(broker.url, buildTopicOrThrow(deviceId));
  t.after(() => late.close());
  await waitFor('the retained status', () => late.received.length >= 1);
  assert.equal(late.received[0]?.retained, true);
  assert.equal(late.of('status')[0]?.payload.state, 'online');
}

function buildTopicOrThrow(deviceId: string): string {
  const r = buildTopic('status', deviceId);
  if (!r.ok) throw new Error(r.message);
  return r.value;
}

test('streams telemetry and raw blocks through aedes: each msgSeq exactly once, outbox drained', async (t) => {
  const broker = await startAedes();
  t.after(() => broker.close());
  await streamOnce(t, broker);
});

test('streams telemetry and raw blocks through the system Mosquitto (127.0.0.1:1883)', async (t) => {
  const broker = await systemMosquitto();
  if (
    !requireTool(t, broker !== undefined, 'Mosquitto on 127.0.0.1:1883', 'apt-get install mosquitto') ||
    broker === undefined
  )
    return;
  await streamOnce(t, broker);
});

test('a payload that fails the shared schema is never enqueued nor published', async (t) => {
  const broker = await startAedes();
  t.after(() => broker.close());
  const deviceId = 'schema-guard';
  const sub = await Subscriber.connect(broker.url, `edgeloop/v1/devices/${deviceId}/#`);
  t.after(() => sub.close());
  const outbox = new MemoryOutbox({ clock: { nowMs: () => Date.now() } });
  const agent = startAgentStack({ url: broker.url, deviceId, outbox });
  t.after(() => agent.close());

  const bad = agent.sink.push({
    window: (await import('./agent-mqtt-fixture.ts')).fakeWindow(0),
    prediction: {
      label: 'normal',
      probabilities: { normal: Number.NaN },
      model: { name: 'pump', version: '1' },
      latencyMs: 1,
    },
    counters: { framesDecoded: 1, framesInvalid: 0, samples: 1, gaps: 0, samplesMissing: 0, windows: 1 },
  });
  assert.ok(!bad.ok);
  assert.equal(bad.code, 'EDGELOOP_ERR_MQTT_PAYLOAD');
  assert.equal(agent.sink.stats().invalidPayloads, 1);
  assert.equal(outbox.stats().enqueuedTotal, 0);
  const seqBefore = agent.sequence.last;
  agent.pushWindow(1);
  await waitFor('the good window', () => sub.of('telemetry').length === 1);
  assert.deepEqual(sub.invalid, []);
  // The refused payload burnt no msgSeq: the receiver sees no hole.
  assert.equal(sub.of('telemetry')[0]?.payload.msgSeq, seqBefore + 1);
  assert.equal([...sub.trackers.values()][0]?.missing, 0);
});
