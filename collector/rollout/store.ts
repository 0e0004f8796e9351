// The rollout controller's tables in the loop database (contract-10 "each module creates ITS OWN tables,
// with its own prefix"): every table starts with `rollout_`, and everything the controller needs after a
// restart is here, so a collector restarted mid-rollout resumes from these rows (issue #10 §4 "the collector
// restarted mid-rollout (the rollout resumes from its stored state)").

import type { ModelRef, ModelStateName } from '../../shared/mqtt/schemas.ts';
import {
  deviceColumns,
  inventoryOf,
  phaseColumns,
  rolloutOf,
  SCHEMA,
  SCHEMA_VERSION,
  setClause,
  type DevicePatch,
  type DeviceSql,
  type InventorySql,
  type PhasePatch,
  type PhaseSql,
  type RolloutRow,
  type RolloutSql,
} from './store-rows.ts';
import type { SqliteDatabase } from '../../shared/platform/sqlite.ts';
import type {
  AnalysisCheck,
  AnalysisView,
  DeviceRolloutState,
  InventoryRow,
  PhaseState,
  PhaseView,
  RolloutDeviceView,
  RolloutEvent,
  RolloutState,
  Verdict,
} from './types.ts';

export type { DevicePatch, PhasePatch, RolloutRow };

export class RolloutStore {
  readonly #db: SqliteDatabase;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    db.exec(SCHEMA);
    const v = db.get<{ version: number }>('SELECT version FROM rollout_schema');
    if (v === undefined) db.run('INSERT INTO rollout_schema (version) VALUES (?)', [SCHEMA_VERSION]);
    else if (v.version > SCHEMA_VERSION)
      throw new Error(`rollout tables are schema ${v.version}, newer than this build (${SCHEMA_VERSION})`);
  }

  /** Runs fn in one transaction (no await inside: STYLE.md habit 12). */
  tx<R>(fn: () => R): R {
    return this.#db.transaction(fn)();
  }

  nextId(): { id: string; n: number } {
    const r = this.#db.get<{ n: number | null }>('SELECT MAX(n) AS n FROM rollout_rollouts');
    const n = (r?.n ?? 0) + 1;
    return { id: `ro-${n}`, n };
  }

  insertRollout(
    n: number,
    row: Omit<RolloutRow, 'production' | 'endedMs' | 'pauseReason' | 'endState'>,
    phases: readonly { name: string; percent: number | null; bakeS: number; devices: readonly string[] }[],
  ): void {
    this.#db.run(
      `INSERT INTO rollout_rollouts (id, n, model, from_version, to_version, state, actor, reason, plan_json,
         current_phase, canary_prev, production_prev, created_ms, updated_ms)
       VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
      [
        row.id,
        n,
        row.model,
        row.fromVersion,
        row.toVersion,
        row.state,
        row.actor,
        row.reason,
        JSON.stringify(row.plan),
        row.currentPhase,
        row.canaryPrev,
        row.productionPrev,
        row.createdMs,
        row.updatedMs,
      ],
    );
    phases.forEach((p, idx) => {
      this.#db.run(
        `INSERT INTO rollout_phases (rollout_id, idx, name, percent, bake_s, devices_json, state)
         VALUES (?,?,?,?,?,?,'pending')`,
        [row.id, idx, p.name, p.percent, p.bakeS, JSON.stringify(p.devices)],
      );
      for (const d of p.devices)
        this.#db.run(
          `INSERT INTO rollout_devices (rollout_id, device_id, phase, state, updated_ms) VALUES (?,?,?,'pending',?)`,
          [row.id, d, idx, row.createdMs],
        );
    });
  }

  rollout(id: string): RolloutRow | undefined {
    const r = this.#db.get<RolloutSql>('SELECT * FROM rollout_rollouts WHERE id = ?', [id]);
    return r === undefined ? undefined : rolloutOf(r);
  }

  rollouts(filter: { state?: RolloutState; model?: string; limit?: number } = {}): RolloutRow[] {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.state !== undefined) {
      where.push('state = ?');
      params.push(filter.state);
    }
    if (filter.model !== undefined) {
      where.push('model = ?');
      params.push(filter.model);
    }
    params.push(filter.limit ?? 100);
    return this.#db
      .all<RolloutSql>(
        `SELECT * FROM rollout_rollouts ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY n DESC LIMIT ?`,
        params,
      )
      .map(rolloutOf);
  }

  /** Rollouts the timer advances: running and rolling_back (paused ones still follow device states). */
  active(): RolloutRow[] {
    return this.#db
      .all<RolloutSql>(
        `SELECT * FROM rollout_rollouts WHERE state IN ('running', 'rolling_back', 'paused') ORDER BY n`,
      )
      .map(rolloutOf);
  }

  updateRollout(
    id: string,
    patch: Partial<
      Pick<RolloutRow, 'state' | 'currentPhase' | 'pauseReason' | 'production' | 'endedMs' | 'endState'>
    >,
    nowMs: number,
  ): void {
    const cols: Record<string, string> = {
      state: 'state',
      currentPhase: 'current_phase',
      pauseReason: 'pause_reason',
      production: 'production_json',
      endedMs: 'ended_ms',
      endState: 'end_state',
    };
    const flat: Record<string, unknown> = { ...patch };
    if (patch.production !== undefined) flat.production = JSON.stringify(patch.production);
    const [sets, params] = setClause(flat, cols);
    this.#db.run(
      `UPDATE rollout_rollouts SET ${sets}${sets === '' ? '' : ', '}updated_ms = @nowMs WHERE id = @id`,
      { ...params, nowMs, id },
    );
  }

  phases(id: string): PhaseView[] {
    return this.#db
      .all<PhaseSql>('SELECT * FROM rollout_phases WHERE rollout_id = ? ORDER BY idx', [id])
      .map((p) => ({
        index: p.idx,
        name: p.name,
        percent: p.percent,
        bakeS: p.bake_s,
        state: p.state as PhaseState,
        devices: JSON.parse(p.devices_json) as string[],
        startedMs: p.started_ms,
        settledMs: p.settled_ms,
        bakeUntilMs: p.bake_until_ms,
        endedMs: p.ended_ms,
        verdict: p.verdict as Verdict | null,
      }));
  }

  updatePhase(id: string, idx: number, patch: PhasePatch): void {
    const [sets, params] = setClause(patch, phaseColumns);
    if (sets === '') return;
    this.#db.run(`UPDATE rollout_phases SET ${sets} WHERE rollout_id = @id AND idx = @idx`, {
      ...params,
      id,
      idx,
    });
  }

  devices(id: string): RolloutDeviceView[] {
    return this.#db
      .all<DeviceSql>('SELECT * FROM rollout_devices WHERE rollout_id = ? ORDER BY phase, device_id', [id])
      .map(deviceOf);
  }

  /** One device of a rollout (a model state arrives per device: no scan of the whole rollout). */
  device(id: string, deviceId: string): RolloutDeviceView | undefined {
    const d = this.#db.get<DeviceSql>(
      'SELECT * FROM rollout_devices WHERE rollout_id = ? AND device_id = ?',
      [id, deviceId],
    );
    return d === undefined ? undefined : deviceOf(d);
  }

  updateDevice(id: string, deviceId: string, patch: DevicePatch, nowMs: number): void {
    const [sets, params] = setClause(patch, deviceColumns);
    this.#db.run(
      `UPDATE rollout_devices SET ${sets}${sets === '' ? '' : ', '}updated_ms = @nowMs
       WHERE rollout_id = @id AND device_id = @deviceId`,
      { ...params, nowMs, id, deviceId },
    );
  }

  /** Rollouts (any state) that include this device, newest first. */
  rolloutsOfDevice(deviceId: string): string[] {
    return this.#db
      .all<{ rollout_id: string }>(
        `SELECT d.rollout_id FROM rollout_devices d JOIN rollout_rollouts r ON r.id = d.rollout_id
         WHERE d.device_id = ? ORDER BY r.n DESC`,
        [deviceId],
      )
      .map((r) => r.rollout_id);
  }

  lastSeq(deviceId: string): number | null {
    return (
      this.#db.get<{ last_sent: number }>('SELECT last_sent FROM rollout_seq WHERE device_id = ?', [deviceId])
        ?.last_sent ?? null
    );
  }

  setLastSeq(deviceId: string, seq: number): void {
    this.#db.run(
      `INSERT INTO rollout_seq (device_id, last_sent) VALUES (?, ?)
       ON CONFLICT(device_id) DO UPDATE SET last_sent = MAX(last_sent, excluded.last_sent)`,
      [deviceId, seq],
    );
  }

  addAnalysis(
    id: string,
    a: {
      phase: number;
      atMs: number;
      verdict: Verdict;
      reasons: readonly string[];
      checks: readonly AnalysisCheck[];
      figures: unknown;
    },
  ): void {
    this.#db.run(
      `INSERT INTO rollout_analyses (rollout_id, phase, at_ms, verdict, reasons_json, checks_json, figures_json)
       VALUES (?,?,?,?,?,?,?)`,
      [
        id,
        a.phase,
        a.atMs,
        a.verdict,
        JSON.stringify(a.reasons),
        JSON.stringify(a.checks),
        JSON.stringify(a.figures),
      ],
    );
  }

  analyses(id: string): AnalysisView[] {
    return this.#db
      .all<{
        id: number;
        phase: number;
        at_ms: number;
        verdict: string;
        reasons_json: string;
        checks_json: string;
        figures_json: string;
      }>('SELECT * FROM rollout_analyses WHERE rollout_id = ? ORDER BY id', [id])
      .map((a) => ({
        id: a.id,
        phase: a.phase,
        atMs: a.at_ms,
        verdict: a.verdict as Verdict,
        reasons: JSON.parse(a.reasons_json) as string[],
        checks: JSON.parse(a.checks_json) as AnalysisCheck[],
        figures: JSON.parse(a.figures_json) as Record<string, unknown>,
      }));
  }

  addEvent(id: string, e: RolloutEvent): void {
    this.#db.run('INSERT INTO rollout_events (rollout_id, at_ms, actor, kind, message) VALUES (?,?,?,?,?)', [
      id,
      e.atMs,
      e.actor,
      e.kind,
      e.message,
    ]);
  }

  events(id: string): RolloutEvent[] {
    return this.#db
      .all<{ at_ms: number; actor: string; kind: string; message: string }>(
        'SELECT at_ms, actor, kind, message FROM rollout_events WHERE rollout_id = ? ORDER BY id',
        [id],
      )
      .map((e) => ({ atMs: e.at_ms, actor: e.actor, kind: e.kind, message: e.message }));
  }

  inventoryRow(deviceId: string): InventoryRow | undefined {
    const r = this.#db.get<InventorySql>('SELECT * FROM rollout_inventory WHERE device_id = ?', [deviceId]);
    return r === undefined ? undefined : inventoryOf(r);
  }

  inventory(): InventoryRow[] {
    return this.#db.all<InventorySql>('SELECT * FROM rollout_inventory ORDER BY device_id').map(inventoryOf);
  }

  putModelState(
    deviceId: string,
    s: {
      active: ModelRef | null;
      state: ModelStateName;
      target: ModelRef | null;
      deploySeq: number | null;
      code: string | null;
      reason: string;
      atMs: number;
    },
  ): void {
    this.#db.run(
      `INSERT INTO rollout_inventory (device_id, active_json, state, target_json, deploy_seq, code, reason, state_ms)
       VALUES (@d, @a, @s, @t, @q, @c, @r, @m)
       ON CONFLICT(device_id) DO UPDATE SET active_json = @a, state = @s, target_json = @t, deploy_seq = @q,
         code = @c, reason = @r, state_ms = @m`,
      {
        d: deviceId,
        a: s.active === null ? null : JSON.stringify(s.active),
        s: s.state,
        t: s.target === null ? null : JSON.stringify(s.target),
        q: s.deploySeq,
        c: s.code,
        r: s.reason,
        m: s.atMs,
      },
    );
  }

  putOnline(deviceId: string, online: boolean): void {
    this.#db.run(
      `INSERT INTO rollout_inventory (device_id, online) VALUES (?, ?)
       ON CONFLICT(device_id) DO UPDATE SET online = excluded.online`,
      [deviceId, online ? 1 : 0],
    );
  }

  putCommander(deviceId: string, rolloutId: string): void {
    this.#db.run(
      `INSERT INTO rollout_inventory (device_id, rollout_id) VALUES (?, ?)
       ON CONFLICT(device_id) DO UPDATE SET rollout_id = excluded.rollout_id`,
      [deviceId, rolloutId],
    );
  }
}

function deviceOf(d: DeviceSql): RolloutDeviceView {
  return {
    deviceId: d.device_id,
    phase: d.phase,
    state: d.state as DeviceRolloutState,
    deploySeq: d.deploy_seq,
    modelState: d.model_state as ModelStateName | null,
    code: d.code,
    reason: d.reason,
    attempts: d.attempts,
    sentMs: d.sent_ms,
    settledMs: d.settled_ms,
    updatedMs: d.updated_ms,
  };
}
