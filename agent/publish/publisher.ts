// Moves messages from the outbox to the broker (docs/agent.md §Publishing, docs/outbox.md):
//
//   connect    → publish the retained online status → outbox.linkUp() → pump
//   pump       → take() up to maxInFlight − inFlight messages → publish each (QoS from the message)
//   PUBACK     → ack() (batched: one outbox transaction per turn of the event loop, not one per message)
//   failure    → release() (handed out again first), pause briefly so a refusing broker is not spun on
//   disconnect → flush pending acks → outbox.linkDown() (releases everything in flight)
//
// A message leaves the outbox only after its PUBACK, so anything the outbox accepted is either delivered
// or still stored. Results that belong to an earlier connection are ignored: linkDown() already released
// those messages, and they will be taken and published again (a duplicate QoS 1 allows and msgSeq marks).

import type { Outbox, OutboxClass, StoredMessage } from '../outbox/types.ts';
import type { MqttLink, MqttLinkEvent } from '../adapters/mqtt.ts';
import type { StatusReporter } from './status.ts';
import { systemClock, type WallClock } from '../../shared/platform/clock.ts';

/** What the publisher reports; agent/metrics.ts implements it. All methods are optional to implement. */
export interface PublisherObserver {
  connection?(up: boolean): void;
  published?(cls: OutboxClass, result: 'acked' | 'failed'): void;
  /** Latency from createdAtMs to PUBACK, ms. */
  deliveredAfter?(cls: OutboxClass, ms: number): void;
}

export interface PublisherOptions {
  readonly outbox: Outbox;
  readonly link: MqttLink;
  /** Publishes sent and not yet acknowledged, at most. Default 64. */
  readonly maxInFlight?: number;
  /** Payload+topic bytes one take() may hand out. Default 1 MiB. */
  readonly maxBatchBytes?: number;
  /** How often to look at the outbox when nothing woke us (backlog replay is rate limited), ms. Default 100. */
  readonly idlePollMs?: number;
  /** Pause after a failed publish on a live connection, ms. Default 1000. */
  readonly failurePauseMs?: number;
  /** Publishes the retained online status on every connect and offline on close(). */
  readonly status?: StatusReporter;
  readonly observer?: PublisherObserver;
  /** Wall clock for delivery latency. Default the system clock. */
  readonly clock?: WallClock;
}

export interface PublisherStats {
  readonly connected: boolean;
  readonly inFlight: number;
  readonly publishedTotal: number;
  readonly ackedTotal: number;
  readonly failedTotal: number;
  /** Connections this publisher has seen (each one published online status and called linkUp). */
  readonly connections: number;
}

export class Publisher {
  readonly #o: PublisherOptions;
  readonly #maxInFlight: number;
  readonly #inFlight = new Map<number, StoredMessage>();
  #ackIds: number[] = [];
  #ackScheduled = false;
  #pumpScheduled = false;
  #epoch = 0;
  #up = false;
  #pausedUntil = 0;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #closing: Promise<void> | undefined;
  #drained: (() => void) | undefined;
  #published = 0;
  #acked = 0;
  #failed = 0;
  #connections = 0;

  constructor(options: PublisherOptions) {
    this.#o = options;
    this.#maxInFlight = Math.max(1, Math.floor(options.maxInFlight ?? 64));
  }

  /** Subscribes to link events and starts the link. Idempotent. */
  start(): void {
    if (this.#unsubscribe !== undefined || this.#closing !== undefined) return;
    this.#unsubscribe = this.#o.link.onEvent((e) => {
      this.#onLink(e);
    });
    this.#timer = setInterval(() => {
      this.#pump();
    }, this.#o.idlePollMs ?? 100);
    this.#timer.unref();
    this.#o.link.start();
    if (this.#o.link.connected) this.#onLink({ kind: 'connected', sessionPresent: false });
  }

  /** Producers call this after enqueue so new messages go out without waiting for the poll. */
  notify(): void {
    if (this.#pumpScheduled || !this.#up) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  stats(): PublisherStats {
    return {
      connected: this.#up,
      inFlight: this.#inFlight.size,
      publishedTotal: this.#published,
      ackedTotal: this.#acked,
      failedTotal: this.#failed,
      connections: this.#connections,
    };
  }

  /**
   * Stops taking new messages, waits up to drainTimeoutMs for PUBACKs of those in flight, acks them,
   * publishes the offline status (reason shutdown). Does not close the link or the outbox: the composition
   * root closes those after this resolves. Idempotent.
   */
  close(options: { readonly drainTimeoutMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(options.drainTimeoutMs ?? 5000);
    return this.#closing;
  }

  async #close(drainTimeoutMs: number): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#inFlight.size > 0 && this.#up) {
      await new Promise<void>((resolve) => {
        // Not unref'd: shutdown waits for this bounded drain, and nothing else may keep the loop alive.
        const t = setTimeout(resolve, drainTimeoutMs);
        this.#drained = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    this.#flushAcks();
    if (this.#o.status !== undefined && this.#o.link.connected) {
      // Bounded: a broker that never answers must not hold shutdown (systemd would SIGKILL us anyway).
      const sent = this.#o.link.publish(this.#o.status.offline());
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(100, drainTimeoutMs));
        void sent.then(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    this.#unsubscribe?.();
  }

  #onLink(e: MqttLinkEvent): void {
    if (e.kind === 'connected') {
      if (this.#up) return;
      this.#up = true;
      this.#epoch++;
      this.#connections++;
      this.#pausedUntil = 0;
      // Re-published on every connect (the broker may have lost its retained copy); "reconnect" tells an
      // operator the process did not restart, only its connection (issue #8 §2).
      const reason = this.#connections === 1 ? 'startup' : 'reconnect';
      if (this.#o.status !== undefined) void this.#o.link.publish(this.#o.status.online(reason));
      this.#o.outbox.linkUp();
      this.#o.observer?.connection?.(true);
      this.#pump();
    } else if (e.kind === 'disconnected') {
      if (!this.#up) return;
      this.#up = false;
      this.#epoch++;
      // Acks first: a message whose PUBACK arrived must be deleted, not released and sent twice.
      this.#flushAcks();
      this.#o.outbox.linkDown();
      this.#inFlight.clear();
      this.#o.observer?.connection?.(false);
      this.#drained?.();
    }
  }

  #pump(): void {
    if (!this.#up || this.#closing !== undefined) return;
    if (this.#pausedUntil > 0 && Date.now() < this.#pausedUntil) return;
    const room = this.#maxInFlight - this.#inFlight.size;
    if (room <= 0) return;
    const batch = this.#o.outbox.take({
      maxMessages: room,
      maxBytes: this.#o.maxBatchBytes ?? 1024 * 1024,
    });
    const epoch = this.#epoch;
    for (const m of batch) {
      this.#inFlight.set(m.id, m);
      this.#published++;
      void this.#o.link
        .publish({ topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain })
        .then((r) => {
          this.#settled(epoch, m, r.ok);
        });
    }
  }

  #settled(epoch: number, m: StoredMessage, delivered: boolean): void {
    if (epoch !== this.#epoch) return; // an earlier connection's result; linkDown() released it
    if (!this.#inFlight.delete(m.id)) return;
    if (delivered) {
      this.#acked++;
      this.#ackIds.push(m.id);
      this.#o.observer?.published?.(m.class, 'acked');
      this.#o.observer?.deliveredAfter?.(m.class, (this.#o.clock ?? systemClock).nowMs() - m.createdAtMs);
      this.#scheduleAckFlush();
    } else {
      this.#failed++;
      this.#o.outbox.release([m.id]);
      this.#o.observer?.published?.(m.class, 'failed');
      this.#pausedUntil = Date.now() + (this.#o.failurePauseMs ?? 1000);
    }
    if (this.#inFlight.size === 0) this.#drained?.();
    // Refill in chunks once half the window is free: one take() (one SQLite read) per half window rather
    // than per message. We are in a promise callback, not inside pump(), so this never re-enters it.
    if (this.#inFlight.size <= this.#maxInFlight >> 1) this.#pump();
  }

  #scheduleAckFlush(): void {
    if (this.#ackScheduled) return;
    this.#ackScheduled = true;
    setImmediate(() => {
      this.#ackScheduled = false;
      this.#flushAcks();
    });
  }

  #flushAcks(): void {
    if (this.#ackIds.length === 0) return;
    const ids = this.#ackIds;
    this.#ackIds = [];
    this.#o.outbox.ack(ids);
  }
}
