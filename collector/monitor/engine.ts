// Runs the collector's monitors (docs/monitors.md): every message ingest wrote is shown to each monitor
// in order (integrity first, so drift sees this batch's channel health), and every `intervalMs` one
// evaluation cycle asks each monitor for its conclusions, stores the result rows in one call and hands
// the observations to the sink (the alert manager). A monitor that throws is logged and counted, and the
// others still run: a bug in one check must not silence the rest, nor stop ingest.

import type { Logger } from '../../shared/platform/logger.ts';
import type { IncomingMessage, MonitorResultInput, TelemetryStore } from '../storage/types.ts';
import type { Monitor, Observation, ObservationSink } from './types.ts';

export interface MonitorEngineObserver {
  /** One evaluation cycle took this long. */
  cycle(seconds: number, observations: number): void;
  /** A monitor threw, in observe() or evaluate(). */
  failed(monitor: string): void;
}

export interface MonitorEngineOptions {
  /** Evaluated in this order; each sees every message before the next. */
  readonly monitors: readonly Monitor[];
  readonly store: TelemetryStore;
  readonly sink: ObservationSink;
  readonly intervalMs: number;
  readonly nowMs: () => number;
  readonly logger: Logger;
  readonly observer?: MonitorEngineObserver;
}

export interface MonitorCycleSummary {
  readonly atMs: number;
  readonly seconds: number;
  readonly observations: number;
  readonly active: number;
  readonly results: number;
}

export class MonitorEngine {
  readonly #o: MonitorEngineOptions;
  readonly #failuresLogged = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #last: MonitorCycleSummary | undefined;

  constructor(options: MonitorEngineOptions) {
    this.#o = options;
  }

  /** Ingest's onWritten feed. */
  observe(messages: readonly IncomingMessage[]): void {
    for (const m of this.#o.monitors) {
      try {
        for (const msg of messages) m.observe(msg);
      } catch (err) {
        this.#failed(m.name, 'observe', err);
      }
    }
  }

  /** One cycle, now. Also what the timer runs. */
  evaluate(): MonitorCycleSummary {
    const t0 = process.hrtime.bigint();
    const nowMs = this.#o.nowMs();
    const observations: Observation[] = [];
    const results: MonitorResultInput[] = [];
    for (const m of this.#o.monitors) {
      try {
        const c = m.evaluate(nowMs);
        observations.push(...c.observations);
        results.push(...c.results);
      } catch (err) {
        this.#failed(m.name, 'evaluate', err);
      }
    }
    try {
      if (results.length > 0) this.#o.store.writeMonitorResults(results);
    } catch (err) {
      this.#failed('results', 'write', err);
    }
    try {
      this.#o.sink.handle(observations, nowMs);
    } catch (err) {
      this.#failed('alerts', 'handle', err);
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    this.#o.observer?.cycle(seconds, observations.length);
    this.#last = {
      atMs: nowMs,
      seconds,
      observations: observations.length,
      active: observations.filter((o) => o.active).length,
      results: results.length,
    };
    return this.#last;
  }

  /** The last cycle, for /readyz-style status and the API. */
  lastCycle(): MonitorCycleSummary | undefined {
    return this.#last;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      this.evaluate();
    }, this.#o.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #failed(monitor: string, step: string, err: unknown): void {
    this.#o.observer?.failed(monitor);
    // Once per monitor and step: a check that throws on every message must not flood the log.
    const key = `${monitor}:${step}`;
    if (this.#failuresLogged.has(key)) return;
    this.#failuresLogged.add(key);
    this.#o.logger.error(`monitor ${monitor} failed in ${step} (logged once; counted in /metrics)`, {
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
  }
}
