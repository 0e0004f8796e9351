// SQLite specifics of the collector store, on real files: the pragmas it opens with, and a writer SIGKILLed
// mid-stream (issue #9 §8 "Resilience", at the storage seam): every batch is all or nothing, and replaying
// everything after the restart stores exactly what was missing.

import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { openSqliteDatabase } from '../../shared/platform/sqlite.ts';
import { openSqliteTelemetryStore } from '../../collector/storage/sqlite-store.ts';
import type { IncomingMessage } from '../../collector/storage/types.ts';
import { waitFor } from '../helpers/wait.ts';

const T0 = Date.UTC(2026, 0, 1);
const BATCH = 100;

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-storage-sqlite-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

// Shared with the child below (which cannot import this test file), so it is a string the child evaluates too.
const MAKE_WINDOW = `(i) => {
  const features = {};
  for (let k = 0; k < 32; k++) features['f' + k] = Math.fround(Math.sin(i + k));
  return {
    message: { kind: 'telemetry', deviceId: 'crash-1', payload: {
      v: 1, deviceId: 'crash-1', runId: 9, msgSeq: i + 1, tsMs: ${String(T0)} + i * 1000, bootId: 1,
      window: { index: i, startUs: 0, endUs: 1 }, featurePipeline: 'p', features, prediction: null, model: null,
      integrity: { status: 'good', channels: {}, flags: [] },
      counters: { framesDecoded: 0, framesInvalid: 0, samples: 0, gaps: 0, samplesMissing: 0, windows: 0 } } },
    receivedMs: ${String(T0)} + i * 1000,
  };
}`;
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- the same source the child runs
const makeWindow = (new Function(`return ${MAKE_WINDOW}`) as () => (i: number) => IncomingMessage)();

test('opens with WAL and 16 KiB pages', (t) => {
  const path = join(tempDir(t), 'c.db');
  const s = openSqliteTelemetryStore(path);
  s.writeBatch([makeWindow(0)]);
  const db = openSqliteDatabase(path);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(db.pragma('page_size', { simple: true }), 16384);
  db.close();
  s.close();
  s.close(); // idempotent
});

test("':memory:' gives a real store for fast tests of the store's users", () => {
  const s = openSqliteTelemetryStore(':memory:');
  assert.equal(s.writeBatch([makeWindow(0), makeWindow(0)]).duplicates, 1);
  assert.equal(s.latestWindows()[0]?.deviceId, 'crash-1');
  s.close();
});

test('SIGKILL mid-stream: batches are all or nothing, and a full replay stores only what was missing', async (t) => {
  const path = join(tempDir(t), 'crash.db');
  const storeUrl = new URL('../../collector/storage/sqlite-store.ts', import.meta.url).href;
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `const { openSqliteTelemetryStore } = await import(${JSON.stringify(storeUrl)});
       const make = ${MAKE_WINDOW};
       const s = openSqliteTelemetryStore(${JSON.stringify(path)});
       for (let b = 0; ; b++) {
         const batch = Array.from({ length: ${String(BATCH)} }, (_, k) => make(b * ${String(BATCH)} + k));
         s.writeBatch(batch);
         process.stdout.write('committed ' + (b + 1) + '\\n');
       }`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => child.kill('SIGKILL'));
  let committed = 0;
  let exited = false;
  child.on('exit', () => (exited = true));
  child.stdout.setEncoding('utf8');
  let out = '';
  child.stdout.on('data', (chunk: string) => {
    out += chunk;
    // The last complete line is the newest acknowledged batch.
    const lines = out.split('\n');
    out = lines.pop() ?? '';
    const last = lines.at(-1);
    if (last !== undefined) committed = Number(last.replace('committed ', ''));
  });
  await waitFor(
    () => `20 committed batches (have ${String(committed)})`,
    () => {
      if (exited) throw new Error('the writer exited by itself');
      return committed >= 20;
    },
    { timeoutMs: 60_000 },
  );
  child.kill('SIGKILL');
  await waitFor('the writer to die', () => exited);

  const s = openSqliteTelemetryStore(path);
  t.after(() => {
    s.close();
  });
  const stored = s.windows({
    deviceId: 'crash-1',
    fromMs: 0,
    toMs: Number.MAX_SAFE_INTEGER,
    limit: 1e9,
  }).length;
  assert.ok(
    stored >= committed * BATCH,
    `${String(stored)} stored, ${String(committed)} batches acknowledged`,
  );
  assert.equal(stored % BATCH, 0, 'a batch was stored in part');
  // Everything again plus one batch more, as agents replay after a collector restart.
  const all = Array.from({ length: stored + BATCH }, (_, i) => makeWindow(i));
  let written = 0;
  let duplicates = 0;
  for (let i = 0; i < all.length; i += 250) {
    const r = s.writeBatch(all.slice(i, i + 250));
    written += r.written;
    duplicates += r.duplicates;
  }
  assert.equal(duplicates, stored);
  assert.equal(written, BATCH);
  assert.equal(
    s.windows({ deviceId: 'crash-1', fromMs: 0, toMs: Number.MAX_SAFE_INTEGER, limit: 1e9 }).length,
    stored + BATCH,
  );
});
