// Messages ingest refused, kept for inspection (GET /api/v1/dead-letters) in a bounded ring: the newest
// `capacity` entries, the oldest dropped first and counted. In memory on purpose: a flood of bad messages
// must cost neither disk nor write transactions, and the counters (metrics) survive as Prometheus series.

import type { ErrorCode } from '../../shared/errors.ts';

export const deadLetterReasons = [
  'malformed',
  'oversized',
  'unknown_version',
  'wrong_device',
  'unknown_topic',
] as const;
export type DeadLetterReason = (typeof deadLetterReasons)[number];

export interface DeadLetter {
  /** Increasing id, so a client can page with `?after=<id>`. */
  readonly id: number;
  readonly receivedMs: number;
  readonly topic: string;
  readonly reason: DeadLetterReason;
  readonly code: ErrorCode;
  readonly message: string;
  readonly payloadBytes: number;
  /** The first PREVIEW_BYTES of the payload, base64: enough to see what a sender got wrong. */
  readonly payloadPreview: string;
}

export const PREVIEW_BYTES = 512;

export class DeadLetterRing {
  readonly #capacity: number;
  readonly #items: DeadLetter[] = [];
  #nextId = 1;
  #dropped = 0;

  constructor(capacity: number) {
    this.#capacity = Math.max(1, capacity);
  }

  add(entry: Omit<DeadLetter, 'id' | 'payloadPreview'>, payload: Uint8Array): DeadLetter {
    const d: DeadLetter = {
      ...entry,
      id: this.#nextId++,
      payloadPreview: Buffer.from(
        payload.buffer,
        payload.byteOffset,
        Math.min(payload.byteLength, PREVIEW_BYTES),
      ).toString('base64'),
    };
    this.#items.push(d);
    if (this.#items.length > this.#capacity) {
      this.#items.shift();
      this.#dropped++;
    }
    return d;
  }

  /** Oldest first; entries with id > after, at most limit. */
  list(after = 0, limit = 100): DeadLetter[] {
    return this.#items.filter((d) => d.id > after).slice(0, limit);
  }

  size(): number {
    return this.#items.length;
  }

  /** Entries pushed out of the ring by newer ones. */
  dropped(): number {
    return this.#dropped;
  }
}
