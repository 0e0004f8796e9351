// In-memory outbox: the same contract as the SQLite one (test/contracts/outbox.contract.test.ts), without
// durability. For tests, and for an agent run without a data directory (everything is lost on restart).

import { fail, ok, type Result } from '../../shared/errors.ts';
import {
  Accounting,
  assertValidMessage,
  classRank,
  DropCounter,
  messageSize,
  resolveOutboxOptions,
  TokenBucket,
  type ResolvedOutboxOptions,
} from './policy.ts';
import {
  outboxClasses,
  type EnqueueReceipt,
  type Outbox,
  type OutboxClass,
  type OutboxMessage,
  type OutboxOptions,
  type OutboxStats,
  type StoredMessage,
  type TakeOptions,
} from './types.ts';

interface Entry extends StoredMessage {
  readonly size: number;
  inFlight: boolean;
}

export class MemoryOutbox implements Outbox {
  readonly #o: ResolvedOutboxOptions;
  readonly #bucket: TokenBucket;
  readonly #drops = new DropCounter();
  readonly #acc = new Accounting();
  // Both maps iterate in insertion order, which is id order. Every backlog id is below every live id.
  #backlog = new Map<number, Entry>();
  #live = new Map<number, Entry>();
  readonly #byClass = new Map<OutboxClass, Map<number, Entry>>(outboxClasses.map((c) => [c, new Map()]));
  #nextId = 1;
  #inFlight = 0;
  #linkUp = true;
  #enqueued = 0;
  #acked = 0;
  #closed = false;
  /** Earliest time any stored message can expire; lets sweeps skip full scans. */
  #nextExpiryMs = Infinity;

  constructor(options: OutboxOptions) {
    this.#o = resolveOutboxOptions(options);
    this.#bucket = new TokenBucket(this.#o.replayRatePerSec, this.#o.clock);
  }

  enqueue(messages: OutboxMessage | readonly OutboxMessage[]): Result<EnqueueReceipt> {
    if (this.#closed) return fail('EDGELOOP_ERR_OUTBOX_CLOSED');
    const list: readonly OutboxMessage[] = Array.isArray(messages) ? messages : [messages as OutboxMessage];
    for (const m of list) assertValidMessage(m);
    this.#sweepExpired();
    const now = this.#o.clock.nowMs();
    let accepted = 0;
    let refused = 0;
    for (const m of list) {
      const size = messageSize(m);
      if (m.createdAtMs + this.#o.maxAgeMs <= now) {
        this.#drops.add(m.class, 'expired');
        refused++;
        continue;
      }
      if (!this.#makeRoom(m.class, size)) {
        this.#drops.add(m.class, 'full');
        refused++;
        continue;
      }
      const e: Entry = {
        id: this.#nextId++,
        topic: m.topic,
        // A copy: the caller may reuse its buffer once enqueue returns, as it may with the SQLite outbox.
        payload: new Uint8Array(m.payload),
        qos: m.qos,
        retain: m.retain ?? false,
        class: m.class,
        createdAtMs: m.createdAtMs,
        size,
        inFlight: false,
      };
      (this.#linkUp ? this.#live : this.#backlog).set(e.id, e);
      this.#byClass.get(e.class)?.set(e.id, e);
      this.#acc.added(e.class, size);
      this.#nextExpiryMs = Math.min(this.#nextExpiryMs, e.createdAtMs + this.#o.maxAgeMs);
      accepted++;
    }
    this.#enqueued += accepted;
    return ok({ accepted, refused });
  }

  /** Evicts oldest messages of rank <= the incoming class until `size` fits; false if it cannot. */
  #makeRoom(cls: OutboxClass, size: number): boolean {
    let need = this.#acc.totalBytes + size - this.#o.maxOutboxBytes;
    if (need <= 0) return true;
    if (size > this.#o.maxOutboxBytes || this.#acc.evictableFor(cls) < need) return false;
    for (const c of outboxClasses) {
      if (classRank[c] > classRank[cls]) break;
      const q = this.#byClass.get(c) ?? new Map<number, Entry>();
      for (const e of q.values()) {
        if (need <= 0) break;
        if (e.inFlight) continue;
        this.#remove(e);
        this.#drops.add(c, 'full');
        need -= e.size;
      }
      if (need <= 0) break;
    }
    return true;
  }

  #remove(e: Entry): void {
    if (!this.#backlog.delete(e.id)) this.#live.delete(e.id);
    this.#byClass.get(e.class)?.delete(e.id);
    this.#acc.removed(e.class, e.size);
    if (e.inFlight) {
      this.#inFlight--;
      this.#acc.flight(e.class, e.size, -1);
    }
  }

  #sweepExpired(): void {
    const now = this.#o.clock.nowMs();
    if (now < this.#nextExpiryMs) return;
    let next = Infinity;
    for (const map of [this.#backlog, this.#live]) {
      for (const e of map.values()) {
        const at = e.createdAtMs + this.#o.maxAgeMs;
        // In-flight messages are being published; their fate is decided by ack or release.
        if (at <= now && !e.inFlight) {
          this.#remove(e);
          this.#drops.add(e.class, 'expired');
        } else next = Math.min(next, at);
      }
    }
    this.#nextExpiryMs = next;
  }

  take(options: TakeOptions): readonly StoredMessage[] {
    if (this.#closed) return [];
    this.#sweepExpired();
    const out: StoredMessage[] = [];
    const maxBytes = options.maxBytes ?? Infinity;
    let bytes = 0;
    // An object, not a `let`: pick() sets it from a closure, which control-flow analysis cannot see.
    const stop = { full: false };
    const pick = (map: Map<number, Entry>, limit: number): number => {
      let n = 0;
      for (const e of map.values()) {
        if (out.length >= options.maxMessages || n >= limit) break;
        if (e.inFlight) continue;
        if (out.length > 0 && bytes + e.size > maxBytes) {
          // Stop here rather than skip ahead: a smaller later message must not overtake this one.
          stop.full = true;
          break;
        }
        e.inFlight = true;
        this.#inFlight++;
        this.#acc.flight(e.class, e.size, 1);
        bytes += e.size;
        out.push(toStored(e));
        n++;
      }
      return n;
    };
    pick(this.#live, Infinity);
    if (!stop.full && out.length < options.maxMessages) {
      const tokens = this.#bucket.available();
      if (tokens > 0) this.#bucket.consume(pick(this.#backlog, tokens));
    }
    return out;
  }

  ack(ids: readonly number[]): number {
    let n = 0;
    for (const id of ids) {
      const e = this.#backlog.get(id) ?? this.#live.get(id);
      if (e === undefined) continue;
      this.#remove(e);
      n++;
    }
    this.#acked += n;
    return n;
  }

  release(ids: readonly number[]): number {
    let n = 0;
    for (const id of ids) {
      const e = this.#backlog.get(id) ?? this.#live.get(id);
      if (e?.inFlight !== true) continue;
      e.inFlight = false;
      this.#inFlight--;
      this.#acc.flight(e.class, e.size, -1);
      n++;
    }
    return n;
  }

  linkUp(): void {
    this.#mergeLiveIntoBacklog();
    this.#linkUp = true;
  }

  linkDown(): void {
    for (const map of [this.#backlog, this.#live]) this.release([...map.keys()]);
    this.#mergeLiveIntoBacklog();
    this.#linkUp = false;
  }

  #mergeLiveIntoBacklog(): void {
    // Live ids are all above backlog ids, so appending keeps the backlog in id order.
    for (const [id, e] of this.#live) this.#backlog.set(id, e);
    this.#live = new Map();
  }

  stats(): OutboxStats {
    let oldest = Infinity;
    for (const q of this.#byClass.values()) {
      // Per class, the first entry is the oldest produced unless producers' clocks stepped back.
      for (const e of q.values()) {
        oldest = Math.min(oldest, e.createdAtMs);
        break;
      }
    }
    return {
      depth: this.#acc.depth,
      bytes: this.#acc.totalBytes,
      backlogDepth: this.#backlog.size,
      inFlight: this.#inFlight,
      oldestAgeMs: oldest === Infinity ? 0 : Math.max(0, this.#o.clock.nowMs() - oldest),
      enqueuedTotal: this.#enqueued,
      ackedTotal: this.#acked,
      drops: this.#drops.snapshot(),
      droppedTotal: this.#drops.total,
      storageErrorsTotal: 0,
      linkUp: this.#linkUp,
    };
  }

  close(): void {
    this.#closed = true;
  }
}

function toStored(e: Entry): StoredMessage {
  return {
    id: e.id,
    topic: e.topic,
    payload: e.payload,
    qos: e.qos,
    retain: e.retain,
    class: e.class,
    createdAtMs: e.createdAtMs,
  };
}
