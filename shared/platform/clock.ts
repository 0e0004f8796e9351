// The one clock every runtime takes (STYLE.md: pass the clock in). Wall time stamps payloads and ages
// stored messages; monotonic time measures durations, which must not jump when NTP steps the wall clock.
// Timers from the clock are unref'd (STYLE.md habit 9): a pending retry never keeps a process alive, so
// code that must stay alive holds the event loop on purpose (a server, an open port, a pending promise
// with a ref'd timer).

/** A scheduled callback; cancel() is idempotent. */
export interface ClockTimer {
  cancel(): void;
}

export interface Clock {
  /** Wall clock, ms since the Unix epoch. */
  nowMs(): number;
  /** Monotonic ms from an arbitrary origin, for durations. */
  monotonicMs(): number;
  /** Runs `fn` after `ms` (unref'd: it does not keep the process alive). */
  setTimeout(fn: () => void, ms: number): ClockTimer;
}

/** The part of a Clock that stamps and ages data (most components need no more). */
export type WallClock = Pick<Clock, 'nowMs'>;

/** The real clock: Date.now, performance.now and unref'd Node timers. */
export const systemClock: Clock = Object.freeze({
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
  setTimeout: (fn: () => void, ms: number): ClockTimer => {
    const t = setTimeout(fn, ms);
    t.unref();
    return {
      cancel: () => {
        clearTimeout(t);
      },
    };
  },
});

/**
 * A clock that moves only when told (tests, replays): advance(ms) moves both times and runs the timers
 * that fall due, in due order.
 */
export class ManualClock implements Clock {
  #wallMs: number;
  #monoMs = 0;
  #seq = 0;
  readonly #timers = new Map<number, { readonly dueMs: number; readonly fn: () => void }>();

  constructor(startWallMs = Date.UTC(2025, 0, 1)) {
    this.#wallMs = startWallMs;
  }

  nowMs(): number {
    return this.#wallMs;
  }

  monotonicMs(): number {
    return this.#monoMs;
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    const id = this.#seq++;
    this.#timers.set(id, { dueMs: this.#monoMs + Math.max(0, ms), fn });
    return { cancel: () => this.#timers.delete(id) };
  }

  /** Timers not yet run or cancelled. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, running each timer at its due time (timers set by timers included). */
  advance(ms: number): void {
    const end = this.#monoMs + ms;
    for (;;) {
      let next: [number, { readonly dueMs: number; readonly fn: () => void }] | undefined;
      for (const e of this.#timers)
        if (e[1].dueMs <= end && (next === undefined || e[1].dueMs < next[1].dueMs)) next = e;
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.#wallMs += next[1].dueMs - this.#monoMs;
      this.#monoMs = next[1].dueMs;
      next[1].fn();
    }
    this.#wallMs += end - this.#monoMs;
    this.#monoMs = end;
  }

  /** Steps the wall clock only (an NTP correction): monotonic time and timers do not move. */
  setWallMs(ms: number): void {
    this.#wallMs = ms;
  }
}
