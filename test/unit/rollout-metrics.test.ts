// Rollout metrics read the controller's stats() at scrape time, and the exposition passes promtool.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { registerRolloutMetrics } from '../../collector/rollout/metrics.ts';
import type { RolloutStats } from '../../collector/rollout/types.ts';
import { parseExposition, value } from '../helpers/prom-text.ts';
import { haveCommand, promtoolCheck } from '../helpers/tools.ts';

test('rollout metrics follow stats() and are valid Prometheus text', async (t) => {
  let stats: RolloutStats = {
    rollouts: { running: 1, paused: 0, completed: 2, rolling_back: 0, rolled_back: 1, aborted: 0 },
    commandsSent: { install: 12, rollback: 3 },
    publishFailures: 1,
    analyses: { pass: 4, fail: 1, inconclusive: 0 },
    deviceTimeouts: 2,
  };
  const registry = new Registry();
  registerRolloutMetrics(registry, { stats: () => stats });
  let text = await registry.metrics();
  let m = parseExposition(text);
  assert.equal(value(m, 'edgeloop_collector_rollouts', { state: 'completed' }), 2);
  assert.equal(value(m, 'edgeloop_collector_rollout_commands_total', { action: 'install' }), 12);
  assert.equal(value(m, 'edgeloop_collector_rollout_analyses_total', { verdict: 'fail' }), 1);
  assert.equal(value(m, 'edgeloop_collector_rollout_device_timeouts_total', {}), 2);
  stats = { ...stats, commandsSent: { install: 20, rollback: 3 } };
  text = await registry.metrics();
  m = parseExposition(text);
  assert.equal(value(m, 'edgeloop_collector_rollout_commands_total', { action: 'install' }), 20);
  if (!haveCommand('promtool', ['--version'])) {
    t.diagnostic('promtool not installed: exposition not checked by it');
    return;
  }
  const checked = promtoolCheck(text);
  assert.equal(checked?.status, 0, checked?.output);
});
