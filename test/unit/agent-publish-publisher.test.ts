// The publisher against an in-memory MqttLink whose PUBACKs the test releases by hand: bounded in-flight
// count, ack only on PUBACK, release on failure, linkDown/linkUp on connection changes, results from an
// earlier connection ignored, online status first on connect and offline on close.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { fail, ok, type Result } from '../../shared/errors.ts';
import { decodeMessage } from '../../shared/mqtt/codec.ts';
import type { MqttLink, MqttLinkEvent, MqttMessageOut } from '../../agent/adapters/mqtt.ts';
import { MemoryOutbox } from '../../agent/outbox/memory-outbox.ts';
import type { OutboxMessage } from '../../agent/outbox/types.ts';
import { Publisher, type PublisherObserver } from '../../agent/publish/publisher.ts';
import { createMessageSequence } from '../../agent/publish/sequence.ts';
import { StatusReporter } from '../../agent/publish/status.ts';

interface Sent {
  readonly message: MqttMessageOut;
  readonly resolve: (r: Result<void>) => void;
}

class FakeLink implements MqttLink {
  connected = false;
  readonly sent: Sent[] = [];
  /** Every message ever published, in order. */
  readonly all: MqttMessageOut[] = [];
  readonly #listeners = new Set<(e: MqttLinkEvent) => void>();
  maxPending = 0;
  #pending = 0;
  start(): void {
    /* the test drives connect() */
  }
  publish(message: MqttMessageOut): Promise<Result<void>> {
    if (!this.connected) return Promise.resolve(fail('EDGELOOP_ERR_MQTT_PUBLISH', 'not connected'));
    this.#pending++;
    this.all.push(message);
    this.maxPending = Math.max(this.maxPending, this.#pending);
    return new Promise((resolve) =>
      this.sent.push({
        message,
        resolve: (r) => {
          this.#pending--;
          resolve(r);
        },
      }),
    );
  }
  subscribe(): void {
    /* unused */
  }
  onEvent(l: (e: MqttLinkEvent) => void): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }
  onMessage(): () => void {
    return () => undefined;
  }
  stats(): never {
    throw new Error('unused');
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  up(): void {
    this.connected = true;
    for (const l of this.#listeners) l({ kind: 'connected', sessionPresent: false });
  }
  down(): void {
    this.connected = false;
    for (const l of this.#listeners) l({ kind: 'disconnected', reason: 'test' });
  }
  /** PUBACKs (or fails) every publish sent so far that is still open. */
  settleAll(r: Result<void> = ok(undefined)): number {
    const list = this.sent.splice(0);
    for (const s of list) s.resolve(r);
    return list.length;
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await tick();
};

function msg(i: number): OutboxMessage {
  return {
    topic: 'edgeloop/v1/devices/dev-1/telemetry',
    payload: new TextEncoder().encode(`{"i":${i}}`),
    qos: 1,
    class: 'telemetry',
    createdAtMs: Date.now(),
  };
}

function setup(maxInFlight = 4): {
  link: FakeLink;
  outbox: MemoryOutbox;
  publisher: Publisher;
  events: string[];
} {
  const link = new FakeLink();
  const outbox = new MemoryOutbox({ clock: { nowMs: () => Date.now() }, replayRatePerSec: Infinity });
  const events: string[] = [];
  const observer: PublisherObserver = {
    connection: (up) => events.push(up ? 'up' : 'down'),
    published: (cls, result) => events.push(`${cls}:${result}`),
  };
  const sequence = createMessageSequence(42);
  const status = new StatusReporter({ deviceId: 'dev-1', agentVersion: '0.1.0', sequence });
  const publisher = new Publisher({
    outbox,
    link,
    maxInFlight,
    status,
    observer,
    idlePollMs: 10_000,
    failurePauseMs: 0,
  });
  publisher.start();
  return { link, outbox, publisher, events };
}

test('publishes the retained online status first, then outbox messages, never more than maxInFlight', async (t) => {
  const { link, outbox, publisher } = setup(4);
  t.after(() => publisher.close({ drainTimeoutMs: 0 }));
  for (let i = 0; i < 10; i++) assert.ok(outbox.enqueue(msg(i)).ok);
  link.up();
  await flush();
  const first = link.sent[0]?.message;
  assert.ok(first !== undefined);
  assert.equal(first.retain, true);
  const status = decodeMessage(first.topic, first.payload);
  assert.ok(status.ok && status.value.kind === 'status' && status.value.payload.state === 'online');
  // Status (not through the outbox) + 4 outbox messages in flight.
  assert.equal(link.sent.length, 5);
  assert.equal(publisher.stats().inFlight, 4);
  assert.equal(outbox.stats().inFlight, 4);

  let rounds = 0;
  while (outbox.stats().depth > 0 && rounds++ < 20) {
    link.settleAll();
    await flush();
    assert.ok(publisher.stats().inFlight <= 4);
  }
  assert.equal(outbox.stats().depth, 0);
  assert.equal(outbox.stats().ackedTotal, 10);
  assert.ok(link.maxPending <= 5);
});

test('acks the outbox only on PUBACK; a failed publish is released and sent again', async (t) => {
  const { link, outbox, publisher, events } = setup(2);
  t.after(() => publisher.close({ drainTimeoutMs: 0 }));
  link.up();
  await flush();
  link.settleAll(); // the status
  outbox.enqueue([msg(0), msg(1)]);
  publisher.notify();
  await flush();
  assert.equal(link.sent.length, 2);
  assert.equal(outbox.stats().depth, 2, 'nothing deleted before PUBACK');

  link.sent.shift()?.resolve(fail('EDGELOOP_ERR_MQTT_PUBLISH', 'refused'));
  await flush();
  assert.equal(outbox.stats().depth, 2);
  assert.ok(events.includes('telemetry:failed'));
  // The released message went out again.
  assert.equal(link.sent.length, 2);
  assert.equal(new TextDecoder().decode(link.sent[1]?.message.payload), '{"i":0}');
  link.settleAll();
  await flush();
  assert.equal(outbox.stats().depth, 0);
  assert.equal(publisher.stats().failedTotal, 1);
  assert.equal(publisher.stats().ackedTotal, 2);
});

test('on disconnect everything in flight goes back to the outbox; late results are ignored', async (t) => {
  const { link, outbox, publisher, events } = setup(8);
  t.after(() => publisher.close({ drainTimeoutMs: 0 }));
  link.up();
  await flush();
  link.settleAll();
  for (let i = 0; i < 5; i++) outbox.enqueue(msg(i));
  publisher.notify();
  await flush();
  assert.equal(outbox.stats().inFlight, 5);
  const stale = link.sent.splice(0);
  // Two PUBACKs arrive before the link drops: those two must be deleted, not sent again.
  stale[0]?.resolve(ok(undefined));
  stale[1]?.resolve(ok(undefined));
  await Promise.resolve();
  await Promise.resolve();
  link.down();
  assert.equal(outbox.stats().inFlight, 0, 'linkDown released the rest');
  assert.equal(outbox.stats().depth, 3);
  // A result from the dead connection arrives late: ignored (no double release, no ack).
  stale[2]?.resolve(ok(undefined));
  await flush();
  assert.equal(outbox.stats().depth, 3);
  assert.equal(link.sent.length, 0, 'nothing published while down');

  link.up();
  await flush();
  assert.equal(link.sent.length, 1 + 3, 'online status + the three unacked messages');
  link.settleAll();
  await flush();
  assert.equal(outbox.stats().depth, 0);
  assert.deepEqual(
    events.filter((e) => e === 'up' || e === 'down'),
    ['up', 'down', 'up'],
  );
  assert.equal(publisher.stats().connections, 2);
});

test('close() drains in-flight publishes, then publishes the offline status', async () => {
  const { link, outbox, publisher } = setup(4);
  link.up();
  await flush();
  link.settleAll();
  outbox.enqueue([msg(0), msg(1)]);
  publisher.notify();
  await flush();
  const closing = publisher.close({ drainTimeoutMs: 5000 });
  await flush();
  link.settleAll();
  await flush();
  link.settleAll(); // the offline status
  await closing;
  assert.equal(outbox.stats().depth, 0, 'in-flight messages were acked before close resolved');
  const last = link.all.at(-1);
  const decoded = decodeMessage(last?.topic ?? '', last?.payload ?? new Uint8Array());
  assert.ok(decoded.ok && decoded.value.kind === 'status');
  assert.equal(decoded.value.payload.state, 'offline');
  assert.equal(decoded.value.payload.reason, 'shutdown');
  assert.equal(last?.retain, true);
  // Idempotent.
  await publisher.close();
});
