// MQTT delivery of alert changes (docs/mqtt.md §Alerts (collector)) through the collector's own subscriber
// connection, against real brokers: the embedded aedes broker with its ACL, and a Mosquitto of our own read
// with the real mosquitto_sub. A client that subscribes late sees every open alert (retained); a resolve
// clears the retained message.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { connect } from 'mqtt';
import { startEmbeddedBroker } from '../../collector/adapters/broker.ts';
import { startSubscriber, type Subscriber } from '../../collector/adapters/mqtt.ts';
import { AlertManager } from '../../collector/alerts/manager.ts';
import { createMqttChannel } from '../../collector/alerts/mqtt-channel.ts';
import { collectorAlertEventSchema } from '../../shared/mqtt/schemas.ts';
import {
  ALERTS_ROOT,
  COLLECTOR_ALERTS_FILTER,
  collectorAlertTopic,
  encodeTopicLevel,
} from '../../shared/mqtt/topics.ts';
import { systemClock } from '../../shared/platform/clock.ts';
import { haveCommand, requireTool } from '../helpers/tools.ts';
import { waitFor } from '../helpers/wait.ts';
import { startMosquitto } from '../integration/agent-mqtt-fixture.ts';
import { countingObserver, obs, tempStore } from './collector-alerts-fixture.ts';

const COLLECTOR = { username: 'collector', password: 'collector-secret' };

interface Seen {
  readonly topic: string;
  readonly payload: string;
  readonly retain: boolean;
}

/**
 * An ops client: subscribes to every alert topic (the documented filter) and records what arrives. On the
 * embedded broker it connects with the collector identity and its own client id (docs/mqtt.md).
 */
async function opsClient(t: TestContext, url: string, auth: boolean): Promise<Seen[]> {
  const seen: Seen[] = [];
  const c = connect(url, {
    clientId: `ops-${Math.random().toString(16).slice(2)}`,
    ...(auth ? COLLECTOR : {}),
    reconnectPeriod: 0,
  });
  t.after(() => c.endAsync(true));
  c.on('message', (topic, payload, packet) => {
    if (!topic.startsWith(`${ALERTS_ROOT}/`)) return;
    seen.push({ topic, payload: payload.toString('utf8'), retain: packet.retain });
  });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => {
      c.subscribe(COLLECTOR_ALERTS_FILTER, { qos: 1 }, (err, granted) => {
        if (err) reject(err);
        else if (granted?.[0]?.qos !== 1) reject(new Error(`subscribe refused: ${JSON.stringify(granted)}`));
        else resolve();
      });
    });
    c.once('error', reject);
  });
  return seen;
}

async function collectorConnection(t: TestContext, url: string, auth: boolean): Promise<Subscriber> {
  const s = startSubscriber({
    url,
    clientId: `collector-${Math.random().toString(16).slice(2)}`,
    ...(auth ? COLLECTOR : {}),
    filters: ['edgeloop/v1/devices/+/telemetry'],
    onMessage: () => undefined,
    reconnectMs: 100,
  });
  t.after(() => s.close(1000));
  await waitFor('the collector connection', () => s.connected());
  return s;
}

test('the collector alert example in docs/mqtt.md is a valid event on the topic it names', () => {
  const md = readFileSync(new URL('../../docs/mqtt.md', import.meta.url), 'utf8');
  const m = /Topic `([^`]+)`, retained:\s*<!-- collector-alert-example -->\s*```json\n([\s\S]*?)```/.exec(md);
  assert.ok(m, 'docs/mqtt.md has the collector alert example');
  const p = collectorAlertEventSchema.parse(JSON.parse(m[2]!));
  const a = p.alert;
  assert.equal(
    m[1],
    collectorAlertTopic({ kind: a.kind, deviceId: a.deviceId, check: a.check, subject: a.subject }),
  );
});

test('alert topics: one per identity, levels percent-encoded, _fleet and _ for null', () => {
  assert.equal(
    collectorAlertTopic({
      kind: 'drift',
      deviceId: 'dev-1',
      check: 'drift.model_reference',
      subject: 'accel.x',
    }),
    'edgeloop/v1/alerts/drift/dev-1/drift.model_reference/accel.x',
  );
  assert.equal(
    collectorAlertTopic({
      kind: 'condition',
      deviceId: null,
      check: 'condition.prediction_mix',
      subject: null,
    }),
    'edgeloop/v1/alerts/condition/_fleet/condition.prediction_mix/_',
  );
  assert.equal(encodeTopicLevel('a/b+#_é'), 'a%2Fb%2B%23_%C3%A9');
  assert.equal(encodeTopicLevel('_fleet'), '%5Ffleet', 'a leading _ is reserved');
  assert.equal(encodeTopicLevel('_'), '%5F');
  assert.equal(encodeTopicLevel(''), '_empty');
});

test(
  'embedded broker: the collector may publish alerts; late subscribers see open alerts; resolve clears them',
  { timeout: 30_000 },
  async (t) => {
    const refused: string[] = [];
    const broker = await startEmbeddedBroker({
      credentials: { devices: new Map([['dev-1', 'pw']]), collector: COLLECTOR },
      port: 0,
      host: '127.0.0.1',
      onRefused: (kind, who, detail) => refused.push(`${kind} ${who} ${detail}`),
    });
    t.after(() => broker.close());
    const sub = await collectorConnection(t, broker.url, true);
    const observer = countingObserver();
    const channel = createMqttChannel({
      publish: (topic, payload, o) => sub.publish(topic, payload, o),
      clock: systemClock,
      observer,
    });
    t.after(() => channel.close());
    const { store } = tempStore(t);
    const manager = new AlertManager({
      store,
      clearAfter: 1,
      notify: (e) => {
        channel.notify(e);
      },
    });

    const early = await opsClient(t, broker.url, true);
    manager.handle([obs({ severity: 'critical' }), obs({ subject: 'accel.y' })], Date.now());
    await channel.idle();
    assert.equal(observer.counts['sent:mqtt'], 2);
    await waitFor('the early client to see both', () => early.length === 2);
    const topicX = 'edgeloop/v1/alerts/drift/dev-1/drift.model_reference/accel.x';
    const first = early.find((s) => s.topic === topicX)!;
    const p = collectorAlertEventSchema.parse(JSON.parse(first.payload));
    assert.equal(p.event, 'opened');
    assert.equal(p.alert.severity, 'critical');
    assert.equal(p.alert.details?.cause, 'calibration_drift');

    // A client connecting now gets both open alerts as retained messages.
    const late = await opsClient(t, broker.url, true);
    await waitFor('the late client to see the retained alerts', () => late.length === 2);
    assert.ok(late.every((s) => s.retain));

    // accel.x clears: the live client sees the resolved event, then the empty retained message.
    manager.handle([obs({ active: false })], Date.now());
    await channel.idle();
    await waitFor('resolve and clear', () => early.filter((s) => s.topic === topicX).length === 3);
    const onX = early.filter((s) => s.topic === topicX);
    assert.equal(collectorAlertEventSchema.parse(JSON.parse(onX[1]!.payload)).event, 'resolved');
    assert.equal(onX[2]!.payload, '');
    // A client connecting after the resolve sees only the alert still open.
    const after = await opsClient(t, broker.url, true);
    await waitFor('the retained alert of accel.y', () => after.length >= 1);
    assert.deepEqual(
      after.map((s) => s.topic),
      ['edgeloop/v1/alerts/drift/dev-1/drift.model_reference/accel.y'],
    );
    assert.deepEqual(refused, []);

    // A restart of the collector and of the embedded broker (which keeps retained messages in memory):
    // the live alert is published again, retained, with the id of the event that opened it.
    const openedY = early.find((s) => s.topic.endsWith('/accel.y'))!;
    await channel.close();
    const broker2 = await startEmbeddedBroker({
      credentials: { devices: new Map(), collector: COLLECTOR },
      port: 0,
      host: '127.0.0.1',
    });
    t.after(() => broker2.close());
    const sub2 = await collectorConnection(t, broker2.url, true);
    const channel2 = createMqttChannel({
      publish: (topic, payload, o) => sub2.publish(topic, payload, o),
      clock: systemClock,
      observer,
    });
    t.after(() => channel2.close());
    channel2.resync?.(new AlertManager({ store, clearAfter: 1 }).live());
    await channel2.idle();
    const again = await opsClient(t, broker2.url, true);
    await waitFor('the resynced retained alert', () => again.length === 1);
    assert.ok(again[0]!.retain);
    assert.equal(again[0]!.topic, openedY.topic);
    assert.equal(
      collectorAlertEventSchema.parse(JSON.parse(again[0]!.payload)).eventId,
      collectorAlertEventSchema.parse(JSON.parse(openedY.payload)).eventId,
    );
  },
);

test(
  'publish rejects at once when the collector is not connected, and the queue drops after its attempts',
  { timeout: 30_000 },
  async (t) => {
    const broker = await startEmbeddedBroker({
      credentials: { devices: new Map(), collector: COLLECTOR },
      port: 0,
      host: '127.0.0.1',
    });
    const sub = await collectorConnection(t, broker.url, true);
    await broker.close();
    await waitFor('the collector to notice', () => !sub.connected());
    await assert.rejects(
      sub.publish('edgeloop/v1/alerts/x', 'y', { qos: 1, retain: false }),
      /not connected/,
    );
    const observer = countingObserver();
    const channel = createMqttChannel({
      publish: (topic, payload, o) => sub.publish(topic, payload, o),
      clock: systemClock,
      observer,
      maxAttempts: 3,
      backoff: { baseMs: 1, capMs: 5, floorMs: 1 },
    });
    const { store } = tempStore(t);
    const manager = new AlertManager({
      store,
      clearAfter: 1,
      notify: (e) => {
        channel.notify(e);
      },
    });
    manager.handle([obs()], Date.now());
    await channel.idle();
    assert.deepEqual(observer.counts, { 'failed:mqtt': 3, 'dropped:mqtt:attempts_exhausted': 1 });
    await channel.close();
  },
);

const haveMosquitto = haveCommand('mosquitto', ['-h']);
const haveMosquittoSub = haveCommand('mosquitto_sub', ['--help']);

/** Runs mosquitto_sub until it has `count` messages; returns its `-v` lines (topic, space, payload). */
function mosquittoSub(port: number, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const c = spawn(
      'mosquitto_sub',
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-t',
        COLLECTOR_ALERTS_FILTER,
        '-q',
        '1',
        '-v',
        '-C',
        String(count),
        '-W',
        '20',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.once('error', reject);
    c.once('exit', (code) => {
      if (code === 0) resolve(out.split('\n').filter((l) => l !== ''));
      else reject(new Error(`mosquitto_sub exited ${code}: ${err}${out}`));
    });
  });
}

test(
  'Mosquitto: mosquitto_sub started after the alerts opened reads them as retained messages',
  { timeout: 60_000 },
  async (t) => {
    if (
      !requireTool(
        t,
        haveMosquitto && haveMosquittoSub,
        'mosquitto and mosquitto_sub',
        'apt-get install mosquitto mosquitto-clients',
      )
    )
      return;
    const broker = await startMosquitto();
    t.after(() => broker.close());
    const sub = await collectorConnection(t, broker.url, false);
    const observer = countingObserver();
    const channel = createMqttChannel({
      publish: (topic, payload, o) => sub.publish(topic, payload, o),
      clock: systemClock,
      observer,
    });
    t.after(() => channel.close());
    const { store } = tempStore(t);
    const manager = new AlertManager({
      store,
      clearAfter: 1,
      notify: (e) => {
        channel.notify(e);
      },
    });
    manager.handle(
      [
        obs(),
        obs({
          kind: 'integrity',
          check: 'integrity.stale',
          deviceId: null,
          subject: null,
          severity: 'critical',
        }),
      ],
      Date.now(),
    );
    await channel.idle();
    assert.equal(observer.counts['sent:mqtt'], 2);
    const lines = await mosquittoSub(broker.port, 2);
    const byTopic = new Map(lines.map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]));
    assert.deepEqual([...byTopic.keys()].sort(), [
      'edgeloop/v1/alerts/drift/dev-1/drift.model_reference/accel.x',
      'edgeloop/v1/alerts/integrity/_fleet/integrity.stale/_',
    ]);
    for (const payload of byTopic.values())
      assert.equal(collectorAlertEventSchema.parse(JSON.parse(payload)).event, 'opened');
  },
);
