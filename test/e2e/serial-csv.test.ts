// CSV line mode end to end: a board printing tab-separated lines the way Edge Impulse's data forwarder
// expects, on a real pty read through the real serialport binding. The agent must detect CSV by itself and
// measure the sample rate from arrival times, not from line counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVirtualSerialPair } from '../../firmware-sim/adapters/pty.ts';
import { openSerial } from '../../firmware-sim/adapters/serial.ts';
import { startAgent } from '../helpers/agent-harness.ts';
import { waitFor } from '../helpers/wait.ts';

test('a data-forwarder style CSV board is detected, rate measured from arrivals, bad lines counted', async (t) => {
  const pair = await createVirtualSerialPair();
  assert.ok(pair.ok, pair.ok ? '' : pair.message);
  t.after(() => pair.value.close());
  const board = await openSerial(pair.value.devicePath);
  assert.ok(board.ok, board.ok ? '' : board.message);
  t.after(() => board.value.close());
  const agent = await startAgent(pair.value.portPath, {
    csvChannels: ['accel.x', 'accel.y', 'accel.z'],
    deviceId: 'csv-board',
  });
  t.after(() => agent.close());
  await waitFor('the serial port to connect', () => agent.reader.stats.connected);

  // 200 Hz for 3.2 s, written in bursts of 10 lines every 50 ms (USB CDC boards deliver lines in bursts).
  const rateHz = 200;
  const start = performance.now();
  let n = 0;
  let badSent = false;
  while (performance.now() - start < 3200) {
    const due = Math.floor(((performance.now() - start) / 1000) * rateHz);
    let chunk = '';
    for (; n < due; n++)
      chunk += `${(Math.sin(n / 5) * 0.1).toFixed(4)}\t${(n % 7) * 0.01}\t${(9.81).toFixed(2)}\r\n`;
    if (n >= 300 && !badSent) {
      chunk += 'oops\t1\r\n';
      badSent = true;
    }
    if (chunk !== '') board.value.port.write(chunk);
    await new Promise((r) => setTimeout(r, 50));
  }
  await waitFor(
    () => `all ${n} lines read (read ${agent.pipeline.stats().csv.lines})`,
    () => agent.pipeline.stats().csv.lines >= n,
  );
  await agent.close();
  const st = agent.pipeline.stats();
  assert.equal(st.mode, 'csv');
  assert.equal(st.csv.badLines, 1, 'the malformed line is counted');
  assert.ok(agent.notices.some((x) => x.kind === 'dropped' && x.code === 'EDGELOOP_ERR_CSV_LINE'));
  assert.ok(
    Math.abs(st.csv.rateHz - rateHz) / rateHz < 0.1,
    `measured ${st.csv.rateHz.toFixed(1)} Hz, sent ${rateHz} Hz`,
  );
  assert.ok(agent.windows.length >= 2, `windows ${agent.windows.length}`);
  const w = agent.windows[1]!;
  assert.equal(w.deviceId, 'csv-board');
  const z = w.channels.find((c) => c.channel === 'accel.z');
  assert.ok(z, 'channels are named from config');
  assert.ok(z.values.length > 150 && z.values.length < 250, `window holds ~200 samples (${z.values.length})`);
  assert.ok(Math.abs(z.values[0]! - 9.81) < 1e-9);
});
