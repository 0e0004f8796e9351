// Issue #8 §4: `edgeloop agent --serial <pty>` must exit on SIGTERM and SIGINT while the other end of the
// pty is still open. Before the fix it logged "stopping" and its summary, then stayed alive for a minute:
// destroying the serialport stream left the descriptor open and its poller running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createVirtualSerialPair } from '../../firmware-sim/adapters/pty.ts';
import { openSerial } from '../../firmware-sim/adapters/serial.ts';

const bin = fileURLToPath(new URL('../../bin/edgeloop.js', import.meta.url));

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`print-mode agent on a pty whose other end stays open exits on ${signal}`, async (t) => {
    const pair = await createVirtualSerialPair();
    assert.ok(pair.ok, pair.ok ? '' : pair.message);
    t.after(() => pair.value.close());
    // The board's end stays open for the whole test, as a real board's would.
    const board = await openSerial(pair.value.devicePath);
    assert.ok(board.ok, board.ok ? '' : board.message);
    t.after(() => board.value.close());

    const child = spawn(process.execPath, [bin, 'agent', '--serial', pair.value.portPath], {
      env: { ...process.env, EDGELOOP_FROM_SOURCE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => {
        resolve(code);
      }),
    );

    // Wait for the port to be open (a condition, not a sleep).
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (/serial port open/.test(stderr)) resolve();
      };
      child.stderr.on('data', check);
      void exited.then(() => {
        reject(new Error(`agent exited before opening the port: ${stderr}`));
      });
      // Bounded: a changed log line must fail this test by name, not hang it until the runner's timeout.
      setTimeout(() => {
        reject(new Error(`no "serial port open" line within 30 s; stderr:\n${stderr}`));
      }, 30_000).unref();
      check();
    });
    child.kill(signal);
    // Generous bound: the point is that it exits at all; the requirement (2 s) is not timed here.
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(() => {
        resolve('timeout');
      }, 10_000).unref(),
    );
    const outcome = await Promise.race([exited, timeout]);
    assert.notEqual(outcome, 'timeout', `agent still running 10 s after ${signal}; stderr:\n${stderr}`);
    assert.match(stderr, /stopping/);
  });
}
