import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { loadScenario } from '../../firmware-sim/adapters/scenario-files.ts';
import { createBoard } from '../../firmware-sim/board.ts';
import { groundTruthLines } from '../../firmware-sim/ground-truth.ts';
import { parseScenario, type Scenario } from '../../firmware-sim/scenario.ts';
import { FrameDecoder } from '../../shared/serial/decoder.ts';
import type { ReceivedFrame } from '../../shared/serial/frames.ts';
import { referenceSensors } from '../../shared/sensors.ts';

function scenario(nameOrValue: string | Record<string, unknown>): Scenario {
  const r =
    typeof nameOrValue === 'string'
      ? loadScenario(nameOrValue)
      : parseScenario({ name: 't', ...nameOrValue }, 't');
  if (!r.ok) throw new Error(r.message);
  return r.value;
}

function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

interface Seen {
  frames: ReceivedFrame[];
  invalid: number;
}

function decodeAll(bytes: Uint8Array): Seen {
  const d = new FrameDecoder();
  const seen: Seen = { frames: [], invalid: 0 };
  d.push(bytes, (e) => {
    if (e.ok) seen.frames.push(e.frame);
    else seen.invalid++;
  });
  return seen;
}

const sensorName = new Map(referenceSensors.map((s) => [s.id, s.name]));

/** What an agent would count: seq gaps (per boot) and per-sensor sample-index gaps. */
function receiverCounts(frames: readonly ReceivedFrame[]): {
  missingFrames: number;
  lostSamples: Record<string, number>;
  hellos: ReceivedFrame[];
} {
  let lastSeq: number | null = null;
  let missingFrames = 0;
  const nextIndex = new Map<number, number>();
  const lostSamples: Record<string, number> = {};
  const hellos: ReceivedFrame[] = [];
  for (const f of frames) {
    if (f.type === 'hello' && f.seq === 0) {
      // A boot: seq and indices restart.
      lastSeq = null;
      nextIndex.clear();
    }
    if (f.type === 'hello') hellos.push(f);
    if (lastSeq !== null) missingFrames += f.seq - lastSeq - 1;
    lastSeq = f.seq;
    if (f.type === 'samples') {
      const want = nextIndex.get(f.sensorId) ?? 0;
      const name = sensorName.get(f.sensorId) ?? '?';
      lostSamples[name] = (lostSamples[name] ?? 0) + (f.firstIndex - want);
      nextIndex.set(f.sensorId, f.firstIndex + f.count);
    }
  }
  return { missingFrames, lostSamples, hellos };
}

test('same scenario and seed give identical bytes; another seed gives different bytes', () => {
  const sc = scenario('noisy-link');
  const a = createBoard({ scenario: sc, seed: 42 }).generate(30e6);
  const b = createBoard({ scenario: sc, seed: 42 }).generate(30e6);
  const c = createBoard({ scenario: sc, seed: 43 }).generate(30e6);
  assert.equal(sha(a), sha(b));
  assert.notEqual(sha(a), sha(c));
  // Chunking does not change the bytes.
  const chunked = createBoard({ scenario: sc, seed: 42 });
  const parts: Uint8Array[] = [];
  for (let t = 0; t <= 30e6; t += 1_230_000) parts.push(chunked.generate(t));
  parts.push(chunked.generate(30e6));
  assert.equal(sha(Buffer.concat(parts)), sha(a));
});

test('the stream starts with 0x00 and a HELLO, frames are in device-time order, heartbeats every 10 s', () => {
  const board = createBoard({ scenario: scenario('steady'), seed: 1, deviceId: 'dev-7' });
  const bytes = board.generate(25e6);
  assert.equal(bytes[0], 0);
  const { frames, invalid } = decodeAll(bytes);
  assert.equal(invalid, 0);
  const first = frames[0];
  assert.ok(first?.type === 'hello');
  assert.equal(first.seq, 0);
  assert.equal(first.device.deviceId, 'dev-7');
  assert.equal(first.device.bootId, board.bootId);
  // Floats travel as f32 in HELLO.
  const f32 = (d: (typeof referenceSensors)[number]) => ({
    ...d,
    rateHz: Math.fround(d.rateHz),
    rangeMin: Math.fround(d.rangeMin),
    rangeMax: Math.fround(d.rangeMax),
    resolution: Math.fround(d.resolution),
  });
  assert.deepEqual(first.device.sensors, referenceSensors.map(f32));
  frames.forEach((f, i) => {
    assert.equal(f.seq, i);
  });
  let lastEmitUs = -1;
  const counts = new Map<number, { frames: number; samples: number }>();
  for (const f of frames) {
    if (f.type !== 'samples') continue;
    const s = referenceSensors[f.sensorId]!;
    const emitUs = f.timestampUs + ((f.count - 1) * 1e6) / s.rateHz;
    assert.ok(emitUs >= lastEmitUs, `frame ${f.seq} out of device-time order`);
    lastEmitUs = emitUs;
    assert.equal(f.timestampUs, (f.firstIndex * 1e6) / s.rateHz);
    assert.equal(f.count, s.rateHz === 1000 ? 10 : 1);
    const c = counts.get(f.sensorId) ?? { frames: 0, samples: 0 };
    c.frames++;
    c.samples += f.count;
    counts.set(f.sensorId, c);
  }
  for (const s of referenceSensors) assert.equal(counts.get(s.id)?.samples, 25 * s.rateHz, s.name);
  const status = frames.filter((f) => f.type === 'status');
  assert.equal(status.length, 2);
  assert.equal(board.deviceTimeUs, 25e6);
  assert.equal(board.groundTruth.sensors.accel!.generated, 25_000);
  assert.equal(board.groundTruth.sensors.accel!.sentIntact, 25_000);
});

test('noisy-link: seq gaps, invalid frames and lost samples match the ground truth exactly', () => {
  const board = createBoard({ scenario: scenario('noisy-link'), seed: 7 });
  const bytes = board.generate(205e6);
  const gt = board.groundTruth;
  const seen = decodeAll(bytes);
  const rc = receiverCounts(seen.frames);
  assert.ok(gt.frames.corrupted > 100 && gt.frames.dropped > 100, 'the scenario really hurts the link');
  assert.equal(seen.invalid, gt.frames.corrupted, 'each corrupted frame is exactly one invalid frame');
  assert.equal(rc.missingFrames, gt.frames.corrupted + gt.frames.dropped);
  assert.equal(rc.missingFrames, gt.lostFrames.length);
  assert.equal(seen.frames.length, gt.frames.intact);
  for (const s of referenceSensors) {
    const t = gt.sensors[s.name]!;
    const fromFrames = gt.lostFrames.filter((f) => f.sensor === s.name).reduce((a, f) => a + f.samples, 0);
    assert.equal(t.lost, fromFrames, s.name);
    assert.equal(t.generated, t.sentIntact + t.lost, s.name);
    assert.equal(rc.lostSamples[s.name] ?? 0, t.lost, `${s.name}: index gaps == ground truth`);
  }
  // The 2 s burst at 200 s takes every frame.
  const burst = gt.lostFrames.filter((f) => f.atUs >= 200e6 && f.atUs < 202e6);
  assert.equal(
    burst.reduce((a, f) => a + (f.sensor === 'accel' ? f.samples : 0), 0),
    2000,
  );
  const lines = groundTruthLines(gt)
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string });
  assert.equal(lines[0]?.type, 'run');
  assert.equal(lines.at(-1)?.type, 'totals');
  assert.equal(lines.filter((l) => l.type === 'frame_lost').length, gt.lostFrames.length);
});

test('disconnects: without reboot seq runs on past the gap; with reboot a new boot starts at seq 0', () => {
  const sc = scenario({
    durationS: 20,
    events: [
      { kind: 'disconnect', at: 3, durationS: 2, reboot: false },
      { kind: 'disconnect', at: 10, durationS: 1, reboot: true },
    ],
  });
  const board = createBoard({ scenario: sc, seed: 3 });
  assert.equal(board.nextLinkChangeUs(), 3e6);
  const before = board.generate(4e6);
  assert.equal(board.linkUp, false);
  assert.equal(board.nextLinkChangeUs(), 5e6);
  const rest = board.generate(20e6);
  const seen = decodeAll(Buffer.concat([before, rest]));
  const rc = receiverCounts(seen.frames);
  const gt = board.groundTruth;
  assert.equal(gt.frames.dropped + gt.frames.corrupted, 0);
  assert.equal(rc.missingFrames, gt.frames.disconnected);
  assert.equal(gt.sensors.accel!.disconnected, 2000);
  assert.equal(rc.lostSamples.accel, 2000);
  assert.equal(rc.hellos.length, 2);
  const [h1, h2] = rc.hellos;
  assert.ok(h1?.type === 'hello' && h2?.type === 'hello');
  assert.notEqual(h1.device.bootId, h2.device.bootId);
  assert.equal(gt.boots.length, 2);
  assert.equal(gt.boots[1]!.atUs, 11e6);
  // After the reboot the device clock restarts and nothing was sampled while the board was off.
  const afterBoot = seen.frames.slice(seen.frames.indexOf(h2));
  const firstAccel = afterBoot.find((f) => f.type === 'samples' && f.sensorId === 0);
  assert.ok(firstAccel?.type === 'samples');
  assert.equal(firstAccel.timestampUs, 0);
  assert.equal(firstAccel.firstIndex, 0);
  assert.equal(gt.sensors.accel!.generated, 19_000);
  assert.equal(board.deviceTimeUs, 9e6);
});

test('a clock jump moves device timestamps but not sample indices; HELLO is answered on request', () => {
  const sc = scenario({
    durationS: 4,
    heartbeatS: 0,
    events: [{ kind: 'clock_jump', at: 2, deltaUs: -1_500_000 }],
  });
  const board = createBoard({ scenario: sc, seed: 1 });
  const a = board.generate(1e6);
  board.requestHello();
  const b = board.generate(4e6);
  const { frames } = decodeAll(Buffer.concat([a, b]));
  assert.equal(frames.filter((f) => f.type === 'hello').length, 2);
  const accel = frames.filter((f) => f.type === 'samples' && f.sensorId === 0);
  const at2 = accel.find((f) => f.type === 'samples' && f.firstIndex === 2000);
  assert.ok(at2?.type === 'samples');
  assert.equal(at2.timestampUs, 500_000);
  assert.equal(board.groundTruth.events[0]?.event.kind, 'clock_jump');
});

test('stateAt reports the true machine state through a ramp', () => {
  const sc = scenario({ events: [{ kind: 'state', at: 10, state: 'imbalance', severity: 0.5, rampS: 10 }] });
  const board = createBoard({ scenario: sc, seed: 1 });
  assert.equal(board.stateAt(5e6).state, 'normal');
  const mid = board.stateAt(15e6);
  assert.equal(mid.state, 'imbalance');
  assert.equal(mid.previous, 'normal');
  assert.ok(Math.abs(mid.progress - 0.5) < 1e-9);
  assert.deepEqual(
    { ...board.stateAt(30e6), load: 0 },
    { state: 'imbalance', severity: 0.5, progress: 1, previous: null, load: 0 },
  );
});
