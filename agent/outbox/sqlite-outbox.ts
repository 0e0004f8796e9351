// Durable outbox on an SQLite file (docs/outbox.md). Survives SIGKILL and power loss:
//  - WAL journal, synchronous=FULL by default: a COMMIT returns only after the WAL is fsync'ed, so an
//    enqueue that returned ok survives power loss, not just a process crash (docs/outbox.md §Durability).
//  - One enqueue call = one transaction, synchronous from BEGIN to COMMIT (no await can split it).
//  - In-flight state lives in memory only: after a crash every unacked message is sent again, which QoS 1
//    allows and msgSeq lets the receiver drop.
// Ordering and eviction follow the same rules as memory-outbox.ts; the contract test runs both.

import { EdgeloopError, fail, ok, type Result } from '../../shared/errors.ts';
import { openSqliteDatabase, sqliteErrorCode, type SqliteDatabase } from '../../shared/platform/sqlite.ts';
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
import { prepareOutboxSchema, type OutboxRow, type OutboxStatements } from './sqlite-schema.ts';
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

export interface SqliteOutboxOptions extends OutboxOptions {
  /**
   * FULL (default): every commit is fsync'ed; acknowledged messages survive power loss. NORMAL: the WAL is
   * fsync'ed only at checkpoints; survives a process crash, but power loss may lose the last commits.
   */
  readonly synchronous?: 'FULL' | 'NORMAL';
}

const EVICT_PAGE = 64;

/** Opens (or creates) the outbox file at `path`. Throws EdgeloopError when the file cannot be used. */
export function openSqliteOutbox(path: string, options: SqliteOutboxOptions): SqliteOutbox {
  let db: SqliteDatabase;
  try {
    // No durability options here: prepareOutboxSchema sets the outbox's own (WAL, `synchronous`) on
    // whichever connection it is given, including one a test opened itself.
    db = openSqliteDatabase(path);
  } catch (err) {
    throw new EdgeloopError('EDGELOOP_ERR_OUTBOX_STORAGE', `cannot open ${path}: ${String(err)}`, {
      cause: err,
    });
  }
  try {
    return new SqliteOutbox(db, options);
  } catch (err) {
    db.close();
    throw err;
  }
}

export class SqliteOutbox implements Outbox {
  readonly #db: SqliteDatabase;
  readonly #o: ResolvedOutboxOptions;
  readonly #bucket: TokenBucket;
  readonly #drops = new DropCounter();
  #acc = new Accounting();
  readonly #inFlight = new Map<number, { readonly cls: OutboxClass; readonly size: number }>();
  readonly #s: OutboxStatements;
  readonly #enqueueTx: (list: readonly OutboxMessage[]) => { accepted: number; refused: number };
  readonly #sweepTx: () => void;
  readonly #ackTx: (ids: readonly number[]) => number;
  /** Ids <= boundary are backlog. While the link is down everything is backlog. */
  #boundary: number;
  #lastId: number;
  #liveCursor: number;
  #backlogCursor = 0;
  #liveDepth = 0;
  #linkUp = true;
  #enqueued = 0;
  #acked = 0;
  #storageErrors = 0;
  #nextExpiryMs = Infinity;
  #closed = false;

  constructor(db: SqliteDatabase, options: SqliteOutboxOptions) {
    this.#db = db;
    this.#o = resolveOutboxOptions(options);
    this.#bucket = new TokenBucket(this.#o.replayRatePerSec, this.#o.clock);
    const schema = prepareOutboxSchema(db, options.synchronous ?? 'FULL');
    this.#s = schema.statements;
    for (const t of schema.totals) {
      this.#acc.count.set(t.class, t.n);
      this.#acc.bytes.set(t.class, t.b);
      this.#acc.totalBytes += t.b;
      this.#acc.depth += t.n;
    }
    // What a previous run left behind is backlog: live data produced from now on goes before it.
    this.#lastId = (this.#s.maxId.get() as { m: number | null }).m ?? 0;
    this.#boundary = this.#lastId;
    this.#liveCursor = this.#boundary;
    this.#recomputeNextExpiry();
    this.#enqueueTx = db.transaction((list: readonly OutboxMessage[]) => this.#enqueueIn(list));
    this.#sweepTx = db.transaction(() => {
      this.#sweepIn();
    });
    this.#ackTx = db.transaction((ids: readonly number[]) => {
      let n = 0;
      for (const id of ids) if (this.#delete(id)) n++;
      return n;
    });
  }

  enqueue(messages: OutboxMessage | readonly OutboxMessage[]): Result<EnqueueReceipt> {
    if (this.#closed) return fail('EDGELOOP_ERR_OUTBOX_CLOSED');
    const list: readonly OutboxMessage[] = Array.isArray(messages) ? messages : [messages as OutboxMessage];
    for (const m of list) assertValidMessage(m);
    // The transaction updates in-memory accounting as it goes; on ROLLBACK, put it back as it was.
    const saved = {
      acc: this.#acc.clone(),
      drops: this.#drops.snapshot(),
      lastId: this.#lastId,
      liveDepth: this.#liveDepth,
      nextExpiryMs: this.#nextExpiryMs,
    };
    try {
      const r = this.#enqueueTx(list);
      this.#enqueued += r.accepted;
      return ok(r);
    } catch (err) {
      const code = sqliteErrorCode(err);
      if (code === undefined) throw err;
      this.#acc = saved.acc;
      this.#drops.restore(saved.drops);
      this.#lastId = saved.lastId;
      this.#liveDepth = saved.liveDepth;
      this.#nextExpiryMs = saved.nextExpiryMs;
      for (const m of list) this.#drops.add(m.class, 'storage');
      this.#storageErrors++;
      return fail('EDGELOOP_ERR_OUTBOX_STORAGE', `${code} while writing ${list.length} messages`);
    }
  }

  #enqueueIn(list: readonly OutboxMessage[]): { accepted: number; refused: number } {
    this.#sweepIn();
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
      const r = this.#s.insert.run(
        m.class,
        m.topic,
        m.payload,
        m.qos,
        m.retain === true ? 1 : 0,
        m.createdAtMs,
        size,
      );
      this.#lastId = Number(r.lastInsertRowid);
      if (this.#lastId > this.#boundary) this.#liveDepth++;
      this.#acc.added(m.class, size);
      this.#nextExpiryMs = Math.min(this.#nextExpiryMs, m.createdAtMs + this.#o.maxAgeMs);
      accepted++;
    }
    return { accepted, refused };
  }

  /** Evicts oldest messages of rank <= the incoming class until `size` fits; false if it cannot. */
  #makeRoom(cls: OutboxClass, size: number): boolean {
    let need = this.#acc.totalBytes + size - this.#o.maxOutboxBytes;
    if (need <= 0) return true;
    if (size > this.#o.maxOutboxBytes || this.#acc.evictableFor(cls) < need) return false;
    for (const c of outboxClasses) {
      if (classRank[c] > classRank[cls]) break;
      let after = 0;
      while (need > 0) {
        // Usually one row is enough (the oldest is not in flight); read more only when in-flight rows may be
        // in the way, because reading a page per evicted message dominated the cost of a full outbox.
        const want = Math.min(EVICT_PAGE, this.#inFlight.size + 1);
        const page = this.#s.evictPage.all(c, after, want) as { id: number; size: number }[];
        for (const r of page) {
          after = r.id;
          if (need <= 0 || this.#inFlight.has(r.id)) continue;
          this.#delete(r.id);
          this.#drops.add(c, 'full');
          need -= r.size;
        }
        if (page.length < want) break;
      }
      if (need <= 0) break;
    }
    return true;
  }

  /** Deletes one row and keeps the accounting in step; false if it was not there. */
  #delete(id: number): boolean {
    const r = this.#s.del.get(id) as { class: OutboxClass; size: number } | undefined;
    if (r === undefined) return false;
    this.#acc.removed(r.class, r.size);
    if (id > this.#boundary) this.#liveDepth--;
    const f = this.#inFlight.get(id);
    if (f !== undefined) {
      this.#inFlight.delete(id);
      this.#acc.flight(f.cls, f.size, -1);
    }
    return true;
  }

  #sweepIn(): void {
    const now = this.#o.clock.nowMs();
    if (now < this.#nextExpiryMs) return;
    const rows = this.#s.expired.all(now - this.#o.maxAgeMs) as { id: number; class: OutboxClass }[];
    for (const r of rows) {
      // In-flight messages are being published; their fate is decided by ack or release.
      if (this.#inFlight.has(r.id)) continue;
      this.#delete(r.id);
      this.#drops.add(r.class, 'expired');
    }
    this.#recomputeNextExpiry();
  }

  #recomputeNextExpiry(): void {
    const m = (this.#s.minCreated.get() as { m: number | null }).m;
    this.#nextExpiryMs = m === null ? Infinity : m + this.#o.maxAgeMs;
    // In-flight rows that are already past expiry keep MIN() low; do not rescan on every call for them.
    if (this.#nextExpiryMs <= this.#o.clock.nowMs() && this.#inFlight.size > 0) {
      this.#nextExpiryMs = this.#o.clock.nowMs() + 1000;
    }
  }

  take(options: TakeOptions): readonly StoredMessage[] {
    if (this.#closed) return [];
    try {
      if (this.#o.clock.nowMs() >= this.#nextExpiryMs) this.#sweepTx();
    } catch (err) {
      if (sqliteErrorCode(err) === undefined) throw err;
      this.#storageErrors++;
    }
    const out: StoredMessage[] = [];
    const maxBytes = options.maxBytes ?? Infinity;
    let bytes = 0;
    // An object, not a `let`: pick() sets it from a closure, which control-flow analysis cannot see.
    const stop = { full: false };
    // Pages through rows after `cursor`, skipping in-flight ones; returns the new cursor.
    const pick = (
      fetch: (after: number, limit: number) => OutboxRow[],
      cursor: number,
      limit: number,
    ): number => {
      let taken = 0;
      while (!stop.full && taken < limit && out.length < options.maxMessages) {
        const want = Math.min(limit - taken, options.maxMessages - out.length);
        const rows = fetch(cursor, want);
        for (const r of rows) {
          if (this.#inFlight.has(r.id)) {
            cursor = r.id;
            continue;
          }
          if (
            taken >= limit ||
            out.length >= options.maxMessages ||
            (out.length > 0 && bytes + r.size > maxBytes)
          ) {
            stop.full = true;
            break;
          }
          cursor = r.id;
          this.#inFlight.set(r.id, { cls: r.class, size: r.size });
          this.#acc.flight(r.class, r.size, 1);
          bytes += r.size;
          taken++;
          out.push({
            id: r.id,
            topic: r.topic,
            payload: r.payload,
            qos: r.qos,
            retain: r.retain === 1,
            class: r.class,
            createdAtMs: r.created_at_ms,
          });
        }
        if (rows.length < want) break;
      }
      return cursor;
    };
    try {
      if (this.#linkUp) {
        this.#liveCursor = pick(
          (after, n) => this.#s.live.all(Math.max(after, this.#boundary), n) as OutboxRow[],
          this.#liveCursor,
          Infinity,
        );
      }
      if (!stop.full && out.length < options.maxMessages) {
        const tokens = this.#bucket.available();
        const before = out.length;
        if (tokens > 0) {
          this.#backlogCursor = pick(
            (after, n) => this.#s.backlog.all(after, this.#boundary, n) as OutboxRow[],
            this.#backlogCursor,
            tokens,
          );
        }
        this.#bucket.consume(out.length - before);
      }
    } catch (err) {
      if (sqliteErrorCode(err) === undefined) throw err;
      this.#storageErrors++;
    }
    return out;
  }

  ack(ids: readonly number[]): number {
    if (this.#closed || ids.length === 0) return 0;
    try {
      const n = this.#ackTx(ids);
      this.#acked += n;
      return n;
    } catch (err) {
      // Disk full can fail a DELETE too (the WAL must grow). The messages stay in flight and are sent again
      // after the next reconnect: a duplicate the receiver drops by msgSeq, never a loss.
      if (sqliteErrorCode(err) === undefined) throw err;
      this.#storageErrors++;
      return 0;
    }
  }

  release(ids: readonly number[]): number {
    let n = 0;
    for (const id of ids) {
      const f = this.#inFlight.get(id);
      if (f === undefined) continue;
      this.#inFlight.delete(id);
      this.#acc.flight(f.cls, f.size, -1);
      // Move the section's cursor back so the next take() hands the message out again, first.
      if (id <= this.#boundary) this.#backlogCursor = Math.min(this.#backlogCursor, id - 1);
      else this.#liveCursor = Math.min(this.#liveCursor, id - 1);
      n++;
    }
    return n;
  }

  linkUp(): void {
    // Rows between the backlog cursor and the new boundary are pending, in flight or gone, so the backlog
    // cursor stays where it is; in-flight rows are skipped by take().
    this.#boundary = this.#lastId;
    this.#liveCursor = this.#boundary;
    this.#liveDepth = 0;
    this.#linkUp = true;
  }

  linkDown(): void {
    this.release([...this.#inFlight.keys()]);
    this.#boundary = Number.MAX_SAFE_INTEGER;
    this.#liveDepth = 0;
    this.#linkUp = false;
  }

  stats(): OutboxStats {
    let oldest: number | null = null;
    if (!this.#closed) oldest = (this.#s.minCreated.get() as { m: number | null }).m;
    return {
      depth: this.#acc.depth,
      bytes: this.#acc.totalBytes,
      backlogDepth: this.#acc.depth - this.#liveDepth,
      inFlight: this.#inFlight.size,
      oldestAgeMs: oldest === null ? 0 : Math.max(0, this.#o.clock.nowMs() - oldest),
      enqueuedTotal: this.#enqueued,
      ackedTotal: this.#acked,
      drops: this.#drops.snapshot(),
      droppedTotal: this.#drops.total,
      storageErrorsTotal: this.#storageErrors,
      linkUp: this.#linkUp,
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#inFlight.clear();
    this.#db.close();
  }
}
