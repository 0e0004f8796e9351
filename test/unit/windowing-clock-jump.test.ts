// The board has one clock (issue #8 review): the sensor-faults clock jump (-2 s at 450 s) was flagged on
// mag.x/y/z only. The windower restarts alignment on the first sensor whose block shows the jump and forgot
// the others' last timestamps, so accel and gyro, arriving after the restart, were never judged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { referenceSensors, type SensorDescriptor } from '../../shared/sensors.ts';
import type { Window } from '../../shared/samples.ts';
import { Windower } from '../../shared/windowing/windower.ts';

/** 10 ms board ticks; each sensor sends its samples due in the tick, in `order`; the clock jumps at 5 s. */
function run(order: readonly SensorDescriptor[], jumpUs: number): { windows: Window[]; restarts: number } {
  const w = new Windower({ deviceId: 'd', bootId: 1, sensors: referenceSensors });
  const windows: Window[] = [];
  const index = new Map(order.map((s) => [s.id, 0]));
  const due = new Map(order.map((s) => [s.id, 0]));
  for (let tUs = 0; tUs < 12e6; tUs += 10_000) {
    const offset = tUs >= 5e6 ? jumpUs : 0;
    for (const s of order) {
      const p = 1e6 / s.rateHz;
      const first = due.get(s.id)!;
      let n = 0;
      while (first + n * p < tUs + 10_000) n++;
      if (n === 0) continue;
      due.set(s.id, first + n * p);
      const fi = index.get(s.id)!;
      index.set(s.id, fi + n);
      const values = Float64Array.from({ length: n * s.axes.length }, (_, i) => Math.sin(fi + i));
      windows.push(
        ...w.push({ sensor: s, firstIndex: fi, timestampUs: first + offset, periodUs: p, count: n, values }),
      );
    }
  }
  windows.push(...w.flush());
  return { windows, restarts: w.stats().restarts };
}

function flaggedSensors(windows: readonly Window[]): string[] {
  const names = new Set(
    windows.flatMap((win) =>
      win.integrity.flags.filter((f) => f.check === 'timestamp').map((f) => f.channel.split('.')[0]!),
    ),
  );
  return [...names].sort();
}

const all = referenceSensors.map((s) => s.name).sort();

for (const [label, order] of [
  ['accel first', referenceSensors],
  ['mag first', [referenceSensors[2]!, ...referenceSensors.filter((s) => s.id !== 2)]],
] as const) {
  test(`a board clock jump back is flagged on every sensor (${label}), with one restart`, () => {
    const { windows, restarts } = run(order, -2e6);
    assert.deepEqual(flaggedSensors(windows), all);
    assert.equal(restarts, 1);
    const accel = windows
      .flatMap((win) => win.integrity.flags)
      .find((f) => f.check === 'timestamp' && f.channel === 'accel.x');
    assert.match(accel!.reason, /went backwards by 1\.999 s at sample 5000/);
  });
}

test('a board clock jump forward is flagged on every fast sensor as a jump', () => {
  const { windows } = run(referenceSensors, 5e6);
  const jumped = new Set(
    windows
      .flatMap((win) => win.integrity.flags)
      .filter((f) => f.check === 'timestamp' && /jumped/.test(f.reason))
      .map((f) => f.channel.split('.')[0]),
  );
  for (const s of ['accel', 'gyro', 'mag', 'pressure']) assert.ok(jumped.has(s), `${s} flagged`);
});

test('no clock jump: no timestamp flag and no restart', () => {
  const { windows, restarts } = run(referenceSensors, 0);
  assert.deepEqual(flaggedSensors(windows), []);
  assert.equal(restarts, 0);
});
