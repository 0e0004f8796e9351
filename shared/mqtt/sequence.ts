// Receiver-side duplicate and loss detection by msgSeq (docs/mqtt.md §Message identity).
//
// One tracker per stream, a stream being (deviceId, runId). Messages of a stream do NOT arrive in msgSeq
// order: after an outage the agent sends live data first and replays its backlog after it (docs/outbox.md),
// and QoS 1 may redeliver. So the tracker keeps the set of sequence numbers seen as sorted, merged ranges
// rather than a high-water mark: a backlog message fills a gap ('new'), a redelivery hits a range
// ('duplicate'). Memory is bounded by maxRanges: when exceeded, the oldest gap is given up as lost.

export type SeqVerdict =
  /** First time seen: process it. */
  | 'new'
  /** Seen before (QoS 1 redelivery, replay after a crash): drop it. */
  | 'duplicate'
  /** Older than what the tracker still remembers: most likely a duplicate; drop it and count it. */
  | 'stale'
  /** msgSeq 0: the last-will status, outside the sequence. Always process. */
  | 'reserved';

export interface SequenceTrackerOptions {
  /** Most disjoint ranges remembered (default 1024). Each gap costs one range. */
  readonly maxRanges?: number;
}

export class SequenceTracker {
  // Sorted, disjoint, non-adjacent inclusive ranges [lo, hi] of seen msgSeq values.
  readonly #ranges: [number, number][] = [];
  readonly #maxRanges: number;
  #floor = 1;
  #given = 0;
  #received = 0;

  constructor(options: SequenceTrackerOptions = {}) {
    this.#maxRanges = Math.max(2, options.maxRanges ?? 1024);
  }

  accept(seq: number): SeqVerdict {
    if (seq === 0) return 'reserved';
    if (seq < this.#floor) return 'stale';
    const r = this.#ranges;
    // Index of the first range with lo > seq.
    let a = 0;
    let b = r.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if ((r[m] as [number, number])[0] > seq) b = m;
      else a = m + 1;
    }
    const prev = r[a - 1];
    const next = r[a];
    if (prev !== undefined && seq <= prev[1]) return 'duplicate';
    this.#received++;
    const joinPrev = prev !== undefined && prev[1] === seq - 1;
    const joinNext = next !== undefined && next[0] === seq + 1;
    if (joinPrev && joinNext) {
      prev[1] = next[1];
      r.splice(a, 1);
    } else if (joinPrev) prev[1] = seq;
    else if (joinNext) next[0] = seq;
    else r.splice(a, 0, [seq, seq]);
    if (r.length > this.#maxRanges) this.#forgetOldestGap();
    return 'new';
  }

  #forgetOldestGap(): void {
    const first = this.#ranges.shift() as [number, number];
    const second = this.#ranges[0] as [number, number];
    this.#given += second[0] - first[1] - 1;
    this.#floor = second[0];
  }

  /** Highest msgSeq seen, 0 if none. */
  get highest(): number {
    const last = this.#ranges[this.#ranges.length - 1];
    return last === undefined ? 0 : last[1];
  }

  /** Distinct messages accepted as 'new'. */
  get received(): number {
    return this.#received;
  }

  /**
   * Messages below the highest seen that have not arrived (they may still come from a backlog replay), plus
   * those given up as lost when memory ran out. Messages before the first one seen count too: a stream
   * starts at msgSeq 1.
   */
  get missing(): number {
    return this.#given + this.openGaps().reduce((s, [lo, hi]) => s + hi - lo + 1, 0);
  }

  /** The open gaps as inclusive [lo, hi] ranges, oldest first. */
  openGaps(): [number, number][] {
    const out: [number, number][] = [];
    let expect = this.#floor;
    for (const [lo, hi] of this.#ranges) {
      if (lo > expect) out.push([expect, lo - 1]);
      expect = hi + 1;
    }
    return out;
  }
}

/** Key of a stream for a Map of trackers. */
export function streamKey(deviceId: string, runId: number): string {
  return `${deviceId}\u0000${runId}`;
}
