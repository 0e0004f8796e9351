// Rules both outbox implementations share, so the memory and SQLite outboxes cannot drift apart: option
// defaults and validation, message size, eviction order, drop counting, replay rate limiting and the byte
// accounting that decides what to evict.

import { EdgeloopError } from '../../shared/errors.ts';
import {
  dropReasons,
  outboxClasses,
  type Clock,
  type DropCounts,
  type DropReason,
  type OutboxClass,
  type OutboxMessage,
  type OutboxOptions,
} from './types.ts';

export const outboxDefaults = {
  maxOutboxBytes: 64 * 1024 * 1024,
  maxAgeMs: 7 * 24 * 3600 * 1000,
  replayRatePerSec: 500,
} as const;

export interface ResolvedOutboxOptions {
  readonly maxOutboxBytes: number;
  readonly maxAgeMs: number;
  readonly replayRatePerSec: number;
  readonly clock: Clock;
}

export function resolveOutboxOptions(o: OutboxOptions): ResolvedOutboxOptions {
  const r = {
    maxOutboxBytes: o.maxOutboxBytes ?? outboxDefaults.maxOutboxBytes,
    maxAgeMs: o.maxAgeMs ?? outboxDefaults.maxAgeMs,
    replayRatePerSec: o.replayRatePerSec ?? outboxDefaults.replayRatePerSec,
    clock: o.clock,
  };
  if (!Number.isSafeInteger(r.maxOutboxBytes) || r.maxOutboxBytes <= 0) {
    throw new EdgeloopError(
      'EDGELOOP_ERR_CONFIG_INVALID',
      `maxOutboxBytes must be a positive integer (got ${r.maxOutboxBytes})`,
    );
  }
  if (!(r.maxAgeMs > 0)) {
    throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', `maxAgeMs must be positive (got ${r.maxAgeMs})`);
  }
  if (!(r.replayRatePerSec > 0)) {
    throw new EdgeloopError(
      'EDGELOOP_ERR_CONFIG_INVALID',
      `replayRatePerSec must be positive (got ${r.replayRatePerSec})`,
    );
  }
  return r;
}

/** Rank in eviction order: a message may evict only messages of its own rank or lower. */
export const classRank: Readonly<Record<OutboxClass, number>> = Object.fromEntries(
  outboxClasses.map((c, i) => [c, i]),
) as Record<OutboxClass, number>;

/** Bytes a message counts against maxOutboxBytes. Topics are ASCII (shared/mqtt/topics.ts), so length = bytes. */
export function messageSize(m: { readonly topic: string; readonly payload: Uint8Array }): number {
  return m.payload.byteLength + m.topic.length;
}

/** A malformed message is a bug in the producer, not an expected failure. */
export function assertValidMessage(m: OutboxMessage): void {
  // Producers are typed, but a value cast from config or JSON could still be anything.
  const cls: string = m.class;
  const qos: number = m.qos;
  if (!Object.hasOwn(classRank, cls))
    throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', `outbox: unknown class ${cls}`);
  if (qos !== 0 && qos !== 1 && qos !== 2)
    throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', 'outbox: qos must be 0, 1 or 2');
  if (!Number.isFinite(m.createdAtMs))
    throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', 'outbox: createdAtMs must be finite');
  if (m.topic.length === 0) throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', 'outbox: empty topic');
}

export class DropCounter {
  #counts = DropCounter.#empty();
  #total = 0;

  static #empty(): Record<OutboxClass, Record<DropReason, number>> {
    return Object.fromEntries(
      outboxClasses.map((c) => [c, Object.fromEntries(dropReasons.map((r) => [r, 0]))]),
    ) as Record<OutboxClass, Record<DropReason, number>>;
  }

  add(cls: OutboxClass, reason: DropReason, n = 1): void {
    this.#counts[cls][reason] += n;
    this.#total += n;
  }

  get total(): number {
    return this.#total;
  }

  snapshot(): DropCounts {
    return Object.fromEntries(outboxClasses.map((c) => [c, { ...this.#counts[c] }])) as DropCounts;
  }

  /** Restores a snapshot (an SQLite transaction that counted evictions rolled back). */
  restore(s: DropCounts): void {
    this.#counts = Object.fromEntries(outboxClasses.map((c) => [c, { ...s[c] }])) as Record<
      OutboxClass,
      Record<DropReason, number>
    >;
    this.#total = outboxClasses.reduce((t, c) => t + dropReasons.reduce((u, r) => u + s[c][r], 0), 0);
  }
}

/** Token bucket for backlog replay: `rate` messages per second, bursts up to one second's worth. */
export class TokenBucket {
  readonly #rate: number;
  readonly #capacity: number;
  readonly #clock: Clock;
  #tokens: number;
  #lastMs: number;

  constructor(ratePerSec: number, clock: Clock) {
    this.#rate = ratePerSec;
    this.#capacity = Math.max(1, ratePerSec);
    this.#clock = clock;
    this.#tokens = this.#capacity;
    this.#lastMs = clock.nowMs();
  }

  /** Whole tokens available now. */
  available(): number {
    if (this.#rate === Infinity) return Infinity;
    const now = this.#clock.nowMs();
    // A clock that steps back (NTP) must not mint or destroy tokens.
    if (now > this.#lastMs)
      this.#tokens = Math.min(this.#capacity, this.#tokens + ((now - this.#lastMs) * this.#rate) / 1000);
    this.#lastMs = now;
    return Math.floor(this.#tokens);
  }

  consume(n: number): void {
    if (this.#rate !== Infinity) this.#tokens -= n;
  }
}

/** Per-class bytes and counts, split into stored and in-flight, which decide what eviction may touch. */
export class Accounting {
  bytes = new Map<OutboxClass, number>(outboxClasses.map((c) => [c, 0]));
  count = new Map<OutboxClass, number>(outboxClasses.map((c) => [c, 0]));
  inFlightBytes = new Map<OutboxClass, number>(outboxClasses.map((c) => [c, 0]));
  totalBytes = 0;
  depth = 0;

  added(cls: OutboxClass, size: number): void {
    this.bytes.set(cls, (this.bytes.get(cls) ?? 0) + size);
    this.count.set(cls, (this.count.get(cls) ?? 0) + 1);
    this.totalBytes += size;
    this.depth++;
  }

  removed(cls: OutboxClass, size: number): void {
    this.bytes.set(cls, (this.bytes.get(cls) ?? 0) - size);
    this.count.set(cls, (this.count.get(cls) ?? 0) - 1);
    this.totalBytes -= size;
    this.depth--;
  }

  flight(cls: OutboxClass, size: number, delta: 1 | -1): void {
    this.inFlightBytes.set(cls, (this.inFlightBytes.get(cls) ?? 0) + delta * size);
  }

  /** Bytes a message of class `cls` could free by evicting stored, not in-flight, messages. */
  evictableFor(cls: OutboxClass): number {
    let n = 0;
    for (const c of outboxClasses) {
      if (classRank[c] > classRank[cls]) break;
      n += (this.bytes.get(c) ?? 0) - (this.inFlightBytes.get(c) ?? 0);
    }
    return n;
  }

  clone(): Accounting {
    const a = new Accounting();
    a.bytes = new Map(this.bytes);
    a.count = new Map(this.count);
    a.inFlightBytes = new Map(this.inFlightBytes);
    a.totalBytes = this.totalBytes;
    a.depth = this.depth;
    return a;
  }
}
