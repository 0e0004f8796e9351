// Issue #8 §4: `edgeloop agent --serial <missing path>` in print mode logged one retry and then exited with
// code 13 (an unsettled top-level await): the retry timer is unref'd and nothing else held the event loop.
// Unplugging the board mid-stream did the same. Print mode must keep retrying like the full agent, and still
// stop cleanly on SIGTERM and SIGINT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ptyOutput } from '../../firmware-sim/adapters/pty.ts';
import { waitFor } from '../helpers/wait.ts';

const bin = fileURLToPath(new URL('../../bin/edgeloop.js', import.meta.url));

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`print mode keeps retrying a missing serial port, and ${signal} ends it with status 0`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeloop-print-retry-'));
    t.after(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const child = spawn(process.execPath, [bin, 'agent', '--serial', join(dir, 'ttyNOPE')], {
      env: { ...process.env, EDGELOOP_FROM_SOURCE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let exit: [number | null, string | null] | undefined;
    child.once('exit', (c, s) => (exit = [c, s]));

    const retries = (): number => stderr.match(/serial port open failed; retrying/g)?.length ?? 0;
    await waitFor(
      () => `three open retries (have ${retries()}, exit ${String(exit)}):\n${stderr}`,
      () => {
        if (exit !== undefined) throw new Error(`agent exited ${String(exit)} while retrying:\n${stderr}`);
        return retries() >= 3;
      },
      { timeoutMs: 30_000 },
    );
    assert.match(stderr, /code=EDGELOOP_ERR_SERIAL_OPEN/);
    child.kill(signal);
    await waitFor(
      () => `exit after ${signal}:\n${stderr}`,
      () => exit !== undefined,
      { timeoutMs: 10_000 },
    );
    assert.deepEqual(exit, [0, null], stderr);
    assert.match(stderr, /summary windows=0/);
  });
}

test('print mode survives an unplugged board: it keeps retrying until the board is back or a signal', async (t) => {
  const pty = await ptyOutput();
  assert.ok(pty.ok, pty.ok ? '' : pty.message);
  const out = pty.value;
  t.after(() => out.close());
  const child = spawn(process.execPath, [bin, 'agent', '--serial', out.target], {
    env: { ...process.env, EDGELOOP_FROM_SOURCE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stdout.resume();
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let exit: [number | null, string | null] | undefined;
  child.once('exit', (c, s) => (exit = [c, s]));
  const alive = (): void => {
    if (exit !== undefined) throw new Error(`agent exited ${String(exit)}:\n${stderr}`);
  };
  await waitFor(
    () => `the port to open:\n${stderr}`,
    () => {
      alive();
      return /serial port open path=/.test(stderr);
    },
    { timeoutMs: 30_000 },
  );
  assert.ok(out.unplug !== undefined, 'a pty can be unplugged');
  await out.unplug();
  const retries = (): number => stderr.match(/serial port open failed; retrying/g)?.length ?? 0;
  await waitFor(
    () => `the unplug and two open retries (have ${retries()}):\n${stderr}`,
    () => {
      alive();
      return /serial port lost; reconnecting/.test(stderr) && retries() >= 2;
    },
    { timeoutMs: 30_000 },
  );
  child.kill('SIGTERM');
  await waitFor(
    () => `exit after SIGTERM:\n${stderr}`,
    () => exit !== undefined,
    { timeoutMs: 10_000 },
  );
  assert.deepEqual(exit, [0, null], stderr);
});
