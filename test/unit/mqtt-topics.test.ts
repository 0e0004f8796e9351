import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import {
  ALL_DEVICES_FILTER,
  buildTopic,
  deviceTopics,
  fleetFilter,
  MAX_DEVICE_ID_LENGTH,
  parseTopic,
  sharedSubscription,
  topicKinds,
  topicSpecs,
  validateDeviceId,
} from '../../shared/mqtt/topics.ts';

test('every kind builds a topic that parses back to the same kind and device', () => {
  for (const kind of topicKinds) {
    const t = buildTopic(kind, 'pump-07');
    assert.ok(t.ok);
    assert.ok(t.value.startsWith('edgeloop/v1/devices/pump-07/'));
    const p = parseTopic(t.value);
    assert.ok(p.ok, p.ok ? '' : p.message);
    assert.deepEqual(p.value, { kind, deviceId: 'pump-07' });
  }
  const all = deviceTopics('press.A:3');
  assert.ok(all.ok);
  assert.equal(all.value.telemetry, 'edgeloop/v1/devices/press.A:3/telemetry');
  assert.equal(all.value.modelCommand, 'edgeloop/v1/devices/press.A:3/model/command');
  assert.equal(all.value.modelState, 'edgeloop/v1/devices/press.A:3/model/state');
  assert.equal(all.value.alert, 'edgeloop/v1/devices/press.A:3/alerts');
});

test('QoS and retain per kind follow the issue: QoS 1 everywhere, status and model state retained', () => {
  for (const kind of topicKinds) assert.equal(topicSpecs[kind].qos, 1, kind);
  const retained = topicKinds.filter((k) => topicSpecs[k].retain);
  assert.deepEqual(retained.sort(), ['modelState', 'status']);
  assert.equal(topicSpecs.modelCommand.from, 'collector');
  assert.equal(topicSpecs.raw.encoding, 'binary');
});

test('device ids with wildcards, separators, spaces, nothing or too much are refused', () => {
  const bad = [
    '',
    'a+b',
    'a#',
    'a/b',
    '+',
    '#',
    'has space',
    'nul\u0000',
    'é',
    'x'.repeat(MAX_DEVICE_ID_LENGTH + 1),
  ];
  for (const id of bad) {
    const r = validateDeviceId(id);
    assert.equal(r.ok, false, JSON.stringify(id));
    assert.equal(r.code, 'EDGELOOP_ERR_MQTT_DEVICE_ID');
    const b = buildTopic('telemetry', id);
    assert.equal(b.ok ? '' : b.code, 'EDGELOOP_ERR_MQTT_DEVICE_ID');
  }
  assert.ok(validateDeviceId('x'.repeat(MAX_DEVICE_ID_LENGTH)).ok);
  assert.equal(deviceTopics('a/b').ok, false);
});

test('topics that are not ours fail with a stable code', () => {
  const foreign = [
    '',
    'edgeloop/v2/devices/d1/telemetry',
    'edgeloop/v1/devices/d1',
    'edgeloop/v1/devices/d1/',
    'edgeloop/v1/devices//telemetry',
    'edgeloop/v1/devices/d1/telemetry/extra',
    'edgeloop/v1/devices/d1/unknown',
    'edgeloop/v1/fleet/d1/telemetry',
    'other/v1/devices/d1/telemetry',
    '$SYS/broker/uptime',
  ];
  for (const topic of foreign) {
    const r = parseTopic(topic);
    assert.equal(r.ok, false, topic);
    assert.equal(r.code, 'EDGELOOP_ERR_MQTT_TOPIC', topic);
  }
  const badDevice = parseTopic('edgeloop/v1/devices/a b/telemetry');
  assert.equal(badDevice.ok ? '' : badDevice.code, 'EDGELOOP_ERR_MQTT_DEVICE_ID');
});

test('fleet filters and shared subscriptions', () => {
  assert.equal(fleetFilter('telemetry'), 'edgeloop/v1/devices/+/telemetry');
  assert.equal(fleetFilter('modelState'), 'edgeloop/v1/devices/+/model/state');
  assert.equal(ALL_DEVICES_FILTER, 'edgeloop/v1/devices/#');
  const s = sharedSubscription('collectors', fleetFilter('telemetry'));
  assert.ok(s.ok);
  assert.equal(s.value, '$share/collectors/edgeloop/v1/devices/+/telemetry');
  assert.equal(sharedSubscription('a/b', ALL_DEVICES_FILTER).ok, false);
  assert.equal(sharedSubscription('', ALL_DEVICES_FILTER).ok, false);
});
