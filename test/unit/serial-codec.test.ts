// Serial protocol v1 frames: every frame type, limits, truncation, versions, HELLO validation, sample
// scaling (issue #2 §5 "Codec unit tests"). CRC and COBS byte-level tests are in serial-cobs.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32 } from '../../shared/serial/crc32.ts';
import {
  CRC_BYTES,
  decodeSampleValues,
  encodeFrame,
  encodeSampleValues,
  MAX_FRAME_BYTES,
  parseFrame,
  PROTOCOL_VERSION,
  type Frame,
  type HelloFrame,
  type SamplesFrame,
} from '../../shared/serial/frames.ts';
import { referenceSensors, type SensorDescriptor } from '../../shared/sensors.ts';
import { uniform } from '../../shared/random.ts';

/** Replaces the CRC of decoded frame bytes after a test edited them, so the parser looks past the CRC. */
function withFreshCrc(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + CRC_BYTES);
  out.set(body);
  new DataView(out.buffer).setUint32(body.length, crc32(body), true);
  return out;
}

const hello: HelloFrame = {
  type: 'hello',
  seq: 0,
  device: {
    deviceId: 'pump-7',
    firmwareVersion: '2.3.1',
    protocolVersion: 1,
    bootId: 0xdeadbeef,
    sensors: referenceSensors,
  },
};

test('every frame type round-trips through encodeFrame and parseFrame', () => {
  const accel = referenceSensors[0]!;
  const values = Float64Array.from({ length: 30 }, (_, i) => Math.sin(i) * 3);
  const frames: Frame[] = [
    hello,
    {
      type: 'samples',
      seq: 0xffffffff,
      sensorId: 0,
      timestampUs: 2 ** 40 + 123,
      firstIndex: 0xffffffff,
      count: 10,
      data: encodeSampleValues(values, accel),
    },
    {
      type: 'status',
      seq: 5,
      code: 1,
      severity: 'warning',
      sensorId: 2,
      droppedSamples: 17,
      message: 'mag stuck',
    },
    { type: 'status', seq: 6, code: 0, severity: 'info', sensorId: 255, droppedSamples: 0, message: '' },
    { type: 'helloRequest', seq: 3 },
  ];
  for (const f of frames) {
    const bytes = encodeFrame(f);
    assert.equal(bytes[0], PROTOCOL_VERSION);
    const r = parseFrame(bytes);
    assert.ok(r.ok, `${f.type}: ${r.ok ? '' : r.message}`);
    if (f.type === 'hello') {
      // f32 fields come back rounded to single precision.
      const want = f.device.sensors.map((s) => ({
        ...s,
        rateHz: Math.fround(s.rateHz),
        rangeMin: Math.fround(s.rangeMin),
        rangeMax: Math.fround(s.rangeMax),
        resolution: Math.fround(s.resolution),
      }));
      assert.deepEqual(r.value, { ...f, device: { ...f.device, sensors: want } });
    } else assert.deepEqual(r.value, f);
  }
});

test('HELLO carries UTF-8 names and the str8 length limit is in bytes', () => {
  const s: SensorDescriptor = { ...referenceSensors[5]!, name: 'Température', unit: '°C', axes: ['värde'] };
  const f: HelloFrame = {
    ...hello,
    device: { ...hello.device, deviceId: '设备-1', firmwareVersion: 'v1 🚀', sensors: [s] },
  };
  const r = parseFrame(encodeFrame(f));
  assert.ok(r.ok);
  assert.equal(r.value.type === 'hello' && r.value.device.deviceId, '设备-1');
  assert.equal(r.value.type === 'hello' && r.value.device.sensors[0]?.unit, '°C');
  assert.equal(r.value.type === 'hello' && r.value.device.firmwareVersion, 'v1 🚀');
  const ok85 = '设'.repeat(85); // 255 UTF-8 bytes
  assert.doesNotThrow(() => encodeFrame({ ...f, device: { ...f.device, deviceId: ok85 } }));
  assert.throws(() => encodeFrame({ ...f, device: { ...f.device, deviceId: ok85 + '设' } }), RangeError);
});

test('HELLO with as many sensors as fit in MAX_FRAME_BYTES round-trips; one more is refused', () => {
  const make = (n: number): HelloFrame => ({
    ...hello,
    device: {
      ...hello.device,
      sensors: Array.from({ length: n }, (_, i) => ({ ...referenceSensors[0]!, id: i, name: `s${i}` })),
    },
  });
  let n = 1;
  while (encodeFrameLength(make(n + 1)) <= MAX_FRAME_BYTES) n++;
  assert.ok(n >= 20, `only ${n} IMU-like sensors fit`);
  const r = parseFrame(encodeFrame(make(n)));
  assert.ok(r.ok && r.value.type === 'hello');
  assert.equal(r.value.device.sensors.length, n);
  assert.throws(() => encodeFrame(make(n + 1)), RangeError);
  assert.throws(() => encodeFrame(make(256)), RangeError);
});

function encodeFrameLength(f: Frame): number {
  try {
    return encodeFrame(f).length;
  } catch {
    return Infinity;
  }
}

test('a frame of exactly MAX_FRAME_BYTES is legal; one byte more is refused by the encoder', () => {
  const base: SamplesFrame = {
    type: 'samples',
    seq: 1,
    sensorId: 0,
    timestampUs: 0,
    firstIndex: 0,
    count: 0,
    data: new Uint8Array(0),
  };
  const overhead = encodeFrame(base).length;
  const full = { ...base, data: new Uint8Array(MAX_FRAME_BYTES - overhead).fill(0xaa) };
  const bytes = encodeFrame(full);
  assert.equal(bytes.length, MAX_FRAME_BYTES);
  assert.ok(parseFrame(bytes).ok);
  assert.throws(
    () => encodeFrame({ ...base, data: new Uint8Array(MAX_FRAME_BYTES - overhead + 1) }),
    RangeError,
  );
});

test('the encoder refuses values that would wrap their field', () => {
  const base: SamplesFrame = {
    type: 'samples',
    seq: 1,
    sensorId: 0,
    timestampUs: 0,
    firstIndex: 0,
    count: 0,
    data: new Uint8Array(0),
  };
  assert.throws(() => encodeFrame({ ...base, sensorId: 256 }), RangeError);
  assert.throws(() => encodeFrame({ ...base, count: 65536 }), RangeError);
  assert.throws(
    () =>
      encodeFrame({
        type: 'status',
        seq: 0,
        code: 0,
        severity: 'info',
        sensorId: -1,
        droppedSamples: 0,
        message: '',
      }),
    RangeError,
  );
});

test('every truncation of a frame (with a fresh CRC) is a failure value, never a throw or a wrong frame', () => {
  const status: Frame = {
    type: 'status',
    seq: 9,
    code: 2,
    severity: 'error',
    sensorId: 255,
    droppedSamples: 3,
    message: 'overflow',
  };
  const samples: Frame = {
    type: 'samples',
    seq: 1,
    sensorId: 0,
    timestampUs: 5,
    firstIndex: 7,
    count: 1,
    data: new Uint8Array(6),
  };
  for (const f of [hello, status, samples]) {
    const full = encodeFrame(f);
    const body = full.subarray(0, full.length - CRC_BYTES);
    // SAMPLES data has no length field (the descriptor gives it), so only cuts into its fixed part fail here.
    const minimum = f.type === 'samples' ? 6 + 15 : body.length;
    for (let cut = 0; cut < minimum; cut++) {
      const r = parseFrame(withFreshCrc(body.subarray(0, cut)));
      assert.ok(!r.ok, `${f.type} cut at ${cut} was accepted`);
      assert.equal(r.code, 'EDGELOOP_ERR_FRAME_TRUNCATED', `${f.type} cut at ${cut}: ${r.message}`);
    }
  }
  const short = parseFrame(new Uint8Array(9));
  assert.ok(!short.ok && short.code === 'EDGELOOP_ERR_FRAME_TRUNCATED');
});

test('a flipped bit anywhere fails the CRC', () => {
  const bytes = encodeFrame(hello);
  for (let i = 0; i < bytes.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const copy = bytes.slice();
      copy[i]! ^= 1 << bit;
      const r = parseFrame(copy);
      assert.ok(!r.ok && r.code === 'EDGELOOP_ERR_FRAME_CRC', `byte ${i} bit ${bit}`);
    }
  }
});

test('an unknown protocol version is rejected with a message naming both versions', () => {
  const body = encodeFrame({ type: 'helloRequest', seq: 0 }).slice(0, -CRC_BYTES);
  body[0] = 2;
  const r = parseFrame(withFreshCrc(body));
  assert.ok(!r.ok);
  assert.equal(r.code, 'EDGELOOP_ERR_PROTOCOL_VERSION');
  assert.match(r.message, /v2\b/);
  assert.match(r.message, /v1\b/);
});

test('an intact frame of an unknown type parses as an unknown frame with its seq and type byte', () => {
  const body = encodeFrame({ type: 'helloRequest', seq: 41 }).slice(0, -CRC_BYTES);
  body[1] = 0x7f;
  const r = parseFrame(withFreshCrc(body));
  assert.ok(r.ok);
  assert.deepEqual(r.value, { type: 'unknown', seq: 41, typeCode: 0x7f });
});

test('impossible sensor descriptors in a HELLO are rejected as EDGELOOP_ERR_HELLO_INVALID', () => {
  const acc = referenceSensors[0]!;
  const bad: [string, Partial<SensorDescriptor>[]][] = [
    ['no axes', [{ axes: [] }]],
    ['nine axes', [{ axes: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] }]],
    ['duplicate axes', [{ axes: ['x', 'x'] }]],
    ['zero rate', [{ rateHz: 0 }]],
    ['NaN resolution', [{ resolution: Number.NaN }]],
    ['negative resolution', [{ resolution: -1 }]],
    ['empty range', [{ rangeMin: 1, rangeMax: 1 }]],
    ['reserved id', [{ id: 255 }]],
    ['empty name', [{ name: '' }]],
    ['duplicate ids', [{ id: 3 }, { id: 3, name: 'other' }]],
  ];
  for (const [what, patches] of bad) {
    const sensors = patches.map((p) => ({ ...acc, ...p }));
    const r = parseFrame(encodeFrame({ ...hello, device: { ...hello.device, sensors } }));
    assert.ok(!r.ok && r.code === 'EDGELOOP_ERR_HELLO_INVALID', `${what}: ${r.ok ? 'accepted' : r.code}`);
  }
  const empty = parseFrame(encodeFrame({ ...hello, device: { ...hello.device, deviceId: '' } }));
  assert.ok(!empty.ok && empty.code === 'EDGELOOP_ERR_HELLO_INVALID');
  // Unknown sample type code: patch the type byte of the single sensor.
  const one = encodeFrame({
    ...hello,
    device: { ...hello.device, deviceId: 'd', firmwareVersion: 'f', sensors: [acc] },
  });
  const body = one.slice(0, -CRC_BYTES);
  const typeAt = 6 + 4 + 2 + 2 + 1 + 1 + (1 + 5) + (1 + 1); // header, bootId, ids, count, id, name, unit
  assert.equal(body[typeAt], 1);
  body[typeAt] = 9;
  const r = parseFrame(withFreshCrc(body));
  assert.ok(!r.ok && r.code === 'EDGELOOP_ERR_HELLO_INVALID' && r.message.includes('9'));
});

test('a STATUS severity byte beyond the known ones reads as error', () => {
  const body = encodeFrame({
    type: 'status',
    seq: 0,
    code: 7,
    severity: 'info',
    sensorId: 1,
    droppedSamples: 0,
    message: 'x',
  }).slice(0, -CRC_BYTES);
  body[8] = 200;
  const r = parseFrame(withFreshCrc(body));
  assert.ok(r.ok && r.value.type === 'status' && r.value.severity === 'error');
});

test('parseFrame never throws on random bodies that pass the CRC', () => {
  const rnd = uniform(11);
  for (let i = 0; i < 3000; i++) {
    const n = 6 + Math.floor(rnd() * 120);
    const body = Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
    body[0] = 1;
    body[1] = [0x01, 0x02, 0x03, 0x10][i % 4]!;
    assert.doesNotThrow(() => parseFrame(withFreshCrc(body)));
  }
});

test('sample values scale by the f32-rounded resolution, saturate, and check the payload length', () => {
  const accel = referenceSensors[0]!; // i16, 16/32768 g per LSB
  const raw = encodeSampleValues([1, -1, 0, 100, -100, Number.NaN], accel);
  const v = new DataView(raw.buffer);
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5].map((i) => v.getInt16(i * 2, true)),
    [2048, -2048, 0, 32767, -32768, 0],
  );
  const f: SamplesFrame = {
    type: 'samples',
    seq: 0,
    sensorId: 0,
    timestampUs: 0,
    firstIndex: 0,
    count: 2,
    data: raw,
  };
  const r = decodeSampleValues(f, accel);
  assert.ok(r.ok);
  assert.deepEqual([...r.value], [1, -1, 0, 32767 * (16 / 32768), -16, 0]);
  // A resolution that f32 cannot hold exactly: the receiver multiplies by Math.fround(resolution).
  const mag = referenceSensors[2]!; // i16, 0.15 uT per LSB
  const m = decodeSampleValues({ ...f, count: 1, data: encodeSampleValues([15, 0.15, -0.3], mag) }, mag);
  assert.ok(m.ok);
  assert.deepEqual([...m.value], [100 * Math.fround(0.15), Math.fround(0.15), -2 * Math.fround(0.15)]);
  const i32: SensorDescriptor = { ...mag, type: 'i32', resolution: 0.001 };
  const bigRaw = encodeSampleValues([1e9, -1e9, 1.5], i32);
  const bv = new DataView(bigRaw.buffer);
  assert.deepEqual(
    [0, 1, 2].map((i) => bv.getInt32(i * 4, true)),
    [2147483647, -2147483648, 1500],
  );
  const big = decodeSampleValues({ ...f, count: 1, data: bigRaw }, i32);
  assert.ok(big.ok);
  assert.deepEqual(
    [...big.value],
    [2147483647, -2147483648, 1500].map((x) => x * Math.fround(0.001)),
  );
  const hum = referenceSensors[3]!; // f32 already physical
  const h = decodeSampleValues({ ...f, count: 2, data: encodeSampleValues([45.5, Number.NaN], hum) }, hum);
  assert.ok(h.ok);
  assert.equal(h.value[0], 45.5);
  assert.ok(Number.isNaN(h.value[1]));
  const short = decodeSampleValues({ ...f, count: 3 }, accel);
  assert.ok(!short.ok && short.code === 'EDGELOOP_ERR_FRAME_TRUNCATED');
});
