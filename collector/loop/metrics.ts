// The loop's metrics on the collector's prom-client Registry (docs/collector.md §Metrics): the rollout
// controller's own (collector/rollout/metrics.ts), and update requests and training jobs by state, read
// from their stores at scrape time.

import { Gauge, type Registry } from 'prom-client';
import { trainingJobStates } from '../retrain/types.ts';
import { registerRolloutMetrics } from '../rollout/metrics.ts';
import { updateRequestStates } from '../updates/types.ts';
import type { Loop } from './setup.ts';

/** Rows counted per scrape, at most (the stores list newest first). */
const SCRAPE_LIMIT = 1000;

export function registerLoopMetrics(registry: Registry, loop: Loop): void {
  registerRolloutMetrics(registry, loop.rollouts);
  new Gauge({
    name: 'edgeloop_collector_update_requests',
    help: `Model-update requests by state (the newest ${String(SCRAPE_LIMIT)}).`,
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const counts = new Map<string, number>(updateRequestStates.map((s) => [s, 0]));
      for (const r of loop.updates.list({ limit: SCRAPE_LIMIT }))
        counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
      for (const [state, n] of counts) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'edgeloop_collector_training_jobs',
    help: `Retraining jobs by state (the newest ${String(SCRAPE_LIMIT)}); none while retraining is off.`,
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const counts = new Map<string, number>(trainingJobStates.map((s) => [s, 0]));
      for (const j of loop.retraining?.list({ limit: SCRAPE_LIMIT }) ?? [])
        counts.set(j.state, (counts.get(j.state) ?? 0) + 1);
      for (const [state, n] of counts) this.set({ state }, n);
    },
  });
}
