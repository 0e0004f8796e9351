// The SQLite outbox against a real file: what survives a close and reopen (order, classes, byte
// accounting, live-first over the previous run's backlog), and what a failing disk does (SQLITE_FULL).

import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { openSqliteDatabase } from '../../shared/platform/sqlite.ts';
import { openSqliteOutbox, SqliteOutbox } from '../../agent/outbox/sqlite-outbox.ts';
import type { OutboxClass, OutboxMessage, StoredMessage } from '../../agent/outbox/types.ts';
import { EdgeloopError } from '../../shared/errors.ts';

const clock = {
  t: 1_700_000_000_000,
  nowMs(): number {
    return this.t;
  },
};
const TOPIC = 'edgeloop/v1/devices/d1/telemetry';

function tmpDb(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgeloop-outbox-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return join(dir, 'outbox.db');
}

function msg(n: number, cls: OutboxClass, pad = 0, retain = false): OutboxMessage {
  const payload = new Uint8Array(4 + pad);
  new DataView(payload.buffer).setUint32(0, n, true);
  return { topic: TOPIC, payload, qos: 1, retain, class: cls, createdAtMs: clock.nowMs() };
}

const num = (m: StoredMessage): number =>
  new DataView(m.payload.buffer, m.payload.byteOffset, 4).getUint32(0, true);

test('reopen keeps messages, classes, retain and byte accounting; the old run is backlog', (t) => {
  const path = tmpDb(t);
  const a = openSqliteOutbox(path, { clock, maxOutboxBytes: 36 * 4 });
  assert.ok(a.enqueue([msg(1, 'raw'), msg(2, 'alert'), msg(3, 'status', 0, true), msg(4, 'telemetry')]).ok);
  const taken = a.take({ maxMessages: 1 });
  assert.equal(a.ack(taken.map((m) => m.id)), 1);
  // 1 was delivered, so raw 5 fits; raw 6 then evicts raw 5, the oldest message of the lowest class.
  assert.ok(a.enqueue([msg(5, 'raw'), msg(6, 'raw')]).ok);
  const before = a.stats();
  assert.equal(before.drops.raw.full, 1);
  a.close();

  // Reopened with a larger bound (a config change), so 7 fits without evicting.
  const b = openSqliteOutbox(path, { clock, maxOutboxBytes: 36 * 5, replayRatePerSec: 2 });
  t.after(() => {
    b.close();
  });
  const s = b.stats();
  assert.equal(s.depth, before.depth);
  assert.equal(s.bytes, before.bytes);
  assert.equal(s.backlogDepth, s.depth, 'everything from the previous run is backlog');
  assert.ok(b.enqueue(msg(7, 'telemetry')).ok);
  const first = b.take({ maxMessages: 10 });
  // Live first, then at most 2 backlog messages (the replay rate), in their original order.
  assert.deepEqual(first.map(num), [7, 2, 3]);
  assert.equal(first[2]?.retain, true);
  assert.equal(first[2].class, 'status');
  // Accounting was rebuilt from the file: one more raw message evicts the oldest raw one.
  assert.ok(b.enqueue(msg(8, 'raw')).ok);
  assert.equal(b.stats().drops.raw.full, 1);
  b.linkDown();
  b.linkUp();
  // After another outage everything is backlog, replayed 2 per second in id order.
  const rest: number[][] = [];
  for (let i = 0; i < 4; i++) {
    clock.t += 1000;
    const batch = b.take({ maxMessages: 10 });
    rest.push(batch.map(num));
    b.ack(batch.map((m) => m.id));
  }
  assert.deepEqual(rest, [[2, 3], [4, 7], [8], []]);
});

test('a full disk (SQLITE_FULL) fails the whole batch with a code, counts it, and loses nothing stored', (t) => {
  const path = tmpDb(t);
  const db = openSqliteDatabase(path);
  const o = new SqliteOutbox(db, { clock });
  t.after(() => {
    o.close();
  });
  assert.ok(o.enqueue([msg(1, 'alert'), msg(2, 'telemetry')]).ok);
  const pages = Number(db.pragma('page_count', { simple: true }));
  db.pragma(`max_page_count = ${pages + 2}`);
  const big = Array.from({ length: 50 }, (_, i) => msg(10 + i, 'raw', 4000));
  const r = o.enqueue(big);
  assert.equal(r.ok, false);
  assert.equal(r.code, 'EDGELOOP_ERR_OUTBOX_STORAGE');
  assert.match(r.message, /SQLITE_FULL/);
  const s = o.stats();
  assert.equal(s.drops.raw.storage, 50);
  assert.equal(s.storageErrorsTotal, 1);
  assert.equal(s.depth, 2, 'the rolled-back batch left no trace in the accounting');
  assert.equal(s.bytes, 2 * (TOPIC.length + 4));
  db.pragma('max_page_count = 1073741823');
  assert.ok(o.enqueue(msg(3, 'telemetry')).ok);
  assert.deepEqual(o.take({ maxMessages: 10 }).map(num), [1, 2, 3]);
});

test('refuses an outbox file written by a newer schema', (t) => {
  const path = tmpDb(t);
  const db = openSqliteDatabase(path);
  db.pragma('user_version = 99');
  db.close();
  assert.throws(
    () => openSqliteOutbox(path, { clock }),
    (e: unknown) => e instanceof EdgeloopError && e.code === 'EDGELOOP_ERR_OUTBOX_STORAGE',
  );
});
