// Ordered schema migrations of the collector database (docs/storage.md §Migrations). Applied at open, each
// in its own transaction with its row in schema_migrations, so a crash mid-upgrade leaves the database at
// the last complete version. A database newer than this code is refused with a coded error rather than
// written by code that does not know its tables.
//
// Never edit a released migration: add the next one.

import { EdgeloopError } from '../../shared/errors.ts';
import type { SqliteDatabase } from '../../shared/platform/sqlite.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE devices (
        id INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL UNIQUE,
        first_seen_ms INTEGER NOT NULL,
        last_seen_ms INTEGER NOT NULL,
        status_state TEXT, status_reason TEXT, status_ms INTEGER, status_ts_ms INTEGER,
        boot_id INTEGER, run_id INTEGER,
        model INTEGER, model_ts_ms INTEGER,
        firmware_version TEXT, agent_version TEXT
      );
      -- Column names of packed vectors: kind 'features' (pipeline id + feature names) or 'classes'.
      CREATE TABLE layouts (
        id INTEGER PRIMARY KEY, kind TEXT NOT NULL, pipeline TEXT NOT NULL, names TEXT NOT NULL,
        UNIQUE (kind, pipeline, names)
      );
      CREATE TABLE models (id INTEGER PRIMARY KEY, name TEXT NOT NULL, version TEXT NOT NULL, UNIQUE (name, version));
      CREATE TABLE windows (
        id INTEGER PRIMARY KEY,
        device INTEGER NOT NULL, run_id INTEGER NOT NULL, msg_seq INTEGER NOT NULL,
        ts_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL, boot_id INTEGER NOT NULL,
        window_index INTEGER NOT NULL, start_us REAL NOT NULL, end_us REAL NOT NULL,
        layout INTEGER NOT NULL, features BLOB NOT NULL, model INTEGER,
        integrity INTEGER NOT NULL, integrity_flags TEXT,
        frames_decoded INTEGER NOT NULL, frames_invalid INTEGER NOT NULL, samples INTEGER NOT NULL,
        gaps INTEGER NOT NULL, samples_missing INTEGER NOT NULL, windows_total INTEGER NOT NULL,
        UNIQUE (device, run_id, msg_seq)
      );
      CREATE INDEX windows_device_ts ON windows (device, ts_ms);
      CREATE TABLE predictions (
        window_id INTEGER PRIMARY KEY, label TEXT NOT NULL, layout INTEGER NOT NULL,
        probabilities BLOB NOT NULL, latency_ms REAL NOT NULL
      );
      CREATE TABLE bin_sets (id INTEGER PRIMARY KEY, edges TEXT NOT NULL UNIQUE);
      CREATE TABLE rollups (
        id INTEGER PRIMARY KEY,
        device INTEGER NOT NULL, resolution_s INTEGER NOT NULL, bucket_ms INTEGER NOT NULL,
        layout INTEGER NOT NULL, bin_set INTEGER NOT NULL,
        windows INTEGER NOT NULL, predictions TEXT NOT NULL, stats BLOB NOT NULL,
        UNIQUE (device, resolution_s, bucket_ms, layout, bin_set)
      );
      CREATE INDEX rollups_age ON rollups (resolution_s, bucket_ms);
      CREATE TABLE integrity_events (
        id INTEGER PRIMARY KEY,
        device INTEGER NOT NULL, run_id INTEGER NOT NULL, msg_seq INTEGER NOT NULL,
        ts_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL, boot_id INTEGER NOT NULL,
        window_index INTEGER NOT NULL, window_start_us REAL, window_end_us REAL,
        channel TEXT NOT NULL, check_name TEXT NOT NULL, status TEXT NOT NULL, previous_status TEXT NOT NULL,
        reason TEXT NOT NULL, value REAL, threshold REAL,
        UNIQUE (device, run_id, msg_seq)
      );
      CREATE INDEX integrity_events_device_ts ON integrity_events (device, ts_ms);
      CREATE TABLE captures (
        id INTEGER PRIMARY KEY, device INTEGER NOT NULL, from_ms INTEGER NOT NULL, to_ms INTEGER NOT NULL,
        created_ms INTEGER NOT NULL, note TEXT NOT NULL
      );
      CREATE INDEX captures_device ON captures (device, from_ms);
      CREATE TABLE raw_blocks (
        id INTEGER PRIMARY KEY, capture INTEGER NOT NULL,
        device INTEGER NOT NULL, run_id INTEGER NOT NULL, msg_seq INTEGER NOT NULL, received_ms INTEGER NOT NULL,
        sensor_id INTEGER NOT NULL, axes INTEGER NOT NULL, boot_id INTEGER NOT NULL, first_index INTEGER NOT NULL,
        timestamp_us REAL NOT NULL, period_us REAL NOT NULL, count INTEGER NOT NULL, samples BLOB NOT NULL,
        UNIQUE (device, run_id, msg_seq)
      );
      CREATE INDEX raw_blocks_capture ON raw_blocks (capture, id);
      CREATE TABLE monitor_results (
        id INTEGER PRIMARY KEY, device TEXT, monitor TEXT NOT NULL, channel TEXT, ts_ms INTEGER NOT NULL,
        status TEXT NOT NULL, statistic REAL, threshold REAL, details TEXT
      );
      CREATE INDEX monitor_results_device_ts ON monitor_results (device, ts_ms);
      CREATE INDEX monitor_results_ts ON monitor_results (ts_ms);
      CREATE TABLE alerts (
        id INTEGER PRIMARY KEY, dedup_key TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL,
        device TEXT, channel TEXT,
        state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
        opened_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL, occurrences INTEGER NOT NULL,
        acknowledged_ms INTEGER, acknowledged_by TEXT, resolved_ms INTEGER,
        message TEXT NOT NULL, details TEXT
      );
      -- At most one live (open or acknowledged) alert per dedup key.
      CREATE UNIQUE INDEX alerts_live_key ON alerts (dedup_key) WHERE state != 'resolved';
      CREATE INDEX alerts_state ON alerts (state, device);
      CREATE TABLE deployments (
        id INTEGER PRIMARY KEY, device INTEGER NOT NULL, model INTEGER NOT NULL,
        since_ms INTEGER NOT NULL, until_ms INTEGER, source TEXT NOT NULL
      );
      CREATE INDEX deployments_device ON deployments (device, since_ms);
      -- Dedup of the low-volume kinds that have no table of their own (status, alert, model state).
      CREATE TABLE seen_messages (
        device INTEGER NOT NULL, run_id INTEGER NOT NULL, msg_seq INTEGER NOT NULL, received_ms INTEGER NOT NULL,
        PRIMARY KEY (device, run_id, msg_seq)
      ) WITHOUT ROWID;
      CREATE INDEX seen_messages_age ON seen_messages (received_ms);
    `,
  },
];

export const STORE_SCHEMA_VERSION = migrations.reduce((m, x) => Math.max(m, x.version), 0);

/** Applies the migrations the database lacks; returns the version it is at. */
export function applyMigrations(
  db: SqliteDatabase,
  nowMs: number,
  list: readonly Migration[] = migrations,
): number {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms INTEGER NOT NULL)',
  );
  const latest = list.reduce((m, x) => Math.max(m, x.version), 0);
  const current = db.get<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations')?.v ?? 0;
  if (current > latest) {
    throw new EdgeloopError(
      'EDGELOOP_ERR_STORE_SCHEMA_NEWER',
      `collector database schema ${String(current)} is newer than this edgeloop (${String(latest)})`,
    );
  }
  const pending = [...list].filter((m) => m.version > current).sort((a, b) => a.version - b.version);
  for (const m of pending) {
    db.transaction(
      () => {
        // Re-read under the write lock: another process opening the same new file may have applied it.
        const now = db.get<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations')?.v ?? 0;
        if (now >= m.version) return;
        db.exec(m.sql);
        db.run('INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)', [
          m.version,
          m.name,
          nowMs,
        ]);
      },
      { immediate: true },
    )();
  }
  return Math.max(current, ...pending.map((m) => m.version));
}
