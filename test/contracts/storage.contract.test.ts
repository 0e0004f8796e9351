// One contract, every TelemetryStore implementation (STYLE.md habit 11). Today that is SQLite on real files
// in a temp dir; a PostgreSQL or in-memory backend joins the `implementations` table and must pass the same
// tests (docs/storage.md §A second backend).

import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { EdgeloopError } from '../../shared/errors.ts';
import { openSqliteDatabase } from '../../shared/platform/sqlite.ts';
import type { DecodedMessage } from '../../shared/mqtt/codec.ts';
import type { ModelRef, TelemetryPayload } from '../../shared/mqtt/schemas.ts';
import { openSqliteTelemetryStore, type SqliteStoreOptions } from '../../collector/storage/sqlite-store.ts';
import { accumulate, emptySummary, type BinEdges } from '../../collector/storage/rollup.ts';
import type { IncomingMessage, TelemetryStore } from '../../collector/storage/types.ts';

const T0 = Date.UTC(2026, 0, 1); // hour-aligned
const HOUR = 3_600_000;
const NAMES = ['accel.x.mean', 'accel.x.rms', 'accel.y.mean', 'temp.mean', 'hum.mean'];

/** Opens a store on `path` (a file in a temp dir); `reopen` closes and opens the same file again. */
interface Opened {
  store: TelemetryStore;
  reopen(): TelemetryStore;
  path: string;
}
type Make = (t: TestContext, options?: SqliteStoreOptions) => Opened;

const implementations: Record<string, Make> = {
  sqlite: (t, options = {}) => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeloop-storage-contract-'));
    const path = join(dir, 'collector.db');
    const box: { s: TelemetryStore } = { s: openSqliteTelemetryStore(path, options) };
    t.after(() => {
      box.s.close();
      rmSync(dir, { recursive: true, force: true });
    });
    return {
      get store() {
        return box.s;
      },
      reopen: () => {
        box.s.close();
        box.s = openSqliteTelemetryStore(path, options);
        return box.s;
      },
      path,
    };
  },
};

function values(seq: number): (number | null)[] {
  // Deterministic, float32-exact values with a pattern per feature.
  return NAMES.map((_, i) => Math.fround(Math.sin(seq * 0.37 + i) * (i + 1) * 3.5));
}

function telemetry(
  deviceId: string,
  runId: number,
  msgSeq: number,
  tsMs: number,
  opts: { features?: (number | null)[]; model?: ModelRef | null; label?: string } = {},
): DecodedMessage {
  const f = opts.features ?? values(msgSeq);
  const features: Record<string, number | null> = {};
  NAMES.forEach((n, i) => (features[n] = f[i] ?? null));
  const payload: TelemetryPayload = {
    v: 1,
    deviceId,
    runId,
    msgSeq,
    tsMs,
    bootId: 7,
    window: { index: msgSeq, startUs: msgSeq * 1e6, endUs: (msgSeq + 1) * 1e6 },
    featurePipeline: 'edgeloop-features/v1',
    features,
    prediction:
      opts.label === undefined
        ? null
        : { label: opts.label, probabilities: { normal: 0.75, imbalance: 0.25 }, latencyMs: 0.5 },
    model: opts.model ?? null,
    integrity: { status: 'good', channels: {}, flags: [] },
    counters: {
      framesDecoded: msgSeq,
      framesInvalid: 0,
      samples: msgSeq * 100,
      gaps: 0,
      samplesMissing: 0,
      windows: msgSeq,
    },
  };
  return { kind: 'telemetry', deviceId, payload };
}

const at = (message: DecodedMessage, receivedMs: number): IncomingMessage => ({ message, receivedMs });

/** n windows of one device at 1/s from tsMs0, received when sent. */
function day(deviceId: string, n: number, tsMs0: number, seq0 = 1, label?: string): IncomingMessage[] {
  return Array.from({ length: n }, (_, i) =>
    at(
      telemetry(deviceId, 1, seq0 + i, tsMs0 + i * 1000, label === undefined ? {} : { label }),
      tsMs0 + i * 1000,
    ),
  );
}

const bits = (f: Float32Array): number[] => Array.from(new Uint32Array(f.buffer, f.byteOffset, f.length));

for (const [name, make] of Object.entries(implementations)) {
  describe(`TelemetryStore contract: ${name}`, () => {
    test('writeBatch is idempotent by (deviceId, runId, msgSeq), also after a restart', (t) => {
      const o = make(t);
      const batch = day('d1', 50, T0);
      const first = o.store.writeBatch([...batch, batch[3] as IncomingMessage]);
      assert.deepEqual(first, { written: 50, duplicates: 1, expired: 0, notCaptured: 0 });
      assert.deepEqual(o.store.writeBatch(batch.slice(10, 20)), {
        written: 0,
        duplicates: 10,
        expired: 0,
        notCaptured: 0,
      });
      // Same msgSeq, another run: a new message.
      assert.equal(o.store.writeBatch([at(telemetry('d1', 2, 1, T0 + 60_000), T0 + 60_000)]).written, 1);
      const s = o.reopen();
      assert.deepEqual(s.writeBatch(batch), { written: 0, duplicates: 50, expired: 0, notCaptured: 0 });
      assert.equal(s.windows({ deviceId: 'd1', fromMs: 0, toMs: T0 + HOUR }).length, 51);
      const dev = s.device('d1');
      assert.equal(dev?.firstSeenMs, T0);
      assert.equal(dev.runId, 2);
    });

    test('feature vectors decode bit-exact as float32, nulls as NaN', (t) => {
      const o = make(t);
      const tricky = [-0, 1.401298464324817e-45, 3.4028234663852886e38, Math.fround(Math.PI), null];
      o.store.writeBatch([at(telemetry('d1', 1, 1, T0, { features: tricky }), T0)]);
      const [w] = o.store.windows({ deviceId: 'd1', fromMs: T0, toMs: T0 + 1 });
      assert.ok(w !== undefined);
      assert.deepEqual(w.featureNames, NAMES);
      assert.equal(w.featurePipeline, 'edgeloop-features/v1');
      const expected = Float32Array.from(tricky.map((v) => (v === null ? Number.NaN : v)));
      assert.deepEqual(bits(w.values), bits(expected));
      assert.ok(Object.is(w.values[0], -0));
      assert.ok(Number.isNaN(w.values[4]));
      // Random float32 bit patterns (finite only: JSON carries no NaN or Infinity).
      const rnd = new Float32Array(NAMES.length);
      const u = new Uint32Array(rnd.buffer);
      for (let k = 0; k < 200; k++) {
        for (let i = 0; i < u.length; i++) u[i] = (Math.imul(k * 7919 + i, 2654435761) ^ (k << 11)) >>> 0;
        for (let i = 0; i < rnd.length; i++) if (!Number.isFinite(rnd[i])) rnd[i] = i;
        o.store.writeBatch([at(telemetry('d2', 1, k + 1, T0 + k, { features: Array.from(rnd) }), T0)]);
        const got = o.store.windows({ deviceId: 'd2', fromMs: T0 + k, toMs: T0 + k + 1 })[0];
        assert.deepEqual(bits(got?.values ?? new Float32Array()), bits(rnd));
      }
    });

    test('a device changing its feature layout keeps every window decodable with its own names', (t) => {
      const o = make(t);
      const wider = telemetry('d1', 1, 2, T0 + 1000);
      const fewer = telemetry('d1', 1, 3, T0 + 2000);
      if (wider.kind !== 'telemetry' || fewer.kind !== 'telemetry') throw new Error('unreachable');
      const widerMsg: DecodedMessage = {
        ...wider,
        payload: { ...wider.payload, features: { ...wider.payload.features, 'extra.x': 1 } },
      };
      const { 'hum.mean': _dropped, ...rest } = fewer.payload.features;
      const fewerMsg: DecodedMessage = { ...fewer, payload: { ...fewer.payload, features: rest } };
      o.store.writeBatch([
        at(telemetry('d1', 1, 1, T0), T0),
        at(widerMsg, T0 + 1000),
        at(fewerMsg, T0 + 2000),
        at(telemetry('d1', 1, 4, T0 + 3000), T0 + 3000),
      ]);
      const ws = o.store.windows({ deviceId: 'd1', fromMs: T0, toMs: T0 + 4000 });
      assert.deepEqual(
        ws.map((w) => w.featureNames.length),
        [5, 6, 4, 5],
      );
      assert.equal(ws[1]?.featureNames[5], 'extra.x');
      assert.equal(ws[1].values[5], 1);
      assert.deepEqual(Array.from(ws[3]?.values ?? []), values(4));
    });

    test('rollups merge: the hour equals its minutes merged and the raw windows summarised', (t) => {
      const edges: BinEdges = NAMES.map((_, i) => (i === 4 ? [] : [-2, 0, 2]));
      const o = make(t, { binEdges: () => edges });
      // 1.5 hours, with some nulls and predictions; then a late window into an already rolled-up minute.
      const batch = day('d1', 5400, T0, 1, 'normal').map((m, i) =>
        i % 97 === 0
          ? at(
              telemetry('d1', 1, i + 1, T0 + i * 1000, { features: [null, 1, 2, null, 3], label: 'normal' }),
              m.receivedMs,
            )
          : m,
      );
      for (let i = 0; i < batch.length; i += 500) o.store.writeBatch(batch.slice(i, i + 500));
      const r1 = o.store.compact(T0 + 2 * HOUR);
      assert.equal(r1.windowsRolledUp, 5400);
      assert.ok(r1.done);
      const late = at(telemetry('d1', 1, 9999, T0 + 30_500, { label: 'imbalance' }), T0 + 2 * HOUR);
      o.store.writeBatch([late]);
      assert.equal(o.store.compact(T0 + 2 * HOUR).windowsRolledUp, 1);

      const raw = o.store.windows({ deviceId: 'd1', fromMs: T0, toMs: T0 + HOUR });
      assert.equal(raw.length, 3601);
      const direct = emptySummary(NAMES.length, edges);
      for (const w of raw) accumulate(direct, w.values, edges);

      const [hour] = o.store.rollups({ deviceId: 'd1', resolution: 'hour', fromMs: T0, toMs: T0 + HOUR });
      const minutes = o.store.rollups({ deviceId: 'd1', resolution: 'minute', fromMs: T0, toMs: T0 + HOUR });
      assert.ok(hour !== undefined);
      assert.equal(minutes.length, 60);
      assert.equal(hour.windows, 3601);
      assert.equal(
        minutes.reduce((a, m) => a + m.windows, 0),
        3601,
      );
      assert.deepEqual(hour.predictions.labelCounts, { normal: 3600, imbalance: 1 });
      NAMES.forEach((n, i) => {
        const h = hour.features[n];
        assert.ok(h !== undefined);
        const ms = minutes.map((m) => m.features[n]);
        // Counts, min, max and histograms are exact; sums differ only by float64 addition order.
        assert.equal(h.count, direct.count[i]);
        assert.equal(
          ms.reduce((a, m) => a + (m?.count ?? 0), 0),
          h.count,
        );
        assert.equal(h.min, direct.min[i]);
        assert.equal(h.max, direct.max[i]);
        assert.equal(Math.min(...ms.map((m) => m?.min ?? Infinity)), h.min);
        assert.equal(Math.max(...ms.map((m) => m?.max ?? -Infinity)), h.max);
        const close = (a: number, b: number): void => {
          assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${n}: ${String(a)} vs ${String(b)}`);
        };
        close(h.sum, direct.sum[i] as number);
        close(h.sumSq, direct.sumSq[i] as number);
        close(
          ms.reduce((a, m) => a + (m?.sum ?? 0), 0),
          h.sum,
        );
        if (i === 4) assert.equal(h.histogram, null);
        else {
          const lo = direct.histOffsets[i] as number;
          assert.deepEqual(h.histogram?.counts, Array.from(direct.hist.subarray(lo, lo + 4)));
          const summed = [0, 0, 0, 0];
          for (const m of ms) m?.histogram?.counts.forEach((c, k) => (summed[k] = (summed[k] ?? 0) + c));
          assert.deepEqual(summed, h.histogram.counts);
        }
      });
      // Feature selection.
      const sel = o.store.rollups({
        deviceId: 'd1',
        resolution: 'hour',
        fromMs: T0,
        toMs: T0 + HOUR,
        features: ['temp.mean'],
      });
      assert.deepEqual(Object.keys(sel[0]?.features ?? {}), ['temp.mean']);
    });

    test('retention deletes only windows past the horizon, in bounded batches, and refuses them afterwards', (t) => {
      const o = make(t, { windowRetentionMs: HOUR, compactBatchRows: 100 });
      const batch = day('d1', 3 * 600, T0); // 30 minutes
      o.store.writeBatch(batch);
      // Horizon at T0 + 10 min: the first 600 windows go, 1200 stay.
      const step = o.store.compact(T0 + HOUR + 600_000, { maxBatches: 3 });
      assert.equal(step.done, false);
      assert.equal(step.batches, 3);
      const r = o.store.compact(T0 + HOUR + 600_000);
      assert.ok(r.done);
      const kept = o.store.windows({ deviceId: 'd1', fromMs: 0, toMs: T0 + HOUR });
      assert.equal(kept.length, 1200);
      assert.equal(kept[0]?.tsMs, T0 + 600_000);
      // Rollups keep what was deleted.
      const [hour] = o.store.rollups({ deviceId: 'd1', resolution: 'hour', fromMs: T0, toMs: T0 + HOUR });
      assert.equal(hour?.windows, 1800);
      // A redelivery of a deleted window would be rolled up twice: refused as expired.
      const again = o.store.writeBatch(batch.slice(0, 5));
      assert.deepEqual(again, { written: 0, duplicates: 0, expired: 5, notCaptured: 0 });
      assert.equal(
        o.store.rollups({ deviceId: 'd1', resolution: 'hour', fromMs: T0, toMs: T0 + HOUR })[0]?.windows,
        1800,
      );
    });

    test('a database newer than the code is refused with a coded error', (t) => {
      const o = make(t);
      o.store.close();
      const db = openSqliteDatabase(o.path);
      db.run("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (999, 'future', 0)");
      db.close();
      assert.throws(
        () => o.reopen(),
        (err: unknown) => err instanceof EdgeloopError && err.code === 'EDGELOOP_ERR_STORE_SCHEMA_NEWER',
      );
      // Keep t.after's close() harmless.
      const db2 = openSqliteDatabase(o.path);
      db2.run('DELETE FROM schema_migrations WHERE version = 999');
      db2.close();
      o.reopen();
    });

    test('alerts: open, deduplicated, acknowledged, resolved, filtered', (t) => {
      const o = make(t);
      const base = {
        kind: 'drift',
        severity: 'warning',
        deviceId: 'd1',
        channel: 'accel.x',
        message: 'psi 0.4',
      } as const;
      const a = o.store.raiseAlert({ ...base, dedupKey: 'drift:d1:accel.x', details: { psi: 0.4 } }, T0);
      const b = o.store.raiseAlert({ ...base, dedupKey: 'drift:d1:accel.x', message: 'psi 0.5' }, T0 + 1000);
      assert.equal(b.id, a.id);
      assert.equal(b.occurrences, 2);
      assert.equal(b.message, 'psi 0.5');
      o.store.raiseAlert({ ...base, kind: 'integrity', dedupKey: 'integrity:d2', deviceId: 'd2' }, T0);
      assert.equal(o.store.acknowledgeAlert(a.id, 'ops', T0 + 2000)?.state, 'acknowledged');
      assert.equal(o.store.alerts({ state: 'acknowledged' }).length, 1);
      assert.equal(o.store.alerts({ deviceId: 'd2' })[0]?.kind, 'integrity');
      assert.equal(o.store.alerts({ kind: 'drift' })[0]?.acknowledgedBy, 'ops');
      const r = o.store.resolveAlert(a.id, T0 + 3000);
      assert.equal(r?.state, 'resolved');
      assert.equal(r.resolvedMs, T0 + 3000);
      const c = o.store.raiseAlert({ ...base, dedupKey: 'drift:d1:accel.x' }, T0 + 4000);
      assert.notEqual(c.id, a.id);
      assert.equal(o.store.alerts({ state: 'open' }).length, 2);
      assert.equal(o.store.acknowledgeAlert(12345, 'ops', T0), undefined);
    });

    test('deployments follow the model a device reports, ignoring replayed older windows', (t) => {
      const o = make(t);
      const A = { name: 'm', version: '1' };
      const B = { name: 'm', version: '2' };
      o.store.writeBatch([
        at(telemetry('d1', 1, 1, T0, { model: A, label: 'normal' }), T0),
        at(telemetry('d1', 1, 5, T0 + 5000, { model: B }), T0 + 5000),
        // Backlog from before the switch, replayed after it.
        at(telemetry('d1', 1, 3, T0 + 3000, { model: A }), T0 + 6000),
      ]);
      const deps = o.store.deployments('d1');
      assert.deepEqual(
        deps.map((d) => [d.model.version, d.sinceMs, d.untilMs, d.source]),
        [
          ['1', T0, T0 + 5000, 'telemetry'],
          ['2', T0 + 5000, null, 'telemetry'],
        ],
      );
      assert.deepEqual(o.store.device('d1')?.model, B);
      const [w] = o.store.windows({ deviceId: 'd1', fromMs: T0, toMs: T0 + 1 });
      assert.deepEqual(w?.prediction, {
        label: 'normal',
        probabilities: { normal: 0.75, imbalance: 0.25 },
        latencyMs: 0.5,
      });
      assert.deepEqual(w.model, A);
    });

    test('latest window per device; status, integrity events and monitor results', (t) => {
      const o = make(t);
      o.store.writeBatch([...day('d1', 5, T0), ...day('d2', 3, T0 + 100)]);
      assert.deepEqual(
        o.store.latestWindows().map((w) => [w.deviceId, w.msgSeq]),
        [
          ['d1', 5],
          ['d2', 3],
        ],
      );
      const status: DecodedMessage = {
        kind: 'status',
        deviceId: 'd1',
        payload: {
          v: 1,
          deviceId: 'd1',
          runId: 1,
          msgSeq: 0,
          tsMs: T0,
          state: 'offline',
          reason: 'lwt',
          model: null,
          firmwareVersion: null,
          agentVersion: '1.0.0',
          bootId: null,
        },
      };
      o.store.writeBatch([at(status, T0 + 9000)]);
      assert.deepEqual(o.store.device('d1')?.lastStatus, {
        state: 'offline',
        reason: 'lwt',
        atMs: T0 + 9000,
      });
      const ev: DecodedMessage = {
        kind: 'integrity',
        deviceId: 'd1',
        payload: {
          v: 1,
          deviceId: 'd1',
          runId: 1,
          msgSeq: 6,
          tsMs: T0 + 5000,
          bootId: 7,
          windowIndex: 5,
          channel: 'accel.x',
          check: 'flatline',
          status: 'fail',
          previousStatus: 'good',
          reason: 'stuck',
        },
      };
      assert.equal(o.store.writeBatch([at(ev, T0 + 5000), at(ev, T0 + 5001)]).duplicates, 1);
      assert.equal(
        o.store.integrityEvents({ deviceId: 'd1', fromMs: T0, toMs: T0 + HOUR })[0]?.check,
        'flatline',
      );
      o.store.writeMonitorResults([
        {
          deviceId: 'd1',
          monitor: 'drift.psi',
          channel: 'accel.x',
          tsMs: T0,
          status: 'ok',
          statistic: 0.01,
          threshold: 0.2,
          details: { n: 60 },
        },
        {
          deviceId: 'd1',
          monitor: 'integrity.staleness',
          channel: null,
          tsMs: T0 + 1,
          status: 'good',
          statistic: null,
          threshold: null,
        },
      ]);
      const mr = o.store.monitorResults({ deviceId: 'd1', fromMs: T0, toMs: T0 + 10, monitor: 'drift.psi' });
      assert.equal(mr.length, 1);
      assert.deepEqual(mr[0]?.details, { n: 60 });
    });

    test('raw sample blocks are kept only inside a capture request', (t) => {
      const o = make(t);
      const raw = (msgSeq: number): DecodedMessage => ({
        kind: 'raw',
        deviceId: 'd1',
        payload: {
          sensorId: 1,
          axes: 3,
          runId: 1,
          msgSeq,
          bootId: 7,
          firstIndex: msgSeq * 10,
          timestampUs: msgSeq * 1e4,
          periodUs: 1000,
          count: 2,
          values: Float32Array.from([1.5, -2, 3, 4, 5, 6.25]),
        },
      });
      assert.equal(o.store.writeBatch([at(raw(1), T0)]).notCaptured, 1);
      const cap = o.store.requestCapture('d1', T0 + 1000, T0 + 2000, T0, 'bearing check');
      const r = o.store.writeBatch([at(raw(2), T0 + 1500), at(raw(2), T0 + 1600), at(raw(3), T0 + 2500)]);
      assert.deepEqual(r, { written: 1, duplicates: 1, expired: 0, notCaptured: 1 });
      const blocks = o.store.rawBlocks(cap.id);
      assert.equal(blocks.length, 1);
      assert.deepEqual(Array.from(blocks[0]?.values ?? []), [1.5, -2, 3, 4, 5, 6.25]);
      assert.equal(o.store.captures('d1')[0]?.note, 'bearing check');
      assert.ok(o.store.deleteCapture(cap.id));
      assert.equal(o.store.rawBlocks(cap.id).length, 0);
    });
  });
}
