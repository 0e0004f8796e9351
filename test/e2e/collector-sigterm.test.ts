// Issue #9 §1 "SIGTERM drains": `edgeloop collector` in a child process, telemetry waiting in its ingest
// queue (a batch delay far longer than the test), then SIGTERM: the process exits 0 and the batch in hand
// is in the database.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openSqliteTelemetryStore } from '../../collector/storage/sqlite-store.ts';
import { waitFor } from '../helpers/wait.ts';
import {
  deviceClient,
  encodeTelemetry,
  telemetry,
  telemetryTopic,
  writeCredentials,
} from '../integration/collector-fixture.ts';

const bin = fileURLToPath(new URL('../../bin/edgeloop.js', import.meta.url));

test(
  'SIGTERM of edgeloop collector exits 0 with the batch in hand committed',
  { timeout: 60_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeloop-collector-e2e-'));
    const dataDir = join(dir, 'data');
    const child = spawn(
      process.execPath,
      [
        bin,
        'collector',
        '--data-dir',
        dataDir,
        '--broker-port',
        '0',
        '--broker-host',
        '127.0.0.1',
        '--http-port',
        '0',
        '--credentials-file',
        writeCredentials(dir),
        '--batch-max-delay-ms',
        '60000',
        '--batch-max-messages',
        '1000',
      ],
      { env: { ...process.env, EDGELOOP_FROM_SOURCE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => {
        resolve(code);
      }),
    );
    let exitCode: number | null | undefined;
    void exited.then((c) => (exitCode = c));
    try {
      await waitFor(
        () => `the start line (stdout ${out}, stderr ${err})`,
        () => {
          if (exitCode !== undefined) throw new Error(`exited ${exitCode}: ${err}`);
          return /collector listening on (\S+) \(broker (\S+),/.test(out);
        },
        { timeoutMs: 30_000 },
      );
      const m = /collector listening on (\S+) \(broker (\S+),/.exec(out) as RegExpExecArray;
      const httpUrl = m[1] as string;
      const brokerUrl = m[2] as string;
      const readyz = async (): Promise<boolean> => (await fetch(`${httpUrl}/readyz`)).status === 200;
      await waitFor('collector ready', readyz);

      const a = await deviceClient(brokerUrl, 'dev-a');
      for (let i = 1; i <= 30; i++)
        await a.publishAsync(telemetryTopic('dev-a'), encodeTelemetry(telemetry('dev-a', 5, i)), { qos: 1 });
      a.end(true);
      await waitFor('30 messages in the ingest queue', async () => {
        const text = await (await fetch(`${httpUrl}/metrics`)).text();
        return /^edgeloop_collector_queue_depth 30$/m.test(text);
      });

      child.kill('SIGTERM');
      assert.equal(await exited, 0, err);

      const store = openSqliteTelemetryStore(join(dataDir, 'collector.sqlite'));
      try {
        const rows = store.windows({ deviceId: 'dev-a', fromMs: 0, toMs: Number.MAX_SAFE_INTEGER });
        assert.equal(rows.length, 30);
      } finally {
        store.close();
      }
    } finally {
      if (exitCode === undefined) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
