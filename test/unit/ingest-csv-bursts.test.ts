// CSV boards behind USB CDC (issue #8 §4): lines reach the host in bursts, at whatever moments the host
// reads. With no line lost, the gap and jitter checks must stay quiet at 500 Hz and 1 kHz; a real stall
// must still be a gap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CsvStream } from '../../shared/ingest/csv-stream.ts';
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

function flagged(windows: readonly Window[], check: string): string[] {
  return windows
    .slice(3) // the rate is being measured during the first seconds
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
