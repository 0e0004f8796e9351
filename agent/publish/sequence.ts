// Message identity for everything this agent process sends (docs/mqtt.md §Message identity): one runId
// picked at random when the process starts, and one msgSeq counter shared by every topic, starting at 1.
// msgSeq 0 is reserved for the last will, which is built before any message is sent.

export interface MessageSequence {
  /** u32, random per process start. */
  readonly runId: number;
  /** The next msgSeq (1, 2, 3, ...). Call once per message, at the moment it is built. */
  next(): number;
  /** The last msgSeq handed out, 0 before the first. */
  readonly last: number;
}

/** A fresh run: random runId (Web Crypto), msgSeq from 1. Pass `runId` only in tests. */
export function createMessageSequence(runId?: number): MessageSequence {
  const id = runId ?? crypto.getRandomValues(new Uint32Array(1)).reduce((a, b) => a + b, 0);
  if (!Number.isInteger(id) || id < 0 || id > 0xffff_ffff) throw new RangeError(`runId ${id} is not a u32`);
  let seq = 0;
  return {
    runId: id,
    next: () => ++seq,
    get last() {
      return seq;
    },
  };
}
