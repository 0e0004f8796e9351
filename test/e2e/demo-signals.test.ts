// Issue 11 §1: Ctrl-C stops `edgeloop demo` cleanly, the real CLI as a child process. Interrupted while it
// trains the baseline: exit 130 and no cache entry (the next run trains again rather than use half a
// model). Interrupted while the boards and agents run: exit 130, and no process that names the data
// directory (agents, socat guards) is left; the temporary data directory of the first run is gone.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { processesNaming } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

const bin = fileURLToPath(new URL('../../bin/edgeloop.js', import.meta.url));

function start(
  args: string[],
  cache: string,
): { child: ChildProcess; out: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [bin, 'demo', ...args], {
    env: { ...process.env, XDG_CACHE_HOME: cache, EDGELOOP_FROM_SOURCE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return { child, out: () => out, exit: new Promise((resolve) => child.once('exit', resolve)) };
}

test(
  'edgeloop demo: Ctrl-C while training and while the devices run exits 130 and leaves nothing behind',
  { timeout: 300_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeloop-demo-sig-'));
    t.after(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const cache = join(dir, 'cache');

    const training = start([], cache);
    await waitFor('the training started', () => /^training the baseline model/m.test(training.out()), {
      timeoutMs: 60_000,
    });
    const tempDir = /^data directory (\S+)/m.exec(training.out())?.[1] ?? '';
    training.child.kill('SIGINT');
    assert.equal(await training.exit, 130, training.out());
    assert.ok(!existsSync(tempDir), `${tempDir} removed`);
    // The signing key may be made before training starts; a baseline may not be left half made.
    const entries = existsSync(join(cache, 'edgeloop')) ? readdirSync(join(cache, 'edgeloop')) : [];
    assert.deepEqual(
      entries.filter((e) => e !== 'demo-signing'),
      [],
      'no baseline cache entry from an interrupted training',
    );

    const dataDir = join(dir, 'data');
    const running = start(['--data-dir', dataDir], cache);
    await waitFor('the devices started', () => /boards on virtual serial ports/.test(running.out()), {
      timeoutMs: 180_000,
      intervalMs: 500,
    });
    await waitFor('the agent processes', () => processesNaming(dataDir).some((p) => p.includes(' agent ')), {
      timeoutMs: 20_000,
    });
    running.child.kill('SIGINT');
    assert.equal(await running.exit, 130, running.out());
    assert.deepEqual(processesNaming(dataDir), []);
    // --data-dir is kept, with the logs a user would read.
    assert.ok(existsSync(join(dataDir, 'collector.log')));
    assert.ok(existsSync(join(dataDir, 'agent-pump-1.log')));
  },
);
