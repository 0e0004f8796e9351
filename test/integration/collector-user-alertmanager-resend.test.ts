// docs/alerts.md §Prometheus Alertmanager: annotations carry `summary` (the alert's message) and
// `occurrences`, and a firing alert is re-sent every 60 s. Seen from Alertmanager's side, each re-send must
// show the alert as it is now: before this test the re-send repeated the record of the last event, so a
// user's Alertmanager showed `occurrences: 1` and the opening message for as long as the alert lived. The
// labels (identity and routing) stay those of the last event. createAlerting as collector/monitor/setup.ts
// builds it, a real HTTP receiver in Alertmanager's place, a manual clock for the re-send period.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PostableAlert } from '../../collector/alerts/alertmanager.ts';
import { createAlerting } from '../../collector/alerts/delivery.ts';
import { collectorDefaults } from '../../collector/config.ts';
import { ManualClock } from '../../shared/platform/clock.ts';
import { T0, obs, startReceiver, tempStore } from '../unit/collector-alerts-fixture.ts';

test('an Alertmanager re-send shows the live alert now: latest summary and occurrences, same labels', async (t) => {
  const am = await startReceiver(t);
  const { store } = tempStore(t);
  const clock = new ManualClock(T0);
  const alerting = createAlerting({
    config: { ...collectorDefaults, alertmanagerUrl: am.url, alertMqtt: false },
    store,
    clock,
  });
  t.after(() => alerting.close());

  const m = alerting.manager;
  m.handle([obs({ summary: 'accel.x drifted 2.4σ' })], T0);
  m.handle([obs({ summary: 'accel.x drifted 3.1σ' })], T0 + 10_000);
  m.handle([obs({ summary: 'accel.x drifted 3.9σ', cause: 'unknown' })], T0 + 20_000);
  await alerting.delivery.idle();
  assert.equal(am.requests.length, 1, 'occurrences are not events: one post, at opening');
  const [opened] = JSON.parse(am.requests[0]?.body ?? '[]') as [PostableAlert];
  assert.equal(opened.annotations.occurrences, '1');

  clock.advance(60_000);
  await alerting.delivery.idle();
  assert.equal(am.requests.length, 2, 'the firing alert is sent again after 60 s');
  const resent = JSON.parse(am.requests[1]?.body ?? '[]') as PostableAlert[];
  assert.equal(resent.length, 1);
  const [now] = resent as [PostableAlert];
  assert.equal(now.annotations.occurrences, '3');
  assert.equal(now.annotations.summary, 'accel.x drifted 3.9σ');
  assert.deepEqual(now.labels, opened.labels, 'labels stay: the same alert in Alertmanager');
  assert.equal(now.startsAt, opened.startsAt);
});
