// Windower: multi-rate alignment, overlapping hops, dead sensors, index gaps, clock jumps, bounded memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Windower } from '../../shared/windowing/windower.ts';
import { referenceSensors, type SensorDescriptor } from '../../shared/sensors.ts';
import type { SampleBlock, Window } from '../../shared/samples.ts';
import { CsvStream } from '../../shared/ingest/csv-stream.ts';

interface GenOptions {
  readonly durationS: number;
  readonly blockMs?: number;
  readonly startUs?: number;
  readonly firstIndex?: number;
  /** Skip a sensor entirely (a dead sensor). */
  readonly dead?: readonly string[];
  /** Drop a block (lost frame) when this returns true. */
  readonly drop?: (sensor: string, firstIndex: number) => boolean;
}

/** Blocks as a device emits them: each sensor in blocks of ~blockMs, in order of their last sample time. */
function deviceBlocks(sensors: readonly SensorDescriptor[], o: GenOptions): SampleBlock[] {
  const out: { ready: number; block: SampleBlock }[] = [];
  const start = o.startUs ?? 0;
  for (const s of sensors) {
    if (o.dead?.includes(s.name) === true) continue;
    const period = 1e6 / s.rateHz;
    const per = Math.max(1, Math.round((s.rateHz * (o.blockMs ?? 50)) / 1000));
    const total = Math.floor(o.durationS * s.rateHz);
    for (let i = 0; i < total; i += per) {
      const count = Math.min(per, total - i);
      const firstIndex = (o.firstIndex ?? 0) + i;
      if (o.drop?.(s.name, firstIndex) === true) continue;
      const values = new Float64Array(count * s.axes.length);
      for (let j = 0; j < values.length; j++) values[j] = Math.sin((i + j) * 0.37) * 0.1 + j * 1e-4;
      const ts = start + i * period;
      out.push({
        ready: ts + (count - 1) * period,
        block: { sensor: s, firstIndex, timestampUs: ts, periodUs: period, count, values },
      });
    }
  }
  return out.sort((a, b) => a.ready - b.ready).map((x) => x.block);
}

function run(w: Windower, blocks: readonly SampleBlock[], flush = true): Window[] {
  const out: Window[] = [];
  for (const b of blocks) out.push(...w.push(b));
  if (flush) out.push(...w.flush());
  return out;
}

function counts(win: Window): Record<string, number> {
  return Object.fromEntries(win.channels.map((c) => [c.channel, c.values.length]));
}

const make = (extra: Partial<ConstructorParameters<typeof Windower>[0]> = {}): Windower =>
  new Windower({ deviceId: 'dev-1', bootId: 7, sensors: referenceSensors, ...extra });

test('a 1 s window at the reference rates holds 1000/1000/100/1/10/1 samples per channel', () => {
  const windows = run(make(), deviceBlocks(referenceSensors, { durationS: 10 }), false);
  assert.ok(windows.length >= 8, `got ${windows.length} windows`);
  for (const w of windows) {
    const c = counts(w);
    assert.equal(c['accel.x'], 1000);
    assert.equal(c['gyro.z'], 1000);
    assert.equal(c['mag.y'], 100);
    assert.equal(c.humidity, 1);
    assert.equal(c.pressure, 10);
    assert.equal(c.temperature, 1);
    assert.equal(w.endUs - w.startUs, 1_000_000);
    const accel = w.channels.find((ch) => ch.channel === 'accel.x')!;
    assert.equal(accel.expected, 1000);
    assert.equal(w.channels.find((ch) => ch.channel === 'humidity')!.expected, 1);
    // Every timestamp inside the window.
    for (const ch of w.channels) for (const t of ch.timestampsUs) assert.ok(t >= w.startUs && t < w.endUs);
  }
  assert.deepEqual(
    windows.map((w) => w.index),
    windows.map((_, i) => i),
  );
  assert.equal(windows[0]!.deviceId, 'dev-1');
  assert.equal(windows[0]!.bootId, 7);
});

test('windows close as data arrives, not only at flush', () => {
  const w = make();
  const blocks = deviceBlocks(referenceSensors, { durationS: 5 });
  let closedBeforeFlush = 0;
  for (const b of blocks) closedBeforeFlush += w.push(b).length;
  assert.ok(closedBeforeFlush >= 3, `closed ${closedBeforeFlush} windows before flush`);
  assert.ok(w.openWindows <= 3);
});

test('overlapping windows: hop 250 ms, every accel sample in 4 windows, alignment by device time', () => {
  const windows = run(make({ hopMs: 250 }), deviceBlocks(referenceSensors, { durationS: 6 }), false);
  assert.ok(windows.length >= 16);
  for (let i = 1; i < windows.length; i++)
    assert.equal(windows[i]!.startUs - windows[i - 1]!.startUs, 250_000);
  for (const w of windows) {
    assert.equal(counts(w)['accel.x'], 1000);
    assert.equal(counts(w)['mag.x'], 100);
  }
  // The sample at t = 1.5 s is in the windows starting at 0.75, 1.0, 1.25 and 1.5 s.
  const holding = windows.filter((w) => w.channels[0]!.timestampsUs.includes(1_500_000));
  assert.deepEqual(
    holding.map((w) => w.startUs),
    [750_000, 1_000_000, 1_250_000, 1_500_000],
  );
});

test('a dead sensor does not stall windows, and shows up as a gap', () => {
  const w = make();
  const blocks = deviceBlocks(referenceSensors, { durationS: 8, dead: ['humidity'] });
  let closed = 0;
  const windows: Window[] = [];
  for (const b of blocks) {
    const got = w.push(b);
    closed += got.length;
    windows.push(...got);
  }
  assert.ok(closed >= 5, `only ${closed} windows closed with humidity dead`);
  for (const win of windows) {
    assert.equal(counts(win).humidity, 0);
    assert.equal(win.integrity.channels.humidity, 'fail');
    assert.ok(win.integrity.flags.some((f) => f.channel === 'humidity' && f.check === 'gap'));
    assert.equal(win.integrity.channels['accel.x'], 'good');
  }
});

test('sample index gaps are counted as missing in the windows they fall in', () => {
  // Accel blocks of 50 samples; drop the block at index 950..999 (straddles nothing) and 1975..2024? Use
  // 25-sample blocks to straddle the 2 s boundary: indices 1975..1999 and 2000..2024 are both dropped.
  const blocks = deviceBlocks(referenceSensors, {
    durationS: 5,
    blockMs: 25,
    drop: (s, i) => s === 'accel' && (i === 950 || i === 1975 || i === 2000),
  });
  const w = make();
  const windows = run(w, blocks, false);
  const missing = windows.map((win) => win.channels.find((c) => c.channel === 'accel.y')!.missing);
  assert.deepEqual(missing.slice(0, 4), [25, 25, 25, 0]);
  assert.deepEqual(
    windows.slice(0, 3).map((win) => counts(win)['accel.y']),
    [975, 975, 975],
  );
  assert.equal(w.stats().missingSamples, 75);
  const flag = windows[0]!.integrity.flags.find((f) => f.channel === 'accel.x' && f.check === 'gap');
  assert.ok(flag !== undefined && flag.status === 'suspect', JSON.stringify(windows[0]!.integrity.flags));
  assert.match(flag.reason, /25 of 1000 expected samples missing/);
  assert.equal(windows[0]!.integrity.channels['gyro.x'], 'good');
});

test('a timestamp going backwards flushes open windows, flags them and restarts alignment', () => {
  const w = make();
  const before = deviceBlocks(referenceSensors, { durationS: 3.5 });
  const after = deviceBlocks(referenceSensors, { durationS: 3, startUs: 100_000, firstIndex: 100_000 });
  const windows = run(w, [...before, ...after]);
  const restartAt = windows.findIndex((win, i) => i > 0 && win.index === 0);
  assert.ok(restartAt > 0, 'window index restarts at 0');
  const flagged = windows.filter((win) => win.integrity.flags.some((f) => f.check === 'timestamp'));
  assert.ok(flagged.length >= 2);
  // The first block on the new time base is humidity's (1 sample, ready first): its last was at 2 s. The
  // windows flushed by the restart carry its event.
  for (const win of flagged.filter((x) => windows.indexOf(x) < restartAt)) {
    const f = win.integrity.flags.find((x) => x.check === 'timestamp')!;
    assert.equal(f.status, 'fail');
    assert.match(f.reason, /backwards by 1\.9 s at sample 100000/);
  }
  // The board has one clock: every other sensor went back too, judged by its own first block after the
  // restart and reported with the new time base's first window.
  const first = windows[restartAt]!.integrity.flags.filter((f) => f.check === 'timestamp');
  assert.ok(first.every((f) => f.status === 'fail' && /backwards by/.test(f.reason)));
  assert.deepEqual(
    [...new Set(first.map((f) => f.channel.split('.')[0]))].sort(),
    referenceSensors
      .map((s) => s.name)
      .filter((n) => n !== 'humidity')
      .sort(),
  );
  assert.ok(flagged.every((win) => windows.indexOf(win) <= restartAt));
  assert.ok(windows.slice(restartAt).every((win) => win.startUs >= 100_000));
  assert.equal(w.stats().restarts, 1);
  // Nothing is mixed: every window's timestamps are inside it.
  for (const win of windows)
    for (const ch of win.channels)
      for (const t of ch.timestampsUs) assert.ok(t >= win.startUs && t < win.endUs);
  // After the restart, windows are full again.
  assert.equal(counts(windows[restartAt]!)['accel.x'], 1000);
});

test('a forward clock jump is flagged and restarts alignment', () => {
  const w = make();
  const before = deviceBlocks(referenceSensors, { durationS: 3 });
  // Indices continue (no loss) but device time jumps 60 s.
  const after = deviceBlocks(referenceSensors, { durationS: 3, startUs: 63_000_000, firstIndex: 0 }).map(
    (b) => ({
      ...b,
      firstIndex: b.firstIndex + Math.round(3 * b.sensor.rateHz),
    }),
  );
  const windows = run(w, [...before, ...after]);
  const jumpFlags = windows.flatMap((win) => win.integrity.flags.filter((f) => f.check === 'timestamp'));
  assert.ok(jumpFlags.length > 0);
  assert.ok(
    jumpFlags.every((f) => f.status === 'suspect' && /jumped 60 s ahead/.test(f.reason)),
    jumpFlags[0]?.reason,
  );
  assert.equal(w.stats().restarts, 1);
  assert.ok(
    !windows.some((win) => win.startUs > 4_000_000 && win.startUs < 63_000_000),
    'no empty windows across the jump',
  );
});

test('memory is bounded: open windows capped, late and oversized input counted', () => {
  const w = make({ maxOpenWindows: 3, maxLagMs: 10_000 });
  let maxOpen = 0;
  const windows: Window[] = [];
  for (const b of deviceBlocks(referenceSensors, { durationS: 20, dead: ['humidity'] })) {
    windows.push(...w.push(b));
    maxOpen = Math.max(maxOpen, w.openWindows);
  }
  assert.ok(maxOpen <= 3);
  assert.ok(w.stats().forcedCloses > 0, 'a 10 s lag with 3 open windows forces closes');
  assert.ok(windows.length >= 15);

  // A late block (older than every open window) is dropped and counted.
  const late: SampleBlock = {
    ...deviceBlocks(referenceSensors, { durationS: 0.05 })[0]!,
    firstIndex: 19_999_000,
  };
  const before = w.stats().lateSamples;
  w.push({ ...late, timestampUs: 1_000 });
  assert.ok(w.stats().lateSamples > before || w.stats().restarts > 0);

  // A sensor sending 10x its declared rate cannot grow a window past the cap.
  const fast = new Windower({
    deviceId: 'd',
    bootId: 1,
    sensors: referenceSensors,
    maxSamplesPerWindow: 1500,
  });
  const accel = referenceSensors[0]!;
  const values = new Float64Array(10_000 * 3);
  fast.push({ sensor: accel, firstIndex: 0, timestampUs: 0, periodUs: 100, count: 10_000, values });
  const out = fast.flush();
  assert.equal(out[0]!.channels[0]!.values.length, 1500);
  assert.equal(fast.stats().overflowSamples, 8500);
});

test('bad options are config errors; unknown sensors are counted, not crashes', () => {
  assert.throws(() => make({ hopMs: 2000 }), /hopMs/);
  assert.throws(() => make({ windowMs: 0 }), /windowMs/);
  assert.throws(
    () => make({ integrity: { spike: { suspectSpred: 3 } as never } }),
    /did you mean integrity\.spike\.suspectSpread/,
  );
  const w = make();
  const ghost = { ...referenceSensors[0]!, id: 99 };
  assert.deepEqual(
    w.push({
      sensor: ghost,
      firstIndex: 0,
      timestampUs: 0,
      periodUs: 1000,
      count: 1,
      values: new Float64Array(3),
    }),
    [],
  );
  assert.equal(w.stats().rejectedBlocks, 1);
});

test('flush returns partial windows without inventing a gap at the end of the data', () => {
  const w = make();
  const windows = run(w, deviceBlocks(referenceSensors, { durationS: 2.5 }));
  const last = windows.at(-1)!;
  assert.equal(counts(last)['accel.x'], 500);
  assert.equal(last.channels[0]!.expected, 500);
  assert.ok(!last.integrity.flags.some((f) => f.check === 'gap'), JSON.stringify(last.integrity.flags));
  assert.equal(w.openWindows, 0);
});

test('a short pause in device time (below clockJumpMs) is a gap, not a restart', () => {
  const w = make();
  const before = deviceBlocks(referenceSensors, { durationS: 3 });
  const after = deviceBlocks(referenceSensors, { durationS: 3, startUs: 3_500_000 }).map((b) => ({
    ...b,
    firstIndex: b.firstIndex + Math.round(3 * b.sensor.rateHz),
  }));
  const windows = run(w, [...before, ...after]);
  assert.equal(w.stats().restarts, 0);
  assert.ok(
    windows.some((win) => win.integrity.flags.some((f) => f.check === 'gap' && f.channel === 'accel.x')),
  );
  assert.ok(!windows.some((win) => win.integrity.flags.some((f) => f.check === 'timestamp')));
});

test('CSV mode: measured rate, timestamps reconstructed from arrivals, windows still aligned', () => {
  const csv = new CsvStream({ deviceId: 'csv', channels: ['accel.x', 'accel.y', 'accel.z'] });
  const w = new Windower({ deviceId: 'csv', bootId: 0, sensors: csv.device.sensors });
  const windows: Window[] = [];
  // A board printing at 100 Hz; lines reach the host in pairs (USB packets).
  for (let i = 0; i < 1000; i++) {
    const arrivalUs = 5_000_000 + Math.floor(i / 2) * 20_000 + 137;
    csv.push(
      `${Math.sin(i / 7).toFixed(4)},${Math.cos(i / 5).toFixed(4)},${(1 + Math.sin(i * 1.3) * 0.01).toFixed(4)}`,
      arrivalUs,
      (e) => {
        if (e.kind === 'block') windows.push(...w.push(e.block));
      },
    );
  }
  windows.push(...w.flush());
  assert.ok(windows.length >= 9);
  const mid = windows[4]!;
  const x = mid.channels.find((c) => c.channel === 'accel.x')!;
  assert.ok(Math.abs(x.rateHz - 100) < 1, `rate ${x.rateHz}`);
  assert.equal(x.values.length, 100);
  assert.ok(Math.abs(x.expected - 100) < 1);
  // Bunched arrivals are transport, not the board: neither jitter nor lost samples.
  assert.ok(
    !mid.integrity.flags.some((f) => f.check === 'jitter' || f.check === 'gap'),
    JSON.stringify(mid.integrity.flags),
  );
  assert.equal(w.stats().restarts, 0);
  // The first window opens before the rate is known and still gets its lines (none late).
  assert.equal(w.stats().lateSamples, 0);
  // (While the rate is being measured, times are arrival times, so the first window may hold a line more.)
  const first = windows[0]!.channels[0]!.values.length;
  assert.ok(Math.abs(first - 100) <= 2, `first window ${first}`);
});

test('after a restart, a straggler block on the old time base is dropped, not a second restart', () => {
  const w = make();
  const before = deviceBlocks(referenceSensors, { durationS: 3 });
  const after = deviceBlocks(referenceSensors, { durationS: 3, startUs: 60_000_000, firstIndex: 0 });
  // The mag sampled one more block before the clock jump; it reaches the host after the jump.
  const mag = referenceSensors[2]!;
  const straggler: SampleBlock = {
    sensor: mag,
    firstIndex: 300,
    timestampUs: 3_000_000,
    periodUs: 10_000,
    count: 5,
    values: new Float64Array(15),
  };
  const [firstAfter, ...restAfter] = after;
  run(w, [...before, firstAfter!, straggler, ...restAfter]);
  assert.equal(w.stats().restarts, 1);
  assert.equal(w.stats().staleSamples, 5);
});

test('an index gap longer than maxGapMs restarts alignment instead of emitting empty windows', () => {
  const w = make({ maxGapMs: 60_000 });
  const before = deviceBlocks(referenceSensors, { durationS: 3 });
  // 20 minutes of lost frames: indices and timestamps agree, so this is loss, not a clock jump.
  const after = deviceBlocks(referenceSensors, { durationS: 3, startUs: 1_203_000_000 }).map((b) => ({
    ...b,
    firstIndex: b.firstIndex + Math.round(1203 * b.sensor.rateHz),
  }));
  const windows = run(w, [...before, ...after]);
  assert.ok(windows.length < 10, `${windows.length} windows`);
  assert.equal(w.stats().longGapRestarts, 1);
  assert.equal(w.stats().restarts, 1);
  assert.ok(w.stats().missingSamples >= 1200 * 1000);
});

test('a repeated frame is dropped as a duplicate, not read as time going backwards', () => {
  const w = make();
  const blocks = deviceBlocks(referenceSensors, { durationS: 3 });
  const accelBlocks = blocks.filter((b) => b.sensor.name === 'accel');
  const repeat = accelBlocks[10]!;
  // Resend block 10 after block 11 (a retransmission), and a block overlapping 12 by half.
  const b12 = accelBlocks[12]!;
  const overlap: SampleBlock = {
    ...b12,
    firstIndex: b12.firstIndex + 25,
    timestampUs: b12.timestampUs + 25_000,
    values: new Float64Array(50 * 3),
  };
  const stream: SampleBlock[] = [];
  for (const b of blocks) {
    stream.push(b);
    if (b === accelBlocks[11]) stream.push(repeat);
    if (b === b12) stream.push(overlap);
  }
  const windows = run(w, stream);
  assert.equal(w.stats().restarts, 0);
  // 50 (the resent block) + 25 (overlap with block 12) + 25 (block 13 then repeats the overlap's new half).
  assert.equal(w.stats().duplicateSamples, 100);
  assert.equal(counts(windows[0]!)['accel.x'], 1000);
  assert.equal(counts(windows[1]!)['accel.x'], 1000);
});

test('loss is not jitter: one lost sample on a 1 Hz sensor is a gap in one window, never a jitter flag', () => {
  const blocks = deviceBlocks(referenceSensors, {
    durationS: 120,
    drop: (s, i) => s === 'humidity' && i === 30,
  });
  const windows = run(make(), blocks, false);
  assert.ok(windows.length >= 110);
  const jitter = windows.filter((win) =>
    win.integrity.flags.some((f) => f.channel === 'humidity' && f.check === 'jitter'),
  );
  assert.deepEqual(
    jitter.map((win) => win.index),
    [],
    JSON.stringify(jitter[0]?.integrity.flags.filter((f) => f.check === 'jitter')),
  );
  const gaps = windows.filter((win) =>
    win.integrity.flags.some((f) => f.channel === 'humidity' && f.check === 'gap'),
  );
  assert.ok(gaps.length >= 1, 'the lost sample is still reported, as a gap');
});
