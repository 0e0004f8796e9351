// Outbox write and replay rates (issue #4 §6 "outbox write and replay rate"), each against raw
// better-sqlite3 doing the same inserts/reads/deletes on a plain table with the same pragmas and the same
// batching, in the same run; plus the raw-sample encoding choice (JSON vs packed float32, issue #4 §2).
// Run: node --import tsx bench/outbox.bench.ts
//
// Baseline note: the baseline goes through shared/platform/sqlite.ts, whose prepare and transaction hand
// better-sqlite3's own statements and transaction functions through unchanged, so it is raw better-sqlite3
// without any outbox logic.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteDatabase, type SqliteDatabase } from '../shared/platform/sqlite.ts';
import { openSqliteOutbox } from '../agent/outbox/sqlite-outbox.ts';
import type { OutboxMessage } from '../agent/outbox/types.ts';
import { decodeRawSamples, encodeRawSamples, type RawSamplesInput } from '../shared/mqtt/raw-codec.ts';
import { median, section, type Row } from './lib.ts';

const REPS = 7;
const BATCH = 100; // messages per enqueue() = per transaction
const PAYLOAD_BYTES = 600; // about one telemetry window as JSON
const TOPIC = 'edgeloop/v1/devices/bench-device/telemetry';
const clock = { nowMs: () => Date.now() };

function rows(n: number): OutboxMessage[] {
  const payload = new Uint8Array(PAYLOAD_BYTES).map((_, i) => i & 0xff);
  return Array.from({ length: n }, () => ({
    topic: TOPIC,
    payload,
    qos: 1,
    class: 'telemetry',
    createdAtMs: Date.now(),
  }));
}

function withDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-bench-outbox-'));
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

function plainTable(path: string, synchronous: string): SqliteDatabase {
  const db = openSqliteDatabase(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.exec(
    'CREATE TABLE t (id INTEGER PRIMARY KEY, class TEXT, topic TEXT, payload BLOB, qos INTEGER, retain INTEGER, created_at_ms INTEGER, size INTEGER)',
  );
  return db;
}

/** Messages/s for enqueue() in batches, and for the same rows inserted raw. */
function writeRate(
  n: number,
  synchronous: 'FULL' | 'NORMAL',
  maxOutboxBytes?: number,
): { outbox: number; raw: number } {
  const msgs = rows(n);
  const outbox = withDir((dir) => {
    const o = openSqliteOutbox(join(dir, 'o.db'), {
      clock,
      synchronous,
      ...(maxOutboxBytes === undefined ? {} : { maxOutboxBytes }),
    });
    const s = seconds(() => {
      for (let i = 0; i < n; i += BATCH) {
        const r = o.enqueue(msgs.slice(i, i + BATCH));
        if (!r.ok) throw new Error(r.message);
      }
    });
    o.close();
    return n / s;
  });
  const raw = withDir((dir) => {
    const db = plainTable(join(dir, 'r.db'), synchronous);
    const ins = db.prepare(
      'INSERT INTO t (class, topic, payload, qos, retain, created_at_ms, size) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    const tx = db.transaction((batch: readonly OutboxMessage[]) => {
      for (const m of batch)
        ins.run(m.class, m.topic, m.payload, m.qos, 0, m.createdAtMs, m.payload.byteLength);
    });
    const s = seconds(() => {
      for (let i = 0; i < n; i += BATCH) tx(msgs.slice(i, i + BATCH));
    });
    db.close();
    return n / s;
  });
  return { outbox, raw };
}

/** Messages/s draining a stored backlog: take(500) + ack, vs SELECT 500 + DELETE them. */
function replayRate(n: number): { outbox: number; raw: number } {
  const msgs = rows(n);
  const take = 500;
  const outbox = withDir((dir) => {
    const path = join(dir, 'o.db');
    const w = openSqliteOutbox(path, { clock, synchronous: 'NORMAL' });
    for (let i = 0; i < n; i += BATCH) w.enqueue(msgs.slice(i, i + BATCH));
    w.close();
    // Reopened: everything is backlog, as after an agent restart. FULL, as in production.
    const o = openSqliteOutbox(path, { clock, replayRatePerSec: Infinity });
    let got = 0;
    const s = seconds(() => {
      for (;;) {
        const batch = o.take({ maxMessages: take });
        if (batch.length === 0) break;
        got += batch.length;
        o.ack(batch.map((m) => m.id));
      }
    });
    o.close();
    if (got !== n) throw new Error(`replayed ${got} of ${n}`);
    return n / s;
  });
  const raw = withDir((dir) => {
    const db = plainTable(join(dir, 'r.db'), 'FULL');
    const ins = db.prepare(
      'INSERT INTO t (class, topic, payload, qos, retain, created_at_ms, size) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    db.transaction(() => {
      for (const m of msgs)
        ins.run(m.class, m.topic, m.payload, m.qos, 0, m.createdAtMs, m.payload.byteLength);
    })();
    const sel = db.prepare(
      'SELECT id, class, topic, payload, qos, retain, created_at_ms, size FROM t ORDER BY id LIMIT ?',
    );
    const del = db.prepare('DELETE FROM t WHERE id = ?');
    const ack = db.transaction((ids: readonly number[]) => {
      for (const id of ids) del.run(id);
    });
    let got = 0;
    const s = seconds(() => {
      for (;;) {
        const batch = sel.all(take) as { id: number }[];
        if (batch.length === 0) break;
        got += batch.length;
        ack(batch.map((r) => r.id));
      }
    });
    db.close();
    if (got !== n) throw new Error(`raw replayed ${got} of ${n}`);
    return n / s;
  });
  return { outbox, raw };
}

/** µs per raw block (1 s of a 1 kHz 3-axis IMU) for JSON and for the packed encoding. */
function encoding(): {
  json: number;
  packed: number;
  packedLoop: number;
  jsonDecode: number;
  packedDecode: number;
} {
  const values = new Float32Array(3000).map((_, i) => Math.sin(i / 7) * 9.81);
  const block: RawSamplesInput = {
    sensorId: 0,
    axes: 3,
    runId: 1,
    msgSeq: 1,
    bootId: 2,
    firstIndex: 0,
    timestampUs: 0,
    periodUs: 1000,
    values,
  };
  const utf8 = new TextEncoder();
  const k = 300;
  let sink = 0;
  const json = seconds(() => {
    for (let i = 0; i < k; i++)
      sink += utf8.encode(JSON.stringify({ ...block, values: Array.from(values) })).byteLength;
  });
  const packed = seconds(() => {
    for (let i = 0; i < k; i++) sink += encodeRawSamples(block).byteLength;
  });
  // The portable path: plain numbers written one by one through a DataView (what a big-endian host, or a
  // caller without a Float32Array, gets).
  const asNumbers = { ...block, values: Array.from(values) };
  const packedLoop = seconds(() => {
    for (let i = 0; i < k; i++) sink += encodeRawSamples(asNumbers).byteLength;
  });
  const jsonBytes = utf8.encode(JSON.stringify({ ...block, values: Array.from(values) }));
  const packedBytes = encodeRawSamples(block);
  const dec = new TextDecoder();
  const jsonDecode = seconds(() => {
    for (let i = 0; i < k; i++)
      sink += Float32Array.from((JSON.parse(dec.decode(jsonBytes)) as { values: number[] }).values).length;
  });
  const packedDecode = seconds(() => {
    for (let i = 0; i < k; i++) {
      const r = decodeRawSamples(packedBytes);
      if (r.ok) sink += r.value.count;
    }
  });
  if (sink === 0) throw new Error('unreachable');
  return {
    json: (json / k) * 1e6,
    packed: (packed / k) * 1e6,
    packedLoop: (packedLoop / k) * 1e6,
    jsonDecode: (jsonDecode / k) * 1e6,
    packedDecode: (packedDecode / k) * 1e6,
  };
}

const N_FULL = Number(process.env.EDGELOOP_BENCH_OUTBOX_N ?? 5000);
const N_FAST = 4 * N_FULL;
const acc: Record<string, number[]> = {};
const push = (k: string, v: number): void => {
  (acc[k] ??= []).push(v);
};
for (let rep = 0; rep < REPS + 1; rep++) {
  const full = writeRate(N_FULL, 'FULL');
  const normal = writeRate(N_FAST, 'NORMAL');
  // Full outbox: every message evicts the oldest one (the steady state of a long outage).
  const evicting = writeRate(N_FAST, 'NORMAL', (PAYLOAD_BYTES + TOPIC.length) * 1000);
  const replay = replayRate(N_FAST);
  const enc = encoding();
  if (rep === 0) continue; // warm-up: JIT, page cache
  push('wFull', full.outbox);
  push('wFullRaw', full.raw);
  push('wNormal', normal.outbox);
  push('wNormalRaw', normal.raw);
  push('wEvict', evicting.outbox);
  push('wEvictRaw', evicting.raw);
  push('replay', replay.outbox);
  push('replayRaw', replay.raw);
  push('json', enc.json);
  push('packed', enc.packed);
  push('packedLoop', enc.packedLoop);
  push('jsonDecode', enc.jsonDecode);
  push('packedDecode', enc.packedDecode);
}
const m = (k: string): number => median(acc[k] ?? []);
const table: Row[] = [
  {
    metric: `enqueue, synchronous=FULL, ${BATCH}/transaction`,
    median: m('wFull'),
    baseline: m('wFullRaw'),
    unit: 'msg/s',
  },
  {
    metric: `enqueue, synchronous=NORMAL, ${BATCH}/transaction`,
    median: m('wNormal'),
    baseline: m('wNormalRaw'),
    unit: 'msg/s',
  },
  {
    metric: 'enqueue into a full outbox (each evicts one), NORMAL',
    median: m('wEvict'),
    baseline: m('wEvictRaw'),
    unit: 'msg/s',
  },
  {
    metric: 'replay backlog: take(500) + ack, FULL',
    median: m('replay'),
    baseline: m('replayRaw'),
    unit: 'msg/s',
  },
  {
    metric: 'raw block encode (1000 × 3 f32): JSON vs packed from a Float32Array',
    median: m('json'),
    baseline: m('packed'),
    unit: 'µs',
  },
  {
    metric: 'raw block encode (1000 × 3 numbers): JSON vs packed via DataView loop',
    median: m('json'),
    baseline: m('packedLoop'),
    unit: 'µs',
  },
  {
    metric: 'raw block decode (1000 × 3 f32): JSON vs packed',
    median: m('jsonDecode'),
    baseline: m('packedDecode'),
    unit: 'µs',
  },
];
process.stdout.write(
  section('Outbox', 'node --import tsx bench/outbox.bench.ts', table, [
    `Messages of ${PAYLOAD_BYTES} B payload on \`${TOPIC}\`; ${N_FULL} messages per FULL run, ${N_FAST} otherwise; median of ${REPS} runs after one warm-up.`,
    'Baselines: raw better-sqlite3 on a plain table (no indexes, no accounting, no eviction), same pragmas (WAL and the same synchronous), same batching; replay baseline is SELECT 500 ORDER BY id + DELETE by id in one transaction.',
    'Encoding rows: median is JSON, baseline is the packed float32 layout of docs/mqtt.md; the ratio is how many times slower JSON is.',
  ]),
);
