// `edgeloop sim --out pty --pty-dir <dir>` with a bad directory (issue #8 review): the message names the
// directory (EDGELOOP_ERR_PATH), not a missing socat.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createVirtualSerialPair } from '../../firmware-sim/adapters/pty.ts';
import { simCommand } from '../../firmware-sim/cli.ts';

test('a missing --pty-dir is EDGELOOP_ERR_PATH naming the directory', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'edgeloop-ptydir-'));
  t.after(() => {
    rmSync(root, { recursive: true, force: true });
  });
  const missing = join(root, 'nope');
  const r = await createVirtualSerialPair({ dir: missing });
  assert.ok(!r.ok);
  assert.equal(r.code, 'EDGELOOP_ERR_PATH');
  assert.match(r.message, /does not exist/);
  assert.ok(r.message.includes(missing));

  const file = join(root, 'file');
  writeFileSync(file, '');
  const f = await createVirtualSerialPair({ dir: file });
  assert.ok(!f.ok);
  assert.equal(f.code, 'EDGELOOP_ERR_PATH');
  assert.match(f.message, /not a directory/);
});

test('edgeloop sim --out pty --pty-dir <missing> says the directory is missing', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'edgeloop-ptydir-'));
  t.after(() => {
    rmSync(root, { recursive: true, force: true });
  });
  const missing = join(root, 'nope');
  const stderr = new PassThrough();
  let log = '';
  stderr.on('data', (d: Buffer) => (log += d.toString()));
  const code = await simCommand.run(
    ['--scenario', 'steady', '--out', 'pty', '--pty-dir', missing, '--duration', '1'],
    { stdout: new PassThrough(), stderr, env: {}, signal: new AbortController().signal },
  );
  assert.notEqual(code, 0);
  assert.match(log, /EDGELOOP_ERR_PATH/);
  assert.ok(log.includes(missing), log);
  assert.doesNotMatch(log, /Install socat/);
});
