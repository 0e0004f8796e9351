// The update requests' tables in the loop database (contract-10: one SQLite file, each module its own
// prefix). A request is kept whole as JSON (its typed record, docs/update-requests.md) beside the columns
// it is looked up by; the cooldowns and the pending alert clears are rows of their own, so everything the
// module needs after a restart is here.

import type { SqliteDatabase } from '../../shared/platform/sqlite.ts';
import { endedStates, type UpdateRequestState, type UpdateRequestView } from './types.ts';

/** Schema version of the update_ tables (update_schema); bump with a migration. */
export const UPDATE_SCHEMA_VERSION = 1;

export interface UpdateStore {
  /** Stores a new request; its id (`ur-<n>`) is given here. */
  insert(make: (id: string) => UpdateRequestView): UpdateRequestView;
  save(r: UpdateRequestView): void;
  get(id: string): UpdateRequestView | undefined;
  list(options?: { state?: string; model?: string; limit?: number }): UpdateRequestView[];
  /** Requests that have not ended, oldest first. */
  live(): UpdateRequestView[];
  /** The request of this model that has not ended, if any. */
  liveFor(model: string): UpdateRequestView | undefined;
  cooldownUntil(model: string, deviceId: string): number;
  setCooldown(model: string, deviceId: string, untilMs: number): void;
  /** Ended requests whose alert still gets inactive observations, with how many are left. */
  clears(): { id: string; left: number }[];
  setClears(id: string, left: number): void;
}

const ended = [...endedStates].map((s) => `'${s}'`).join(', ');

function seqOf(id: string): number | undefined {
  const m = /^ur-([1-9][0-9]{0,15})$/.exec(id);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

export function openUpdateStore(db: SqliteDatabase): UpdateStore {
  db.exec(`
    CREATE TABLE IF NOT EXISTS update_schema (version INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS update_requests (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      model TEXT NOT NULL,
      state TEXT NOT NULL,
      created_ms INTEGER NOT NULL,
      updated_ms INTEGER NOT NULL,
      record TEXT NOT NULL,
      clears_left INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS update_requests_model_state ON update_requests (model, state);
    CREATE TABLE IF NOT EXISTS update_cooldowns (
      model TEXT NOT NULL,
      device_id TEXT NOT NULL,
      until_ms INTEGER NOT NULL,
      PRIMARY KEY (model, device_id)
    );
  `);
  const v = db.get<{ version: number }>('SELECT version FROM update_schema LIMIT 1');
  if (v === undefined) db.run('INSERT INTO update_schema (version) VALUES (?)', [UPDATE_SCHEMA_VERSION]);
  else if (v.version > UPDATE_SCHEMA_VERSION)
    throw new Error(
      `update_ tables have schema ${String(v.version)}, newer than this build (${String(UPDATE_SCHEMA_VERSION)})`,
    );

  const parse = (row: { record: string } | undefined): UpdateRequestView | undefined =>
    row === undefined ? undefined : (JSON.parse(row.record) as UpdateRequestView);

  const insertTx = db.transaction((make: (id: string) => UpdateRequestView): UpdateRequestView => {
    const r = db.run(
      "INSERT INTO update_requests (model, state, created_ms, updated_ms, record) VALUES ('', 'open', 0, 0, '{}')",
    );
    const rec = make(`ur-${String(r.lastInsertRowid)}`);
    db.run(
      'UPDATE update_requests SET model = ?, state = ?, created_ms = ?, updated_ms = ?, record = ? WHERE seq = ?',
      [rec.model.name, rec.state, rec.createdMs, rec.updatedMs, JSON.stringify(rec), r.lastInsertRowid],
    );
    return rec;
  });

  return {
    insert: (make) => insertTx(make),
    save(r) {
      const seq = seqOf(r.id);
      if (seq === undefined) throw new Error(`not an update request id: ${r.id}`);
      db.run('UPDATE update_requests SET state = ?, updated_ms = ?, record = ? WHERE seq = ?', [
        r.state,
        r.updatedMs,
        JSON.stringify(r),
        seq,
      ]);
    },
    get(id) {
      const seq = seqOf(id);
      if (seq === undefined) return undefined;
      return parse(db.get<{ record: string }>('SELECT record FROM update_requests WHERE seq = ?', [seq]));
    },
    list(o = {}) {
      const where: string[] = [];
      const params: (string | number)[] = [];
      if (o.state !== undefined) {
        where.push('state = ?');
        params.push(o.state);
      }
      if (o.model !== undefined) {
        where.push('model = ?');
        params.push(o.model);
      }
      params.push(o.limit ?? 100);
      return db
        .all<{ record: string }>(
          `SELECT record FROM update_requests ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`,
          params,
        )
        .map((row) => JSON.parse(row.record) as UpdateRequestView);
    },
    live() {
      return db
        .all<{ record: string }>(
          `SELECT record FROM update_requests WHERE state NOT IN (${ended}) ORDER BY seq`,
        )
        .map((row) => JSON.parse(row.record) as UpdateRequestView);
    },
    liveFor(model) {
      return parse(
        db.get<{ record: string }>(
          `SELECT record FROM update_requests WHERE model = ? AND state NOT IN (${ended}) ORDER BY seq LIMIT 1`,
          [model],
        ),
      );
    },
    cooldownUntil(model, deviceId) {
      return (
        db.get<{ until_ms: number }>(
          'SELECT until_ms FROM update_cooldowns WHERE model = ? AND device_id = ?',
          [model, deviceId],
        )?.until_ms ?? 0
      );
    },
    setCooldown(model, deviceId, untilMs) {
      db.run(
        `INSERT INTO update_cooldowns (model, device_id, until_ms) VALUES (?, ?, ?)
         ON CONFLICT (model, device_id) DO UPDATE SET until_ms = MAX(until_ms, excluded.until_ms)`,
        [model, deviceId, untilMs],
      );
    },
    clears() {
      return db
        .all<{ seq: number; clears_left: number }>(
          'SELECT seq, clears_left FROM update_requests WHERE clears_left > 0 ORDER BY seq',
        )
        .map((r) => ({ id: `ur-${String(r.seq)}`, left: r.clears_left }));
    },
    setClears(id, left) {
      const seq = seqOf(id);
      if (seq !== undefined) db.run('UPDATE update_requests SET clears_left = ? WHERE seq = ?', [left, seq]);
    },
  };
}

export function isEnded(state: UpdateRequestState): boolean {
  return endedStates.has(state);
}
