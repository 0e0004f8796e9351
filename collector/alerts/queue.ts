// One bounded delivery queue with one worker (STYLE.md habits 4 and 7): notifications wait here, not in
// the evaluation; the worker sends them one at a time, in order, retrying with jittered, capped
// exponential backoff up to maxAttempts. A full queue refuses new items, an item out of attempts is given
// up, and both are counted (DeliveryObserver.dropped) and logged once when dropping starts, so a receiver
// that is down costs a bounded amount of memory and nothing else.

import { Backoff, type BackoffOptions } from '../../shared/backoff.ts';
import type { Clock, ClockTimer } from '../../shared/platform/clock.ts';
import type { Logger } from '../../shared/platform/logger.ts';
import type { AlertChannelName, DeliveryObserver, DropReason } from './types.ts';

/** sent: delivered. retry: failed in a way that may pass later. rejected: will never pass (a 4xx). */
export type SendOutcome = 'sent' | 'retry' | 'rejected';

export interface DeliveryQueueOptions<T> {
  readonly channel: AlertChannelName;
  /** Items waiting at most; more are dropped (queue_full). */
  readonly capacity: number;
  /** Attempts per item, the first included; then it is dropped (attempts_exhausted). */
  readonly maxAttempts: number;
  readonly backoff?: BackoffOptions;
  readonly clock: Clock;
  readonly observer: DeliveryObserver;
  readonly logger?: Logger;
  /** Label of the receiver in logs (a URL). */
  readonly target: string;
  /** Sends one item; a throw counts as `retry`. */
  readonly send: (item: T) => Promise<SendOutcome>;
}

export class DeliveryQueue<T> {
  readonly #o: DeliveryQueueOptions<T>;
  readonly #items: T[] = [];
  #running: Promise<void> | undefined;
  #sleep: { timer: ClockTimer; wake: () => void } | undefined;
  #closed = false;
  #dropping = false;

  constructor(options: DeliveryQueueOptions<T>) {
    this.#o = options;
  }

  /** Never blocks, never throws. */
  push(item: T): void {
    if (this.#closed) {
      this.#drop('closed');
      return;
    }
    if (this.#items.length >= this.#o.capacity) {
      this.#drop('queue_full');
      return;
    }
    this.#items.push(item);
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
    });
  }

  /** Items waiting (the one being sent included). */
  size(): number {
    return this.#items.length;
  }

  /** Resolves when the queue is empty (tests, flush on shutdown). */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  /** Idempotent: wakes a backoff wait, lets the send in flight finish (it has its own timeout), drops the rest. */
  async close(): Promise<void> {
    this.#closed = true;
    const s = this.#sleep;
    if (s !== undefined) {
      s.timer.cancel();
      s.wake();
    }
    await this.idle();
  }

  async #run(): Promise<void> {
    while (this.#items.length > 0) {
      if (this.#closed) {
        for (const _ of this.#items.splice(0)) this.#drop('closed');
        return;
      }
      const item = this.#items[0] as T;
      await this.#deliver(item);
      this.#items.shift();
    }
  }

  async #deliver(item: T): Promise<void> {
    const backoff = new Backoff({ baseMs: 500, capMs: 30_000, ...this.#o.backoff });
    for (let attempt = 1; ; attempt++) {
      let outcome: SendOutcome;
      try {
        outcome = await this.#o.send(item);
      } catch {
        outcome = 'retry';
      }
      if (outcome === 'sent') {
        this.#o.observer.sent(this.#o.channel);
        if (this.#dropping) this.#o.logger?.info('alert delivery recovered', { target: this.#o.target });
        this.#dropping = false;
        return;
      }
      this.#o.observer.failed(this.#o.channel);
      const giveUp: DropReason | undefined =
        outcome === 'rejected'
          ? 'rejected'
          : attempt >= this.#o.maxAttempts
            ? 'attempts_exhausted'
            : this.#closed
              ? 'closed'
              : undefined;
      if (giveUp !== undefined) {
        this.#drop(giveUp);
        return;
      }
      await this.#wait(backoff.next());
      // Woken by close(): give up now rather than try once more.
      if (this.#closed) {
        this.#drop('closed');
        return;
      }
    }
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.#sleep = undefined;
        resolve();
      };
      this.#sleep = { timer: this.#o.clock.setTimeout(wake, ms), wake };
    });
  }

  #drop(reason: DropReason): void {
    this.#o.observer.dropped(this.#o.channel, reason);
    if (!this.#dropping && reason !== 'closed')
      this.#o.logger?.warn('alert notifications dropped', {
        channel: this.#o.channel,
        target: this.#o.target,
        reason,
      });
    this.#dropping = reason !== 'closed' || this.#dropping;
  }
}
