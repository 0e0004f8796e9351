// Issue #9 §6 and §8 "Real ops tools": the shipped Prometheus files in docs/ops/ are valid (promtool check
// rules / check config), every alert fires and stays quiet where its unit test says (promtool test rules),
// and every collector metric the rules use is one the collector actually exports, also under promtool
// check metrics. Without promtool the promtool parts skip locally and fail under CI (test/helpers/tools.ts).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { createCollectorMetrics } from '../../collector/api/metrics.ts';
import { haveCommand, promtoolCheck, requireTool } from '../helpers/tools.ts';

const opsDir = new URL('../../docs/ops/', import.meta.url).pathname;

function promtool(
  t: TestContext,
  args: readonly string[],
): { status: number | null; output: string } | undefined {
  if (!requireTool(t, haveCommand('promtool', ['--version']), 'promtool', 'apt-get install prometheus'))
    return undefined;
  const r = spawnSync('promtool', [...args], { cwd: opsDir, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

/** The collector's exposition with every optional source present. */
async function fullExposition(): Promise<string> {
  const m = createCollectorMetrics({
    queueDepth: () => 3,
    subscriberConnected: () => true,
    heldAcks: () => 1,
    broker: () => ({ clients: 2, refusals: { connect: 1, publish: 0, subscribe: 0 } }),
    devices: () => ({ online: 4, offline: 1, stale: 2 }),
  });
  m.committed([{ receivedMs: 1_000 }, { receivedMs: 1_900 }], 2_000);
  m.monitorCycle(0.2);
  return m.text();
}

test('promtool check rules accepts docs/ops/prometheus-rules.yml', (t) => {
  const r = promtool(t, ['check', 'rules', 'prometheus-rules.yml']);
  if (r === undefined) return;
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /SUCCESS: 9 rules found/);
});

test('promtool test rules: every alert fires and stays quiet as the unit test file says', (t) => {
  const r = promtool(t, ['test', 'rules', 'prometheus-rules.test.yml']);
  if (r === undefined) return;
  assert.equal(r.status, 0, r.output);
});

test('every alert in the rules file has a promtool unit test', () => {
  const rules = readFileSync(`${opsDir}prometheus-rules.yml`, 'utf8');
  const tests = readFileSync(`${opsDir}prometheus-rules.test.yml`, 'utf8');
  const alerts = [...rules.matchAll(/^\s*- alert: (\S+)/gm)].map((m) => m[1]);
  assert.equal(alerts.length, 9);
  for (const a of alerts)
    assert.match(tests, new RegExp(`alertname: ${String(a)}\\n`), `${String(a)} has no alert_rule_test`);
});

test('promtool check config accepts the scrape example docs/ops/prometheus.yml', (t) => {
  const r = promtool(t, ['check', 'config', 'prometheus.yml']);
  if (r === undefined) return;
  assert.equal(r.status, 0, r.output);
});

test('every edgeloop_collector_* metric the rules use is exported by the collector', async () => {
  const text = await fullExposition();
  const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
  const used = new Set(
    [
      ...readFileSync(`${opsDir}prometheus-rules.yml`, 'utf8').matchAll(/\b(edgeloop_collector_[a-z_]+)/g),
    ].map((m) => (m[1] ?? '').replace(/_(bucket|sum|count)$/, '')),
  );
  assert.ok(used.size >= 7, `rules use ${[...used].join(', ')}`);
  for (const name of used) assert.ok(exported.has(name), `${name} is used by a rule but not exported`);
});

test('the ops metrics: devices by state, ingest lag, last commit, monitor cycles; promtool check metrics', async (t) => {
  const text = await fullExposition();
  assert.match(text, /^edgeloop_collector_devices\{state="online"\} 4$/m);
  assert.match(text, /^edgeloop_collector_devices\{state="offline"\} 1$/m);
  assert.match(text, /^edgeloop_collector_devices\{state="stale"\} 2$/m);
  assert.match(text, /^edgeloop_collector_ingest_lag_seconds_count 2$/m);
  assert.match(text, /^edgeloop_collector_ingest_lag_seconds_sum 1\.1$/m);
  assert.match(text, /^edgeloop_collector_ingest_lag_seconds_bucket\{le="0\.25"\} 1$/m);
  assert.match(text, /^edgeloop_collector_last_commit_timestamp_seconds 2$/m);
  assert.match(text, /^edgeloop_collector_monitor_cycle_seconds_count 1$/m);
  const checked = promtoolCheck(text);
  if (
    !requireTool(t, checked !== undefined, 'promtool', 'apt-get install prometheus') ||
    checked === undefined
  )
    return;
  assert.equal(checked.status, 0, `promtool check metrics:\n${checked.output}`);
});

test('without a devices source there is no devices gauge (an absent monitor is not "0 online")', async () => {
  const m = createCollectorMetrics({
    queueDepth: () => 0,
    subscriberConnected: () => false,
    heldAcks: () => 0,
  });
  const text = await m.text();
  assert.doesNotMatch(text, /edgeloop_collector_devices/);
  assert.match(text, /^edgeloop_collector_last_commit_timestamp_seconds 0$/m);
});
