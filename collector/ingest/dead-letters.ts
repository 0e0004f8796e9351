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
  // A circular buffer: #slots[#head] is the oldest entry once it is full, so adding is O(1) under a flood.
  readonly #slots: DeadLetter[] = [];
  #head = 0;
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
    if (this.#slots.length < this.#capacity) this.#slots.push(d);
    else {
      this.#slots[this.#head] = d;
      this.#head = (this.#head + 1) % this.#capacity;
      this.#dropped++;
    }
    return d;
  }

  /** Oldest first; entries with id > after, at most limit. */
  list(after = 0, limit = 100): DeadLetter[] {
    const n = this.#slots.length;
    const out: DeadLetter[] = [];
    for (let i = 0; i < n && out.length < limit; i++) {
      const d = this.#slots[(this.#head + i) % n] as DeadLetter;
      if (d.id > after) out.push(d);
    }
    return out;
  }

  size(): number {
    return this.#slots.length;
  }

  /** Entries pushed out of the ring by newer ones. */
  dropped(): number {
    return this.#dropped;
  }
}
