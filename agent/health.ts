// What `/healthz` answers (issue #8 §2, docs/agent.md "Health endpoint"). The agent is unhealthy (HTTP 503)
// when any of these holds, and each one that holds is a reason in the body:
//
//   serial_disconnected   the serial port has been closed (unplugged, never opened) longer than
//                         healthSerialDownMaxMs
//   broker_unreachable    no broker connection for longer than healthBrokerDownMaxMs
//   outbox_high_water     the outbox holds more than healthOutboxHighWaterPercent of maxOutboxBytes (the next
//                         outage or burst starts evicting data)
//   inference_failing     the last healthInferenceFailedWindows windows with a model all failed inference
//
// A limit of 0 turns its check off. The monitor is fed by events (serial reader states, link events,
// inference outcomes) and read on each request; it holds no timers.

import { systemClock, type WallClock } from '../shared/platform/clock.ts';

export type HealthReasonName =
  'serial_disconnected' | 'broker_unreachable' | 'outbox_high_water' | 'inference_failing' | 'shutting_down';

export interface HealthReason {
  readonly reason: HealthReasonName;
  /** For a person: what is wrong, with the numbers and the limit. */
  readonly message: string;
  /** How long it has been so, ms (serial and broker). */
  readonly forMs?: number;
  readonly value?: number;
  readonly limit?: number;
}

export interface HealthLimits {
  /** Serial port closed longer than this, ms → unhealthy. 0 = never. */
  readonly serialDownMaxMs: number;
  /** No broker connection longer than this, ms → unhealthy. 0 = never. */
  readonly brokerDownMaxMs: number;
  /** Outbox bytes above this percentage of maxOutboxBytes → unhealthy. 0 = never. */
  readonly outboxHighWaterPercent: number;
  /** This many consecutive windows with a model whose inference failed → unhealthy. 0 = never. */
  readonly inferenceFailedWindows: number;
}

export interface HealthVerdict {
  readonly healthy: boolean;
  readonly reasons: readonly HealthReason[];
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;

export class HealthMonitor {
  readonly #limits: HealthLimits;
  readonly #now: () => number;
  // Both start down: a port that never opens or a broker never reached counts from the start.
  #serialDownSinceMs: number | null;
  #brokerDownSinceMs: number | null;
  #failedInARow = 0;
  #lastFailure = '';
  #stopping = false;

  constructor(limits: HealthLimits, clock: WallClock = systemClock) {
    this.#limits = limits;
    this.#now = () => clock.nowMs();
    this.#serialDownSinceMs = this.#now();
    this.#brokerDownSinceMs = this.#now();
  }

  serial(connected: boolean): void {
    if (connected) this.#serialDownSinceMs = null;
    else this.#serialDownSinceMs ??= this.#now();
  }

  broker(connected: boolean): void {
    if (connected) this.#brokerDownSinceMs = null;
    else this.#brokerDownSinceMs ??= this.#now();
  }

  /** One window's inference: ok, failed (with why), or null when no model served it (not counted). */
  inference(result: { readonly ok: true } | { readonly ok: false; readonly message: string } | null): void {
    if (result === null) return;
    if (result.ok) {
      this.#failedInARow = 0;
      return;
    }
    this.#failedInARow++;
    this.#lastFailure = result.message;
  }

  /** Shutdown has begun: a supervisor should not route work here. */
  stopping(): void {
    this.#stopping = true;
  }

  check(outbox: { readonly bytes: number; readonly maxBytes: number }): HealthVerdict {
    const now = this.#now();
    const l = this.#limits;
    const reasons: HealthReason[] = [];
    if (this.#stopping) reasons.push({ reason: 'shutting_down', message: 'the agent is shutting down' });
    const down = (since: number | null, limit: number): number | null =>
      since === null || limit <= 0 || now - since <= limit ? null : now - since;
    const serialMs = down(this.#serialDownSinceMs, l.serialDownMaxMs);
    if (serialMs !== null)
      reasons.push({
        reason: 'serial_disconnected',
        message: `serial port disconnected for ${seconds(serialMs)} (limit ${seconds(l.serialDownMaxMs)})`,
        forMs: Math.round(serialMs),
        limit: l.serialDownMaxMs,
      });
    const brokerMs = down(this.#brokerDownSinceMs, l.brokerDownMaxMs);
    if (brokerMs !== null)
      reasons.push({
        reason: 'broker_unreachable',
        message: `no broker connection for ${seconds(brokerMs)} (limit ${seconds(l.brokerDownMaxMs)}); data is stored in the outbox`,
        forMs: Math.round(brokerMs),
        limit: l.brokerDownMaxMs,
      });
    if (l.outboxHighWaterPercent > 0 && outbox.maxBytes > 0) {
      const pct = (100 * outbox.bytes) / outbox.maxBytes;
      if (pct > l.outboxHighWaterPercent)
        reasons.push({
          reason: 'outbox_high_water',
          message: `outbox ${pct.toFixed(1)}% full (high-water mark ${l.outboxHighWaterPercent}%); raw samples, then telemetry, are evicted when it is full`,
          value: Math.round(pct * 10) / 10,
          limit: l.outboxHighWaterPercent,
        });
    }
    if (l.inferenceFailedWindows > 0 && this.#failedInARow >= l.inferenceFailedWindows)
      reasons.push({
        reason: 'inference_failing',
        message: `inference failed for the last ${this.#failedInARow} windows: ${this.#lastFailure}`,
        value: this.#failedInARow,
        limit: l.inferenceFailedWindows,
      });
    return { healthy: reasons.length === 0, reasons };
  }
}

/** The parts of the link and the runner the monitor listens to (agent/adapters/mqtt.ts, inference/runner.ts). */
export interface HealthSources {
  readonly link: {
    onEvent(l: (e: { readonly kind: 'connected' | 'disconnected' | 'connectFailed' }) => void): () => void;
  };
  readonly runner: {
    observe(
      l: (out: {
        readonly result: { readonly ok: true } | { readonly ok: false; readonly message: string } | null;
      }) => void,
    ): () => void;
  };
}

/** Feeds the monitor from link events and inference outcomes; returns the unsubscribe. */
export function watchHealth(monitor: HealthMonitor, s: HealthSources): () => void {
  const offLink = s.link.onEvent((e) => {
    if (e.kind === 'connected') monitor.broker(true);
    else if (e.kind === 'disconnected') monitor.broker(false);
  });
  const offRunner = s.runner.observe((out) => {
    monitor.inference(out.result);
  });
  return () => {
    offLink();
    offRunner();
  };
}
