// Rollout metrics (docs/rollouts.md §Metrics), registered on the collector's own prom-client Registry by the
// integrator. Everything is read from the controller's stats() at scrape time, so the controller itself
// knows nothing of prom-client.

import { Counter, Gauge, type Registry } from 'prom-client';
import { rolloutStates, type RolloutController } from './types.ts';

export function registerRolloutMetrics(registry: Registry, source: Pick<RolloutController, 'stats'>): void {
  new Gauge({
    name: 'edgeloop_collector_rollouts',
    help: 'Rollouts stored in the loop database, by state.',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const s = source.stats();
      for (const state of rolloutStates) this.set({ state }, s.rollouts[state]);
    },
  });
  new Counter({
    name: 'edgeloop_collector_rollout_commands_total',
    help: 'Model commands the rollout controller published since the collector started, by action.',
    labelNames: ['action'],
    registers: [registry],
    collect() {
      const s = source.stats();
      this.reset();
      this.inc({ action: 'install' }, s.commandsSent.install);
      this.inc({ action: 'rollback' }, s.commandsSent.rollback);
    },
  });
  new Counter({
    name: 'edgeloop_collector_rollout_publish_failures_total',
    help: 'Model commands whose publish failed (broker down); the device times out and is retried when online.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(source.stats().publishFailures);
    },
  });
  new Counter({
    name: 'edgeloop_collector_rollout_analyses_total',
    help: 'Phase analyses run since the collector started, by verdict.',
    labelNames: ['verdict'],
    registers: [registry],
    collect() {
      const s = source.stats();
      this.reset();
      for (const verdict of ['pass', 'fail', 'inconclusive'] as const)
        this.inc({ verdict }, s.analyses[verdict]);
    },
  });
  new Counter({
    name: 'edgeloop_collector_rollout_device_timeouts_total',
    help: 'Devices marked timed_out (no terminal model state within deviceTimeoutS) since the collector started.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(source.stats().deviceTimeouts);
    },
  });
}
