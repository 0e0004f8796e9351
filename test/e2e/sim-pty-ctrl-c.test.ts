// Ctrl-C on `edgeloop sim --out pty` with no agent reading: the terminal sends SIGINT to the whole foreground
// process group, socat included. The run must still stop as "interrupted" and write its ground truth, as
// docs/firmware-sim.md promises; before, socat died first, the pending write failed with EBADF and the
// command ended with EDGELOOP_ERR_INTERNAL and no ground truth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/wait.ts';

const bin = fileURLToPath(new URL('../../bin/edgeloop.js', import.meta.url));

test('Ctrl-C to the process group of sim --out pty stops the run and writes the ground truth', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-sim-ctrlc-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const gt = join(dir, 'gt.jsonl');
  const child = spawn(
    process.execPath,
    [bin, 'sim', '--out', 'pty', '--speed', 'max', '--duration', '600', '--ground-truth', gt],
    // Its own process group, as a shell job is: the signal below goes to every process in it.
    {
      env: { ...process.env, EDGELOOP_FROM_SOURCE: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    },
  );
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await waitFor('the sim to start writing', () => /sim: scenario .* -> /.test(stderr), { timeoutMs: 30_000 });
  // Give the board time to fill the pty buffer (nobody reads the port), so the write in hand is blocked
  // when the signal comes. Interrupting earlier must pass as well; this wait only picks the harder case.
  await new Promise((r) => setTimeout(r, 1500));
  process.kill(-child.pid!, 'SIGINT');
  assert.equal(await exited, 0, stderr);
  assert.match(stderr, /sim: done \(interrupted\)/);
  assert.doesNotMatch(stderr, /EDGELOOP_ERR_INTERNAL/);
  assert.ok(existsSync(gt), 'ground truth written');
  assert.match(readFileSync(gt, 'utf8'), /"totals"|"frames"/);
});
