// Rollup and retention for the SQLite store (docs/storage.md §Retention and rollups). Every step is one
// bounded transaction (batchRows rows), never one giant one, so ingest interleaves and compact() can stop
// after maxBatches and be called again.
//
// Rollup: windows are rolled up in id (= arrival) order past a persisted watermark, each into its minute
// AND its hour bucket (by sender tsMs) in the same transaction as the watermark moves. A late window whose
// bucket already exists merges into it (rollup.ts), so the hour always equals the merge of its minutes and
// both equal the raw windows rolled up, with nothing rolled up twice, also across restarts.
//
// Retention: windows (and their predictions) older than windowRetentionMs by collector receive time, and
// only once rolled up; minute rollups past minuteRollupRetentionMs; hour rollups past
// hourRollupRetentionMs (default: kept); monitor results past monitorResultRetentionMs; dedup rows of the
// low-volume kinds with the windows.

import {
  accumulate,
  decodeSummary,
  emptySummary,
  encodeSummary,
  mergeInto,
  mergePredictionMix,
  type BinEdges,
  type PredictionMix,
  type SummaryBlock,
} from './rollup.ts';
import { unpackFloat32 } from './packing.ts';
import type { SqliteContext } from './sqlite-context.ts';
import { META_EXPIRED_BEFORE } from './sqlite-writer.ts';
import type { CompactOptions, CompactResult } from './types.ts';

export const META_ROLLUP_WATERMARK = 'rollup_watermark_id';

export interface RetentionOptions {
  /** Full-resolution windows kept, ms of collector time. Default 48 h (issue #9 §2). */
  readonly windowRetentionMs: number;
  /** Minute rollups kept, ms. Default 7 days. */
  readonly minuteRollupRetentionMs: number;
  /** Hour rollups kept, ms. Default Infinity (kept). */
  readonly hourRollupRetentionMs: number;
  /** Monitor results kept, ms. Default 30 days. */
  readonly monitorResultRetentionMs: number;
  /** Rows per compaction transaction. Default 2000. */
  readonly compactBatchRows: number;
  /**
   * Reference bin edges for a device's features (from the reference profile of the model it runs), in
   * layout order; undefined for no histograms. Rollups are keyed by the bin set, so buckets with different
   * edges are never merged.
   */
  readonly binEdges?: (
    deviceId: string,
    featurePipeline: string | null,
    names: readonly string[],
  ) => BinEdges | undefined;
}

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

interface WindowRow {
  id: number;
  device: number;
  ts_ms: number;
  received_ms: number;
  layout: number;
  features: Uint8Array;
  label: string | null;
  probabilities: Uint8Array | null;
}

interface Bucket {
  readonly device: number;
  readonly resolutionS: number;
  readonly bucketMs: number;
  readonly layout: number;
  readonly binSet: number;
  readonly edges: BinEdges | undefined;
  readonly summary: SummaryBlock;
  readonly mix: PredictionMix;
  windows: number;
}

export function compactStore(
  ctx: SqliteContext,
  opts: RetentionOptions,
  nowMs: number,
  options: CompactOptions = {},
): CompactResult {
  const maxBatches = options.maxBatches ?? Number.POSITIVE_INFINITY;
  const n = opts.compactBatchRows;
  const db = ctx.db;
  const edgesCache = new Map<string, { id: number; edges: BinEdges | undefined }>();
  let windowsRolledUp = 0;
  let windowsDeleted = 0;
  let rollupsDeleted = 0;
  let otherDeleted = 0;
  let batches = 0;

  function binsFor(device: number, layoutId: number): { id: number; edges: BinEdges | undefined } {
    const key = `${String(device)}:${String(layoutId)}`;
    let b = edgesCache.get(key);
    if (b === undefined) {
      const layout = ctx.layout(layoutId);
      const edges = opts.binEdges?.(ctx.deviceName(device), layout.pipeline, layout.names);
      b = { id: ctx.binSetId(edges), edges };
      edgesCache.set(key, b);
    }
    return b;
  }

  function bucket(
    buckets: Map<string, Bucket>,
    device: number,
    resMs: number,
    bucketMs: number,
    layout: number,
    bins: { id: number; edges: BinEdges | undefined },
  ): Bucket {
    const key = `${String(device)}|${String(resMs)}|${String(bucketMs)}|${String(layout)}|${String(bins.id)}`;
    let b = buckets.get(key);
    if (b === undefined) {
      b = {
        device,
        resolutionS: resMs / 1000,
        bucketMs,
        layout,
        binSet: bins.id,
        edges: bins.edges,
        summary: emptySummary(ctx.layout(layout).names.length, bins.edges),
        mix: { labelCounts: {}, confidenceSum: 0 },
        windows: 0,
      };
      buckets.set(key, b);
    }
    return b;
  }

  const rollupStep = db.transaction(
    (): number => {
      const watermark = Number(ctx.getMeta(META_ROLLUP_WATERMARK) ?? '0');
      const rows = db.all<WindowRow>(
        `SELECT w.id, w.device, w.ts_ms, w.received_ms, w.layout, w.features, p.label, p.probabilities
           FROM windows w LEFT JOIN predictions p ON p.window_id = w.id WHERE w.id > ? ORDER BY w.id LIMIT ?`,
        [watermark, n],
      );
      const buckets = new Map<string, Bucket>();
      let last = watermark;
      let count = 0;
      for (const r of rows) {
        // Arrival order: stop at the first window received after nowMs (a caller's clock behind the writer).
        if (r.received_ms > nowMs) break;
        const values = unpackFloat32(r.features);
        const bins = binsFor(r.device, r.layout);
        const top = r.probabilities === null ? 0 : Math.max(...unpackFloat32(r.probabilities));
        // Windows go into their minute; the hours are the merge of those minutes below (half the work of
        // accumulating every window twice, and the same result: rollup.ts).
        const b = bucket(
          buckets,
          r.device,
          MINUTE_MS,
          Math.floor(r.ts_ms / MINUTE_MS) * MINUTE_MS,
          r.layout,
          bins,
        );
        accumulate(b.summary, values, bins.edges);
        b.windows++;
        if (r.label !== null) {
          b.mix.labelCounts[r.label] = (b.mix.labelCounts[r.label] ?? 0) + 1;
          b.mix.confidenceSum += top;
        }
        last = r.id;
        count++;
      }
      for (const m of [...buckets.values()]) {
        const h = bucket(buckets, m.device, HOUR_MS, Math.floor(m.bucketMs / HOUR_MS) * HOUR_MS, m.layout, {
          id: m.binSet,
          edges: m.edges,
        });
        mergeInto(h.summary, m.summary);
        mergePredictionMix(h.mix, m.mix);
        h.windows += m.windows;
      }
      for (const b of buckets.values()) {
        const existing = db.get<{ id: number; windows: number; predictions: string; stats: Uint8Array }>(
          `SELECT id, windows, predictions, stats FROM rollups
             WHERE device = ? AND resolution_s = ? AND bucket_ms = ? AND layout = ? AND bin_set = ?`,
          [b.device, b.resolutionS, b.bucketMs, b.layout, b.binSet],
        );
        if (existing === undefined) {
          db.run(
            `INSERT INTO rollups (device, resolution_s, bucket_ms, layout, bin_set, windows, predictions, stats)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
            [
              b.device,
              b.resolutionS,
              b.bucketMs,
              b.layout,
              b.binSet,
              b.windows,
              JSON.stringify(b.mix),
              encodeSummary(b.summary),
            ],
          );
        } else {
          const merged = decodeSummary(existing.stats, b.edges);
          mergeInto(merged, b.summary);
          const mix = JSON.parse(existing.predictions) as PredictionMix;
          mergePredictionMix(mix, b.mix);
          db.run('UPDATE rollups SET windows = ?, predictions = ?, stats = ? WHERE id = ?', [
            existing.windows + b.windows,
            JSON.stringify(mix),
            encodeSummary(merged),
            existing.id,
          ]);
        }
      }
      if (last !== watermark) ctx.setMeta(META_ROLLUP_WATERMARK, String(last));
      return count;
    },
    { immediate: true },
  );

  const deleteWindowsStep = db.transaction(
    (): number => {
      const watermark = Number(ctx.getMeta(META_ROLLUP_WATERMARK) ?? '0');
      const horizon = nowMs - opts.windowRetentionMs;
      const rows = db.all<{ id: number; received_ms: number }>(
        'SELECT id, received_ms FROM windows WHERE id <= ? ORDER BY id LIMIT ?',
        [watermark, n],
      );
      let count = 0;
      // Arrival order, so the prefix older than the horizon is what may go; stop at the first younger one.
      for (const r of rows) {
        if (r.received_ms >= horizon) break;
        db.run('DELETE FROM predictions WHERE window_id = ?', [r.id]);
        db.run('DELETE FROM windows WHERE id = ?', [r.id]);
        count++;
      }
      const prev = Number(ctx.getMeta(META_EXPIRED_BEFORE) ?? '-Infinity');
      if (count > 0 && horizon > prev) ctx.setMeta(META_EXPIRED_BEFORE, String(horizon));
      return count;
    },
    { immediate: true },
  );

  const deleteWhere = (sql: string, cutoff: number): number =>
    db.transaction(() => db.run(sql, [cutoff, n]).changes, { immediate: true })();

  const steps: (() => number)[] = [
    () => {
      const c = rollupStep();
      windowsRolledUp += c;
      return c;
    },
    () => {
      const c = deleteWindowsStep();
      windowsDeleted += c;
      return c;
    },
    () => {
      const c = Number.isFinite(opts.minuteRollupRetentionMs)
        ? deleteWhere(
            'DELETE FROM rollups WHERE id IN (SELECT id FROM rollups WHERE resolution_s = 60 AND bucket_ms < ? LIMIT ?)',
            nowMs - opts.minuteRollupRetentionMs,
          )
        : 0;
      rollupsDeleted += c;
      return c;
    },
    () => {
      const c = Number.isFinite(opts.hourRollupRetentionMs)
        ? deleteWhere(
            'DELETE FROM rollups WHERE id IN (SELECT id FROM rollups WHERE resolution_s = 3600 AND bucket_ms < ? LIMIT ?)',
            nowMs - opts.hourRollupRetentionMs,
          )
        : 0;
      rollupsDeleted += c;
      return c;
    },
    () => {
      const c =
        deleteWhere(
          'DELETE FROM monitor_results WHERE id IN (SELECT id FROM monitor_results WHERE ts_ms < ? LIMIT ?)',
          nowMs - opts.monitorResultRetentionMs,
        ) +
        deleteWhere(
          `DELETE FROM seen_messages WHERE (device, run_id, msg_seq) IN
             (SELECT device, run_id, msg_seq FROM seen_messages WHERE received_ms < ? LIMIT ?)`,
          nowMs - opts.windowRetentionMs,
        );
      otherDeleted += c;
      return c;
    },
  ];

  let step = 0;
  while (step < steps.length) {
    if (batches >= maxBatches) {
      return { windowsRolledUp, windowsDeleted, rollupsDeleted, otherDeleted, batches, done: false };
    }
    const did = (steps[step] as () => number)();
    batches++;
    // A step that filled its batch may have more; one that did not is finished.
    if (did < n) step++;
  }
  return { windowsRolledUp, windowsDeleted, rollupsDeleted, otherDeleted, batches, done: true };
}
