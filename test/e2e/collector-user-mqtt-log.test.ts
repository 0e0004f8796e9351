// What the collector's log tells a user about its broker connection (docs/collector.md §Running it: "logs
// to stderr"). Found from the user's side: `--mqtt` at a broker that is not there printed the start line
// and then nothing at all while MQTT.js retried (readyz said 503, the log nothing), and every clean stop
// logged a WARN "mqtt disconnected" for the collector's own DISCONNECT.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/wait.ts';

const bin = fileURLToPath(new URL('../../bin/edgeloop.js', import.meta.url));

/** A TCP port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}

async function runCollector(
  t: TestContext,
  args: readonly string[],
  until: (out: string, err: string) => boolean,
): Promise<{ code: number | null; err: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-collector-user-mqtt-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const child = spawn(
    process.execPath,
    [bin, 'collector', '--data-dir', join(dir, 'data'), '--http-port', '0', ...args],
    { env: { ...process.env, EDGELOOP_FROM_SOURCE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await waitFor(
    () => `the awaited log (stdout ${out}, stderr ${err})`,
    () => until(out, err),
    {
      timeoutMs: 30_000,
    },
  );
  child.kill('SIGTERM');
  return { code: await exited, err };
}

test('--mqtt at a broker that is not there: the log says it cannot connect, once', async (t) => {
  const port = await deadPort();
  const r = await runCollector(t, ['--mqtt', `mqtt://127.0.0.1:${port}`], (_out, err) =>
    /cannot connect/.test(err),
  );
  assert.equal(r.code, 0, r.err);
  const lines = r.err.split('\n').filter((l) => l.includes('cannot connect'));
  assert.equal(lines.length, 1, r.err);
  assert.match(lines[0] ?? '', /WARN .*ECONNREFUSED/);
});

test('a clean stop logs no WARN for the collector own DISCONNECT', async (t) => {
  const r = await runCollector(t, ['--broker-port', '0', '--broker-host', '127.0.0.1'], (_out, err) =>
    /mqtt connected/.test(err),
  );
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /INFO {2}stopped/);
  assert.doesNotMatch(r.err, /WARN {2}mqtt disconnected/);
});
