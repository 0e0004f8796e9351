// Retained status and last will (issue #4 §2 "Delivery"): a subscriber sees the agent online, then offline
// with reason "lwt" (msgSeq 0, published by the broker) when the agent's socket is destroyed without a
// DISCONNECT, online again after the automatic reconnect, and offline with reason "shutdown" after a clean
// close. The socket is cut by a TCP proxy between agent and broker, so the agent code under test is the
// production code, unchanged. Runs against aedes and the system Mosquitto.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { connect } from 'mqtt';
import { MemoryOutbox } from '../../agent/outbox/memory-outbox.ts';
import type { StatusPayload } from '../../shared/mqtt/schemas.ts';
import {
  startAedes,
  startAgentStack,
  Subscriber,
  systemMosquitto,
  type Broker,
} from './agent-mqtt-fixture.ts';
import { waitFor } from '../helpers/wait.ts';
import { requireTool } from '../helpers/tools.ts';
import { startProxy } from './agent-mqtt-proxy.ts';

async function statusLifecycle(t: { after(fn: () => Promise<void>): void }, broker: Broker): Promise<void> {
  const deviceId = `status-${Math.random().toString(16).slice(2, 10)}`;
  const sub = await Subscriber.connect(broker.url, `edgeloop/v1/devices/${deviceId}/status`);
  t.after(() => sub.close());
  const proxy = await startProxy(broker.port);
  t.after(() => proxy.close());
  const outbox = new MemoryOutbox({ clock: { nowMs: () => Date.now() } });
  const agent = startAgentStack({ url: proxy.url, deviceId, outbox, reconnectMaxMs: 300 });
  t.after(() => agent.close());
  const commandTopic = `edgeloop/v1/devices/${deviceId}/model/command`;
  const commands: Uint8Array[] = [];
  agent.link.subscribe(commandTopic, 1);
  agent.link.onMessage((topic, payload) => {
    if (topic === commandTopic) commands.push(payload);
  });

  const states = (): Pick<StatusPayload, 'state' | 'reason' | 'msgSeq'>[] =>
    sub
      .of('status')
      .map((m) => ({ state: m.payload.state, reason: m.payload.reason, msgSeq: m.payload.msgSeq }));

  await waitFor('online', () => states().length >= 1);
  assert.deepEqual(states()[0], { state: 'online', reason: 'startup', msgSeq: 1 });

  proxy.cut();
  await waitFor('the last will', () => states().length >= 2);
  assert.deepEqual(states()[1], { state: 'offline', reason: 'lwt', msgSeq: 0 });
  const will = sub.of('status')[1]?.payload;
  assert.equal(will?.runId, agent.sequence.runId);
  assert.equal(will.model?.version, '1.0.0', 'the will carries the model active when it connected');

  // The link reconnects by itself and announces itself again with a new msgSeq.
  await waitFor('online after reconnect', () => states().length >= 3);
  assert.equal(states()[2]?.state, 'online');
  assert.ok((states()[2]?.msgSeq ?? 0) > 1);

  // The subscription is applied again on the new connection, and payloads arrive as aligned copies
  // (MQTT.js hands out slices of its socket buffer at any offset).
  const sender = connect(broker.url, { clientId: `sender-${deviceId}`, reconnectPeriod: 0 });
  t.after(() => sender.endAsync(true));
  await new Promise<void>((r) =>
    sender.once('connect', () => {
      r();
    }),
  );
  const body = new Uint8Array(45).map((_, k) => k);
  await waitFor(
    'a command after the reconnect',
    async () => {
      if (commands.length > 0) return true;
      // Sent again on every poll until one arrives: the subscription is re-applied asynchronously.
      await sender.publishAsync(commandTopic, Buffer.from(body), { qos: 1 });
      return false;
    },
    { intervalMs: 100 },
  );
  const got = commands[0];
  assert.ok(got !== undefined);
  assert.deepEqual([...got], [...body]);
  assert.equal(got.byteOffset, 0);
  assert.equal(got.buffer.byteLength, body.byteLength, 'a copy that owns its buffer');

  await agent.close();
  await waitFor('offline on shutdown', () => states().length >= 4);
  assert.deepEqual(
    { state: states()[3]?.state, reason: states()[3]?.reason },
    { state: 'offline', reason: 'shutdown' },
  );
  // A clean DISCONNECT: the broker must not publish the will afterwards (MQTT-3.14.4-3).
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(states().length, 4);
  assert.deepEqual(sub.invalid, []);
}

test('status is online, then offline by last will when the socket dies, then shutdown (aedes)', async (t) => {
  const broker = await startAedes();
  t.after(() => broker.close());
  await statusLifecycle(t, broker);
});

test('status is online, then offline by last will when the socket dies, then shutdown (Mosquitto)', async (t) => {
  const broker = await systemMosquitto();
  if (
    !requireTool(t, broker !== undefined, 'Mosquitto on 127.0.0.1:1883', 'apt-get install mosquitto') ||
    broker === undefined
  )
    return;
  await statusLifecycle(t, broker);
});
