// Pure parts of collector storage: the packed feature format, the mergeable summaries and their blob, and
// the migration runner's ordering and atomicity (on an in-memory database).

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { featuresRecord, packFeatures, unpackFloat32 } from '../../collector/storage/packing.ts';
import {
  accumulate,
  decodeSummary,
  emptySummary,
  encodeSummary,
  mergeInto,
  type BinEdges,
} from '../../collector/storage/rollup.ts';
import { applyMigrations } from '../../collector/storage/sqlite-migrations.ts';
import { openSqliteDatabase } from '../../shared/platform/sqlite.ts';
import { EdgeloopError } from '../../shared/errors.ts';

test('packFeatures: 4 bytes per feature, null and non-finite become NaN, unaligned blobs decode', () => {
  const blob = packFeatures([1.5, null, Number.POSITIVE_INFINITY, -0]);
  assert.equal(blob.byteLength, 16);
  const shifted = new Uint8Array(17);
  shifted.set(blob, 1);
  const v = unpackFloat32(shifted.subarray(1));
  assert.deepEqual(featuresRecord(['a', 'b', 'c', 'd'], v), { a: 1.5, b: null, c: null, d: -0 });
});

test('summaries: merging parts equals summarising the whole; the blob round-trips', () => {
  const edges: BinEdges = [[0], [], [-1, 0, 1]];
  const rows = Array.from({ length: 300 }, (_, i) =>
    Float32Array.from([
      Math.fround(Math.cos(i)),
      i % 7 === 0 ? Number.NaN : i,
      Math.fround(Math.sin(i * 0.3) * 2),
    ]),
  );
  const whole = emptySummary(3, edges);
  for (const r of rows) accumulate(whole, r, edges);
  const merged = emptySummary(3, edges);
  for (let p = 0; p < 300; p += 60) {
    const part = emptySummary(3, edges);
    for (const r of rows.slice(p, p + 60)) accumulate(part, r, edges);
    mergeInto(merged, decodeSummary(encodeSummary(part), edges));
  }
  assert.deepEqual(Array.from(merged.count), Array.from(whole.count));
  assert.equal(merged.count[1], 300 - 43);
  assert.deepEqual(Array.from(merged.min), Array.from(whole.min));
  assert.deepEqual(Array.from(merged.max), Array.from(whole.max));
  assert.deepEqual(Array.from(merged.hist), Array.from(whole.hist));
  assert.equal(merged.hist.length, 2 + 0 + 4);
  for (let i = 0; i < 3; i++) {
    assert.ok(Math.abs((merged.sum[i] as number) - (whole.sum[i] as number)) < 1e-9);
    assert.ok(Math.abs((merged.sumSq[i] as number) - (whole.sumSq[i] as number)) < 1e-9);
  }
  const back = decodeSummary(encodeSummary(whole), edges);
  assert.deepEqual(back, whole);
  assert.throws(() => {
    mergeInto(emptySummary(2), whole);
  }, /different layouts/);
});

test('migrations apply in order, each atomically, and refuse a newer database', () => {
  const db = openSqliteDatabase(':memory:');
  const list = [
    { version: 2, name: 'second', sql: 'CREATE TABLE b (x)' },
    { version: 1, name: 'first', sql: 'CREATE TABLE a (x)' },
  ];
  assert.equal(applyMigrations(db, 1, list), 2);
  assert.deepEqual(
    db
      .all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')
      .map((r) => r.version),
    [1, 2],
  );
  // A failing migration leaves the database at the last complete version.
  assert.throws(() =>
    applyMigrations(db, 2, [...list, { version: 3, name: 'bad', sql: 'CREATE TABLE c (x); SELEC nonsense' }]),
  );
  assert.equal(db.get<{ n: number }>("SELECT COUNT(*) AS n FROM sqlite_schema WHERE name = 'c'")?.n, 0);
  assert.equal(db.get<{ v: number }>('SELECT MAX(version) AS v FROM schema_migrations')?.v, 2);
  assert.throws(
    () => applyMigrations(db, 3, list.slice(1)),
    (e: unknown) => e instanceof EdgeloopError && e.code === 'EDGELOOP_ERR_STORE_SCHEMA_NEWER',
  );
  db.close();
});
