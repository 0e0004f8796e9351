// Issue #8 §2 "Last will timestamp" and "Status reason on reconnect", against the embedded aedes broker:
//  - every online status after the first connection of a run says reason "reconnect", not "startup";
//  - the last will is armed again on each connection with fresh content: a will published after a
//    reconnect carries a tsMs from that reconnect (not from the first CONNECT) and the firmwareVersion and
//    bootId learned after the first connection.
// The connection is cut by a TCP proxy, so the broker publishes the will and the agent code is unchanged.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { createMqttLink } from '../../agent/adapters/mqtt.ts';
import { MemoryOutbox } from '../../agent/outbox/memory-outbox.ts';
import { Publisher } from '../../agent/publish/publisher.ts';
import { createMessageSequence } from '../../agent/publish/sequence.ts';
import { StatusReporter } from '../../agent/publish/status.ts';
import type { StatusPayload } from '../../shared/mqtt/schemas.ts';
import { startAedes, Subscriber } from './agent-mqtt-fixture.ts';
import { startProxy } from './agent-mqtt-proxy.ts';
import { waitFor } from '../helpers/wait.ts';

test('reconnects announce reason "reconnect"; each reconnect re-arms the will with fresh content', async (t) => {
  const broker = await startAedes();
  t.after(() => broker.close());
  const deviceId = `reconn-${Math.random().toString(16).slice(2, 10)}`;
  const sub = await Subscriber.connect(broker.url, `edgeloop/v1/devices/${deviceId}/status`);
  t.after(() => sub.close());
  const proxy = await startProxy(broker.port);
  t.after(() => proxy.close());

  const sequence = createMessageSequence();
  const status = new StatusReporter({ deviceId, agentVersion: '0.1.0-test', sequence });
  const link = createMqttLink({
    url: proxy.url,
    clientId: deviceId,
    will: () => status.will(),
    reconnectPeriodMs: 100,
    reconnectMaxMs: 300,
    keepaliveSec: 5,
    connectTimeoutMs: 2000,
  });
  const outbox = new MemoryOutbox({ clock: { nowMs: () => Date.now() } });
  const publisher = new Publisher({ outbox, link, status, idlePollMs: 20 });
  publisher.start();
  t.after(async () => {
    await publisher.close({ drainTimeoutMs: 1000 });
    await link.close({ timeoutMs: 1000 });
  });

  const statuses = (): StatusPayload[] => sub.of('status').map((m) => m.payload);

  await waitFor('online', () => statuses().length >= 1);
  assert.equal(statuses()[0]?.reason, 'startup');
  assert.equal(statuses()[0]?.firmwareVersion, null);

  // The board says HELLO after the first CONNECT: that connection's will cannot know it (MQTT-3.1.2-8).
  status.update({ firmwareVersion: 'fw-2.0.0', bootId: 9 });
  const firstCutAtMs = Date.now();
  proxy.cut();
  await waitFor('the first will', () => statuses().length >= 2);
  const will1 = statuses()[1];
  assert.deepEqual([will1?.state, will1?.reason, will1?.msgSeq], ['offline', 'lwt', 0]);
  assert.equal(will1?.firmwareVersion, null, 'armed at the first CONNECT, before the HELLO');

  await waitFor('online after the reconnect', () => statuses().length >= 3);
  const online2 = statuses()[2];
  assert.deepEqual([online2?.state, online2?.reason], ['online', 'reconnect']);
  assert.equal(online2?.firmwareVersion, 'fw-2.0.0');

  proxy.cut();
  await waitFor('the second will', () => statuses().length >= 4);
  const will2 = statuses()[3];
  assert.ok(will2 !== undefined);
  assert.deepEqual([will2.state, will2.reason, will2.msgSeq], ['offline', 'lwt', 0]);
  assert.equal(will2.firmwareVersion, 'fw-2.0.0', 'the re-armed will knows the firmware');
  assert.equal(will2.bootId, 9);
  assert.ok(
    will2.tsMs >= firstCutAtMs,
    `the re-armed will is dated at its own CONNECT (${String(will2.tsMs)}), after the first cut (${firstCutAtMs})`,
  );

  await waitFor('online after the second reconnect', () => statuses().length >= 5);
  assert.equal(statuses()[4]?.reason, 'reconnect');
  assert.deepEqual(sub.invalid, []);

  // Status is retained state, published straight to the link on every connect (docs/outbox.md): a new
  // subscriber gets the current one, not an older status replayed from anywhere.
  const late = await Subscriber.connect(broker.url, `edgeloop/v1/devices/${deviceId}/status`);
  t.after(() => late.close());
  await waitFor('the retained status', () => late.of('status').length >= 1);
  const retained = late.of('status')[0]?.payload;
  assert.deepEqual(
    [retained?.state, retained?.reason, retained?.msgSeq],
    ['online', 'reconnect', statuses()[4]?.msgSeq],
  );
});
