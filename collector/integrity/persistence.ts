// A per-window status that must persist before it counts, and clears with hysteresis (docs/integrity.md
// §Central checks, "Persistence"): the status is the worst one flagged in at least K of the last N windows,
// so a single spike never flags a channel, and it drops only after `clear` consecutive windows better than
// it, so a channel on the edge of a threshold does not flap. Memory: one byte per window of the ring.

import type { QcStatus } from '../monitor/types.ts';
import { rankStatus, statusRank } from './types.ts';

export interface PersistenceRule {
  /** N: windows remembered. */
  readonly windows: number;
  /** K: windows of N that must show a status for it to count. */
  readonly minWindows: number;
  /** Consecutive better windows before the status drops. */
  readonly clear: number;
}

export class PersistentStatus {
  readonly #ring: Uint8Array;
  readonly #rule: PersistenceRule;
  #pos = 0;
  #filled = 0;
  #current = 0;
  #better = 0;
  /** Windows in the ring at suspect or worse, and at fail. */
  #bad = 0;
  #fail = 0;
  /** tsMs of the window that raised the current (non-good) episode, or null. */
  sinceMs: number | null = null;
  /** tsMs of the first window in the ring (device time span judged). */
  #times: Float64Array;

  constructor(rule: PersistenceRule) {
    this.#rule = rule;
    this.#ring = new Uint8Array(rule.windows);
    this.#times = new Float64Array(rule.windows);
  }

  get status(): QcStatus {
    return rankStatus[this.#current] as QcStatus;
  }

  /** Device time span of the windows remembered, or null before the first. */
  span(): { fromMs: number; toMs: number } | null {
    if (this.#filled === 0) return null;
    const n = this.#ring.length;
    const last = (this.#pos - 1 + n) % n;
    const first = this.#filled < n ? 0 : this.#pos;
    return { fromMs: this.#times[first] as number, toMs: this.#times[last] as number };
  }

  /** Windows of the ring at or above a status. */
  count(status: QcStatus): number {
    const r = statusRank[status];
    let c = 0;
    for (let i = 0; i < this.#filled; i++) if ((this.#ring[i] as number) >= r) c++;
    return c;
  }

  /** Device time of the oldest flagged window still in the ring (where the episode began). */
  #firstFlagged(fallback: number): number {
    const n = this.#ring.length;
    const start = this.#filled < n ? 0 : this.#pos;
    for (let i = 0; i < this.#filled; i++) {
      const j = (start + i) % n;
      if ((this.#ring[j] as number) > 0) return this.#times[j] as number;
    }
    return fallback;
  }

  push(status: QcStatus, tsMs: number): void {
    const s = statusRank[status];
    // Counts kept as windows enter and leave the ring (this runs for every channel of every window).
    if (this.#filled === this.#ring.length) {
      const old = this.#ring[this.#pos] as number;
      if (old >= 1) this.#bad--;
      if (old >= 2) this.#fail--;
    }
    if (s >= 1) this.#bad++;
    if (s >= 2) this.#fail++;
    this.#ring[this.#pos] = s;
    this.#times[this.#pos] = tsMs;
    this.#pos = (this.#pos + 1) % this.#ring.length;
    if (this.#filled < this.#ring.length) this.#filled++;
    const k = this.#rule.minWindows;
    const raw = this.#fail >= k ? 2 : this.#bad >= k ? 1 : 0;
    this.#better = s < this.#current ? this.#better + 1 : 0;
    if (raw > this.#current) {
      if (this.#current === 0) this.sinceMs = this.#firstFlagged(tsMs);
      this.#current = raw;
      this.#better = 0;
    } else if (raw < this.#current && this.#better >= this.#rule.clear) {
      this.#current = raw;
      this.#better = 0;
      if (raw === 0) this.sinceMs = null;
    }
  }
}
