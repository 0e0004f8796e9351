// Jittered, capped exponential backoff (STYLE.md habit 7), "full jitter" variant from the AWS Architecture
// Blog's "Exponential Backoff and Jitter": delay = random(0, min(cap, base * 2^attempt)). Reconnect loops
// use it so a fleet of agents never retries in lockstep and a dead port never makes a loop spin.

export interface BackoffOptions {
  /** First delay ceiling, ms. Default 100. */
  readonly baseMs?: number;
  /** Largest delay, ms. Default 10_000. */
  readonly capMs?: number;
  /** Smallest delay, ms, so a loop never spins even when random() returns 0. Default 10. */
  readonly floorMs?: number;
  /** Source of randomness in [0, 1); injected for deterministic tests. */
  readonly random?: () => number;
}

export class Backoff {
  private attempt = 0;
  constructor(private readonly options: BackoffOptions = {}) {}

  /** The delay before the next attempt, ms; each call grows the ceiling. */
  next(): number {
    const base = this.options.baseMs ?? 100;
    const cap = this.options.capMs ?? 10_000;
    const floor = this.options.floorMs ?? 10;
    const ceiling = Math.min(cap, base * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.max(floor, Math.floor((this.options.random ?? Math.random)() * ceiling));
  }

  get attempts(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
