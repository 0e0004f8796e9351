// The ingest pipeline's accounting of what it could not use (issue #8 §3 and §4): every dropped frame and
// sample is counted by reason in IngestStats, and an intact frame of an unknown type is counted as unknown,
// never as missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IngestPipeline } from '../../agent/ingest/pipeline.ts';
import { cobsEncode } from '../../shared/serial/cobs.ts';
import { crc32 } from '../../shared/serial/crc32.ts';
import { encodeWireFrame } from '../../shared/serial/decoder.ts';
import { CRC_BYTES, encodeFrame, encodeSampleValues, type Frame } from '../../shared/serial/frames.ts';
import { referenceSensors } from '../../shared/sensors.ts';

const accel = referenceSensors[0]!;
const hello = (seq: number): Frame => ({
  type: 'hello',
  seq,
  device: { deviceId: 'rig-1', firmwareVersion: 't', protocolVersion: 1, bootId: 9, sensors: [accel] },
});
const samples = (seq: number, index: number, sensorId = 0, count = 10): Frame => ({
  type: 'samples',
  seq,
  sensorId,
  timestampUs: index * 1000,
  firstIndex: index,
  count,
  data: encodeSampleValues(new Array<number>(count * 3).fill(0.01), accel),
});

/** A frame of type byte `typeCode` with a valid CRC, on the wire. */
function unknownTypeWire(seq: number, typeCode: number): Uint8Array {
  const body = encodeFrame({ type: 'helloRequest', seq }).slice(0, -CRC_BYTES);
  body[1] = typeCode;
  const raw = new Uint8Array(body.length + CRC_BYTES);
  raw.set(body);
  new DataView(raw.buffer).setUint32(body.length, crc32(body), true);
  return Uint8Array.from([...cobsEncode(raw), 0]);
}

function pipeline(): IngestPipeline {
  return new IngestPipeline({ mode: 'binary' }, () => undefined);
}

test('an intact frame of an unknown type is counted as unknown by type, not as missing or invalid', () => {
  const p = pipeline();
  p.push(encodeWireFrame(hello(0)));
  p.push(encodeWireFrame(samples(1, 0)));
  p.push(unknownTypeWire(2, 0x7f));
  p.push(unknownTypeWire(3, 0x7f));
  p.push(unknownTypeWire(4, 0x05));
  p.push(encodeWireFrame(samples(5, 10)));
  const st = p.stats();
  assert.equal(st.stream.framesMissing, 0, 'the unknown frames arrived');
  assert.equal(st.decoder.invalidTotal, 0);
  assert.deepEqual(st.stream.framesUnknownType, { '0x7f': 2, '0x05': 1 });
  assert.equal(st.stream.framesDropped.EDGELOOP_ERR_FRAME_TYPE, 3);
  assert.equal(st.stream.samplesLostTotal, 0);
});

test('frames and samples dropped for NO_HELLO, UNKNOWN_SENSOR and TRUNCATED are counted by reason', () => {
  const p = pipeline();
  p.push(encodeWireFrame(samples(7, 100))); // before any HELLO: 10 samples
  p.push(
    encodeWireFrame({
      type: 'status',
      seq: 8,
      code: 0,
      severity: 'info',
      sensorId: 255,
      droppedSamples: 0,
      message: '',
    }),
  ); // before any HELLO too
  p.push(encodeWireFrame(hello(9)));
  p.push(encodeWireFrame(samples(10, 0, 4, 3))); // sensor 4 is not in the HELLO: 3 samples
  const short = samples(11, 0) as Extract<Frame, { type: 'samples' }>;
  p.push(encodeWireFrame({ ...short, count: 11 })); // data for 10 samples, header says 11
  p.push(encodeWireFrame(samples(12, 0)));
  const st = p.stats();
  assert.deepEqual(st.stream.framesDropped, {
    EDGELOOP_ERR_NO_HELLO: 2,
    EDGELOOP_ERR_UNKNOWN_SENSOR: 1,
    EDGELOOP_ERR_FRAME_TRUNCATED: 1,
  });
  assert.deepEqual(st.stream.samplesDropped, {
    EDGELOOP_ERR_NO_HELLO: 10,
    EDGELOOP_ERR_UNKNOWN_SENSOR: 3,
    EDGELOOP_ERR_FRAME_TRUNCATED: 11,
  });
  assert.equal(st.stream.droppedNoHello, 10);
  assert.equal(st.stream.framesMissing, 0);
  assert.equal(st.stream.samples.accel, 10);
});
