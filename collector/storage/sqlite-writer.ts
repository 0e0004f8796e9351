// writeBatch for the SQLite store (docs/storage.md §Writes and dedup). One batch is ONE transaction with
// no await inside (STYLE.md habit 12). Idempotency is the unique key (device, run_id, msg_seq) of each
// table, written with INSERT OR IGNORE: the key is itself the dedup state, so it survives a collector
// restart with nothing else to persist, and `changes` tells new rows from duplicates.

import type { SqliteStatement } from '../../shared/platform/sqlite.ts';
import type {
  AlertPayload,
  IntegrityEventPayload,
  ModelRef,
  ModelStatePayload,
  StatusPayload,
  TelemetryPayload,
} from '../../shared/mqtt/schemas.ts';
import type { RawSamples } from '../../shared/mqtt/raw-codec.ts';
import { packFeatures, packFloat32 } from './packing.ts';
import type { SqliteContext } from './sqlite-context.ts';
import { raiseAlertIn } from './sqlite-alerts.ts';
import type { IncomingMessage, WriteBatchResult } from './types.ts';

export const META_EXPIRED_BEFORE = 'expired_before_ms';

const statusCode = { good: 0, suspect: 1, fail: 2 } as const;

interface DeviceState {
  readonly id: number;
  lastSeenMs: number;
  bootId: number | null;
  runId: number | null;
  /** Sender time of the newest telemetry this process applied boot/run from (memory only). */
  stateTsMs: number;
  model: number | null;
  modelTsMs: number;
}

interface FeatureLayoutCache {
  pipeline: string | null;
  names: string[];
  id: number;
}

export class SqliteWriter {
  readonly #ctx: SqliteContext;
  readonly #insWindow: SqliteStatement;
  readonly #insPrediction: SqliteStatement;
  readonly #insIntegrity: SqliteStatement;
  readonly #insRaw: SqliteStatement;
  readonly #insSeen: SqliteStatement;
  readonly #findCapture: SqliteStatement;
  readonly #states = new Map<string, DeviceState>();
  readonly #featureLayouts = new Map<string, FeatureLayoutCache>();
  readonly #tx: (batch: readonly IncomingMessage[]) => WriteBatchResult;

  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
    const db = ctx.db;
    this.#insWindow = db.prepare(
      `INSERT OR IGNORE INTO windows (device, run_id, msg_seq, ts_ms, received_ms, boot_id, window_index, start_us,
         end_us, layout, features, model, integrity, integrity_flags, frames_decoded, frames_invalid, samples, gaps,
         samples_missing, windows_total) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#insPrediction = db.prepare(
      'INSERT INTO predictions (window_id, label, layout, probabilities, latency_ms) VALUES (?, ?, ?, ?, ?)',
    );
    this.#insIntegrity = db.prepare(
      `INSERT OR IGNORE INTO integrity_events (device, run_id, msg_seq, ts_ms, received_ms, boot_id, window_index,
         window_start_us, window_end_us, channel, check_name, status, previous_status, reason, value, threshold)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#insRaw = db.prepare(
      `INSERT OR IGNORE INTO raw_blocks (capture, device, run_id, msg_seq, received_ms, sensor_id, axes, boot_id,
         first_index, timestamp_us, period_us, count, samples) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#insSeen = db.prepare(
      'INSERT OR IGNORE INTO seen_messages (device, run_id, msg_seq, received_ms) VALUES (?, ?, ?, ?)',
    );
    this.#findCapture = db.prepare(
      'SELECT id FROM captures WHERE device = ? AND from_ms <= ? AND to_ms > ? ORDER BY id LIMIT 1',
    );
    this.#tx = db.transaction((batch: readonly IncomingMessage[]) => this.#write(batch), { immediate: true });
  }

  writeBatch(batch: readonly IncomingMessage[]): WriteBatchResult {
    try {
      return this.#tx(batch);
    } catch (err) {
      // Rolled back: cached ids and device state may name rows that no longer exist.
      this.reset();
      throw err;
    }
  }

  reset(): void {
    this.#states.clear();
    this.#featureLayouts.clear();
    this.#ctx.reset();
  }

  #write(batch: readonly IncomingMessage[]): WriteBatchResult {
    const expiredBefore = Number(this.#ctx.getMeta(META_EXPIRED_BEFORE) ?? '-Infinity');
    let written = 0;
    let duplicates = 0;
    let expired = 0;
    let notCaptured = 0;
    const touched = new Set<DeviceState>();
    for (const { message: m, receivedMs } of batch) {
      const dev = this.#state(m.deviceId, receivedMs);
      touched.add(dev);
      if (receivedMs > dev.lastSeenMs) dev.lastSeenMs = receivedMs;
      let r: 'new' | 'duplicate' | 'expired' | 'notCaptured';
      switch (m.kind) {
        case 'telemetry':
          r =
            m.payload.tsMs < expiredBefore
              ? 'expired'
              : this.#telemetry(dev, m.deviceId, m.payload, receivedMs);
          break;
        case 'integrity':
          r = this.#integrity(dev, m.payload, receivedMs);
          break;
        case 'raw':
          r = this.#raw(dev, m.payload, receivedMs);
          break;
        case 'status':
          r = this.#seen(dev, m.payload.runId, m.payload.msgSeq, receivedMs);
          if (r === 'new') this.#status(dev, m.payload, receivedMs);
          break;
        case 'modelState':
          r = this.#seen(dev, m.payload.runId, m.payload.msgSeq, receivedMs);
          if (r === 'new') this.#modelState(dev, m.payload);
          break;
        case 'alert':
          r = this.#seen(dev, m.payload.runId, m.payload.msgSeq, receivedMs);
          if (r === 'new') this.#alert(m.deviceId, m.payload, receivedMs);
          break;
        case 'modelCommand':
          // Collector -> device; the rollout controller records its own commands.
          r = this.#seen(dev, m.payload.runId, m.payload.msgSeq, receivedMs);
          break;
      }
      if (r === 'new') written++;
      else if (r === 'duplicate') duplicates++;
      else if (r === 'expired') expired++;
      else notCaptured++;
    }
    for (const dev of touched) {
      this.#ctx.db.run(
        `UPDATE devices SET last_seen_ms = MAX(last_seen_ms, ?), boot_id = ?, run_id = ?, model = ?, model_ts_ms = ?
           WHERE id = ?`,
        [dev.lastSeenMs, dev.bootId, dev.runId, dev.model, dev.modelTsMs, dev.id],
      );
    }
    return { written, duplicates, expired, notCaptured };
  }

  #state(deviceId: string, receivedMs: number): DeviceState {
    let s = this.#states.get(deviceId);
    if (s === undefined) {
      const id = this.#ctx.device(deviceId, receivedMs);
      const r = this.#ctx.db.get<{
        last_seen_ms: number;
        boot_id: number | null;
        run_id: number | null;
        model: number | null;
        model_ts_ms: number | null;
      }>('SELECT last_seen_ms, boot_id, run_id, model, model_ts_ms FROM devices WHERE id = ?', [id]);
      s = {
        id,
        lastSeenMs: r?.last_seen_ms ?? receivedMs,
        bootId: r?.boot_id ?? null,
        runId: r?.run_id ?? null,
        stateTsMs: Number.NEGATIVE_INFINITY,
        model: r?.model ?? null,
        modelTsMs: r?.model_ts_ms ?? Number.NEGATIVE_INFINITY,
      };
      this.#states.set(deviceId, s);
    }
    return s;
  }

  /**
   * The window's layout id and packed features. Fast path: a device sends the same layout window after
   * window, so one for-in pass checks the names against the cached layout and packs the values; it costs
   * about half of Object.keys plus Object.values on a 192-key object (bench/storage.bench.ts).
   */
  #packFeatures(
    deviceId: string,
    pipeline: string | null,
    features: Record<string, number | null>,
  ): { layout: number; blob: Uint8Array } {
    const c = this.#featureLayouts.get(deviceId);
    if (c?.pipeline === pipeline) {
      const f = new Float32Array(c.names.length);
      let i = 0;
      let same = true;
      // Own enumerable keys only: zod's record() yields a plain object.
      for (const k in features) {
        if (i >= f.length || k !== c.names[i]) {
          same = false;
          break;
        }
        const v = features[k];
        f[i++] = v === null || v === undefined || !Number.isFinite(v) ? Number.NaN : v;
      }
      if (same && i === f.length) return { layout: c.id, blob: packFloat32(f) };
    }
    const names = Object.keys(features);
    const id = this.#ctx.layoutId('features', pipeline, names);
    this.#featureLayouts.set(deviceId, { pipeline, names, id });
    return { layout: id, blob: packFeatures(Object.values(features)) };
  }

  #telemetry(
    dev: DeviceState,
    deviceId: string,
    p: TelemetryPayload,
    receivedMs: number,
  ): 'new' | 'duplicate' {
    const { layout, blob } = this.#packFeatures(deviceId, p.featurePipeline, p.features);
    const model = p.model === null ? null : this.#ctx.modelId(p.model);
    const c = p.counters;
    const r = this.#insWindow.run(
      dev.id,
      p.runId,
      p.msgSeq,
      p.tsMs,
      receivedMs,
      p.bootId,
      p.window.index,
      p.window.startUs,
      p.window.endUs,
      layout,
      blob,
      model,
      statusCode[p.integrity.status],
      p.integrity.flags.length === 0 ? null : JSON.stringify(p.integrity.flags),
      c.framesDecoded,
      c.framesInvalid,
      c.samples,
      c.gaps,
      c.samplesMissing,
      c.windows,
    );
    if (r.changes === 0) return 'duplicate';
    if (p.prediction !== null) {
      const classes = Object.keys(p.prediction.probabilities);
      const pipeline = p.model === null ? null : `${p.model.name}@${p.model.version}`;
      this.#insPrediction.run(
        r.lastInsertRowid,
        p.prediction.label,
        this.#ctx.layoutId('classes', pipeline, classes),
        packFloat32(Float32Array.from(Object.values(p.prediction.probabilities))),
        p.prediction.latencyMs,
      );
    }
    if (p.tsMs >= dev.stateTsMs) {
      dev.stateTsMs = p.tsMs;
      dev.bootId = p.bootId;
      dev.runId = p.runId;
    }
    this.#noteModel(dev, p.model, p.tsMs, 'telemetry');
    return 'new';
  }

  #integrity(dev: DeviceState, p: IntegrityEventPayload, receivedMs: number): 'new' | 'duplicate' {
    const r = this.#insIntegrity.run(
      dev.id,
      p.runId,
      p.msgSeq,
      p.tsMs,
      receivedMs,
      p.bootId,
      p.windowIndex,
      p.windowStartUs ?? null,
      p.windowEndUs ?? null,
      p.channel,
      p.check,
      p.status,
      p.previousStatus,
      p.reason,
      p.value ?? null,
      p.threshold ?? null,
    );
    return r.changes === 0 ? 'duplicate' : 'new';
  }

  #raw(dev: DeviceState, p: RawSamples, receivedMs: number): 'new' | 'duplicate' | 'notCaptured' {
    const capture = this.#findCapture.get(dev.id, receivedMs, receivedMs) as { id: number } | undefined;
    if (capture === undefined) return 'notCaptured';
    const r = this.#insRaw.run(
      capture.id,
      dev.id,
      p.runId,
      p.msgSeq,
      receivedMs,
      p.sensorId,
      p.axes,
      p.bootId,
      p.firstIndex,
      p.timestampUs,
      p.periodUs,
      p.count,
      packFloat32(p.values),
    );
    return r.changes === 0 ? 'duplicate' : 'new';
  }

  #seen(dev: DeviceState, runId: number, msgSeq: number, receivedMs: number): 'new' | 'duplicate' {
    // msgSeq 0 is the last-will status, outside the sequence (docs/mqtt.md): always applied.
    if (msgSeq === 0) return 'new';
    return this.#insSeen.run(dev.id, runId, msgSeq, receivedMs).changes === 0 ? 'duplicate' : 'new';
  }

  #status(dev: DeviceState, p: StatusPayload, receivedMs: number): void {
    // Dated by arrival: a last will's tsMs is the time of the CONNECT that armed it (schemas.ts).
    this.#ctx.db.run(
      `UPDATE devices SET status_state = ?, status_reason = ?, status_ms = ?, status_ts_ms = ?,
         firmware_version = COALESCE(?, firmware_version), agent_version = ? WHERE id = ?`,
      [p.state, p.reason, receivedMs, p.tsMs, p.firmwareVersion, p.agentVersion, dev.id],
    );
    if (p.bootId !== null && p.tsMs >= dev.stateTsMs) dev.bootId = p.bootId;
    if (p.state === 'online') this.#noteModel(dev, p.model, p.tsMs, 'status');
  }

  #modelState(dev: DeviceState, p: ModelStatePayload): void {
    this.#noteModel(dev, p.active, p.tsMs, 'modelState');
  }

  #alert(deviceId: string, p: AlertPayload, receivedMs: number): void {
    raiseAlertIn(
      this.#ctx,
      {
        dedupKey: `device:${deviceId}:${p.source}:${p.channel ?? ''}:${p.code ?? ''}`,
        kind: `device.${p.source}`,
        severity: p.severity,
        deviceId,
        channel: p.channel ?? null,
        message: p.message,
        details: { alertId: p.alertId, value: p.value, threshold: p.threshold, code: p.code, tsMs: p.tsMs },
      },
      receivedMs,
    );
  }

  /**
   * A deployment starts at the first message naming another model. Only messages newer (sender time) than
   * the last one that named a model count, so a replayed backlog from the old model does not flap it.
   */
  #noteModel(dev: DeviceState, ref: ModelRef | null, tsMs: number, source: string): void {
    if (ref === null || tsMs < dev.modelTsMs) return;
    const id = this.#ctx.modelId(ref);
    dev.modelTsMs = tsMs;
    if (id === dev.model) return;
    this.#ctx.db.run('UPDATE deployments SET until_ms = ? WHERE device = ? AND until_ms IS NULL', [
      tsMs,
      dev.id,
    ]);
    this.#ctx.db.run('INSERT INTO deployments (device, model, since_ms, source) VALUES (?, ?, ?, ?)', [
      dev.id,
      id,
      tsMs,
      source,
    ]);
    dev.model = id;
  }
}
