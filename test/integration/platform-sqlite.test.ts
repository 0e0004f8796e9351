// The one SQLite opener (shared/platform/sqlite.ts): durability is what the caller asks for and nothing
// else, both statement styles work on one connection, and transactions commit or roll back whole.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openSqliteDatabase, sqliteErrorCode } from '../../shared/platform/sqlite.ts';

function tmpPath(t: { after(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-sqlite-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return join(dir, 'db.sqlite');
}

test('durability options are applied as asked, and left at SQLite defaults when not', (t) => {
  const asked = openSqliteDatabase(tmpPath(t), {
    journalMode: 'wal',
    synchronous: 'NORMAL',
    foreignKeys: true,
  });
  t.after(() => {
    asked.close();
  });
  assert.equal(asked.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(asked.pragma('synchronous', { simple: true }), 1); // NORMAL
  assert.equal(asked.pragma('foreign_keys', { simple: true }), 1);
  const plain = openSqliteDatabase(tmpPath(t));
  t.after(() => {
    plain.close();
  });
  assert.equal(plain.pragma('journal_mode', { simple: true }), 'delete');
  assert.equal(plain.pragma('synchronous', { simple: true }), 2); // FULL
  // better-sqlite3 builds SQLite with SQLITE_DEFAULT_FOREIGN_KEYS=1; asking for OFF is honoured.
  assert.equal(plain.pragma('foreign_keys', { simple: true }), 1);
  const noFk = openSqliteDatabase(':memory:', { foreignKeys: false });
  t.after(() => {
    noFk.close();
  });
  assert.equal(noFk.pragma('foreign_keys', { simple: true }), 0);
});

test('prepared statements and run/get/all by text share one connection; a transaction is all or nothing', (t) => {
  const db = openSqliteDatabase(':memory:', { maxCachedStatements: 2 });
  t.after(() => {
    db.close();
  });
  db.exec('CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB)');
  const insert = db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)');
  insert.run('a', Uint8Array.from([1, 2]));
  db.run('INSERT INTO kv (k, v) VALUES (@k, @v)', { k: 'b', v: null });
  assert.deepEqual(db.get<{ k: string }>('SELECT k FROM kv WHERE k = ?', ['b']), { k: 'b' });
  // More distinct statements than the cache holds still run (the oldest is dropped and prepared again).
  for (let i = 0; i < 3; i++) assert.equal(db.all(`SELECT k FROM kv WHERE ${String(i)} >= 0`).length, 2);

  const both = db.transaction(
    (k: string) => {
      insert.run(k, null);
      insert.run(k, null); // duplicate key: throws, so the first insert rolls back too
    },
    { immediate: true },
  );
  assert.throws(
    () => {
      both('c');
    },
    (err: unknown) => sqliteErrorCode(err) === 'SQLITE_CONSTRAINT_PRIMARYKEY',
  );
  assert.equal(db.get('SELECT k FROM kv WHERE k = ?', ['c']), undefined);
  assert.equal(db.transaction(() => db.run("INSERT INTO kv (k) VALUES ('d')").changes)(), 1);
  db.close();
  db.close();
  assert.equal(db.open, false);
  assert.equal(sqliteErrorCode(new Error('not sqlite')), undefined);
});
