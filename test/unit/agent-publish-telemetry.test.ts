// TelemetryBuilder, RawCapture, StatusReporter, IngestCounterTracker and the message sequence: every message
// they build passes the shared codec (decodeMessage), bad inputs become failed Results that burn no msgSeq,
// and raw blocks round-trip through the packed codec, split at gaps, from unaligned offsets too.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { decodeMessage } from '../../shared/mqtt/codec.ts';
import { decodeRawSamples } from '../../shared/mqtt/raw-codec.ts';
import { IngestCounterTracker } from '../../agent/publish/counters.ts';
import { RawCapture } from '../../agent/publish/raw-capture.ts';
import { createMessageSequence } from '../../agent/publish/sequence.ts';
import { StatusReporter } from '../../agent/publish/status.ts';
import { TelemetryBuilder, type Prediction } from '../../agent/publish/telemetry.ts';
import { fakeCounters, fakeWindow } from '../integration/agent-mqtt-fixture.ts';

const prediction: Prediction = {
  label: 'normal',
  probabilities: { normal: 0.97, imbalance: 0.03 },
  model: { name: 'pump', version: '2.1.0' },
  latencyMs: 0.4,
};

test('telemetry is valid under the shared schema, with features, prediction, integrity and counters', () => {
  const seq = createMessageSequence(7);
  const b = new TelemetryBuilder({
    deviceId: 'pump-07',
    sequence: seq,
    clock: { nowMs: () => 1_767_225_600_000 },
  });
  const r = b.build({
    window: fakeWindow(3),
    features: {
      pipeline: 'edgeloop-features/v1',
      names: ['accel.x.rms', 'accel.x.kurtosis', 'accel.y.rms'],
      values: new Float32Array([0.25, Number.POSITIVE_INFINITY, 0.5]),
      valid: new Uint8Array([1, 1, 0]),
    },
    prediction,
    counters: fakeCounters(4),
  });
  assert.ok(r.ok, r.ok ? '' : r.message);
  assert.equal(r.value.class, 'telemetry');
  assert.equal(r.value.qos, 1);
  const d = decodeMessage(r.value.topic, r.value.payload);
  assert.ok(d.ok && d.value.kind === 'telemetry', d.ok ? '' : d.message);
  const p = d.value.payload;
  assert.equal(p.msgSeq, 1);
  assert.equal(p.runId, 7);
  assert.equal(p.deviceId, 'pump-07');
  assert.deepEqual(p.features, { 'accel.x.rms': 0.25, 'accel.x.kurtosis': null, 'accel.y.rms': null });
  assert.deepEqual(p.model, { name: 'pump', version: '2.1.0' });
  assert.equal(p.prediction?.label, 'normal');
  assert.equal(p.integrity.status, 'suspect');
  assert.equal(p.integrity.flags[0]?.check, 'flatline');
  assert.equal(p.counters.windows, 4);
  assert.equal(p.window.index, 3);
});

test('without a model, prediction and model are null; still valid', () => {
  const b = new TelemetryBuilder({ deviceId: 'pump-07', sequence: createMessageSequence(1) });
  const r = b.build({ window: fakeWindow(0), counters: fakeCounters(1) });
  assert.ok(r.ok);
  const d = decodeMessage(r.value.topic, r.value.payload);
  assert.ok(d.ok && d.value.kind === 'telemetry');
  assert.equal(d.value.payload.prediction, null);
  assert.equal(d.value.payload.model, null);
  assert.equal(d.value.payload.featurePipeline, null);
});

test('a payload that would break the schema is refused, counted, and burns no msgSeq', () => {
  const seq = createMessageSequence(1);
  const b = new TelemetryBuilder({ deviceId: 'pump-07', sequence: seq });
  const cases: Prediction[] = [
    { ...prediction, probabilities: { normal: Number.NaN } },
    { ...prediction, probabilities: { normal: 1.5 } },
    { ...prediction, latencyMs: -1 },
    { ...prediction, model: { name: '', version: '1' } },
  ];
  for (const p of cases) {
    const r = b.build({ window: fakeWindow(0), prediction: p, counters: fakeCounters(1) });
    assert.ok(!r.ok);
    assert.equal(r.code, 'EDGELOOP_ERR_MQTT_PAYLOAD');
  }
  const mismatch = b.build({
    window: fakeWindow(0),
    features: { pipeline: 'x', names: ['a', 'b'], values: [1] },
    counters: fakeCounters(1),
  });
  assert.equal(mismatch.ok, false);
  assert.equal(b.invalidTotal, cases.length + 1);
  assert.equal(seq.last, 0, 'no msgSeq was consumed');
  // Float32 rounding just above 1 is clamped, not refused.
  const r = b.build({
    window: fakeWindow(0),
    prediction: { ...prediction, probabilities: { normal: 1.00000012 } },
    counters: fakeCounters(1),
  });
  assert.ok(r.ok);
  assert.equal(seq.last, 1);
});

test('an invalid device id is a config error at construction', () => {
  assert.throws(
    () => new TelemetryBuilder({ deviceId: 'a/b', sequence: createMessageSequence(1) }),
    /EDGELOOP_ERR_MQTT_DEVICE_ID|forbidden/,
  );
});

test('raw capture: every Nth window, one block per sensor, round trip through the packed codec', () => {
  const seq = createMessageSequence(99);
  const raw = new RawCapture({ deviceId: 'pump-07', sequence: seq, everyNthWindow: 3 });
  const picked = [0, 1, 2, 3, 4, 5, 6].filter((i) => raw.capture(fakeWindow(i)).length > 0);
  assert.deepEqual(picked, [0, 3, 6]);
  assert.equal(raw.capturedTotal, 3);

  const w = fakeWindow(10);
  const msgs = raw.encode(w);
  assert.equal(msgs.length, 2, 'accel (3 axes) and temperature');
  for (const m of msgs) {
    assert.equal(m.class, 'raw');
    const d = decodeMessage(m.topic, m.payload);
    assert.ok(d.ok && d.value.kind === 'raw', d.ok ? '' : d.message);
  }
  const accel = decodeRawSamples(msgs[0]?.payload ?? new Uint8Array());
  assert.ok(accel.ok);
  assert.equal(accel.value.axes, 3);
  assert.equal(accel.value.count, 100);
  assert.equal(accel.value.runId, 99);
  assert.equal(accel.value.periodUs, 10_000);
  assert.equal(accel.value.firstIndex, 1000, 'index implied by device time');
  const ch = w.channels;
  for (let k = 0; k < 100; k++) {
    for (let a = 0; a < 3; a++) {
      assert.equal(accel.value.values[k * 3 + a], Math.fround(ch[a]?.values[k] ?? NaN));
    }
  }
  // Decoding from an unaligned offset (as MQTT.js hands payloads over) gives the same values.
  const p = msgs[0]?.payload ?? new Uint8Array();
  const shifted = new Uint8Array(p.byteLength + 3);
  shifted.set(p, 3);
  const again = decodeRawSamples(shifted.subarray(3));
  assert.ok(again.ok);
  assert.deepEqual(again.value.values, accel.value.values);
});

test('raw capture splits a sensor at a gap, since a raw block is uniformly spaced', () => {
  const raw = new RawCapture({ deviceId: 'pump-07', sequence: createMessageSequence(1), everyNthWindow: 1 });
  const msgs = raw.encode(fakeWindow(0, { gapAt: 40 }));
  const blocks = msgs.map((m) => decodeRawSamples(m.payload)).map((r) => (r.ok ? r.value : undefined));
  const accel = blocks.filter((b) => b?.axes === 3);
  assert.deepEqual(
    accel.map((b) => b?.count),
    [40, 60],
  );
  assert.equal(accel[1]?.timestampUs, 40 * 10_000 + 50_000);
});

test('raw capture by fraction uses the injected randomness; bad rates are config errors', () => {
  const draws = [0.05, 0.5, 0.09, 0.99];
  const raw = new RawCapture({
    deviceId: 'd',
    sequence: createMessageSequence(1),
    fraction: 0.1,
    random: () => draws.shift() ?? 1,
  });
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => raw.shouldCapture(fakeWindow(i))),
    [true, false, true, false],
  );
  assert.throws(() => new RawCapture({ deviceId: 'd', sequence: createMessageSequence(1), fraction: 2 }));
  assert.throws(
    () => new RawCapture({ deviceId: 'd', sequence: createMessageSequence(1), everyNthWindow: -1 }),
  );
  assert.equal(new RawCapture({ deviceId: 'd', sequence: createMessageSequence(1) }).enabled, false);
});

test('status: online/offline take msgSeq from the shared sequence; the will is msgSeq 0', () => {
  const seq = createMessageSequence(5);
  const s = new StatusReporter({ deviceId: 'pump-07', agentVersion: '0.1.0', sequence: seq });
  const will = decodeMessage(s.topic, s.will().payload);
  assert.ok(will.ok && will.value.kind === 'status');
  assert.equal(will.value.payload.msgSeq, 0);
  assert.equal(will.value.payload.reason, 'lwt');
  s.update({ model: { name: 'pump', version: '3' }, bootId: 17, firmwareVersion: 'sim-1.4.0' });
  const on = decodeMessage(s.topic, s.online().payload);
  assert.ok(on.ok && on.value.kind === 'status');
  assert.equal(on.value.payload.msgSeq, 1);
  assert.equal(on.value.payload.model?.version, '3');
  assert.equal(on.value.payload.bootId, 17);
  const off = decodeMessage(s.topic, s.offline().payload);
  assert.ok(off.ok && off.value.kind === 'status');
  assert.equal(off.value.payload.msgSeq, 2);
  assert.equal(off.value.payload.reason, 'shutdown');
  assert.equal(s.online().retain, true);
});

test('message sequence: random u32 runId per run, msgSeq from 1', () => {
  const a = createMessageSequence();
  assert.ok(Number.isInteger(a.runId) && a.runId >= 0 && a.runId <= 0xffff_ffff);
  assert.equal(a.last, 0);
  assert.equal(a.next(), 1);
  assert.equal(a.next(), 2);
  assert.equal(a.last, 2);
  assert.throws(() => createMessageSequence(-1));
});

test('ingest counters: totals from pipeline stats plus gaps counted from notices', () => {
  const c = new IngestCounterTracker();
  c.onNotice({ kind: 'sampleGap', sensor: 'accel', lost: 16 });
  c.onNotice({ kind: 'sampleGap', sensor: 'gyro', lost: 4 });
  c.onNotice({ kind: 'frameGap', missingFrames: 2 });
  const snap = c.snapshot({
    mode: 'binary',
    decoder: { bytes: 1000, frames: 50, invalid: {}, invalidTotal: 3, resyncs: 1, bytesDiscarded: 20 },
    stream: {
      frames: 50,
      framesMissing: 2,
      framesOutOfOrder: 0,
      samples: { accel: 3000, gyro: 3000 },
      samplesLost: { accel: 16, gyro: 4 },
      samplesLostTotal: 20,
      hellos: 1,
      reboots: 0,
      statusFrames: 0,
      deviceDroppedSamples: 0,
      droppedNoHello: 0,
      droppedUnknownSensor: 0,
      droppedBadPayload: 0,
      framesDropped: {},
      samplesDropped: {},
      framesUnknownType: {},
    },
    csv: { lines: 0, badLines: 0, overlongLines: 0, rateHz: 0 },
    windows: 6,
  });
  assert.deepEqual(snap, {
    framesDecoded: 50,
    framesInvalid: 3,
    samples: 6000,
    gaps: 2,
    samplesMissing: 20,
    windows: 6,
  });
});
