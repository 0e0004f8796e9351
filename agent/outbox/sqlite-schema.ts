// The SQLite outbox's file format and statements (docs/outbox.md §Durability). Kept apart from the queue
// logic in sqlite-outbox.ts so the schema, its version and its pragmas read in one place.

import { EdgeloopError } from '../../shared/errors.ts';
import type { SqliteDatabase, SqliteStatement } from '../../shared/platform/sqlite.ts';
import type { OutboxClass, QoS } from './types.ts';

/** Bumped on any incompatible change; an agent refuses a file written by a newer one. */
export const OUTBOX_SCHEMA_VERSION = 1;

export interface OutboxRow {
  id: number;
  class: OutboxClass;
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: number;
  created_at_ms: number;
  size: number;
}

export type OutboxStatements = Readonly<
  Record<
    'insert' | 'live' | 'backlog' | 'evictPage' | 'expired' | 'del' | 'minCreated' | 'maxId',
    SqliteStatement
  >
>;

export interface PreparedOutboxSchema {
  readonly statements: OutboxStatements;
  /** Stored messages and bytes per class, to rebuild the in-memory accounting. */
  readonly totals: readonly { readonly class: OutboxClass; readonly n: number; readonly b: number }[];
}

export function prepareOutboxSchema(
  db: SqliteDatabase,
  synchronous: 'FULL' | 'NORMAL',
): PreparedOutboxSchema {
  const version = Number(db.pragma('user_version', { simple: true }));
  if (version > OUTBOX_SCHEMA_VERSION) {
    throw new EdgeloopError(
      'EDGELOOP_ERR_OUTBOX_STORAGE',
      `outbox schema ${version} is newer than this agent (${OUTBOX_SCHEMA_VERSION})`,
    );
  }
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  // Truncate the WAL to 4 MiB after checkpoints so a burst does not leave a large file behind.
  db.pragma('journal_size_limit = 4194304');
  // AUTOINCREMENT: ids are never reused, so a late ack for a deleted id cannot delete a newer message.
  // (class, id) serves eviction (oldest of a class); created_at_ms serves expiry and the oldest age.
  db.exec(`
    CREATE TABLE IF NOT EXISTS outbox (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      class TEXT NOT NULL,
      topic TEXT NOT NULL,
      payload BLOB NOT NULL,
      qos INTEGER NOT NULL,
      retain INTEGER NOT NULL,
      created_at_ms INTEGER NOT NULL,
      size INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS outbox_class_id ON outbox (class, id);
    CREATE INDEX IF NOT EXISTS outbox_created ON outbox (created_at_ms);
    PRAGMA user_version = ${OUTBOX_SCHEMA_VERSION};
  `);
  const cols = 'id, class, topic, payload, qos, retain, created_at_ms, size';
  const statements: OutboxStatements = {
    insert: db.prepare(
      'INSERT INTO outbox (class, topic, payload, qos, retain, created_at_ms, size) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    live: db.prepare(`SELECT ${cols} FROM outbox WHERE id > ? ORDER BY id LIMIT ?`),
    backlog: db.prepare(`SELECT ${cols} FROM outbox WHERE id > ? AND id <= ? ORDER BY id LIMIT ?`),
    evictPage: db.prepare(
      'SELECT id, size FROM outbox WHERE class = ? AND id > ? ORDER BY class, id LIMIT ?',
    ),
    expired: db.prepare('SELECT id, class, size FROM outbox WHERE created_at_ms <= ? ORDER BY id'),
    del: db.prepare('DELETE FROM outbox WHERE id = ? RETURNING class, size'),
    minCreated: db.prepare('SELECT MIN(created_at_ms) AS m FROM outbox'),
    maxId: db.prepare('SELECT MAX(id) AS m FROM outbox'),
  };
  const totals = db
    .prepare('SELECT class, COUNT(*) AS n, SUM(size) AS b FROM outbox GROUP BY class')
    .all() as PreparedOutboxSchema['totals'];
  return { statements, totals };
}
