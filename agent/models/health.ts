// The health window after a swap (issue #4 §4 "Rollback"): the new model's first windows are watched.
// Too many failed inferences end the window early with a rollback; at its end, a p95 latency beyond the
// configured limits against the old model's p95 is a rollback too; otherwise the model is committed.
// HealthWindow is pure: it is fed outcomes and asked for the verdict. watchHealth() feeds it the runner's
// outcomes for the new engine and ends it at the configured time limit.

import { quantile } from 'simple-statistics';
import type { ErrorCode } from '../../shared/errors.ts';
import type { InferenceEngine } from '../inference/engine.ts';
import type { InferenceRunner } from '../inference/runner.ts';
import type { ModelManagerConfig } from './config.ts';

export type HealthVerdict =
  | { readonly healthy: true; readonly reason: string }
  | { readonly healthy: false; readonly code: ErrorCode; readonly reason: string };

type Limits = Pick<
  ModelManagerConfig,
  | 'healthWindows'
  | 'healthMaxErrorRate'
  | 'healthLatencyFactor'
  | 'healthLatencyMarginMs'
  | 'healthMaxLatencyMs'
>;

export class HealthWindow {
  private readonly latencies: number[] = [];
  private errors = 0;
  private lastError = '';
  /** Failures tolerated before the window ends early. */
  readonly allowedErrors: number;

  constructor(
    private readonly limits: Limits,
    /** p95 latency of the model being replaced, ms; undefined on a first install. */
    readonly baselineP95Ms: number | undefined,
  ) {
    this.allowedErrors = Math.floor(limits.healthMaxErrorRate * limits.healthWindows);
  }

  get windows(): number {
    return this.latencies.length + this.errors;
  }

  get failures(): number {
    return this.errors;
  }

  /** Records one outcome; returns a verdict when the window is decided, else undefined. */
  record(outcome: { readonly latencyMs: number } | { readonly error: string }): HealthVerdict | undefined {
    if ('error' in outcome) {
      this.errors++;
      this.lastError = outcome.error;
      if (this.errors > this.allowedErrors) return this.verdict();
    } else {
      this.latencies.push(outcome.latencyMs);
    }
    return this.windows >= this.limits.healthWindows ? this.verdict() : undefined;
  }

  /** The verdict on what was seen so far (at the end of the window or at its time limit). */
  verdict(): HealthVerdict {
    const n = this.windows;
    if (this.errors > this.allowedErrors) {
      return {
        healthy: false,
        code: 'EDGELOOP_ERR_MODEL_HEALTH_ERRORS',
        reason: `${this.errors} of ${n} inferences failed in the health window (at most ${this.allowedErrors} allowed); last error: ${this.lastError}`,
      };
    }
    // NaN when every inference failed: no latency to judge.
    const p95 = this.latencies.length === 0 ? Number.NaN : quantile(this.latencies, 0.95);
    const { healthMaxLatencyMs: abs, healthLatencyFactor: k, healthLatencyMarginMs: margin } = this.limits;
    if (abs > 0 && p95 > abs) {
      return {
        healthy: false,
        code: 'EDGELOOP_ERR_MODEL_HEALTH_LATENCY',
        reason: `p95 latency ${p95.toFixed(2)} ms over ${this.latencies.length} windows exceeds the ${abs} ms limit`,
      };
    }
    const base = this.baselineP95Ms;
    if (base !== undefined && Number.isFinite(base) && p95 > k * base && p95 - base > margin) {
      return {
        healthy: false,
        code: 'EDGELOOP_ERR_MODEL_HEALTH_LATENCY',
        reason: `p95 latency ${p95.toFixed(2)} ms is over ${k}x the previous model's ${base.toFixed(2)} ms (and ${margin} ms more)`,
      };
    }
    const lat = Number.isNaN(p95) ? 'no latency samples' : `p95 latency ${p95.toFixed(2)} ms`;
    return {
      healthy: true,
      reason: `${n} windows in the health window, ${this.errors} failed, ${lat}${base === undefined ? '' : ` (previous model ${base.toFixed(2)} ms)`}`,
    };
  }
}

export interface HealthWatch {
  /** The verdict; on a bad one, `previous` was swapped back synchronously before it resolved. */
  readonly verdict: Promise<HealthVerdict>;
  /** Ends the window now as unhealthy (the agent is shutting down). No-op once decided. */
  readonly stop: () => void;
}

/**
 * Watches `engine`'s windows in the runner for at most `config.healthMaxMs` (the timer is unref'd).
 * Deciding is one-shot: the first verdict stops observing and, if bad, swaps `previous` back between
 * two windows while `engine` is still the active one.
 */
export function watchHealth(
  runner: InferenceRunner,
  engine: InferenceEngine,
  previous: InferenceEngine | null,
  config: Limits & Pick<ModelManagerConfig, 'healthMaxMs'>,
  baselineP95Ms: number | undefined,
): HealthWatch {
  const window = new HealthWindow(config, baselineP95Ms);
  let settle: (v: HealthVerdict) => void = () => undefined;
  const verdict = new Promise<HealthVerdict>((resolve) => (settle = resolve));
  let decided = false;
  const done = (v: HealthVerdict): void => {
    if (decided) return;
    decided = true;
    off();
    clearTimeout(timer);
    if (!v.healthy && runner.active === engine) runner.swap(previous);
    settle(v);
  };
  const off = runner.observe((o) => {
    if (o.engine !== engine || o.result === null) return;
    const v = window.record(
      o.result.ok ? { latencyMs: o.result.value.latencyMs } : { error: o.result.message },
    );
    if (v !== undefined) done(v);
  });
  const timer = setTimeout(() => {
    done(window.verdict());
  }, config.healthMaxMs);
  timer.unref();
  return {
    verdict,
    stop: () => {
      done({
        healthy: false,
        code: 'EDGELOOP_ERR_MODEL_CLOSED',
        reason: 'agent shutting down during the health window',
      });
    },
  };
}
