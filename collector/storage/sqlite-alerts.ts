// Alert lifecycle in SQLite (issue #9 §6 "Lifecycle"): open -> acknowledged -> resolved, deduplicated by
// key. A partial unique index keeps at most one live (open or acknowledged) alert per dedup key; raising
// the key again counts an occurrence on that alert instead of opening another. Hysteresis (when to raise
// and when to resolve) belongs to the monitors; the store keeps the state.

import type { SqliteContext } from './sqlite-context.ts';
import type { AlertInput, AlertQuery, AlertRecord, AlertState } from './types.ts';

interface AlertRow {
  id: number;
  dedup_key: string;
  kind: string;
  severity: AlertRecord['severity'];
  device: string | null;
  channel: string | null;
  state: AlertState;
  opened_ms: number;
  last_seen_ms: number;
  occurrences: number;
  acknowledged_ms: number | null;
  acknowledged_by: string | null;
  resolved_ms: number | null;
  message: string;
  details: string | null;
}

const toAlert = (r: AlertRow): AlertRecord => ({
  id: r.id,
  dedupKey: r.dedup_key,
  kind: r.kind,
  severity: r.severity,
  deviceId: r.device,
  channel: r.channel,
  state: r.state,
  openedMs: r.opened_ms,
  lastSeenMs: r.last_seen_ms,
  occurrences: r.occurrences,
  acknowledgedMs: r.acknowledged_ms,
  acknowledgedBy: r.acknowledged_by,
  resolvedMs: r.resolved_ms,
  message: r.message,
  details: r.details === null ? null : (JSON.parse(r.details) as unknown),
});

function alertById(ctx: SqliteContext, id: number): AlertRecord | undefined {
  const r = ctx.db.get<AlertRow>('SELECT * FROM alerts WHERE id = ?', [id]);
  return r === undefined ? undefined : toAlert(r);
}

/** Inside a transaction: opens the alert or counts an occurrence of the live one with the same key. */
export function raiseAlertIn(ctx: SqliteContext, a: AlertInput, nowMs: number): AlertRecord {
  const details = a.details === undefined ? null : JSON.stringify(a.details);
  const live = ctx.db.get<{ id: number }>(
    "SELECT id FROM alerts WHERE dedup_key = ? AND state != 'resolved'",
    [a.dedupKey],
  );
  if (live !== undefined) {
    ctx.db.run(
      `UPDATE alerts SET last_seen_ms = MAX(last_seen_ms, ?), occurrences = occurrences + 1, kind = ?,
         severity = ?, message = ?, details = ? WHERE id = ?`,
      [nowMs, a.kind, a.severity, a.message, details, live.id],
    );
    return alertById(ctx, live.id) as AlertRecord;
  }
  const r = ctx.db.run(
    `INSERT INTO alerts (dedup_key, kind, severity, device, channel, state, opened_ms, last_seen_ms, occurrences,
       message, details) VALUES (?, ?, ?, ?, ?, 'open', ?, ?, 1, ?, ?)`,
    [a.dedupKey, a.kind, a.severity, a.deviceId, a.channel, nowMs, nowMs, a.message, details],
  );
  return alertById(ctx, Number(r.lastInsertRowid)) as AlertRecord;
}

export function raiseAlert(ctx: SqliteContext, a: AlertInput, nowMs: number): AlertRecord {
  return ctx.db.transaction(() => raiseAlertIn(ctx, a, nowMs), { immediate: true })();
}

/** Acknowledging an open alert; an acknowledged or resolved one is returned unchanged. */
export function acknowledgeAlert(
  ctx: SqliteContext,
  id: number,
  by: string,
  nowMs: number,
): AlertRecord | undefined {
  ctx.db.run(
    "UPDATE alerts SET state = 'acknowledged', acknowledged_ms = ?, acknowledged_by = ? WHERE id = ? AND state = 'open'",
    [nowMs, by, id],
  );
  return alertById(ctx, id);
}

export function resolveAlert(ctx: SqliteContext, id: number, nowMs: number): AlertRecord | undefined {
  ctx.db.run("UPDATE alerts SET state = 'resolved', resolved_ms = ? WHERE id = ? AND state != 'resolved'", [
    nowMs,
    id,
  ]);
  return alertById(ctx, id);
}

export function queryAlerts(ctx: SqliteContext, q: AlertQuery = {}): AlertRecord[] {
  const where: string[] = [];
  const params: (string | number)[] = [];
  if (q.state !== undefined) {
    where.push('state = ?');
    params.push(q.state);
  }
  if (q.deviceId !== undefined) {
    where.push('device = ?');
    params.push(q.deviceId);
  }
  if (q.kind !== undefined) {
    where.push('kind = ?');
    params.push(q.kind);
  }
  params.push(q.limit ?? 1000);
  const sql = `SELECT * FROM alerts ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ORDER BY id DESC LIMIT ?`;
  return ctx.db.all<AlertRow>(sql, params).map(toAlert);
}
