import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { decodeMessage, encodeJsonPayload, parseJsonPayload } from '../../shared/mqtt/codec.ts';
import { encodeRawSamples } from '../../shared/mqtt/raw-codec.ts';
import { payloadSchemas, type JsonTopicKind, type StatusPayload } from '../../shared/mqtt/schemas.ts';
import { buildTopic } from '../../shared/mqtt/topics.ts';

const utf8 = new TextEncoder();

/** The JSON examples in docs/mqtt.md, each marked `<!-- example: kind -->`. */
function docExamples(): { kind: JsonTopicKind; json: string }[] {
  const md = readFileSync(new URL('../../docs/mqtt.md', import.meta.url), 'utf8');
  const re = /<!-- example: (\w+) -->\s*```json\n([\s\S]*?)```/g;
  return [...md.matchAll(re)].map((m) => ({ kind: m[1] as JsonTopicKind, json: m[2] as string }));
}

function topic(kind: Parameters<typeof buildTopic>[0], deviceId = 'pump-07'): string {
  const t = buildTopic(kind, deviceId);
  assert.ok(t.ok);
  return t.value;
}

test('every example in docs/mqtt.md is valid, and every JSON kind has one', () => {
  const examples = docExamples();
  const kinds = new Set(examples.map((e) => e.kind));
  assert.deepEqual([...kinds].sort(), Object.keys(payloadSchemas).sort());
  for (const { kind, json } of examples) {
    assert.ok(kind in payloadSchemas, `unknown example kind ${kind}`);
    const r = parseJsonPayload(kind, utf8.encode(json));
    assert.ok(r.ok, `${kind}: ${r.ok ? '' : r.message}`);
    const d = decodeMessage(topic(kind), utf8.encode(json));
    assert.ok(d.ok, d.ok ? '' : d.message);
    assert.equal(d.value.kind, kind);
  }
});

test('encode then decode gives the same object back', () => {
  const status: StatusPayload = {
    v: 1,
    deviceId: 'pump-07',
    runId: 7,
    msgSeq: 1,
    tsMs: 1,
    state: 'online',
    reason: 'startup',
    model: null,
    firmwareVersion: null,
    agentVersion: '0.1.0',
    bootId: null,
  };
  const bytes = encodeJsonPayload('status', status);
  assert.ok(bytes.ok);
  const back = decodeMessage(topic('status'), bytes.value);
  assert.ok(back.ok);
  assert.deepEqual(back.value, { kind: 'status', deviceId: 'pump-07', payload: status });
  const bad = encodeJsonPayload('status', { ...status, msgSeq: -1 });
  assert.equal(bad.ok ? '' : bad.code, 'EDGELOOP_ERR_MQTT_PAYLOAD');
});

test('malformed payloads fail with EDGELOOP_ERR_MQTT_PAYLOAD and name the field', () => {
  const [example] = docExamples().filter((e) => e.kind === 'telemetry');
  assert.ok(example);
  const good = JSON.parse(example.json) as Record<string, unknown>;
  const cases: [string, Uint8Array][] = [
    ['(root)', utf8.encode('[]')],
    ['JSON', utf8.encode('{"v":1,')],
    ['UTF-8', Uint8Array.from([0x7b, 0xff, 0x7d])],
    ['v', utf8.encode(JSON.stringify({ ...good, v: 2 }))],
    ['msgSeq', utf8.encode(JSON.stringify({ ...good, msgSeq: undefined }))],
    ['runId', utf8.encode(JSON.stringify({ ...good, runId: 2 ** 32 }))],
    ['deviceId', utf8.encode(JSON.stringify({ ...good, deviceId: 'a/b' }))],
    [
      'prediction.probabilities',
      utf8.encode(
        JSON.stringify({ ...good, prediction: { label: 'x', probabilities: { x: 2 }, latencyMs: 1 } }),
      ),
    ],
  ];
  for (const [field, bytes] of cases) {
    const r = parseJsonPayload('telemetry', bytes);
    assert.equal(r.ok, false, field);
    assert.equal(r.code, 'EDGELOOP_ERR_MQTT_PAYLOAD');
    if (!['JSON', 'UTF-8'].includes(field))
      assert.match(r.message, new RegExp(field.replace(/[()]/g, '\\$&')));
  }
  // Unknown extra fields are tolerated (stripped) within a version.
  const extra = parseJsonPayload('telemetry', utf8.encode(JSON.stringify({ ...good, futureField: 1 })));
  assert.ok(extra.ok);
  assert.equal('futureField' in extra.value, false);
});

test('model commands: install needs a sha256 digest and a URL; rollback does not', () => {
  const base = { v: 1, deviceId: 'd1', runId: 1, msgSeq: 1, tsMs: 1, deploySeq: 3 };
  const install = {
    ...base,
    action: 'install',
    model: { name: 'm', version: '2' },
    url: 'http://r/b',
    digest: `sha256:${'a'.repeat(64)}`,
  };
  assert.ok(parseJsonPayload('modelCommand', utf8.encode(JSON.stringify(install))).ok);
  for (const broken of [
    { ...install, digest: 'md5:abc' },
    { ...install, url: 'not a url' },
    { ...install, action: 'delete' },
  ]) {
    const r = parseJsonPayload('modelCommand', utf8.encode(JSON.stringify(broken)));
    assert.equal(r.ok ? '' : r.code, 'EDGELOOP_ERR_MQTT_PAYLOAD');
  }
  assert.ok(
    parseJsonPayload(
      'modelCommand',
      utf8.encode(JSON.stringify({ ...base, action: 'rollback', reason: 'canary' })),
    ).ok,
  );
});

test('decodeMessage: foreign topics, device mismatch and raw payloads', () => {
  const [example] = docExamples().filter((e) => e.kind === 'alert');
  assert.ok(example);
  const foreign = decodeMessage('sensors/pump-07', utf8.encode(example.json));
  assert.equal(foreign.ok ? '' : foreign.code, 'EDGELOOP_ERR_MQTT_TOPIC');
  const spoof = decodeMessage(topic('alert', 'other-device'), utf8.encode(example.json));
  assert.equal(spoof.ok ? '' : spoof.code, 'EDGELOOP_ERR_MQTT_DEVICE_MISMATCH');
  const raw = encodeRawSamples({
    sensorId: 1,
    axes: 1,
    runId: 1,
    msgSeq: 9,
    bootId: 2,
    firstIndex: 0,
    timestampUs: 0,
    periodUs: 1000,
    values: [1, 2, 3],
  });
  const r = decodeMessage(topic('raw'), raw);
  assert.ok(r.ok);
  assert.equal(r.value.kind, 'raw');
  assert.equal(r.value.payload.count, 3);
  const badRaw = decodeMessage(topic('raw'), utf8.encode('{}'));
  assert.equal(badRaw.ok ? '' : badRaw.code, 'EDGELOOP_ERR_MQTT_PAYLOAD');
});
