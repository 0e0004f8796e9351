// Collector storage (issue #9 §2 "Footprint", §8 "database growth per device-day at the default
// retention"): bytes per device-day, writeBatch throughput against raw better-sqlite3 inserts of the same
// rows in the same run, and rollup time.
// Run: node --import tsx bench/storage.bench.ts   (or: npm run bench -- storage)
//
// The device-day is real, not scaled: one device, 86,400 windows of 192 features at 1 window/s, each with a
// 3-class prediction, and 24 integrity events (one an hour), written in batches of 500 through writeBatch,
// then compacted with 10 reference bins per feature. Features are AR(1) float32 noise (phi 0.9) around
// per-feature levels: float32 noise does not compress, as real features do not.
//
// Baseline: the same window rows (pre-packed 768-byte blob, same scalar columns) inserted by a prepared
// statement in transactions of 500 into a plain table with no unique key, no index and no predictions,
// through shared/platform/sqlite.ts (which hands better-sqlite3's statements through unchanged), WAL and
// synchronous=NORMAL as the store uses. The ratio is what packing, dedup keys, indexes, predictions and
// device bookkeeping cost on top of bare inserts.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DecodedMessage } from '../shared/mqtt/codec.ts';
import type { TelemetryPayload } from '../shared/mqtt/schemas.ts';
import { openSqliteDatabase } from '../shared/platform/sqlite.ts';
import { packFeatures } from '../collector/storage/packing.ts';
import { openSqliteTelemetryStore, storageDefaults } from '../collector/storage/sqlite-store.ts';
import type { IncomingMessage } from '../collector/storage/types.ts';
import { median, section, type Row } from './lib.ts';

const N_FEATURES = 192;
const DAY = 86_400;
const BATCH = 500;
const REPS = 5;
const REP_WINDOWS = 10_000;
const T0 = Date.UTC(2026, 0, 1);
const MB = 1e6;

const names = Array.from({ length: N_FEATURES }, (_, i) => `ch${String(i >> 3)}.f${String(i & 7)}`);
const levels = names.map((_, i) => (i % 5) * 3.7 - 4);
const edges = names.map((_, i) => Array.from({ length: 9 }, (_, k) => (levels[i] as number) + (k - 4) * 0.5));

/** A deterministic generator (mulberry32) so every run writes the same day. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Day {
  readonly #rand = rng(42);
  readonly #state = new Float64Array(N_FEATURES);

  /** Window i (0-based) of a device as a decoded telemetry message, received when sent. */
  next(deviceId: string, i: number): IncomingMessage {
    const features: Record<string, number | null> = {};
    for (let k = 0; k < N_FEATURES; k++) {
      const s = 0.9 * (this.#state[k] as number) + 0.44 * (this.#rand() - 0.5);
      this.#state[k] = s;
      features[names[k] as string] = Math.fround((levels[k] as number) + s);
    }
    const p = this.#rand();
    const tsMs = T0 + i * 1000;
    const payload: TelemetryPayload = {
      v: 1,
      deviceId,
      runId: 1,
      msgSeq: i + 1,
      tsMs,
      bootId: 1,
      window: { index: i, startUs: i * 1e6, endUs: (i + 1) * 1e6 },
      featurePipeline: 'edgeloop-features/v1',
      features,
      prediction: {
        label: p < 0.9 ? 'normal' : 'imbalance',
        probabilities: { normal: p < 0.9 ? 0.9 : 0.1, imbalance: p < 0.9 ? 0.08 : 0.85, misalignment: 0.02 },
        latencyMs: 0.2,
      },
      model: { name: 'bench-model', version: '1.0.0' },
      integrity: { status: 'good', channels: {}, flags: [] },
      counters: {
        framesDecoded: i * 10,
        framesInvalid: 0,
        samples: i * 1000,
        gaps: 0,
        samplesMissing: 0,
        windows: i,
      },
    };
    return { message: { kind: 'telemetry', deviceId, payload }, receivedMs: tsMs };
  }
}

function integrityEvent(deviceId: string, hour: number): IncomingMessage {
  const tsMs = T0 + hour * 3_600_000 + 500;
  const message: DecodedMessage = {
    kind: 'integrity',
    deviceId,
    payload: {
      v: 1,
      deviceId,
      runId: 2,
      msgSeq: hour + 1,
      tsMs,
      bootId: 1,
      windowIndex: hour * 3600,
      channel: 'accel.x',
      check: 'flatline',
      status: hour % 2 === 0 ? 'suspect' : 'good',
      previousStatus: hour % 2 === 0 ? 'good' : 'suspect',
      reason: 'bench',
    },
  };
  return { message, receivedMs: tsMs };
}

function withDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-bench-storage-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function seconds(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const binEdges = (): number[][] => edges;

/** Store windows/s, raw windows/s, and rollup ms per 1000 windows, on REP_WINDOWS fresh windows. */
function rep(seed: number): { store: number; raw: number; rollupMsPer1k: number } {
  const day = new Day();
  const msgs = Array.from({ length: REP_WINDOWS }, (_, i) => day.next(`dev-${String(seed)}`, i));
  const store = withDir((dir) => {
    const s = openSqliteTelemetryStore(join(dir, 's.db'), { binEdges });
    const w = seconds(() => {
      for (let i = 0; i < msgs.length; i += BATCH) s.writeBatch(msgs.slice(i, i + BATCH));
    });
    const c = seconds(() => s.compact(T0 + REP_WINDOWS * 1000));
    s.close();
    return { rate: REP_WINDOWS / w, rollupMsPer1k: (c * 1000) / (REP_WINDOWS / 1000) };
  });
  const rows = msgs.map(({ message, receivedMs }) => {
    const p = message.payload as TelemetryPayload;
    return [
      p.deviceId,
      p.runId,
      p.msgSeq,
      p.tsMs,
      receivedMs,
      p.bootId,
      p.window.index,
      packFeatures(Object.values(p.features)),
    ] as const;
  });
  const raw = withDir((dir) => {
    const db = openSqliteDatabase(join(dir, 'r.db'), { journalMode: 'wal', synchronous: 'NORMAL' });
    db.exec(
      'CREATE TABLE t (id INTEGER PRIMARY KEY, device TEXT, run_id INTEGER, msg_seq INTEGER, ts_ms INTEGER, received_ms INTEGER, boot_id INTEGER, window_index INTEGER, features BLOB)',
    );
    const ins = db.prepare(
      'INSERT INTO t (device, run_id, msg_seq, ts_ms, received_ms, boot_id, window_index, features) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const tx = db.transaction((batch: typeof rows) => {
      for (const r of batch) ins.run(...r);
    });
    const s = seconds(() => {
      for (let i = 0; i < rows.length; i += BATCH) tx(rows.slice(i, i + BATCH));
    });
    db.close();
    return REP_WINDOWS / s;
  });
  return { store: store.rate, raw, rollupMsPer1k: store.rollupMsPer1k };
}

interface DayResult {
  rawDayBytes: number;
  minuteDayBytes: number;
  hourDayBytes: number;
  fileBytes: number;
  rollupSeconds: number;
  writeSeconds: number;
  byObject: Readonly<Record<string, number>>;
}

/** One full device-day at the defaults. */
function deviceDay(): DayResult {
  return withDir((dir) => {
    const s = openSqliteTelemetryStore(join(dir, 'day.db'), { binEdges });
    const day = new Day();
    let writeSeconds = 0;
    for (let i = 0; i < DAY; i += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, DAY - i) }, (_, k) => day.next('dev-day', i + k));
      if (i % 3600 === 0) batch.push(integrityEvent('dev-day', i / 3600));
      writeSeconds += seconds(() => s.writeBatch(batch));
    }
    // End of the day: nothing is past the 48 h retention yet, so this is the rollup alone.
    const rollupSeconds = seconds(() => s.compact(T0 + DAY * 1000));
    const fp = s.footprint();
    s.close();
    // Split the rollups table by resolution from its row sizes (one table holds both).
    const db = openSqliteDatabase(join(dir, 'day.db'), { readonly: true });
    const parts = db.all<{ r: number; b: number }>(
      'SELECT resolution_s AS r, SUM(LENGTH(stats) + LENGTH(predictions) + 40) AS b FROM rollups GROUP BY resolution_s',
    );
    db.close();
    const partBytes = (r: number): number => parts.find((p) => p.r === r)?.b ?? 0;
    const total = partBytes(60) + partBytes(3600);
    const rollupPages =
      (fp.bytesByObject.rollups ?? 0) +
      (fp.bytesByObject.sqlite_autoindex_rollups_1 ?? 0) +
      (fp.bytesByObject.rollups_age ?? 0);
    const minuteDayBytes = (rollupPages * partBytes(60)) / total;
    const hourDayBytes = (rollupPages * partBytes(3600)) / total;
    return {
      rawDayBytes: fp.bytes - rollupPages,
      minuteDayBytes,
      hourDayBytes,
      fileBytes: fp.bytes,
      rollupSeconds,
      writeSeconds,
      byObject: fp.bytesByObject,
    };
  });
}

const acc: Record<string, number[]> = {};
const push = (k: string, v: number): void => {
  (acc[k] ??= []).push(v);
};
for (let r = 0; r < REPS + 1; r++) {
  const x = rep(r);
  if (r === 0) continue; // warm-up
  push('store', x.store);
  push('raw', x.raw);
  push('rollup', x.rollupMsPer1k);
}
const d = deviceDay();
const med = (k: string): number => median(acc[k] ?? []);
const minuteDays = storageDefaults.minuteRollupRetentionMs / 86_400_000;
const retentionDays = storageDefaults.windowRetentionMs / 86_400_000;
const steady = retentionDays * d.rawDayBytes + minuteDays * d.minuteDayBytes;
const rows: Row[] = [
  {
    metric: 'writeBatch, windows/s (192 features + prediction, batches of 500)',
    median: med('store'),
    baseline: med('raw'),
  },
  { metric: 'rollup (compact), ms per 1000 windows, 10 bins per feature', median: med('rollup') },
  {
    metric: 'device-day written: full-resolution windows + predictions + indexes',
    median: d.rawDayBytes / MB,
    unit: 'MB',
  },
  { metric: 'device-day written: minute rollups', median: d.minuteDayBytes / MB, unit: 'MB' },
  { metric: 'device-day written: hour rollups', median: d.hourDayBytes / MB, unit: 'MB' },
  { metric: 'database file after one device-day (all of the above)', median: d.fileBytes / MB, unit: 'MB' },
  {
    metric: `steady state per device (${String(retentionDays)} d windows + ${String(minuteDays)} d minutes)`,
    median: steady / MB,
    unit: 'MB',
  },
  {
    metric: 'long-run growth per device-day, past all retentions (hour rollups kept)',
    median: d.hourDayBytes / MB,
    unit: 'MB',
  },
  { metric: 'full JSON telemetry for comparison (issue #9 §2)', median: 665, unit: 'MB' },
];
const top = Object.entries(d.byObject)
  .sort(([, a], [, b]) => b - a)
  .slice(0, 6)
  .map(([k, v]) => `${k} ${(v / MB).toFixed(1)} MB`)
  .join(', ');
process.stdout.write(
  section('Collector storage', 'npm run bench -- storage', rows, [
    `Throughput: median of ${String(REPS)} runs of ${String(REP_WINDOWS)} windows each (after a warm-up run), one fresh file per run; the baseline inserts the same rows pre-packed into a bare table (see the header of bench/storage.bench.ts).`,
    `Footprint: one real device-day (${String(DAY)} windows of ${String(N_FEATURES)} features at 1/s, a 3-class prediction each, 24 integrity events), written in ${d.writeSeconds.toFixed(1)} s and rolled up in ${d.rollupSeconds.toFixed(1)} s (one compact() over the whole day). Largest objects: ${top}. The minute/hour split of the rollups table is by row size.`,
    `At the defaults (windows ${String(retentionDays * 24)} h, minute rollups ${String(minuteDays)} d, hour rollups kept) the database grows by the full-resolution day for the first two days, then stays at the steady-state size plus the hour rollups, which are the only long-run growth.`,
  ]),
);
