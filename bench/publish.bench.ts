// MQTT publishing (issue #4 §6 "Benchmarks"): messages/s from the outbox to the broker through the agent's
// publisher (memory and SQLite outbox), against a bare MQTT.js QoS 1 publisher with the same in-flight
// window on the same broker in the same run; and latency from enqueue to subscriber receipt at a steady
// rate, p50/p99, against the bare publisher's publish-to-receipt latency.
//
// The broker is a Mosquitto of our own on a free port (max_queued_messages 0 so no QoS 1 message is
// dropped for the subscriber). Throughput is measured end to end: until the subscriber has every message.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { MemoryOutbox } from '../agent/outbox/memory-outbox.ts';
import { openSqliteOutbox } from '../agent/outbox/sqlite-outbox.ts';
import type { Outbox, OutboxMessage } from '../agent/outbox/types.ts';
import { createMqttLink } from '../agent/adapters/mqtt.ts';
import { Publisher } from '../agent/publish/publisher.ts';
import { createMessageSequence } from '../agent/publish/sequence.ts';
import { TelemetryBuilder } from '../agent/publish/telemetry.ts';
import { fakeCounters, fakeWindow, startMosquitto } from '../test/integration/agent-mqtt-fixture.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { quantile } from 'simple-statistics';
import { median, section, type Row } from './lib.ts';

const N = 5000;
const REPS = Number(process.env.BENCH_REPS ?? 3);
const IN_FLIGHT = 64;
const RATE_PER_SEC = 500;
const LATENCY_SECONDS = 4;
const DEVICE = 'bench-dev';

const broker = await startMosquitto();
const topic = `edgeloop/v1/devices/${DEVICE}/telemetry`;

// A real telemetry payload (about 1 KB), the message the agent sends once per window.
const builder = new TelemetryBuilder({ deviceId: DEVICE, sequence: createMessageSequence(1) });
const built = builder.build({
  window: fakeWindow(3),
  features: {
    pipeline: 'edgeloop-features/v1',
    names: Array.from({ length: 40 }, (_, i) => `accel.x.f${i}`),
    values: Array.from({ length: 40 }, (_, i) => i / 7),
  },
  prediction: {
    label: 'normal',
    probabilities: { normal: 0.9, imbalance: 0.05, bearing_wear: 0.05 },
    model: { name: 'pump', version: '1.0.0' },
    latencyMs: 0.4,
  },
  counters: fakeCounters(4),
});
if (!built.ok) throw new Error(built.message);
const PAYLOAD = built.value.payload;

/** A payload carrying an id in its first 4 bytes (for latency), padded to the telemetry size. */
function tagged(id: number): Uint8Array {
  const p = new Uint8Array(PAYLOAD);
  new DataView(p.buffer).setUint32(0, id, true);
  return p;
}

async function subscriber(onMessage: (payload: Buffer) => void): Promise<MqttClient> {
  const c = connect(broker.url, { clientId: `bench-sub-${Math.random()}`, clean: true, reconnectPeriod: 0 });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => {
      c.subscribe(topic, { qos: 1 }, (err) => {
        if (err) reject(err);
        else resolve();
      });
    });
    c.once('error', reject);
  });
  c.on('message', (_t, payload) => {
    onMessage(payload);
  });
  return c;
}

/** Bare MQTT.js QoS 1 publisher with a window of IN_FLIGHT unacknowledged publishes. */
async function bareThroughput(): Promise<number> {
  let got = 0;
  const sub = await subscriber(() => got++);
  const pub = connect(broker.url, { clientId: `bench-bare-${Math.random()}`, reconnectPeriod: 0 });
  await new Promise<void>((r) =>
    pub.once('connect', () => {
      r();
    }),
  );
  const buf = Buffer.from(PAYLOAD);
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    let sent = 0;
    let acked = 0;
    const more = (): void => {
      while (sent < N && sent - acked < IN_FLIGHT) {
        sent++;
        pub.publish(topic, buf, { qos: 1 }, () => {
          acked++;
          if (acked === N) resolve();
          else more();
        });
      }
    };
    more();
  });
  await waitFor('bare messages', () => got >= N, { timeoutMs: 60_000 });
  const ms = performance.now() - t0;
  await pub.endAsync();
  await sub.endAsync();
  return (N / ms) * 1000;
}

function makeOutbox(kind: 'memory' | 'sqlite', dir: string): Outbox {
  const clock = { nowMs: () => Date.now() };
  return kind === 'memory'
    ? new MemoryOutbox({ clock, replayRatePerSec: Infinity })
    : openSqliteOutbox(join(dir, `o-${Math.random()}.db`), { clock, replayRatePerSec: Infinity });
}

/** Outbox pre-filled with N messages, then the publisher drains it to the subscriber. */
async function publisherThroughput(kind: 'memory' | 'sqlite', dir: string): Promise<number> {
  const outbox = makeOutbox(kind, dir);
  const batch: OutboxMessage[] = [];
  for (let i = 0; i < N; i++) {
    batch.push({ topic, payload: PAYLOAD, qos: 1, class: 'telemetry', createdAtMs: Date.now() });
    if (batch.length === 500) outbox.enqueue(batch.splice(0));
  }
  let got = 0;
  const sub = await subscriber(() => got++);
  const link = createMqttLink({ url: broker.url, clientId: `bench-pub-${Math.random()}` });
  const publisher = new Publisher({ outbox, link, maxInFlight: IN_FLIGHT, idlePollMs: 5 });
  const t0 = performance.now();
  publisher.start();
  await waitFor('published messages', () => got >= N, { timeoutMs: 120_000 });
  const ms = performance.now() - t0;
  await publisher.close();
  await link.close();
  await sub.endAsync();
  outbox.close();
  return (N / ms) * 1000;
}

/** Steady RATE_PER_SEC; latency from enqueue (or bare publish) to subscriber receipt, ms. */
async function latency(kind: 'bare' | 'memory' | 'sqlite', dir: string): Promise<number[]> {
  const sentAt = new Map<number, number>();
  const lat: number[] = [];
  const sub = await subscriber((payload) => {
    const id = payload.readUInt32LE(0);
    const t = sentAt.get(id);
    if (t !== undefined) lat.push(performance.now() - t);
  });
  const total = RATE_PER_SEC * LATENCY_SECONDS;
  let send: (id: number) => void;
  let close: () => Promise<void>;
  if (kind === 'bare') {
    const pub = connect(broker.url, { clientId: `bench-bare-${Math.random()}`, reconnectPeriod: 0 });
    await new Promise<void>((r) =>
      pub.once('connect', () => {
        r();
      }),
    );
    send = (id) => pub.publish(topic, Buffer.from(tagged(id)), { qos: 1 });
    close = () => pub.endAsync();
  } else {
    const outbox = makeOutbox(kind, dir);
    const link = createMqttLink({ url: broker.url, clientId: `bench-pub-${Math.random()}` });
    const publisher = new Publisher({ outbox, link, maxInFlight: IN_FLIGHT });
    publisher.start();
    await waitFor('connect', () => publisher.stats().connected);
    send = (id) => {
      outbox.enqueue({ topic, payload: tagged(id), qos: 1, class: 'telemetry', createdAtMs: Date.now() });
      publisher.notify();
    };
    close = async () => {
      await publisher.close();
      await link.close();
      outbox.close();
    };
  }
  const t0 = performance.now();
  for (let id = 1; id <= total; id++) {
    // Paced against the start time, so a slow send does not slow the offered rate.
    const due = t0 + (id * 1000) / RATE_PER_SEC;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    sentAt.set(id, performance.now());
    send(id);
  }
  await waitFor('latency messages', () => lat.length >= total, { timeoutMs: 30_000 });
  await close();
  await sub.endAsync();
  return lat;
}

const dir = mkdtempSync(join(tmpdir(), 'edgeloop-bench-publish-'));
const res: Record<string, number[]> = { bare: [], memory: [], sqlite: [] };
try {
  await bareThroughput(); // warm-up
  for (let r = 0; r < REPS; r++) {
    res.bare?.push(await bareThroughput());
    res.memory?.push(await publisherThroughput('memory', dir));
    res.sqlite?.push(await publisherThroughput('sqlite', dir));
  }
  const latBare = await latency('bare', dir);
  const latMem = await latency('memory', dir);
  const latSql = await latency('sqlite', dir);
  const m = (k: string): number => median(res[k] ?? []);
  const rows: Row[] = [
    {
      metric: 'throughput, publisher from memory outbox vs bare MQTT.js',
      median: m('memory'),
      baseline: m('bare'),
      unit: 'msg/s',
    },
    {
      metric: 'throughput, publisher from SQLite outbox (FULL) vs bare MQTT.js',
      median: m('sqlite'),
      baseline: m('bare'),
      unit: 'msg/s',
    },
    {
      metric: `latency p50 at ${RATE_PER_SEC} msg/s, enqueue (memory) → subscriber vs bare publish → subscriber`,
      median: quantile(latMem, 0.5),
      baseline: quantile(latBare, 0.5),
      unit: 'ms',
    },
    {
      metric: `latency p99 at ${RATE_PER_SEC} msg/s, enqueue (memory) → subscriber vs bare`,
      median: quantile(latMem, 0.99),
      baseline: quantile(latBare, 0.99),
      unit: 'ms',
    },
    {
      metric: `latency p50 at ${RATE_PER_SEC} msg/s, enqueue (SQLite FULL) → subscriber vs bare`,
      median: quantile(latSql, 0.5),
      baseline: quantile(latBare, 0.5),
      unit: 'ms',
    },
    {
      metric: `latency p99 at ${RATE_PER_SEC} msg/s, enqueue (SQLite FULL) → subscriber vs bare`,
      median: quantile(latSql, 0.99),
      baseline: quantile(latBare, 0.99),
      unit: 'ms',
    },
  ];
  process.stdout.write(
    section('MQTT publishing', 'node --import tsx bench/publish.bench.ts', rows, [
      `${N} telemetry messages of ${PAYLOAD.byteLength} B per throughput run, QoS 1, at most ${IN_FLIGHT} unacknowledged publishes for both the publisher and the bare MQTT.js baseline; median of ${REPS} runs after a warm-up. Broker: a Mosquitto 2.x of our own on a free port; the subscriber is in the same process.`,
      'Throughput is end to end: from the start of publishing until the subscriber has every message. The publisher path includes take(), PUBACK handling and the outbox ack (one transaction per turn of the event loop); the SQLite outbox syncs every ack transaction (synchronous=FULL).',
      `Latency: ${RATE_PER_SEC * LATENCY_SECONDS} messages paced at ${RATE_PER_SEC} msg/s; the publisher row counts from enqueue() (which for SQLite includes the fsync'ed commit), the baseline from publish().`,
    ]),
  );
} finally {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
}
