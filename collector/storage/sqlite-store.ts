// The SQLite TelemetryStore (docs/storage.md): one better-sqlite3 connection through the shared opener
// (shared/platform/sqlite.ts), WAL with synchronous=NORMAL by default: a commit survives a collector crash or
// SIGKILL, but power loss may drop the last commits, after ingest may already have acknowledged them to
// the broker; `synchronous: 'FULL'` closes that window at a write-rate cost. Schema by ordered migrations
// at open (sqlite-migrations.ts).
//
// The work is split by seam: sqlite-writer.ts (writeBatch), sqlite-compact.ts (rollup and retention),
// sqlite-queries.ts, sqlite-alerts.ts and sqlite-captures.ts (reads, the alert lifecycle, raw captures),
// sqlite-context.ts (interned ids).

import { EdgeloopError } from '../../shared/errors.ts';
import { openSqliteDatabase, type SqliteDatabase } from '../../shared/platform/sqlite.ts';
import { acknowledgeAlert, queryAlerts, raiseAlert, resolveAlert } from './sqlite-alerts.ts';
import { compactStore, type RetentionOptions } from './sqlite-compact.ts';
import { SqliteContext } from './sqlite-context.ts';
import { applyMigrations } from './sqlite-migrations.ts';
import { deleteCapture, queryCaptures, queryRawBlocks, requestCapture } from './sqlite-captures.ts';
import {
  insertMonitorResults,
  queryDeployments,
  queryDevices,
  queryIntegrityEvents,
  queryLatestWindows,
  queryMonitorResults,
  queryRollups,
  queryWindows,
} from './sqlite-queries.ts';
import { SqliteWriter } from './sqlite-writer.ts';
import type { TelemetryStore } from './types.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Defaults (issue #9 §2): 48 h of full resolution, minute rollups for 7 days, hour rollups kept. */
export const storageDefaults: Readonly<RetentionOptions> = Object.freeze({
  windowRetentionMs: 48 * HOUR,
  minuteRollupRetentionMs: 7 * DAY,
  hourRollupRetentionMs: Number.POSITIVE_INFINITY,
  monitorResultRetentionMs: 30 * DAY,
  compactBatchRows: 2000,
});

export interface SqliteStoreOptions extends Partial<RetentionOptions> {
  /** PRAGMA synchronous; default NORMAL (WAL). FULL also survives power loss, at a write-rate cost. */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /** Clock for the migration log only; default Date.now. */
  readonly nowMs?: () => number;
}

/** Opens (creating and migrating if needed) the collector database at path. */
export function openSqliteTelemetryStore(path: string, options: SqliteStoreOptions = {}): TelemetryStore {
  let db: SqliteDatabase;
  try {
    db = openSqliteDatabase(path, {
      synchronous: options.synchronous ?? 'NORMAL',
      // The store deletes children itself (predictions with windows, blocks with captures): no FK checks on
      // the hot insert path.
      foreignKeys: false,
    });
  } catch (err) {
    throw new EdgeloopError('EDGELOOP_ERR_STORE_OPEN', `cannot open ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    // 16 KiB pages, set before WAL (a WAL database cannot change it) and effective on a new file only: a
    // window row is ~830 bytes, so 4 KiB pages held 4 rows and wasted ~20% (bench/storage.bench.ts).
    db.pragma('page_size = 16384');
    db.pragma('journal_mode = wal');
    // Truncate the WAL after checkpoints so a compaction burst does not leave a large file behind.
    db.pragma('journal_size_limit = 67108864');
    applyMigrations(db, (options.nowMs ?? Date.now)());
  } catch (err) {
    db.close();
    if (err instanceof EdgeloopError) throw err;
    throw new EdgeloopError('EDGELOOP_ERR_STORE_OPEN', `cannot migrate ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return new SqliteTelemetryStore(db, options);
}

class SqliteTelemetryStore implements TelemetryStore {
  readonly #ctx: SqliteContext;
  readonly #writer: SqliteWriter;
  readonly #retention: RetentionOptions;

  constructor(db: SqliteDatabase, options: SqliteStoreOptions) {
    this.#ctx = new SqliteContext(db);
    this.#writer = new SqliteWriter(this.#ctx);
    const o = options;
    const d = storageDefaults;
    this.#retention = {
      windowRetentionMs: o.windowRetentionMs ?? d.windowRetentionMs,
      minuteRollupRetentionMs: o.minuteRollupRetentionMs ?? d.minuteRollupRetentionMs,
      hourRollupRetentionMs: o.hourRollupRetentionMs ?? d.hourRollupRetentionMs,
      monitorResultRetentionMs: o.monitorResultRetentionMs ?? d.monitorResultRetentionMs,
      compactBatchRows: o.compactBatchRows ?? d.compactBatchRows,
      ...(options.binEdges === undefined ? {} : { binEdges: options.binEdges }),
    };
  }

  writeBatch: TelemetryStore['writeBatch'] = (batch) => this.#writer.writeBatch(batch);

  compact: TelemetryStore['compact'] = (nowMs, options) => {
    try {
      return compactStore(this.#ctx, this.#retention, nowMs, options);
    } catch (err) {
      this.#writer.reset();
      throw err;
    }
  };

  devices: TelemetryStore['devices'] = () => queryDevices(this.#ctx);
  device: TelemetryStore['device'] = (deviceId) => queryDevices(this.#ctx, deviceId)[0];
  windows: TelemetryStore['windows'] = (range) => queryWindows(this.#ctx, range);
  latestWindows: TelemetryStore['latestWindows'] = () => queryLatestWindows(this.#ctx);
  rollups: TelemetryStore['rollups'] = (q) => queryRollups(this.#ctx, q);
  integrityEvents: TelemetryStore['integrityEvents'] = (range) => queryIntegrityEvents(this.#ctx, range);
  writeMonitorResults: TelemetryStore['writeMonitorResults'] = (results) => {
    insertMonitorResults(this.#ctx, results);
  };
  monitorResults: TelemetryStore['monitorResults'] = (range) => queryMonitorResults(this.#ctx, range);
  raiseAlert: TelemetryStore['raiseAlert'] = (alert, nowMs) => raiseAlert(this.#ctx, alert, nowMs);
  acknowledgeAlert: TelemetryStore['acknowledgeAlert'] = (id, by, nowMs) =>
    acknowledgeAlert(this.#ctx, id, by, nowMs);
  resolveAlert: TelemetryStore['resolveAlert'] = (id, nowMs) => resolveAlert(this.#ctx, id, nowMs);
  alerts: TelemetryStore['alerts'] = (query) => queryAlerts(this.#ctx, query);
  deployments: TelemetryStore['deployments'] = (deviceId) => queryDeployments(this.#ctx, deviceId);
  requestCapture: TelemetryStore['requestCapture'] = (deviceId, fromMs, toMs, nowMs, note = '') =>
    requestCapture(this.#ctx, deviceId, fromMs, toMs, nowMs, note);
  captures: TelemetryStore['captures'] = (deviceId) => queryCaptures(this.#ctx, deviceId);
  rawBlocks: TelemetryStore['rawBlocks'] = (captureId) => queryRawBlocks(this.#ctx, captureId);
  deleteCapture: TelemetryStore['deleteCapture'] = (captureId) => deleteCapture(this.#ctx, captureId);

  footprint: TelemetryStore['footprint'] = () => {
    const db = this.#ctx.db;
    const pageSize = Number(db.pragma('page_size', { simple: true }));
    const pages =
      Number(db.pragma('page_count', { simple: true })) -
      Number(db.pragma('freelist_count', { simple: true }));
    const bytesByObject: Record<string, number> = {};
    for (const r of db.all<{ name: string; bytes: number }>(
      'SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name',
    )) {
      bytesByObject[r.name] = r.bytes;
    }
    return { bytes: pages * pageSize, bytesByObject };
  };

  close: TelemetryStore['close'] = () => {
    this.#ctx.db.close();
  };
}
