// `edgeloop agent` in print mode on a CSV board (issue #8 review): --max-windows n prints exactly n windows,
// and the shutdown summary counts lines (it said frames=0 after 25,000 lines).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createVirtualSerialPair } from '../../firmware-sim/adapters/pty.ts';
import { openSerial } from '../../firmware-sim/adapters/serial.ts';
import { waitFor } from '../helpers/wait.ts';

const bin = fileURLToPath(new URL('../../bin/edgeloop.js', import.meta.url));

test('CSV print mode: --max-windows 2 prints 2 windows; the summary says lines=, not frames=0', async (t) => {
  const pair = await createVirtualSerialPair();
  assert.ok(pair.ok, pair.ok ? '' : pair.message);
  t.after(() => pair.value.close());
  const board = await openSerial(pair.value.devicePath);
  assert.ok(board.ok, board.ok ? '' : board.message);
  t.after(() => board.value.close());
  const child = spawn(
    process.execPath,
    [
      bin,
      'agent',
      '--serial',
      pair.value.portPath,
      '--mode',
      'csv',
      '--csv-channels',
      'accel.x,accel.y,accel.z',
      '--json',
      '--max-windows',
      '2',
    ],
    { env: { ...process.env, EDGELOOP_FROM_SOURCE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let exit: number | null | undefined;
  child.once('exit', (c) => (exit = c));
  await waitFor(
    () => `the port to open:\n${stderr}`,
    () => /serial port open path=/.test(stderr),
    {
      timeoutMs: 30_000,
    },
  );
  // 100 Hz in 10-line bursts until the agent has its windows and stops.
  let n = 0;
  const timer = setInterval(() => {
    let chunk = '';
    for (let i = 0; i < 10; i++, n++) chunk += `${(Math.sin(n / 5) * 0.1).toFixed(4)},0.01,9.81\n`;
    board.value.port.write(chunk);
  }, 100);
  t.after(() => {
    clearInterval(timer);
  });
  await waitFor(
    () => `the agent to stop after 2 windows:\n${stderr}`,
    () => exit !== undefined,
    {
      timeoutMs: 60_000,
    },
  );
  clearInterval(timer);
  assert.equal(exit, 0, stderr);
  const printed = stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '');
  assert.equal(printed.length, 2, stdout);
  const summaryLine = stderr.split('\n').find((l) => /summary/.test(l)) ?? '';
  assert.match(summaryLine, /windows=2/);
  assert.match(summaryLine, /lines=[1-9]\d*/);
  assert.doesNotMatch(summaryLine, /frames=/);
});
