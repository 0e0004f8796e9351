// One contract, every Outbox implementation (STYLE.md habit 11): the in-memory outbox and the SQLite one
// must behave the same for ordering, live-first replay, rate limiting, eviction order, expiry and counting.

import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { EdgeloopError } from '../../shared/errors.ts';
import { MemoryOutbox } from '../../agent/outbox/memory-outbox.ts';
import { openSqliteOutbox } from '../../agent/outbox/sqlite-outbox.ts';
import type {
  Outbox,
  OutboxClass,
  OutboxMessage,
  OutboxOptions,
  StoredMessage,
} from '../../agent/outbox/types.ts';

class FakeClock {
  t = 1_700_000_000_000;
  nowMs(): number {
    return this.t;
  }
}

type Make = (t: TestContext, options: Omit<OutboxOptions, 'clock'>, clock: FakeClock) => Outbox;

const implementations: Record<string, Make> = {
  memory: (_t, options, clock) => new MemoryOutbox({ ...options, clock }),
  sqlite: (t, options, clock) => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeloop-outbox-contract-'));
    const box: { o?: Outbox } = {};
    t.after(() => {
      box.o?.close();
      rmSync(dir, { recursive: true, force: true });
    });
    // NORMAL keeps the contract suite fast; durability is the integration tests' subject.
    box.o = openSqliteOutbox(join(dir, 'outbox.db'), { ...options, clock, synchronous: 'NORMAL' });
    return box.o;
  },
};

const TOPIC = 'edgeloop/v1/devices/d1/telemetry'; // 32 characters

/** A message whose payload holds `n` (4 bytes LE) plus padding, so size = 32 + 4 + pad. */
function msg(n: number, cls: OutboxClass = 'telemetry', clock?: FakeClock, pad = 0): OutboxMessage {
  const payload = new Uint8Array(4 + pad);
  new DataView(payload.buffer).setUint32(0, n, true);
  return { topic: TOPIC, payload, qos: 1, class: cls, createdAtMs: clock?.t ?? 1_700_000_000_000 };
}

function nums(list: readonly StoredMessage[]): number[] {
  return list.map((m) => new DataView(m.payload.buffer, m.payload.byteOffset, 4).getUint32(0, true));
}

function enqueueOk(o: Outbox, m: OutboxMessage | OutboxMessage[]): void {
  const r = o.enqueue(m);
  assert.ok(r.ok, r.ok ? '' : r.message);
}

function drain(o: Outbox): number[] {
  const out: number[] = [];
  for (;;) {
    const batch = o.take({ maxMessages: 7 });
    if (batch.length === 0) return out;
    out.push(...nums(batch));
    o.ack(batch.map((m) => m.id));
  }
}

for (const [name, make] of Object.entries(implementations)) {
  describe(`Outbox contract: ${name}`, () => {
    test('hands messages out in enqueue order and deletes them on ack', (t) => {
      const clock = new FakeClock();
      const o = make(t, { replayRatePerSec: Infinity }, clock);
      enqueueOk(o, [msg(1), msg(2), msg(3)]);
      enqueueOk(o, msg(4));
      const first = o.take({ maxMessages: 2 });
      assert.deepEqual(nums(first), [1, 2]);
      assert.equal(first[0]?.topic, TOPIC);
      assert.equal(first[0].qos, 1);
      assert.equal(first[0].retain, false);
      assert.equal(first[0].class, 'telemetry');
      // In flight: not handed out twice.
      assert.deepEqual(nums(o.take({ maxMessages: 10 })), [3, 4]);
      assert.deepEqual(o.take({ maxMessages: 10 }), []);
      assert.equal(o.stats().inFlight, 4);
      assert.equal(o.ack(first.map((m) => m.id)), 2);
      assert.equal(o.ack(first.map((m) => m.id)), 0, 'a second ack of the same ids deletes nothing');
      const s = o.stats();
      assert.equal(s.depth, 2);
      assert.equal(s.inFlight, 2);
      assert.equal(s.ackedTotal, 2);
      assert.equal(s.enqueuedTotal, 4);
      assert.equal(s.bytes, 2 * (TOPIC.length + 4));
    });

    test('keeps retain and copies the payload at enqueue', (t) => {
      const o = make(t, {}, new FakeClock());
      const m = { ...msg(7, 'status'), retain: true };
      enqueueOk(o, m);
      m.payload.fill(0xff); // the producer reuses its buffer
      const [got] = o.take({ maxMessages: 1 });
      assert.equal(got?.retain, true);
      assert.deepEqual(nums([got]), [7]);
    });

    test('release hands the message out again, before later ones', (t) => {
      const o = make(t, { replayRatePerSec: Infinity }, new FakeClock());
      enqueueOk(o, [msg(1), msg(2), msg(3)]);
      const a = o.take({ maxMessages: 2 });
      assert.equal(o.release([a[1]!.id]), 1);
      assert.equal(o.release([a[1]!.id]), 0, 'not in flight any more');
      assert.deepEqual(nums(o.take({ maxMessages: 10 })), [2, 3]);
    });

    test('live first after the link comes back, then the backlog in order', (t) => {
      const o = make(t, { replayRatePerSec: Infinity }, new FakeClock());
      enqueueOk(o, [msg(1), msg(2)]);
      o.linkDown();
      enqueueOk(o, [msg(3), msg(4)]);
      assert.equal(o.stats().linkUp, false);
      o.linkUp();
      enqueueOk(o, msg(5));
      enqueueOk(o, msg(6));
      assert.equal(o.stats().backlogDepth, 4);
      assert.deepEqual(nums(o.take({ maxMessages: 3 })), [5, 6, 1]);
      enqueueOk(o, msg(7));
      assert.deepEqual(drain(o), [7, 2, 3, 4]);
    });

    test('linkDown releases everything in flight; it is sent again after linkUp', (t) => {
      const o = make(t, { replayRatePerSec: Infinity }, new FakeClock());
      enqueueOk(o, [msg(1), msg(2), msg(3)]);
      const taken = o.take({ maxMessages: 2 });
      assert.equal(taken.length, 2);
      o.linkDown();
      assert.equal(o.stats().inFlight, 0);
      o.linkUp();
      assert.deepEqual(drain(o), [1, 2, 3]);
    });

    test('replays the backlog at replayRatePerSec while live data flows', (t) => {
      const clock = new FakeClock();
      const o = make(t, { replayRatePerSec: 10 }, clock);
      o.linkDown();
      enqueueOk(
        o,
        Array.from({ length: 30 }, (_, i) => msg(100 + i)),
      );
      o.linkUp();
      // The bucket starts full (one second's worth).
      assert.deepEqual(
        nums(o.take({ maxMessages: 100 })),
        Array.from({ length: 10 }, (_, i) => 100 + i),
      );
      assert.deepEqual(o.take({ maxMessages: 100 }), [], 'no tokens left, no live data');
      enqueueOk(o, msg(1));
      assert.deepEqual(nums(o.take({ maxMessages: 100 })), [1], 'live data is not rate limited');
      clock.t += 500;
      assert.deepEqual(nums(o.take({ maxMessages: 100 })), [110, 111, 112, 113, 114]);
      clock.t += 10_000; // a long pause refills at most one second's worth
      assert.equal(o.take({ maxMessages: 100 }).length, 10);
    });

    test('take honours maxBytes but always hands out at least one message', (t) => {
      const o = make(t, { replayRatePerSec: Infinity }, new FakeClock());
      enqueueOk(o, [msg(1, 'raw', undefined, 100), msg(2), msg(3)]);
      assert.deepEqual(nums(o.take({ maxMessages: 10, maxBytes: 50 })), [1]);
      assert.deepEqual(nums(o.take({ maxMessages: 10, maxBytes: 72 })), [2, 3]);
    });

    test('when full, evicts oldest raw, then telemetry, ... alerts last, and counts every drop', (t) => {
      const size = TOPIC.length + 4; // 36 bytes per message
      const o = make(t, { maxOutboxBytes: size * 6 }, new FakeClock());
      enqueueOk(o, [
        msg(1, 'alert'),
        msg(2, 'telemetry'),
        msg(3, 'raw'),
        msg(4, 'integrity'),
        msg(5, 'telemetry'),
        msg(6, 'raw'),
      ]);
      assert.equal(o.stats().bytes, size * 6);
      // Two alerts arrive: the two raw messages go first.
      enqueueOk(o, [msg(7, 'alert'), msg(8, 'alert')]);
      // A status message evicts the oldest telemetry.
      enqueueOk(o, msg(9, 'status'));
      // An integrity event evicts the remaining telemetry, then the status message.
      enqueueOk(o, [msg(10, 'integrity'), msg(11, 'integrity')]);
      let s = o.stats();
      assert.equal(s.drops.raw.full, 2);
      assert.equal(s.drops.telemetry.full, 2);
      assert.equal(s.drops.status.full, 1);
      assert.equal(s.drops.integrity.full, 0);
      assert.equal(s.drops.alert.full, 0);
      assert.equal(s.droppedTotal, 5);
      assert.equal(s.depth, 6);
      assert.ok(s.bytes <= size * 6);
      // Only alerts and integrity events are left: telemetry cannot evict them and is refused itself.
      const r = o.enqueue(msg(12, 'telemetry'));
      assert.ok(r.ok);
      assert.deepEqual(r.value, { accepted: 0, refused: 1 });
      // An alert evicts the oldest integrity event before any alert.
      enqueueOk(o, msg(13, 'alert'));
      s = o.stats();
      assert.equal(s.drops.telemetry.full, 3);
      assert.equal(s.drops.integrity.full, 1);
      assert.equal(s.drops.alert.full, 0);
      assert.deepEqual(drain(o), [1, 7, 8, 10, 11, 13]);
    });

    test('never evicts in-flight messages; refuses a message larger than the whole outbox', (t) => {
      const size = TOPIC.length + 4;
      const o = make(t, { maxOutboxBytes: size * 2, replayRatePerSec: Infinity }, new FakeClock());
      enqueueOk(o, [msg(1, 'raw'), msg(2, 'raw')]);
      const inFlight = o.take({ maxMessages: 2 });
      const r = o.enqueue([msg(3, 'alert'), msg(4, 'alert', undefined, size * 2)]);
      assert.ok(r.ok);
      assert.deepEqual(r.value, { accepted: 0, refused: 2 });
      assert.equal(o.stats().drops.alert.full, 2);
      assert.equal(o.ack(inFlight.map((m) => m.id)), 2);
      enqueueOk(o, msg(5, 'alert'));
      assert.deepEqual(drain(o), [5]);
    });

    test('eviction skips in-flight messages and takes the oldest one that is not', (t) => {
      const size = TOPIC.length + 4;
      const o = make(t, { maxOutboxBytes: size * 4, replayRatePerSec: Infinity }, new FakeClock());
      enqueueOk(o, [msg(1, 'raw'), msg(2, 'raw'), msg(3, 'raw'), msg(4, 'telemetry')]);
      const inFlight = o.take({ maxMessages: 2 }); // raw 1 and 2
      enqueueOk(o, msg(5, 'telemetry'));
      assert.equal(o.stats().drops.raw.full, 1);
      o.release(inFlight.map((m) => m.id));
      assert.deepEqual(drain(o), [1, 2, 4, 5]);
    });

    test('drops expired messages (not in-flight ones) and counts them', (t) => {
      const clock = new FakeClock();
      const o = make(t, { maxAgeMs: 60_000, replayRatePerSec: Infinity }, clock);
      enqueueOk(o, [msg(1, 'telemetry', clock), msg(2, 'alert', clock)]);
      clock.t += 30_000;
      enqueueOk(o, msg(3, 'raw', clock));
      assert.equal(o.stats().oldestAgeMs, 30_000);
      const inFlight = o.take({ maxMessages: 1 });
      assert.deepEqual(nums(inFlight), [1]);
      clock.t += 30_000; // messages 1 and 2 are now 60 s old
      const s = o.stats();
      assert.equal(s.depth, 3, 'expiry happens on enqueue/take, not on stats');
      assert.deepEqual(nums(o.take({ maxMessages: 10 })), [3]);
      const after = o.stats();
      assert.equal(after.drops.alert.expired, 1);
      assert.equal(after.drops.telemetry.expired, 0, 'in flight: left to ack or release');
      assert.equal(after.depth, 2);
      // A message that is already too old when enqueued is refused and counted.
      const old = new FakeClock();
      old.t = clock.t - 60_000;
      const r = o.enqueue(msg(4, 'integrity', old));
      assert.ok(r.ok);
      assert.deepEqual(r.value, { accepted: 0, refused: 1 });
      assert.equal(o.stats().drops.integrity.expired, 1);
    });

    test('stats of an empty outbox, and close() is idempotent', (t) => {
      const o = make(t, {}, new FakeClock());
      const s = o.stats();
      assert.equal(s.depth, 0);
      assert.equal(s.bytes, 0);
      assert.equal(s.oldestAgeMs, 0);
      assert.equal(s.linkUp, true);
      assert.equal(s.storageErrorsTotal, 0);
      for (const c of ['raw', 'telemetry', 'status', 'model', 'integrity', 'alert'] as const) {
        assert.deepEqual(s.drops[c], { full: 0, expired: 0, storage: 0 });
      }
      o.close();
      o.close();
      const r = o.enqueue(msg(1));
      assert.equal(r.ok, false);
      assert.equal(r.code, 'EDGELOOP_ERR_OUTBOX_CLOSED');
      assert.deepEqual(o.take({ maxMessages: 1 }), []);
      assert.equal(o.ack([1]), 0);
    });

    test('bad options and malformed messages are bugs: they throw with a code', (t) => {
      assert.throws(
        () => make(t, { maxOutboxBytes: 0 }, new FakeClock()),
        (e: unknown) => e instanceof EdgeloopError && e.code === 'EDGELOOP_ERR_CONFIG_INVALID',
      );
      const o = make(t, {}, new FakeClock());
      assert.throws(() => o.enqueue({ ...msg(1), qos: 3 as 1 }), EdgeloopError);
      assert.throws(() => o.enqueue({ ...msg(1), class: 'video' as 'raw' }), EdgeloopError);
      assert.equal(o.stats().depth, 0, 'nothing of a rejected batch is stored');
    });
  });
}
