// `edgeloop collector` options (docs/collector.md §Options): every option is in --help with its default,
// the loader's cross-checks, and the embedded broker's credentials file.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectorCommand } from '../../cli/collector.ts';
import { collectorDefaults, loadCollectorConfig } from '../../collector/config.ts';
import { mayPublish, maySubscribe } from '../../collector/adapters/broker.ts';
import { DeadLetterRing } from '../../collector/ingest/dead-letters.ts';
import { Ingest } from '../../collector/ingest/ingest.ts';
import { parseBrokerCredentials } from '../../collector/main.ts';
import type { TelemetryStore } from '../../collector/storage/types.ts';
import { encodeTelemetry, telemetry, telemetryTopic } from './collector-fixture.ts';

const kebab = (k: string): string => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

test('--help lists every option, with its default where it has one', () => {
  for (const [key, value] of Object.entries(collectorDefaults)) {
    const flag = key === 'trustedKeys' ? '--trusted-key' : `--${kebab(key)}`;
    const line = collectorCommand.help.split('\n').find((l) => l.trimStart().startsWith(`${flag} `));
    assert.ok(line !== undefined, flag);
    if (typeof value === 'number') assert.ok(collectorCommand.help.includes(`(default ${value})`), flag);
  }
});

test('the loader: data dir required, scoped variables win, credentials only with the embedded broker', () => {
  assert.throws(() => loadCollectorConfig({}, {}), /dataDir: is required/);
  const c = loadCollectorConfig(
    { dataDir: '/tmp/x' },
    { EDGELOOP_HTTP_PORT: '9000', EDGELOOP_COLLECTOR_HTTP_PORT: '9001' },
  );
  assert.equal(c.httpPort, 9001);
  assert.ok(Object.isFrozen(c));
  assert.throws(
    () => loadCollectorConfig({ dataDir: '/tmp/x', mqtt: 'mqtt://h:1883', credentialsFile: 'c.json' }, {}),
    /credentialsFile: is for the embedded broker/,
  );
  assert.throws(() => loadCollectorConfig({ dataDir: '/tmp/x', mqtt: 'http://h' }, {}), /mqtt/);
  // Suspect limits above the fixed fail limits (300 s stale, 60 s skew) are refused here, not at start.
  assert.throws(
    () => loadCollectorConfig({ dataDir: '/tmp/x', staleAfterS: 301 }, {}),
    /staleAfterS: .*1\.\.300/,
  );
  assert.throws(
    () => loadCollectorConfig({ dataDir: '/tmp/x', clockSkewMaxMs: 60_001 }, {}),
    /clockSkewMaxMs/,
  );
  assert.equal(loadCollectorConfig({ dataDir: '/tmp/x', staleAfterS: 300 }, {}).staleAfterS, 300);
});

test('credentials file: devices by valid id, the collector apart from them', () => {
  const ok = parseBrokerCredentials(
    JSON.stringify({ devices: { 'dev-1': 'p1' }, collector: { username: 'c', password: 'pc' } }),
    'f',
  );
  assert.equal(ok.devices.get('dev-1'), 'p1');
  assert.throws(
    () =>
      parseBrokerCredentials(
        JSON.stringify({ devices: { 'a/b': 'p' }, collector: { username: 'c', password: 'p' } }),
        'f',
      ),
    /EDGELOOP_ERR_MQTT_DEVICE_ID|forbidden character/,
  );
  assert.throws(
    () =>
      parseBrokerCredentials(
        JSON.stringify({ devices: { c: 'p' }, collector: { username: 'c', password: 'p' } }),
        'f',
      ),
    /also a device id/,
  );
  assert.throws(() => parseBrokerCredentials('{', 'f'), /credentialsFile f/);
});

test('ACL: a device publishes under its own prefix only, never its command topic; reads only that', () => {
  const dev = { role: 'device', name: 'dev-1' } as const;
  assert.ok(mayPublish(dev, 'edgeloop/v1/devices/dev-1/telemetry'));
  assert.ok(!mayPublish(dev, 'edgeloop/v1/devices/dev-2/telemetry'));
  assert.ok(!mayPublish(dev, 'edgeloop/v1/devices/dev-10/telemetry'));
  assert.ok(!mayPublish(dev, 'edgeloop/v1/devices/dev-1/model/command'));
  assert.ok(maySubscribe(dev, 'edgeloop/v1/devices/dev-1/model/command'));
  assert.ok(!maySubscribe(dev, 'edgeloop/v1/devices/+/model/command'));
  assert.ok(!maySubscribe(dev, 'edgeloop/v1/devices/dev-1/#'));
  const col = { role: 'collector', name: 'c' } as const;
  assert.ok(maySubscribe(col, 'edgeloop/v1/devices/+/telemetry'));
  assert.ok(mayPublish(col, 'edgeloop/v1/devices/dev-1/model/command'));
});

test('the dead-letter ring keeps the newest entries, oldest first, and counts what it pushed out', () => {
  const ring = new DeadLetterRing(3);
  for (let i = 1; i <= 5; i++)
    ring.add(
      {
        receivedMs: i,
        topic: 't',
        reason: 'malformed',
        code: 'EDGELOOP_ERR_MQTT_PAYLOAD',
        message: String(i),
        payloadBytes: 1,
      },
      new Uint8Array([i]),
    );
  assert.deepEqual(
    ring.list().map((d) => d.id),
    [3, 4, 5],
  );
  assert.deepEqual(
    ring.list(3, 1).map((d) => d.id),
    [4],
  );
  assert.equal(ring.size(), 3);
  assert.equal(ring.dropped(), 2);
});

test('ingest batches by size, tags messages with the batch that makes them durable, and drains on stop', () => {
  const batches: number[] = [];
  const committed: number[] = [];
  const store = {
    writeBatch: (b: readonly unknown[]) => {
      batches.push(b.length);
      return { written: b.length, duplicates: 0, expired: 0, notCaptured: 0 };
    },
  } as unknown as TelemetryStore;
  const ingest = new Ingest({
    store,
    deadLetters: new DeadLetterRing(10),
    maxMessageBytes: 65_536,
    batchMaxMessages: 2,
    batchMaxDelayMs: 60_000,
    onCommitted: (b) => committed.push(b),
  });
  const msg = (seq: number): Buffer => encodeTelemetry(telemetry('dev-a', 1, seq));
  assert.equal(ingest.offer(telemetryTopic('dev-a'), msg(1)), undefined);
  assert.equal(ingest.ackTag(), 1, 'queued in batch 1');
  assert.equal(ingest.offer(telemetryTopic('dev-a'), msg(2)), undefined);
  assert.deepEqual([batches, committed], [[2], [1]], 'batch 1 written when full');
  void ingest.offer(telemetryTopic('dev-a'), msg(2));
  assert.equal(ingest.ackTag(), 1, 'a duplicate needs no write: durable with the last committed batch');
  void ingest.offer(telemetryTopic('dev-a'), Buffer.from('nope'));
  assert.equal(ingest.ackTag(), 1, 'a dead letter too');
  void ingest.offer(telemetryTopic('dev-a'), msg(3));
  assert.equal(ingest.ackTag(), 2);
  assert.equal(ingest.queueDepth(), 1);
  ingest.stop();
  assert.deepEqual(
    [batches, committed],
    [
      [2, 1],
      [1, 2],
    ],
    'stop writes the batch in hand',
  );
  assert.ok(
    ingest.offer(telemetryTopic('dev-a'), msg(4)) instanceof Promise,
    'after stop: held, never acked',
  );
  assert.equal(ingest.queueDepth(), 0);
});
