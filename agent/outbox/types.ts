// The outbox contract (docs/outbox.md): store and forward between the agent's producers (windows, raw
// capture, alerts, model manager) and the MQTT publisher. Two implementations share it and one contract
// test (test/contracts/outbox.contract.test.ts): memory-outbox.ts and sqlite-outbox.ts.
//
// The API is synchronous on purpose: better-sqlite3 commits synchronously, so "enqueue returned ok" means
// "committed", and there is no window in which a caller believes a message is stored while it is not.

import type { Result } from '../../shared/errors.ts';
import type { WallClock } from '../../shared/platform/clock.ts';

/**
 * Message classes in eviction order: when the outbox is full the first class loses its oldest messages
 * first, alerts last (issue #4 §3).
 */
export const outboxClasses = ['raw', 'telemetry', 'status', 'model', 'integrity', 'alert'] as const;
export type OutboxClass = (typeof outboxClasses)[number];

/** full: evicted (or refused) for room; expired: older than maxAgeMs; storage: the write itself failed. */
export const dropReasons = ['full', 'expired', 'storage'] as const;
export type DropReason = (typeof dropReasons)[number];

/** MQTT QoS. The outbox does not interpret it; it keeps it for the publisher. */
export type QoS = 0 | 1 | 2;

/** Wall clock, ms since the Unix epoch. Injected so tests and replays control time. */
export type Clock = WallClock;

export interface OutboxMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: QoS;
  readonly retain?: boolean;
  readonly class: OutboxClass;
  /** When the message was produced (clock.nowMs()); age and expiry count from here. */
  readonly createdAtMs: number;
}

export interface StoredMessage {
  /** Outbox id: increasing in enqueue order, never reused. Pass it to ack() or release(). */
  readonly id: number;
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly class: OutboxClass;
  readonly createdAtMs: number;
}

export interface EnqueueReceipt {
  /** Messages now committed. */
  readonly accepted: number;
  /** Messages refused because no room could be made for them (counted as drops, reason 'full'). */
  readonly refused: number;
}

export interface TakeOptions {
  /** Most messages to hand out. */
  readonly maxMessages: number;
  /** Most payload+topic bytes to hand out (at least one message is always handed out). Default: no limit. */
  readonly maxBytes?: number;
}

export type DropCounts = Readonly<Record<OutboxClass, Readonly<Record<DropReason, number>>>>;

/** What stats() reports; docs/outbox.md maps each field to its Prometheus metric. */
export interface OutboxStats {
  /** Messages stored, including those in flight. */
  readonly depth: number;
  /** Payload + topic bytes stored (what maxOutboxBytes bounds). */
  readonly bytes: number;
  /** Stored messages that were enqueued before the link last came back (replayed at replayRatePerSec). */
  readonly backlogDepth: number;
  /** Handed out by take() and not yet acked or released. */
  readonly inFlight: number;
  /** Age of the oldest stored message, ms (0 when empty). */
  readonly oldestAgeMs: number;
  readonly enqueuedTotal: number;
  readonly ackedTotal: number;
  readonly drops: DropCounts;
  readonly droppedTotal: number;
  /** Reads, acks or writes that failed in the storage layer (disk full, I/O error). Always 0 in memory. */
  readonly storageErrorsTotal: number;
  readonly linkUp: boolean;
}

export interface Outbox {
  /** Stores messages; ok only once every accepted message is committed. One batch = one transaction. */
  enqueue(messages: OutboxMessage | readonly OutboxMessage[]): Result<EnqueueReceipt>;
  /**
   * Hands out messages to publish, marked in flight until ack() or release(). Live messages (enqueued
   * since the link last came back) come first, in order; then the backlog, in order, at most
   * replayRatePerSec per second.
   */
  take(options: TakeOptions): readonly StoredMessage[];
  /** Deletes delivered messages (after PUBACK). Unknown ids are ignored. Returns how many were deleted. */
  ack(ids: readonly number[]): number;
  /** Returns in-flight messages to the queue (publish failed); they are handed out again first. */
  release(ids: readonly number[]): number;
  /** The link came back: everything stored now is backlog, everything enqueued from now on is live. */
  linkUp(): void;
  /** The link is gone: releases every in-flight message; new messages become backlog. */
  linkDown(): void;
  stats(): OutboxStats;
  /** Idempotent. Afterwards enqueue fails with EDGELOOP_ERR_OUTBOX_CLOSED and take returns nothing. */
  close(): void;
}

export interface OutboxOptions {
  /** Upper bound of stored payload+topic bytes. Default 64 MiB. */
  readonly maxOutboxBytes?: number;
  /** Messages older than this are dropped (reason 'expired'). Default 7 days. */
  readonly maxAgeMs?: number;
  /** Backlog messages handed out per second after an outage; Infinity for no limit. Default 500. */
  readonly replayRatePerSec?: number;
  readonly clock: Clock;
}
