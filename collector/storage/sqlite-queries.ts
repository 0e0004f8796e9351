// Reads for the HTTP API and the monitors (docs/storage.md §Queries): packed rows decoded back to arrays
// and records. Ranges are [fromMs, toMs) on sender time, oldest first, bounded by a limit.

import type { SqlValue } from '../../shared/platform/sqlite.ts';
import { unpackFloat32 } from './packing.ts';
import { decodeSummary, type PredictionMix } from './rollup.ts';
import type { SqliteContext } from './sqlite-context.ts';
import type {
  DeploymentRecord,
  DeviceRecord,
  FeatureSummary,
  FlagStatus,
  IntegrityEventRecord,
  MonitorResultInput,
  MonitorResultRecord,
  RollupQuery,
  RollupRecord,
  TimeRange,
  WindowRecord,
} from './types.ts';

const DEFAULT_LIMIT = 10_000;
const statusName: readonly FlagStatus[] = ['good', 'suspect', 'fail'];

interface DeviceRow {
  device_id: string;
  first_seen_ms: number;
  last_seen_ms: number;
  status_state: 'online' | 'offline' | null;
  status_reason: string | null;
  status_ms: number | null;
  boot_id: number | null;
  run_id: number | null;
  model: number | null;
  firmware_version: string | null;
  agent_version: string | null;
}

export function toDevice(ctx: SqliteContext, r: DeviceRow): DeviceRecord {
  return {
    deviceId: r.device_id,
    firstSeenMs: r.first_seen_ms,
    lastSeenMs: r.last_seen_ms,
    lastStatus:
      r.status_state === null
        ? null
        : { state: r.status_state, reason: r.status_reason ?? '', atMs: r.status_ms ?? r.last_seen_ms },
    bootId: r.boot_id,
    runId: r.run_id,
    model: r.model === null ? null : ctx.model(r.model),
    firmwareVersion: r.firmware_version,
    agentVersion: r.agent_version,
  };
}

export function queryDevices(ctx: SqliteContext, deviceId?: string): DeviceRecord[] {
  const rows =
    deviceId === undefined
      ? ctx.db.all<DeviceRow>('SELECT * FROM devices ORDER BY device_id')
      : ctx.db.all<DeviceRow>('SELECT * FROM devices WHERE device_id = ?', [deviceId]);
  return rows.map((r) => toDevice(ctx, r));
}

interface WindowRow {
  device: number;
  run_id: number;
  msg_seq: number;
  ts_ms: number;
  received_ms: number;
  boot_id: number;
  window_index: number;
  start_us: number;
  end_us: number;
  layout: number;
  features: Uint8Array;
  model: number | null;
  integrity: number;
  integrity_flags: string | null;
  frames_decoded: number;
  frames_invalid: number;
  samples: number;
  gaps: number;
  samples_missing: number;
  windows_total: number;
  label: string | null;
  class_layout: number | null;
  probabilities: Uint8Array | null;
  latency_ms: number | null;
}

const WINDOW_SELECT = `SELECT w.*, p.label, p.layout AS class_layout, p.probabilities, p.latency_ms
  FROM windows w LEFT JOIN predictions p ON p.window_id = w.id`;

function toWindow(ctx: SqliteContext, r: WindowRow): WindowRecord {
  const layout = ctx.layout(r.layout);
  let prediction: WindowRecord['prediction'] = null;
  if (r.label !== null && r.class_layout !== null && r.probabilities !== null) {
    const classes = ctx.layout(r.class_layout).names;
    const p = unpackFloat32(r.probabilities);
    const probabilities: Record<string, number> = {};
    classes.forEach((c, i) => (probabilities[c] = p[i] as number));
    prediction = { label: r.label, probabilities, latencyMs: r.latency_ms ?? 0 };
  }
  return {
    deviceId: ctx.deviceName(r.device),
    runId: r.run_id,
    msgSeq: r.msg_seq,
    tsMs: r.ts_ms,
    receivedMs: r.received_ms,
    bootId: r.boot_id,
    windowIndex: r.window_index,
    startUs: r.start_us,
    endUs: r.end_us,
    featurePipeline: layout.pipeline,
    featureNames: layout.names,
    values: unpackFloat32(r.features),
    model: r.model === null ? null : ctx.model(r.model),
    prediction,
    integrityStatus: statusName[r.integrity] ?? 'fail',
    integrityFlags: r.integrity_flags === null ? [] : (JSON.parse(r.integrity_flags) as unknown[]),
    counters: {
      framesDecoded: r.frames_decoded,
      framesInvalid: r.frames_invalid,
      samples: r.samples,
      gaps: r.gaps,
      samplesMissing: r.samples_missing,
      windows: r.windows_total,
    },
  };
}

export function queryWindows(ctx: SqliteContext, q: TimeRange): WindowRecord[] {
  const device = ctx.findDevice(q.deviceId);
  if (device === undefined) return [];
  return ctx.db
    .all<WindowRow>(
      `${WINDOW_SELECT} WHERE w.device = ? AND w.ts_ms >= ? AND w.ts_ms < ? ORDER BY w.ts_ms, w.id LIMIT ?`,
      [device, q.fromMs, q.toMs, q.limit ?? DEFAULT_LIMIT],
    )
    .map((r) => toWindow(ctx, r));
}

export function queryLatestWindows(ctx: SqliteContext): WindowRecord[] {
  return ctx.db
    .all<WindowRow>(
      `SELECT w.*, p.label, p.layout AS class_layout, p.probabilities, p.latency_ms FROM devices d
         JOIN windows w ON w.id = (SELECT id FROM windows WHERE device = d.id ORDER BY ts_ms DESC, id DESC LIMIT 1)
         LEFT JOIN predictions p ON p.window_id = w.id ORDER BY d.device_id`,
    )
    .map((r) => toWindow(ctx, r));
}

export function queryRollups(ctx: SqliteContext, q: RollupQuery): RollupRecord[] {
  const device = ctx.findDevice(q.deviceId);
  if (device === undefined) return [];
  const rows = ctx.db.all<{
    bucket_ms: number;
    layout: number;
    bin_set: number;
    windows: number;
    predictions: string;
    stats: Uint8Array;
  }>(
    `SELECT bucket_ms, layout, bin_set, windows, predictions, stats FROM rollups
       WHERE device = ? AND resolution_s = ? AND bucket_ms >= ? AND bucket_ms < ? ORDER BY bucket_ms, layout, bin_set`,
    [device, q.resolution === 'minute' ? 60 : 3600, q.fromMs, q.toMs],
  );
  return rows.map((r) => {
    const layout = ctx.layout(r.layout);
    const edges = ctx.binSet(r.bin_set);
    const s = decodeSummary(r.stats, edges);
    const features: Record<string, FeatureSummary> = {};
    const wanted = q.features ?? layout.names;
    for (const name of wanted) {
      const i = ctx.column(layout, name);
      if (i === undefined) continue;
      const lo = s.histOffsets[i] as number;
      const hi = s.histOffsets[i + 1] as number;
      const e = edges?.[i];
      features[name] = {
        count: s.count[i] as number,
        sum: s.sum[i] as number,
        sumSq: s.sumSq[i] as number,
        min: s.min[i] as number,
        max: s.max[i] as number,
        histogram:
          hi > lo && e !== undefined ? { edges: e, counts: Array.from(s.hist.subarray(lo, hi)) } : null,
      };
    }
    const mix = JSON.parse(r.predictions) as PredictionMix;
    return {
      deviceId: q.deviceId,
      resolution: q.resolution,
      bucketStartMs: r.bucket_ms,
      featurePipeline: layout.pipeline,
      windows: r.windows,
      features,
      predictions: mix,
    };
  });
}

export function queryIntegrityEvents(ctx: SqliteContext, q: TimeRange): IntegrityEventRecord[] {
  const device = ctx.findDevice(q.deviceId);
  if (device === undefined) return [];
  return ctx.db
    .all<{
      id: number;
      run_id: number;
      msg_seq: number;
      ts_ms: number;
      received_ms: number;
      boot_id: number;
      window_index: number;
      channel: string;
      check_name: string;
      status: FlagStatus;
      previous_status: FlagStatus;
      reason: string;
      value: number | null;
      threshold: number | null;
    }>(
      'SELECT * FROM integrity_events WHERE device = ? AND ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms, id LIMIT ?',
      [device, q.fromMs, q.toMs, q.limit ?? DEFAULT_LIMIT],
    )
    .map((r) => ({
      id: r.id,
      deviceId: q.deviceId,
      runId: r.run_id,
      msgSeq: r.msg_seq,
      tsMs: r.ts_ms,
      receivedMs: r.received_ms,
      bootId: r.boot_id,
      windowIndex: r.window_index,
      channel: r.channel,
      check: r.check_name,
      status: r.status,
      previousStatus: r.previous_status,
      reason: r.reason,
      value: r.value,
      threshold: r.threshold,
    }));
}

export function insertMonitorResults(ctx: SqliteContext, results: readonly MonitorResultInput[]): void {
  const ins = ctx.db.prepare(
    `INSERT INTO monitor_results (device, monitor, channel, ts_ms, status, statistic, threshold, details)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  ctx.db.transaction(() => {
    for (const r of results) {
      ins.run(
        r.deviceId,
        r.monitor,
        r.channel,
        r.tsMs,
        r.status,
        r.statistic,
        r.threshold,
        r.details === undefined ? null : JSON.stringify(r.details),
      );
    }
  })();
}

export function queryMonitorResults(
  ctx: SqliteContext,
  q: TimeRange & { readonly monitor?: string },
): MonitorResultRecord[] {
  const params: SqlValue[] = [q.deviceId, q.fromMs, q.toMs];
  let sql = 'SELECT * FROM monitor_results WHERE device = ? AND ts_ms >= ? AND ts_ms < ?';
  if (q.monitor !== undefined) {
    sql += ' AND monitor = ?';
    params.push(q.monitor);
  }
  params.push(q.limit ?? DEFAULT_LIMIT);
  return ctx.db
    .all<{
      id: number;
      device: string | null;
      monitor: string;
      channel: string | null;
      ts_ms: number;
      status: string;
      statistic: number | null;
      threshold: number | null;
      details: string | null;
    }>(`${sql} ORDER BY ts_ms, id LIMIT ?`, params)
    .map((r) => ({
      id: r.id,
      deviceId: r.device,
      monitor: r.monitor,
      channel: r.channel,
      tsMs: r.ts_ms,
      status: r.status,
      statistic: r.statistic,
      threshold: r.threshold,
      details: r.details === null ? undefined : (JSON.parse(r.details) as unknown),
    }));
}

export function queryDeployments(ctx: SqliteContext, deviceId: string): DeploymentRecord[] {
  const device = ctx.findDevice(deviceId);
  if (device === undefined) return [];
  return ctx.db
    .all<{ model: number; since_ms: number; until_ms: number | null; source: string }>(
      'SELECT model, since_ms, until_ms, source FROM deployments WHERE device = ? ORDER BY since_ms, id',
      [device],
    )
    .map((r) => ({
      deviceId,
      model: ctx.model(r.model),
      sinceMs: r.since_ms,
      untilMs: r.until_ms,
      source: r.source,
    }));
}
