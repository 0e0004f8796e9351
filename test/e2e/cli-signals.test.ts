// Issue #7 §3: a command that ignores the abort signal must still be stoppable. `keygen --force` onto a
// FIFO nobody reads blocks in open() forever (the "stuck on a bad path" of the issue); before the fix the
// first SIGTERM aborted a signal nobody listened to and the second one was swallowed the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/edgeloop.js', import.meta.url));

for (const [signal, code] of [
  ['SIGTERM', 143],
  ['SIGINT', 130],
] as const) {
  test(`a stuck command ends (status ${code}) on a second ${signal}`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeloop-signal-'));
    t.after(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const fifo = spawnSync('mkfifo', [join(dir, 'edgeloop-signing.key')]);
    assert.equal(fifo.status, 0, 'mkfifo');

    const child = spawn(process.execPath, [bin, '--debug', 'keygen', '--out', dir, '--force'], {
      env: { ...process.env, EDGELOOP_FROM_SOURCE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stderr = '';
    child.stdout.resume();
    const exited = new Promise<[number | null, string | null]>((resolve) =>
      child.once('exit', (c, s) => {
        resolve([c, s]);
      }),
    );
    const stderrMatches = (re: RegExp): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (re.test(stderr)) resolve();
        };
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          check();
        });
        void exited.then(() => {
          reject(new Error(`exited before ${String(re)}:\n${stderr}`));
        });
        check();
      });

    await stderrMatches(/debug: keygen started/);
    child.kill(signal);
    await stderrMatches(new RegExp(`${signal}: stopping \\(again to exit at once\\)`));
    // keygen ignores the abort and stays blocked on the FIFO: only the second signal ends it.
    assert.equal(child.exitCode, null);
    child.kill(signal);
    // Ended as killed by the signal, which a shell reports as `code` (128 + the signal number): the
    // blocked thread rules out process.exit(), which would wait for it forever.
    assert.deepEqual(await exited, [null, signal], stderr);
    assert.match(stderr, new RegExp(`${signal} again; exiting without waiting`));
  });
}

test('a reader that has already gone (`edgeloop --help | true`) is a normal end: exit 0, no stack', async (t) => {
  const child = spawn(process.execPath, [bin, '--help'], {
    env: { ...process.env, EDGELOOP_FROM_SOURCE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  // Close the read end before the child writes: its first write gets EPIPE. Before the fix that was an
  // unhandled 'error' event: exit 1 and a stack trace.
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<[number | null, string | null]>((resolve) =>
    child.once('exit', (c, s) => {
      resolve([c, s]);
    }),
  );
  assert.deepEqual(await exited, [0, null], stderr);
  assert.doesNotMatch(stderr, /EPIPE|\n\s+at /);
});
