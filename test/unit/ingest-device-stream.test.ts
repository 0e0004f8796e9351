import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceStream, type StreamEvent } from '../../shared/ingest/device-stream.ts';
import { encodeSampleValues, type Frame } from '../../shared/serial/frames.ts';
import { referenceSensors, type DeviceDescriptor } from '../../shared/sensors.ts';

const accel = referenceSensors[0]!;
const device = (bootId = 7): DeviceDescriptor => ({
  deviceId: 'dev-1',
  firmwareVersion: '1.0.0',
  protocolVersion: 1,
  bootId,
  sensors: referenceSensors,
});

function samples(seq: number, firstIndex: number, count = 10, sensorId = 0): Frame {
  const values = Array.from({ length: count * 3 }, (_, i) => (i % 3 === 2 ? 1 : 0.01 * i));
  return {
    type: 'samples',
    seq,
    sensorId,
    timestampUs: firstIndex * 1000,
    firstIndex,
    count,
    data: encodeSampleValues(values, referenceSensors[sensorId] ?? accel),
  };
}

function run(frames: Frame[]): { s: DeviceStream; events: StreamEvent[] } {
  const s = new DeviceStream();
  const events: StreamEvent[] = [];
  for (const f of frames) s.push(f, (e) => events.push(e));
  return { s, events };
}

test('an unbroken stream yields blocks with physical values and no loss', () => {
  const { s, events } = run([
    { type: 'hello', seq: 0, device: device() },
    samples(1, 0),
    samples(2, 10),
    samples(3, 20),
  ]);
  const blocks = events.flatMap((e) => (e.kind === 'block' ? [e.block] : []));
  assert.equal(blocks.length, 3);
  assert.equal(s.counters.samples.accel, 30);
  assert.equal(s.counters.samplesLostTotal, 0);
  assert.equal(s.counters.framesMissing, 0);
  const b = blocks[0]!;
  assert.equal(b.periodUs, 1000);
  // z axis was encoded as 1 g; i16 quantisation at 16/32768 g per LSB
  assert.ok(Math.abs(b.values[2]! - 1) < accel.resolution);
});

test('seq and sample-index gaps count exactly the frames and samples lost', () => {
  const { s, events } = run([
    { type: 'hello', seq: 0, device: device() },
    samples(1, 0),
    samples(4, 30), // frames 2 and 3 (20 samples) lost
    samples(5, 40),
  ]);
  assert.equal(s.counters.framesMissing, 2);
  assert.equal(s.counters.samplesLost.accel, 20);
  assert.deepEqual(
    events.filter((e) => e.kind === 'sampleGap'),
    [{ kind: 'sampleGap', sensor: 'accel', lost: 20, fromIndex: 10 }],
  );
});

test('samples before HELLO are dropped and counted; unknown sensors too', () => {
  const { s } = run([samples(1, 0), { type: 'hello', seq: 2, device: device() }, samples(3, 0, 1, 9)]);
  assert.equal(s.counters.droppedNoHello, 10);
  assert.equal(s.counters.droppedUnknownSensor, 1);
});

test('a re-announced HELLO keeps accounting; a new bootId resets it and counts a reboot', () => {
  const { s } = run([
    { type: 'hello', seq: 0, device: device(7) },
    samples(1, 0),
    { type: 'hello', seq: 5, device: device(7) }, // same boot, 3 frames lost in between
    samples(6, 40),
    { type: 'hello', seq: 0, device: device(8) }, // reboot: seq and indices restart
    samples(1, 0),
  ]);
  assert.equal(s.counters.reboots, 1);
  assert.equal(s.counters.framesMissing, 3);
  assert.equal(s.counters.samplesLost.accel, 30);
  assert.equal(s.counters.framesOutOfOrder, 0);
});

test('a payload whose length does not match the descriptor is dropped with a code', () => {
  const bad: Frame = { ...(samples(1, 0) as Extract<Frame, { type: 'samples' }>), count: 11 };
  const { s, events } = run([{ type: 'hello', seq: 0, device: device() }, bad]);
  assert.equal(s.counters.droppedBadPayload, 11);
  assert.ok(events.some((e) => e.kind === 'dropped' && e.code === 'EDGELOOP_ERR_FRAME_TRUNCATED'));
});

test('u32 sample index and seq wrap-around are not counted as loss', () => {
  const top = 2 ** 32 - 10;
  const { s } = run([
    { type: 'hello', seq: 2 ** 32 - 2, device: device() },
    samples(2 ** 32 - 1, top),
    samples(0, 0),
  ]);
  assert.equal(s.counters.samplesLostTotal, 0);
  assert.equal(s.counters.framesMissing, 0);
});

test('after a boot HELLO (seq 0) indices start at 0: a lost first frame is counted as lost samples', () => {
  const { s, events } = run([
    { type: 'hello', seq: 0, device: device(7) },
    samples(2, 10), // seq 1 (samples 0..9) lost
    samples(3, 20),
    { type: 'hello', seq: 0, device: device(8) }, // reboot
    samples(3, 20), // seq 1 and 2 (samples 0..19) lost
  ]);
  assert.equal(s.counters.framesMissing, 3);
  assert.equal(s.counters.samplesLost.accel, 30);
  assert.equal(s.counters.samplesLostTotal, 30);
  assert.deepEqual(
    events.filter((e) => e.kind === 'sampleGap'),
    [
      { kind: 'sampleGap', sensor: 'accel', lost: 10, fromIndex: 0 },
      { kind: 'sampleGap', sensor: 'accel', lost: 20, fromIndex: 0 },
    ],
  );
});

test('a HELLO answering a request mid-stream (seq > 0) takes the baseline from the first frame', () => {
  const { s } = run([
    { type: 'hello', seq: 5000, device: device() },
    samples(5001, 123_450),
    samples(5002, 123_460),
  ]);
  assert.equal(s.counters.samplesLostTotal, 0);
  assert.equal(s.counters.samples.accel, 20);
});
