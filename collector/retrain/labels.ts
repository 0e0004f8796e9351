// Operator labels (issue 10 §2 "operator labels: an API to record 'device X was in state Y from t1 to
// t2', as a maintenance log would"). Tables prefixed `label_` in the loop database. A captured window
// whose device time (tsMs) lies in [fromMs, toMs) of a label of its device takes that label; where labels
// overlap, the one recorded last wins (a correction).

import { fail, ok, type Result } from '../../shared/errors.ts';
import { validateDeviceId } from '../../shared/mqtt/topics.ts';
import type { SqliteDatabase } from '../../shared/platform/sqlite.ts';

export interface OperatorLabel {
  /** `lb-<n>`. */
  readonly id: string;
  readonly deviceId: string;
  /** A machine state (normal, imbalance, ...). */
  readonly state: string;
  /** Device time (telemetry tsMs), [fromMs, toMs). */
  readonly fromMs: number;
  readonly toMs: number;
  readonly note: string;
  readonly actor: string;
  readonly createdMs: number;
}

export interface LabelInput {
  readonly deviceId: string;
  readonly state: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly note?: string;
}

export interface LabelStore {
  add(input: LabelInput, actor: string, nowMs: number): Result<OperatorLabel>;
  /** Labels overlapping [fromMs, toMs) of the device (all devices when absent), oldest first. */
  list(options?: { deviceId?: string; fromMs?: number; toMs?: number; limit?: number }): OperatorLabel[];
  remove(id: string): boolean;
}

interface Row {
  id: number;
  device_id: string;
  state: string;
  from_ms: number;
  to_ms: number;
  note: string;
  actor: string;
  created_ms: number;
}

const view = (r: Row): OperatorLabel => ({
  id: `lb-${r.id}`,
  deviceId: r.device_id,
  state: r.state,
  fromMs: r.from_ms,
  toMs: r.to_ms,
  note: r.note,
  actor: r.actor,
  createdMs: r.created_ms,
});

/** `states`: the labels a model may learn (firmware-sim's machine states); others are refused. */
export function openLabelStore(db: SqliteDatabase, states: readonly string[]): LabelStore {
  db.exec(`
    CREATE TABLE IF NOT EXISTS label_schema (version INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS label_entries (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      device_id TEXT NOT NULL,
      state TEXT NOT NULL,
      from_ms INTEGER NOT NULL,
      to_ms INTEGER NOT NULL,
      note TEXT NOT NULL DEFAULT '',
      actor TEXT NOT NULL,
      created_ms INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS label_entries_device ON label_entries (device_id, from_ms);
  `);
  if (db.get<{ version: number }>('SELECT version FROM label_schema') === undefined)
    db.run('INSERT INTO label_schema (version) VALUES (1)');
  return {
    add(input, actor, nowMs) {
      const d = validateDeviceId(input.deviceId);
      if (!d.ok) return fail('EDGELOOP_ERR_LABEL_INVALID', d.message);
      if (!states.includes(input.state))
        return fail(
          'EDGELOOP_ERR_LABEL_INVALID',
          `state "${input.state}": expected one of ${states.join(', ')}`,
        );
      if (
        !Number.isSafeInteger(input.fromMs) ||
        !Number.isSafeInteger(input.toMs) ||
        input.fromMs >= input.toMs
      )
        return fail(
          'EDGELOOP_ERR_LABEL_INVALID',
          `fromMs (${input.fromMs}) must be an integer before toMs (${input.toMs}): the range is [from, to)`,
        );
      const r = db.run(
        'INSERT INTO label_entries (device_id, state, from_ms, to_ms, note, actor, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [input.deviceId, input.state, input.fromMs, input.toMs, input.note ?? '', actor, nowMs],
      );
      return ok(
        view(db.get<Row>('SELECT * FROM label_entries WHERE id = ?', [Number(r.lastInsertRowid)]) as Row),
      );
    },
    list(options = {}) {
      const where: string[] = [];
      const params: (string | number)[] = [];
      if (options.deviceId !== undefined) {
        where.push('device_id = ?');
        params.push(options.deviceId);
      }
      if (options.toMs !== undefined) {
        where.push('from_ms < ?');
        params.push(options.toMs);
      }
      if (options.fromMs !== undefined) {
        where.push('to_ms > ?');
        params.push(options.fromMs);
      }
      const sql = `SELECT * FROM label_entries ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`;
      return db.all<Row>(sql, [...params, options.limit ?? 10_000]).map(view);
    },
    remove(id) {
      const m = /^lb-([1-9]\d{0,14})$/.exec(id);
      if (m?.[1] === undefined) return false;
      return db.run('DELETE FROM label_entries WHERE id = ?', [Number(m[1])]).changes > 0;
    },
  };
}
