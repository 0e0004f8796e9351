import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { EdgeloopError } from '../../shared/errors.ts';
import {
  decodeRawSamples,
  encodeRawSamples,
  MAX_RAW_VALUES,
  RAW_HEADER_BYTES,
  type RawSamplesInput,
} from '../../shared/mqtt/raw-codec.ts';

const block: RawSamplesInput = {
  sensorId: 3,
  axes: 3,
  runId: 0xdeadbeef,
  msgSeq: 2 ** 40 + 5,
  bootId: 0x01020304,
  firstIndex: 0xfffffff0,
  timestampUs: 123_456_789_012,
  periodUs: 1000,
  values: [0.5, -1.25, 9.81, 1e-3, 16, -16],
};

test('encodes the documented layout byte by byte (docs/mqtt.md §Raw samples)', () => {
  const b = encodeRawSamples(block);
  assert.equal(RAW_HEADER_BYTES, 44);
  assert.equal(b.byteLength, 44 + 6 * 4);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  assert.equal(b[0], 1); // version
  assert.equal(b[1], 3); // sensorId
  assert.equal(b[2], 3); // axes
  assert.equal(b[3], 0); // flags
  assert.deepEqual([...b.subarray(4, 8)], [0xef, 0xbe, 0xad, 0xde]); // runId, little-endian
  assert.equal(dv.getBigUint64(8, true), BigInt(2 ** 40 + 5));
  assert.deepEqual([...b.subarray(16, 20)], [4, 3, 2, 1]); // bootId
  assert.equal(dv.getUint32(20, true), 0xfffffff0);
  assert.equal(dv.getFloat64(24, true), 123_456_789_012);
  assert.equal(dv.getFloat64(32, true), 1000);
  assert.equal(dv.getUint32(40, true), 2); // count = 6 values / 3 axes
  assert.deepEqual([...b.subarray(44, 48)], [0, 0, 0, 0x3f]); // 0.5f little-endian
  assert.equal(dv.getFloat32(48, true), -1.25);
});

test('round-trips, from a Float32Array or from numbers (rounded to float32)', () => {
  for (const values of [block.values, new Float32Array(block.values), new Float64Array(block.values)]) {
    const r = decodeRawSamples(encodeRawSamples({ ...block, values }));
    assert.ok(r.ok, r.ok ? '' : r.message);
    const { values: got, ...header } = r.value;
    const { values: _v, ...expected } = block;
    assert.deepEqual(header, { ...expected, count: 2 });
    assert.deepEqual([...got], [...Float32Array.from(block.values)]);
  }
});

test('decodes from every unaligned offset of a larger buffer, as MQTT.js delivers payloads', () => {
  const encoded = encodeRawSamples(block);
  for (let offset = 0; offset < 8; offset++) {
    // A Node Buffer sliced out of a larger allocation, with foreign bytes before and after it.
    const big = Buffer.alloc(offset + encoded.byteLength + 5, 0xaa);
    big.set(encoded, offset);
    const payload = big.subarray(offset, offset + encoded.byteLength);
    assert.equal(payload.byteOffset % 4 === 0, offset % 4 === 0);
    const r = decodeRawSamples(payload);
    assert.ok(r.ok, r.ok ? '' : r.message);
    assert.deepEqual([...r.value.values], [...Float32Array.from(block.values)]);
    // The decoded values are a copy: reusing the socket buffer does not change them.
    big.fill(0);
    assert.equal(r.value.values[0], 0.5);
  }
  // The shortcut this codec must not take: a Float32Array view at an unaligned offset throws.
  const odd = Buffer.alloc(encoded.byteLength + 1);
  assert.throws(() => new Float32Array(odd.buffer, odd.byteOffset + 1 + RAW_HEADER_BYTES, 6), RangeError);
});

test('malformed payloads are values with EDGELOOP_ERR_MQTT_PAYLOAD, never throws', () => {
  const good = encodeRawSamples(block);
  const cases: Uint8Array[] = [
    new Uint8Array(0),
    good.subarray(0, 43),
    good.subarray(0, good.byteLength - 1),
    Uint8Array.from([...good, 0]),
    Uint8Array.from(good, (b, i) => (i === 0 ? 2 : b)), // version 2
    Uint8Array.from(good, (b, i) => (i === 2 ? 0 : b)), // 0 axes
    Uint8Array.from(good, (b, i) => (i === 2 ? 9 : b)), // 9 axes
    Uint8Array.from(good, (b, i) => (i === 40 ? 0xff : b)), // count disagrees with length
    Uint8Array.from(good, (b, i) => (i === 15 ? 0xff : b)), // msgSeq >= 2^53
  ];
  for (const c of cases) {
    const r = decodeRawSamples(c);
    assert.equal(r.ok, false);
    assert.equal(r.code, 'EDGELOOP_ERR_MQTT_PAYLOAD');
  }
});

test('encoding impossible input is a bug and throws', () => {
  const bad: Partial<RawSamplesInput>[] = [
    { sensorId: 255 },
    { axes: 0 },
    { axes: 9 },
    { runId: -1 },
    { msgSeq: 1.5 },
    { bootId: 2 ** 32 },
    { values: [1, 2] }, // not a multiple of 3 axes
    { values: new Float32Array(MAX_RAW_VALUES + 3) },
  ];
  for (const b of bad)
    assert.throws(() => encodeRawSamples({ ...block, ...b }), EdgeloopError, JSON.stringify(b));
});
