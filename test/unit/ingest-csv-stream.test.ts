import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CsvStream, csvSensors, type CsvEvent } from '../../shared/ingest/csv-stream.ts';

test('column names with a shared prefix form one multi-axis sensor', () => {
  const s = csvSensors(['accel.x', 'accel.y', 'accel.z', 'temperature']);
  assert.deepEqual(
    s.map((x) => [x.name, x.axes]),
    [
      ['accel', ['x', 'y', 'z']],
      ['temperature', ['value']],
    ],
  );
});

test('the rate is measured from arrival times, even when lines arrive in bursts', () => {
  const csv = new CsvStream({ deviceId: 'b', channels: ['accel.x', 'accel.y', 'accel.z'] });
  const events: CsvEvent[] = [];
  // 100 Hz board whose USB link delivers 10 lines at once every 100 ms (what CDC boards do).
  for (let burst = 0; burst < 30; burst++) {
    for (let i = 0; i < 10; i++)
      csv.push(`${i},0.5,-1\n`.trimEnd(), burst * 100_000 + i * 50, (e) => events.push(e));
  }
  csv.endBurst((e) => events.push(e)); // the last burst is emitted when it ends
  assert.ok(Math.abs(csv.measuredRateHz - 100) < 6, `measured ${csv.measuredRateHz}`);
  const blocks = events.flatMap((e) => (e.kind === 'block' ? [e.block] : []));
  assert.equal(blocks.length, 300);
  // Sample times are reconstructed at the measured rate, not the burst's single arrival time.
  const late = blocks.slice(-20).map((b) => b.timestampUs);
  for (let i = 1; i < late.length; i++) {
    const dt = late[i]! - late[i - 1]!;
    assert.ok(Math.abs(dt - 10_000) < 4000, `interval ${dt} µs`);
  }
});

test('bad lines are dropped with a code, comments are skipped', () => {
  const csv = new CsvStream({ deviceId: 'b', channels: ['a', 'b'] });
  const events: CsvEvent[] = [];
  csv.push('# header', 0, (e) => events.push(e));
  csv.push('1,2', 1000, (e) => events.push(e));
  csv.push('1,x', 2000, (e) => events.push(e));
  csv.push('1,2,3', 3000, (e) => events.push(e));
  assert.equal(csv.counters.comments, 1);
  assert.equal(csv.counters.badLines, 2);
  assert.equal(events.filter((e) => e.kind === 'dropped' && e.code === 'EDGELOOP_ERR_CSV_LINE').length, 2);
});
