// The rollout tables (prefix `rollout_`, contract-10) and the mapping between their rows and the
// controller's types; the queries are store.ts.

import type { ModelRef, ModelStateName } from '../../shared/mqtt/schemas.ts';
import {
  defaultAnalysisPolicy,
  type InventoryRow,
  type PhaseView,
  type ResolvedPlan,
  type RolloutDeviceView,
  type RolloutState,
} from './types.ts';

export const SCHEMA_VERSION = 1;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS rollout_schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rollout_rollouts (
  id TEXT PRIMARY KEY, n INTEGER NOT NULL UNIQUE, model TEXT NOT NULL, from_version TEXT,
  to_version TEXT NOT NULL, state TEXT NOT NULL, actor TEXT NOT NULL, reason TEXT NOT NULL,
  plan_json TEXT NOT NULL, current_phase INTEGER NOT NULL, pause_reason TEXT, production_json TEXT,
  canary_prev TEXT, production_prev TEXT, end_state TEXT, created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL, ended_ms INTEGER);
CREATE TABLE IF NOT EXISTS rollout_phases (
  rollout_id TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL, percent REAL, bake_s REAL NOT NULL,
  devices_json TEXT NOT NULL, state TEXT NOT NULL, started_ms INTEGER, settled_ms INTEGER,
  bake_until_ms INTEGER, ended_ms INTEGER, verdict TEXT, PRIMARY KEY (rollout_id, idx));
CREATE TABLE IF NOT EXISTS rollout_devices (
  rollout_id TEXT NOT NULL, device_id TEXT NOT NULL, phase INTEGER NOT NULL, state TEXT NOT NULL,
  deploy_seq INTEGER, model_state TEXT, code TEXT, reason TEXT, attempts INTEGER NOT NULL DEFAULT 0,
  sent_ms INTEGER, settled_ms INTEGER, updated_ms INTEGER NOT NULL, PRIMARY KEY (rollout_id, device_id));
CREATE INDEX IF NOT EXISTS rollout_devices_by_device ON rollout_devices (device_id);
CREATE TABLE IF NOT EXISTS rollout_seq (device_id TEXT PRIMARY KEY, last_sent INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rollout_analyses (
  id INTEGER PRIMARY KEY AUTOINCREMENT, rollout_id TEXT NOT NULL, phase INTEGER NOT NULL,
  at_ms INTEGER NOT NULL, verdict TEXT NOT NULL, reasons_json TEXT NOT NULL, checks_json TEXT NOT NULL,
  figures_json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rollout_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, rollout_id TEXT NOT NULL, at_ms INTEGER NOT NULL,
  actor TEXT NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS rollout_events_by_rollout ON rollout_events (rollout_id, id);
CREATE TABLE IF NOT EXISTS rollout_inventory (
  device_id TEXT PRIMARY KEY, active_json TEXT, state TEXT, target_json TEXT, deploy_seq INTEGER,
  code TEXT, reason TEXT, state_ms INTEGER, online INTEGER, rollout_id TEXT);
`;

export interface RolloutRow {
  readonly id: string;
  readonly model: string;
  readonly fromVersion: string | null;
  readonly toVersion: string;
  readonly state: RolloutState;
  readonly actor: string;
  readonly reason: string;
  readonly plan: ResolvedPlan;
  readonly currentPhase: number;
  readonly pauseReason: string | null;
  readonly production: {
    readonly moved: boolean;
    readonly from: string | null;
    readonly code: string | null;
    readonly message: string;
  } | null;
  /** What `canary` pointed at before this rollout moved it (null: it did not exist). */
  readonly canaryPrev: string | null;
  /** What `production` pointed at when the rollout started: the compare-and-set's expected version. */
  readonly productionPrev: string | null;
  /** While rolling_back: where it ends (rolled_back after a failed analysis, aborted by an operator). */
  readonly endState: 'rolled_back' | 'aborted' | null;
  readonly createdMs: number;
  readonly updatedMs: number;
  readonly endedMs: number | null;
}

export interface RolloutSql {
  id: string;
  model: string;
  from_version: string | null;
  to_version: string;
  state: string;
  actor: string;
  reason: string;
  plan_json: string;
  current_phase: number;
  pause_reason: string | null;
  production_json: string | null;
  canary_prev: string | null;
  production_prev: string | null;
  end_state: string | null;
  created_ms: number;
  updated_ms: number;
  ended_ms: number | null;
}

export interface PhaseSql {
  idx: number;
  name: string;
  percent: number | null;
  bake_s: number;
  devices_json: string;
  state: string;
  started_ms: number | null;
  settled_ms: number | null;
  bake_until_ms: number | null;
  ended_ms: number | null;
  verdict: string | null;
}

export interface DeviceSql {
  device_id: string;
  phase: number;
  state: string;
  deploy_seq: number | null;
  model_state: string | null;
  code: string | null;
  reason: string | null;
  attempts: number;
  sent_ms: number | null;
  settled_ms: number | null;
  updated_ms: number;
}

export interface InventorySql {
  device_id: string;
  active_json: string | null;
  state: string | null;
  target_json: string | null;
  deploy_seq: number | null;
  code: string | null;
  reason: string | null;
  state_ms: number | null;
  online: number | null;
  rollout_id: string | null;
}

export const parseRef = (s: string | null): ModelRef | null =>
  s === null ? null : (JSON.parse(s) as ModelRef);

export function rolloutOf(r: RolloutSql): RolloutRow {
  return {
    id: r.id,
    model: r.model,
    fromVersion: r.from_version,
    toVersion: r.to_version,
    state: r.state as RolloutState,
    actor: r.actor,
    reason: r.reason,
    plan: planOf(r.plan_json),
    currentPhase: r.current_phase,
    pauseReason: r.pause_reason,
    production:
      r.production_json === null ? null : (JSON.parse(r.production_json) as RolloutRow['production']),
    canaryPrev: r.canary_prev,
    productionPrev: r.production_prev,
    endState: r.end_state as RolloutRow['endState'],
    createdMs: r.created_ms,
    updatedMs: r.updated_ms,
    endedMs: r.ended_ms,
  };
}

export type PhasePatch = Partial<
  Pick<PhaseView, 'state' | 'startedMs' | 'settledMs' | 'bakeUntilMs' | 'endedMs' | 'verdict'>
>;
export type DevicePatch = Partial<
  Pick<
    RolloutDeviceView,
    'state' | 'deploySeq' | 'modelState' | 'code' | 'reason' | 'attempts' | 'sentMs' | 'settledMs'
  >
>;

export const phaseColumns: Readonly<Record<keyof PhasePatch, string>> = {
  state: 'state',
  startedMs: 'started_ms',
  settledMs: 'settled_ms',
  bakeUntilMs: 'bake_until_ms',
  endedMs: 'ended_ms',
  verdict: 'verdict',
};
export const deviceColumns: Readonly<Record<keyof DevicePatch, string>> = {
  state: 'state',
  deploySeq: 'deploy_seq',
  modelState: 'model_state',
  code: 'code',
  reason: 'reason',
  attempts: 'attempts',
  sentMs: 'sent_ms',
  settledMs: 'settled_ms',
};

export function setClause(
  patch: Readonly<Record<string, unknown>>,
  columns: Readonly<Record<string, string>>,
): [string, Record<string, string | number | null>] {
  const sets: string[] = [];
  const params: Record<string, string | number | null> = {};
  for (const [k, v] of Object.entries(patch)) {
    const col = columns[k];
    if (col === undefined || v === undefined) continue;
    sets.push(`${col} = @${k}`);
    params[k] = v as string | number | null;
  }
  return [sets.join(', '), params];
}

export function inventoryOf(r: InventorySql): InventoryRow {
  return {
    deviceId: r.device_id,
    model: parseRef(r.active_json),
    state: r.state as ModelStateName | null,
    target: parseRef(r.target_json),
    deploySeq: r.deploy_seq,
    code: r.code,
    reason: r.reason,
    stateMs: r.state_ms,
    online: r.online === null ? null : r.online === 1,
    rolloutId: r.rollout_id,
  };
}

/** A stored plan; analysis options added since it was stored take their defaults. */
function planOf(json: string): ResolvedPlan {
  const plan = JSON.parse(json) as ResolvedPlan;
  return { ...plan, analysis: { ...defaultAnalysisPolicy, ...plan.analysis } };
}
