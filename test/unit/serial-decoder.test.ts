// Streaming FrameDecoder: resync, bounded memory, and the corruption property of issue #2 §5: no corrupted
// frame is ever accepted, every intact frame is recovered, and the counters account for every block.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  encodeWireFrame,
  FrameDecoder,
  MAX_ENCODED_FRAME_BYTES,
  type DecodeEvent,
} from '../../shared/serial/decoder.ts';
import {
  CRC_BYTES,
  encodeFrame,
  encodeSampleValues,
  MAX_FRAME_BYTES,
  type Frame,
  type ReceivedFrame,
} from '../../shared/serial/frames.ts';
import { cobsEncode } from '../../shared/serial/cobs.ts';
import { crc32 } from '../../shared/serial/crc32.ts';
import { referenceSensors } from '../../shared/sensors.ts';
import { uniform } from '../../shared/random.ts';

const concat = (parts: readonly Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

// HELLO carries f32 fields, so the originals are stated in f32 to compare equal after a round trip.
const boardSensors = referenceSensors.map((s) => ({
  ...s,
  rateHz: Math.fround(s.rateHz),
  rangeMin: Math.fround(s.rangeMin),
  rangeMax: Math.fround(s.rangeMax),
  resolution: Math.fround(s.resolution),
}));

/** A realistic device stream: HELLO, then reference-board SAMPLES (IMU 10 per frame), STATUS now and then. */
function deviceFrames(n: number, rnd: () => number): Frame[] {
  const frames: Frame[] = [
    {
      type: 'hello',
      seq: 0,
      device: {
        deviceId: 'dev-1',
        firmwareVersion: '1.0',
        protocolVersion: 1,
        bootId: 42,
        sensors: boardSensors,
      },
    },
  ];
  const index = new Map<number, number>();
  for (let seq = 1; seq < n; seq++) {
    if (seq % 97 === 0) {
      frames.push({
        type: 'status',
        seq,
        code: 0,
        severity: 'info',
        sensorId: 255,
        droppedSamples: 0,
        message: `heartbeat ${seq}`,
      });
      continue;
    }
    const sensor = boardSensors[Math.floor(rnd() * 6) % 6]!;
    const count = sensor.rateHz >= 1000 ? 10 : 1;
    const values = Array.from({ length: count * sensor.axes.length }, () =>
      rnd() < 0.2 ? 0 : sensor.rangeMin + rnd() * (sensor.rangeMax - sensor.rangeMin),
    );
    const firstIndex = index.get(sensor.id) ?? 0;
    index.set(sensor.id, firstIndex + count);
    frames.push({
      type: 'samples',
      seq,
      sensorId: sensor.id,
      timestampUs: seq * 1000,
      firstIndex,
      count,
      data: encodeSampleValues(values, sensor),
    });
  }
  return frames;
}

function collect(
  decoder: FrameDecoder,
  chunks: Iterable<Uint8Array>,
): { frames: ReceivedFrame[]; events: DecodeEvent[] } {
  const events: DecodeEvent[] = [];
  for (const c of chunks) decoder.push(c, (e) => events.push(e));
  return { frames: events.flatMap((e) => (e.ok ? [e.frame] : [])), events };
}

function* randomChunks(bytes: Uint8Array, rnd: () => number, max: number): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length;) {
    const n = 1 + Math.floor(rnd() * max);
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

test('a clean stream decodes identically whole, byte by byte and in random chunks', () => {
  const rnd = uniform(1);
  const frames = deviceFrames(300, rnd);
  const stream = concat([Uint8Array.of(0), ...frames.map(encodeWireFrame)]);
  const whole = collect(new FrameDecoder(), [stream]);
  assert.deepEqual(whole.frames, frames);
  const bytewise = collect(new FrameDecoder(), randomChunks(stream, rnd, 1));
  assert.deepEqual(bytewise.frames, frames);
  const d = new FrameDecoder();
  assert.deepEqual(collect(d, randomChunks(stream, rnd, 700)).frames, frames);
  assert.deepEqual(d.counters, {
    bytes: stream.length,
    frames: frames.length,
    invalid: {},
    invalidTotal: 0,
    resyncs: 0,
    bytesDiscarded: 0,
  });
});

test('repeated delimiters are idle, not invalid frames', () => {
  const d = new FrameDecoder();
  const f: Frame = { type: 'helloRequest', seq: 1 };
  const { frames, events } = collect(d, [
    new Uint8Array(50),
    encodeWireFrame(f),
    new Uint8Array(3),
    encodeWireFrame(f),
  ]);
  assert.equal(frames.length, 2);
  assert.equal(events.length, 2);
  assert.equal(d.counters.invalidTotal, 0);
});

test('a host joining mid-stream loses at most the frame it joined in, counted as one resync', () => {
  const frames = deviceFrames(50, uniform(2));
  const wire = frames.map(encodeWireFrame);
  const stream = concat(wire);
  const joinAt = wire[0]!.length + wire[1]!.length + 7; // inside frame 2
  const d = new FrameDecoder();
  const got = collect(d, [stream.subarray(joinAt)]);
  assert.deepEqual(got.frames, frames.slice(3));
  assert.equal(d.counters.invalidTotal, 1);
  assert.equal(d.counters.resyncs, 1);
});

test('a frame of MAX_FRAME_BYTES is accepted; the length bound sits exactly at MAX_ENCODED_FRAME_BYTES', () => {
  const base: Frame = {
    type: 'samples',
    seq: 7,
    sensorId: 1,
    timestampUs: 123,
    firstIndex: 9,
    count: 0,
    data: new Uint8Array(0),
  };
  const overhead = encodeFrame(base).length;
  const frame: Frame = { ...base, data: new Uint8Array(MAX_FRAME_BYTES - overhead).fill(0x5a) };
  const wire = encodeWireFrame(frame);
  assert.ok(wire.length - 1 <= MAX_ENCODED_FRAME_BYTES);
  const d = new FrameDecoder();
  assert.deepEqual(collect(d, randomChunks(wire, uniform(3), 100)).frames, [frame]);
  // A block of exactly the bound is judged as a frame (here: bad COBS/CRC); one byte more is too long.
  for (const [n, code] of [
    [MAX_ENCODED_FRAME_BYTES, 'EDGELOOP_ERR_FRAME_CRC'],
    [MAX_ENCODED_FRAME_BYTES + 1, 'EDGELOOP_ERR_FRAME_TOO_LONG'],
  ] as const) {
    const block = new Uint8Array(n + 1).fill(0x01);
    block[0] = 0xff;
    block[n] = 0;
    const { events } = collect(new FrameDecoder(), randomChunks(block, uniform(n), 300));
    assert.equal(events.length, 1);
    assert.ok(!events[0]!.ok);
    if (code === 'EDGELOOP_ERR_FRAME_TOO_LONG') assert.equal(events[0]!.code, code);
    else assert.notEqual(events[0]!.code, 'EDGELOOP_ERR_FRAME_TOO_LONG');
  }
});

test('over-long garbage without delimiters: bounded memory, one FRAME_TOO_LONG, recovery afterwards', () => {
  const rnd = uniform(4);
  const d = new FrameDecoder();
  const garbage = Uint8Array.from({ length: 200_000 }, () => 1 + Math.floor(rnd() * 255));
  const events: DecodeEvent[] = [];
  let maxPending = 0;
  for (const c of randomChunks(garbage, rnd, 3000)) {
    d.push(c, (e) => events.push(e));
    maxPending = Math.max(maxPending, d.pending);
  }
  assert.ok(maxPending <= MAX_ENCODED_FRAME_BYTES, `held ${maxPending} bytes`);
  assert.equal(events.length, 1);
  assert.ok(!events[0]!.ok && events[0]!.code === 'EDGELOOP_ERR_FRAME_TOO_LONG');
  assert.equal(d.counters.invalid.EDGELOOP_ERR_FRAME_TOO_LONG, 1);
  const f: Frame = {
    type: 'status',
    seq: 1,
    code: 1,
    severity: 'error',
    sensorId: 0,
    droppedSamples: 0,
    message: 'after',
  };
  const after = collect(d, [Uint8Array.of(0), encodeWireFrame(f)]);
  assert.deepEqual(after.frames, [f]);
  assert.equal(d.counters.bytesDiscarded, garbage.length);
  assert.equal(d.counters.resyncs, 1);
});

test('a smaller configured bound is honoured', () => {
  const d = new FrameDecoder(32);
  const small: Frame = { type: 'helloRequest', seq: 1 };
  const big: Frame = {
    type: 'status',
    seq: 2,
    code: 0,
    severity: 'info',
    sensorId: 0,
    droppedSamples: 0,
    message: 'x'.repeat(40),
  };
  const { frames, events } = collect(d, [encodeWireFrame(big), encodeWireFrame(small)]);
  assert.deepEqual(frames, [small]);
  assert.equal(events.length, 2);
  assert.ok(!events[0]!.ok && events[0]!.code === 'EDGELOOP_ERR_FRAME_TOO_LONG');
});

test('a frame of another protocol version surfaces EDGELOOP_ERR_PROTOCOL_VERSION naming both versions', () => {
  const raw = encodeFrame({ type: 'helloRequest', seq: 0 });
  raw[0] = 7;
  new DataView(raw.buffer).setUint32(raw.length - CRC_BYTES, crc32(raw, 0, raw.length - CRC_BYTES), true);
  const d = new FrameDecoder();
  const { events } = collect(d, [cobsEncode(raw), Uint8Array.of(0)]);
  assert.equal(events.length, 1);
  const e = events[0]!;
  assert.ok(!e.ok);
  assert.equal(e.code, 'EDGELOOP_ERR_PROTOCOL_VERSION');
  assert.match(e.message, /v7.*v1/);
  assert.equal(d.counters.invalid.EDGELOOP_ERR_PROTOCOL_VERSION, 1);
});

test('reset() forgets a partial frame', () => {
  const d = new FrameDecoder();
  const wire = encodeWireFrame({ type: 'helloRequest', seq: 1 });
  d.push(wire.subarray(0, 4), () => assert.fail('no event expected'));
  assert.equal(d.pending, 4);
  d.reset();
  assert.equal(d.pending, 0);
  const { frames } = collect(d, [wire]);
  assert.equal(frames.length, 1);
});

/**
 * The property of issue #2 §5. Substitutes bytes at random positions of a long stream (bit flips, random
 * bytes, injected 0x00 delimiters, short bursts), feeds it in random chunk sizes, and checks:
 * (a) every accepted frame equals the original frame with that seq (no corrupted frame is accepted);
 * (b) every intact frame, whose bytes and both surrounding delimiters are untouched, is recovered;
 * (c) frames + invalid = the number of non-empty delimited blocks in the corrupted stream, and the
 *     discarded bytes are exactly those of the invalid blocks.
 */
function corruptionRun(
  seed: number,
  nFrames: number,
  nCorruptions: number,
): { intact: number; corrupted: number } {
  const rnd = uniform(seed);
  const frames = deviceFrames(nFrames, rnd);
  const wire = frames.map(encodeWireFrame);
  const stream = concat([Uint8Array.of(0), ...wire]);
  // Frame i occupies [start, end) and its delimiter is stream[end]; its leading delimiter is stream[start-1].
  const spans: { start: number; end: number }[] = [];
  let at = 1;
  for (const w of wire) {
    spans.push({ start: at, end: at + w.length - 1 });
    at += w.length;
  }
  const touched = new Uint8Array(stream.length);
  for (let k = 0; k < nCorruptions; k++) {
    const pos = Math.floor(rnd() * stream.length);
    const kind = rnd();
    const len = kind < 0.1 ? 1 + Math.floor(rnd() * 20) : 1;
    for (let p = pos; p < Math.min(stream.length, pos + len); p++) {
      const before = stream[p]!;
      if (kind < 0.1) stream[p] = Math.floor(rnd() * 256);
      else if (kind < 0.3)
        stream[p] = 0; // injected delimiter: splits a frame
      else if (kind < 0.6) stream[p] = before ^ (1 << Math.floor(rnd() * 8));
      else stream[p] = before ^ (1 + Math.floor(rnd() * 255));
      if (stream[p] !== before) touched[p] = 1;
    }
  }
  const d = new FrameDecoder();
  const { frames: accepted, events } = collect(d, randomChunks(stream, rnd, 2048));

  const bySeq = new Map(frames.map((f) => [f.seq, f]));
  const seen = new Set<number>();
  for (const f of accepted) {
    assert.deepEqual(
      f,
      bySeq.get(f.seq),
      `seed ${seed}: accepted frame seq ${f.seq} differs from the original`,
    );
    assert.ok(!seen.has(f.seq), `seed ${seed}: seq ${f.seq} accepted twice`);
    seen.add(f.seq);
  }
  let intact = 0;
  spans.forEach((s, i) => {
    if (touched.subarray(s.start - 1, s.end + 1).includes(1)) return;
    intact++;
    assert.ok(
      seen.has(frames[i]!.seq),
      `seed ${seed}: intact frame ${i} (seq ${frames[i]!.seq}) was not recovered`,
    );
  });

  let blocks = 0;
  let invalidBytes = 0;
  let blockStart = 0;
  for (let p = 0; p <= stream.length; p++) {
    if (p < stream.length && stream[p] !== 0) continue;
    const n = p - blockStart;
    if (n > 0 && p < stream.length) blocks++;
    blockStart = p + 1;
  }
  for (const e of events) if (!e.ok) invalidBytes += e.bytes;
  assert.equal(d.counters.frames, accepted.length);
  assert.equal(
    d.counters.frames + d.counters.invalidTotal,
    blocks,
    `seed ${seed}: frames + invalid = blocks`,
  );
  assert.equal(
    Object.values(d.counters.invalid).reduce((a, b) => a + b, 0),
    d.counters.invalidTotal,
  );
  assert.equal(d.counters.bytesDiscarded, invalidBytes);
  assert.equal(d.counters.bytes, stream.length);
  assert.ok(d.counters.resyncs <= d.counters.invalidTotal && d.counters.resyncs > 0);
  return { intact, corrupted: frames.length - intact };
}

test('corruption at random positions: nothing corrupted is accepted, every intact frame is recovered', () => {
  let intact = 0;
  let corrupted = 0;
  for (const [seed, nCorruptions] of [
    [101, 40],
    [202, 150],
    [303, 400],
    [404, 1000],
    [505, 3000],
  ] as const) {
    const r = corruptionRun(seed, 3000, nCorruptions);
    intact += r.intact;
    corrupted += r.corrupted;
  }
  // The property must have had something to bite on in both directions.
  assert.ok(corrupted > 1000, `only ${corrupted} frames were corrupted`);
  assert.ok(intact > 5000, `only ${intact} frames were intact`);
});
