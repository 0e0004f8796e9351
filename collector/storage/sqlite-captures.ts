// Raw sample captures in SQLite (issue #9 §2 "Raw sample blocks are kept on demand"): a capture request
// names a device and a receive-time range; sqlite-writer.ts keeps the raw blocks that fall in one.

import { unpackFloat32 } from './packing.ts';
import type { SqliteContext } from './sqlite-context.ts';
import type { CaptureRecord, RawBlockRecord } from './types.ts';

interface CaptureRow {
  id: number;
  device: number;
  from_ms: number;
  to_ms: number;
  created_ms: number;
  note: string;
}

const toCapture = (ctx: SqliteContext, r: CaptureRow): CaptureRecord => ({
  id: r.id,
  deviceId: ctx.deviceName(r.device),
  fromMs: r.from_ms,
  toMs: r.to_ms,
  createdMs: r.created_ms,
  note: r.note,
});

export function requestCapture(
  ctx: SqliteContext,
  deviceId: string,
  fromMs: number,
  toMs: number,
  nowMs: number,
  note: string,
): CaptureRecord {
  return ctx.db.transaction(
    () => {
      const device = ctx.device(deviceId, nowMs);
      const r = ctx.db.run(
        'INSERT INTO captures (device, from_ms, to_ms, created_ms, note) VALUES (?, ?, ?, ?, ?)',
        [device, fromMs, toMs, nowMs, note],
      );
      return { id: Number(r.lastInsertRowid), deviceId, fromMs, toMs, createdMs: nowMs, note };
    },
    { immediate: true },
  )();
}

export function queryCaptures(ctx: SqliteContext, deviceId?: string): CaptureRecord[] {
  if (deviceId === undefined)
    return ctx.db.all<CaptureRow>('SELECT * FROM captures ORDER BY id').map((r) => toCapture(ctx, r));
  const device = ctx.findDevice(deviceId);
  if (device === undefined) return [];
  return ctx.db
    .all<CaptureRow>('SELECT * FROM captures WHERE device = ? ORDER BY id', [device])
    .map((r) => toCapture(ctx, r));
}

export function queryRawBlocks(ctx: SqliteContext, captureId: number): RawBlockRecord[] {
  return ctx.db
    .all<{
      capture: number;
      device: number;
      run_id: number;
      msg_seq: number;
      received_ms: number;
      sensor_id: number;
      axes: number;
      boot_id: number;
      first_index: number;
      timestamp_us: number;
      period_us: number;
      count: number;
      samples: Uint8Array;
    }>('SELECT * FROM raw_blocks WHERE capture = ? ORDER BY id', [captureId])
    .map((r) => ({
      captureId: r.capture,
      deviceId: ctx.deviceName(r.device),
      runId: r.run_id,
      msgSeq: r.msg_seq,
      receivedMs: r.received_ms,
      sensorId: r.sensor_id,
      axes: r.axes,
      bootId: r.boot_id,
      firstIndex: r.first_index,
      timestampUs: r.timestamp_us,
      periodUs: r.period_us,
      count: r.count,
      values: unpackFloat32(r.samples),
    }));
}

export function deleteCapture(ctx: SqliteContext, captureId: number): boolean {
  return ctx.db.transaction(
    () => {
      ctx.db.run('DELETE FROM raw_blocks WHERE capture = ?', [captureId]);
      return ctx.db.run('DELETE FROM captures WHERE id = ?', [captureId]).changes > 0;
    },
    { immediate: true },
  )();
}
