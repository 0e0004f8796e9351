// CSV boards behind USB CDC (issue #8 §4): lines reach the host in bursts, at whatever moments the host
// reads. With no line lost, the gap and jitter checks must stay quiet at 500 Hz and 1 kHz; a real stall
// must still be a gap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CsvStream, type CsvEvent } from '../../shared/ingest/csv-stream.ts';
import { uniform } from '../../shared/random.ts';
import type { Window } from '../../shared/samples.ts';
import { Windower } from '../../shared/windowing/windower.ts';

/**
 * A board printing `rateHz` lines per second for `durationS`; the host reads at random moments 1..maxReadMs
 * apart (USB packets, a busy event loop) and gets every line sampled before the read. `lost` lines (by
 * number) never arrive. Returns the windows.
 */
function burstyRun(
  rateHz: number,
  durationS: number,
  seed: number,
  maxReadMs: number,
  lost = new Set<number>(),
) {
  const csv = new CsvStream({ deviceId: 'csv', channels: ['accel.x', 'accel.y', 'accel.z'] });
  const w = new Windower({ deviceId: 'csv', bootId: 0, sensors: csv.device.sensors });
  const windows: Window[] = [];
  const rnd = uniform(seed, 'reads');
  const periodUs = 1e6 / rateHz;
  const total = Math.floor(durationS * rateHz);
  let next = 0;
  let readUs = 3_000_000;
  while (next < total) {
    readUs += 1000 + rnd() * (maxReadMs - 1) * 1000;
    for (; next < total && 3_000_000 + next * periodUs <= readUs - 200; next++) {
      if (lost.has(next)) continue;
      const v = Math.sin(next / 9) * 0.2;
      csv.push(`${v.toFixed(4)},${(v * 0.5).toFixed(4)},${(1 + v * 0.01).toFixed(4)}`, readUs, (e) => {
        if (e.kind === 'block') windows.push(...w.push(e.block));
      });
    }
  }
  return windows;
}

/**
 * The reviewer's board (issue #8 §4): `rateHz` lines a second, delivered `burst` lines at a time, every
 * burst * period (an FTDI latency timer, or a board that prints in bursts). `jitterMs` of read delay and
 * `splitShare` of bursts split over two reads, as a busy host sees them.
 */
function fixedBurstRun(rateHz: number, burst: number, durationS: number, jitterMs = 0, splitShare = 0) {
  const csv = new CsvStream({ deviceId: 'csv', channels: ['accel.x', 'accel.y', 'accel.z'] });
  const w = new Windower({ deviceId: 'csv', bootId: 0, sensors: csv.device.sensors });
  const windows: Window[] = [];
  const rnd = uniform(rateHz + burst, 'fixed');
  const periodUs = 1e6 / rateHz;
  const total = Math.floor(durationS * rateHz);
  const emit = (e: CsvEvent): void => {
    if (e.kind === 'block') windows.push(...w.push(e.block));
  };
  for (let first = 0; first < total; first += burst) {
    const end = Math.min(total, first + burst);
    let arrivalUs = 5_000_000 + end * periodUs + rnd() * jitterMs * 1000;
    const split = rnd() < splitShare ? first + (burst >> 1) : end;
    for (let n = first; n < end; n++) {
      if (n === split) {
        csv.endBurst(emit);
        arrivalUs += 300 + rnd() * 1000;
      }
      csv.push(`0.1,0.2,${((n % 13) / 10).toFixed(1)}`, arrivalUs, emit);
    }
    csv.endBurst(emit);
  }
  csv.finish(emit);
  windows.push(...w.flush());
  return { windows, csv };
}

function flagged(windows: readonly Window[], check: string): string[] {
  return windows
    .slice(0, -1) // the last window is cut short by the end of the run
    .flatMap((win) => win.integrity.flags.filter((f) => f.check === check))
    .map((f) => `${f.channel} ${f.status}: ${f.reason}`);
}

for (const rateHz of [500, 1000]) {
  test(`CSV at ${rateHz} Hz in USB-style bursts, no line lost: no gap and no jitter flag`, () => {
    const windows = burstyRun(rateHz, 40, rateHz, 25);
    assert.ok(windows.length >= 35, `windows ${windows.length}`);
    assert.deepEqual(flagged(windows, 'gap'), []);
    assert.deepEqual(flagged(windows, 'jitter'), []);
  });
}

test('CSV in bursts: a 200 ms stall of lost lines is still a gap', () => {
  const lost = new Set(Array.from({ length: 200 }, (_, i) => 20_000 + i));
  const windows = burstyRun(1000, 40, 7, 25, lost);
  assert.ok(flagged(windows, 'gap').length >= 1, 'the stall is reported as a gap');
});

for (const [rateHz, burst] of [
  [500, 8],
  [1000, 16],
] as const) {
  for (const [jitterMs, splitShare] of [
    [0, 0],
    [6, 0.3],
  ] as const) {
    test(`CSV at ${rateHz} Hz in ${burst}-line bursts (read jitter ${jitterMs} ms, ${splitShare * 100}% split reads): no flag from window 0`, () => {
      const { windows, csv } = fixedBurstRun(rateHz, burst, 30, jitterMs, splitShare);
      assert.ok(windows.length >= 29, `windows ${windows.length}`);
      assert.deepEqual(flagged(windows, 'gap'), []);
      assert.deepEqual(flagged(windows, 'jitter'), []);
      assert.ok(Math.abs(csv.measuredRateHz - rateHz) / rateHz < 1e-4, `rate ${csv.measuredRateHz}`);
      // Every line is in some window, and window 0 holds a full second of them.
      const x = windows.map((win) => win.channels.find((c) => c.channel === 'accel.x')?.values.length ?? 0);
      assert.equal(
        x.reduce((a, b) => a + b, 0),
        30 * rateHz,
      );
      assert.ok(Math.abs((x[0] as number) - rateHz) <= 1, `window 0 holds ${x[0]}`);
    });
  }
}

test('CSV shorter than the rate span: lines still come out at the end, on arrival times', () => {
  const { windows, csv } = fixedBurstRun(100, 10, 1);
  assert.equal(csv.measuredRateHz, 0);
  const n = windows.reduce((a, win) => a + (win.channels[0]?.values.length ?? 0), 0);
  assert.equal(n, 100);
});
