// The alert manager (issue #9 §6 "Lifecycle"): turns the monitors' observations into alerts that are
// opened once, deduplicated, acknowledged and resolved, and tells the delivery channels about each change.
//
// - Identity: observationKey(check, deviceId, subject). An active observation of a key with no live alert
//   opens one; of a live key it counts an occurrence (the store keeps the latest evidence).
// - Hysteresis: a live alert resolves only after `clearAfter` consecutive inactive observations of its
//   key, and any active one in between starts the count again, so a condition that flickers around its
//   threshold keeps one alert instead of paging on every flip.
// - Severity only rises while an alert is live (a critical that calms to warning stays critical until it
//   resolves): the Alertmanager severity label, and with it the routing, then never flaps either.
// - Acknowledged alerts stay live (and keep counting) until they clear.
// - State survives a restart: the live alerts are read back from the store at construction; the
//   hysteresis counts start again at zero (the cautious side: a restart never resolves anything).
//
// Occurrences are not events; opened, escalated, acknowledged and resolved are. The sink runs inside the
// evaluation, so it only writes the store (synchronous SQLite) and hands events to `notify`, which must
// only enqueue (collector/alerts/delivery.ts).

import type { Logger } from '../../shared/platform/logger.ts';
import { observationKey, type Observation, type ObservationSink } from '../monitor/types.ts';
import type { AlertRecord, TelemetryStore } from '../storage/types.ts';
import { alertInput, isHigher, maxSeverity } from './details.ts';
import type { AlertEvent, AlertEventType } from './types.ts';

export type AlertStore = Pick<TelemetryStore, 'raiseAlert' | 'acknowledgeAlert' | 'resolveAlert' | 'alerts'>;

export interface AlertManagerOptions {
  readonly store: AlertStore;
  /** Consecutive inactive observations before a live alert resolves (CollectorConfig.alertClearAfter). */
  readonly clearAfter: number;
  /** Told about every change; must not block (delivery queues). */
  readonly notify?: (event: AlertEvent) => void;
  readonly logger?: Logger;
}

interface LiveAlert {
  alert: AlertRecord;
  /** Consecutive inactive observations since the last active one. */
  inactive: number;
}

/** More live alerts than this are read back at start only up to it (a runaway monitor, not a fleet). */
const REBUILD_LIMIT = 100_000;

export class AlertManager implements ObservationSink {
  readonly #o: AlertManagerOptions;
  readonly #live = new Map<string, LiveAlert>();
  #storeFailures = 0;

  constructor(options: AlertManagerOptions) {
    if (!Number.isInteger(options.clearAfter) || options.clearAfter < 1)
      throw new RangeError(`clearAfter must be an integer >= 1, got ${options.clearAfter}`);
    this.#o = options;
    for (const state of ['open', 'acknowledged'] as const)
      for (const a of options.store.alerts({ state, limit: REBUILD_LIMIT }))
        this.#live.set(a.dedupKey, { alert: a, inactive: 0 });
  }

  handle(observations: readonly Observation[], nowMs: number): void {
    for (const o of observations) {
      try {
        if (o.active) this.#raise(o, nowMs);
        else this.#clear(observationKey(o), nowMs);
      } catch (err) {
        // A store failure loses this observation, not the cycle; the next evaluation raises it again.
        if (this.#storeFailures++ === 0)
          this.#o.logger?.error('alert store write failed', { err, key: observationKey(o) });
      }
    }
  }

  /**
   * Acknowledges a live alert (`by`: who, for the audit trail). An acknowledged or resolved alert is
   * returned unchanged; undefined when there is no alert with this id.
   */
  acknowledge(id: number, by: string, nowMs: number): AlertRecord | undefined {
    const rec = this.#o.store.acknowledgeAlert(id, by, nowMs);
    if (rec === undefined) return undefined;
    const live = this.#live.get(rec.dedupKey);
    if (live?.alert.id === id && live.alert.state === 'open' && rec.state === 'acknowledged') {
      live.alert = rec;
      this.#emit('acknowledged', rec, nowMs);
    }
    return rec;
  }

  /** The live (open or acknowledged) alerts, as last written. */
  live(): AlertRecord[] {
    return [...this.#live.values()].map((l) => l.alert);
  }

  /** A live alert by id (the API reads resolved ones from the store). */
  liveById(id: number): AlertRecord | undefined {
    for (const l of this.#live.values()) if (l.alert.id === id) return l.alert;
    return undefined;
  }

  /** Store writes that failed since start (each lost one observation). */
  storeFailures(): number {
    return this.#storeFailures;
  }

  #raise(o: Observation, nowMs: number): void {
    const key = observationKey(o);
    const live = this.#live.get(key);
    const severity = live === undefined ? o.severity : maxSeverity(live.alert.severity, o.severity);
    const rec = this.#o.store.raiseAlert(alertInput(o, severity), nowMs);
    if (live === undefined) {
      this.#live.set(key, { alert: rec, inactive: 0 });
      // occurrences > 1: the store already had it live (raised by someone else since we read it back).
      if (rec.occurrences === 1) this.#emit('opened', rec, nowMs);
      return;
    }
    // Re-diagnosed (a drift that the evidence now calls a condition change) routes like a rise in severity.
    const escalated = isHigher(rec.severity, live.alert.severity) || rec.kind !== live.alert.kind;
    live.alert = rec;
    live.inactive = 0;
    if (escalated) this.#emit('escalated', rec, nowMs);
  }

  #clear(key: string, nowMs: number): void {
    const live = this.#live.get(key);
    if (live === undefined) return;
    live.inactive++;
    if (live.inactive < this.#o.clearAfter) return;
    const rec = this.#o.store.resolveAlert(live.alert.id, nowMs);
    this.#live.delete(key);
    if (rec !== undefined) this.#emit('resolved', rec, nowMs);
  }

  #emit(type: AlertEventType, alert: AlertRecord, atMs: number): void {
    const notify = this.#o.notify;
    if (notify === undefined) return;
    try {
      notify({ eventId: `${alert.id}-${type}-${atMs}`, type, atMs, alert });
    } catch (err) {
      // notify only enqueues; a throw there is a bug in a channel, and must not stop the evaluation.
      this.#o.logger?.error('alert notification failed', { err, alertId: alert.id, type });
    }
  }
}
