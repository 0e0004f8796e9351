// Alerting as the collector wires it (collector/alerts/delivery.ts createAlerting), the Alertmanager
// channel's payloads (escalation, periodic re-send, resync after a restart) against a local receiver, and
// the alert metrics checked by promtool.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { PostableAlert } from '../../collector/alerts/alertmanager.ts';
import { createAlertmanagerChannel } from '../../collector/alerts/alertmanager.ts';
import { createAlerting } from '../../collector/alerts/delivery.ts';
import { dropReasons } from '../../collector/alerts/types.ts';
import { AlertManager } from '../../collector/alerts/manager.ts';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, verifySignature } from '../../collector/alerts/signature.ts';
import { createCollectorMetrics } from '../../collector/api/metrics.ts';
import { collectorDefaults } from '../../collector/config.ts';
import { ManualClock, systemClock } from '../../shared/platform/clock.ts';
import { MemoryLogger } from '../../shared/platform/logger.ts';
import { promtoolCheck } from '../helpers/tools.ts';
import { waitFor } from '../helpers/wait.ts';
import { T0, countingObserver, obs, recorder, startReceiver, tempStore } from './collector-alerts-fixture.ts';

const posted = (body: string): PostableAlert[] => JSON.parse(body) as PostableAlert[];

test('createAlerting builds the channels the config asks for; every change reaches each of them', async (t) => {
  const hook = await startReceiver(t);
  const am = await startReceiver(t);
  const { store } = tempStore(t);
  const log = new MemoryLogger();
  const observer = countingObserver();
  const alerting = createAlerting({
    config: {
      ...collectorDefaults,
      alertClearAfter: 2,
      alertWebhooks: [`${hook.url}/hook`],
      alertWebhookSecret: 's3cret',
      alertmanagerUrl: am.url,
      alertMqtt: true,
    },
    store,
    clock: systemClock,
    logger: log,
    observer,
  });
  t.after(() => alerting.close());
  assert.deepEqual(
    alerting.delivery.channels.map((c) => c.name),
    ['webhook', 'alertmanager'],
  );
  assert.ok(
    log.records.some((r) => r.message === 'alert MQTT delivery is on but there is no MQTT publisher'),
  );

  const m = alerting.manager;
  m.handle([obs()], Date.now());
  m.acknowledge(m.live()[0]!.id, 'ops', Date.now());
  m.handle([obs({ active: false })], Date.now());
  m.handle([obs({ active: false })], Date.now());
  await alerting.delivery.idle();
  assert.deepEqual(
    hook.requests.map((r) => (JSON.parse(r.body) as { event: string }).event),
    ['opened', 'acknowledged', 'resolved'],
  );
  for (const r of hook.requests) {
    assert.equal(
      verifySignature('s3cret', r.headers[SIGNATURE_HEADER] as string, r.body, Date.now() / 1000).ok,
      true,
    );
    assert.match(r.headers[EVENT_ID_HEADER] as string, /^\d+-(opened|acknowledged|resolved)-\d+$/);
  }
  assert.equal(am.requests.length, 3);
  assert.equal(am.requests[0]!.url, '/api/v2/alerts');
  const [opened, acked, resolved] = am.requests.map((r) => posted(r.body)[0]!);
  assert.equal(opened!.annotations.acknowledged_by, undefined);
  assert.equal(acked!.annotations.acknowledged_by, 'ops');
  assert.ok(Date.parse(opened!.endsAt) > Date.now(), 'firing: endsAt in the future');
  assert.ok(Date.parse(resolved!.endsAt) <= Date.now(), 'resolved: endsAt now');
  assert.deepEqual(observer.counts, { 'sent:webhook': 3, 'sent:alertmanager': 3 });
});

test('Alertmanager: an escalation ends the old label set; firing alerts are re-sent; a restart resyncs them', async (t) => {
  const am = await startReceiver(t);
  const clock = new ManualClock(T0);
  const observer = countingObserver();
  const channel = createAlertmanagerChannel({ url: `${am.url}/`, clock, observer, resendMs: 60_000 });
  t.after(() => channel.close());
  const h = tempStore(t);
  const m = new AlertManager({
    store: h.store,
    clearAfter: 3,
    notify: (e) => {
      channel.notify(e);
    },
  });
  m.handle([obs({ severity: 'warning' })], T0);
  m.handle([obs({ severity: 'critical' })], T0 + 1);
  await channel.idle();
  assert.equal(am.requests.length, 2);
  const esc = posted(am.requests[1]!.body);
  assert.deepEqual(
    esc.map((a) => [a.labels.severity, Date.parse(a.endsAt) - T0]),
    [
      ['critical', 4 * 60_000],
      ['warning', 1],
    ],
  );
  assert.equal(esc[0]!.startsAt, new Date(T0).toISOString(), 'startsAt is when the alert opened');

  // Nothing changes for a minute: the firing alert is sent again, so Alertmanager keeps it.
  clock.advance(60_000);
  await waitFor('the re-send', () => am.requests.length === 3);
  const again = posted(am.requests[2]!.body);
  assert.equal(again.length, 1);
  assert.equal(again[0]!.labels.severity, 'critical');
  assert.equal(Date.parse(again[0]!.endsAt), T0 + 60_000 + 4 * 60_000);
  await channel.close();

  // After a restart the live alert is sent at once (resync), before any new evaluation.
  const store = h.reopen();
  const am2 = await startReceiver(t);
  const alerting = createAlerting({
    config: { ...collectorDefaults, alertmanagerUrl: am2.url, alertMqtt: false },
    store,
    clock,
  });
  t.after(() => alerting.close());
  await alerting.delivery.idle();
  assert.equal(am2.requests.length, 1);
  assert.equal(posted(am2.requests[0]!.body)[0]!.labels.alertname, 'EdgeloopDrift');
});

test('alert metrics: live alerts by kind, severity and state, delivery outcomes by channel; promtool accepts them', async (t) => {
  const { store } = tempStore(t);
  const rec = recorder();
  const manager = new AlertManager({ store, clearAfter: 1, notify: rec.notify });
  const metrics = createCollectorMetrics({
    queueDepth: () => 0,
    subscriberConnected: () => true,
    heldAcks: () => 0,
    alerts: { live: () => manager.live() },
  });
  manager.handle(
    [obs({ severity: 'critical' }), obs({ subject: 'accel.y' }), obs({ subject: 'accel.z' })],
    T0,
  );
  manager.acknowledge(manager.live()[2]!.id, 'ops', T0);
  metrics.alertObserver.sent('webhook');
  metrics.alertObserver.failed('alertmanager');
  metrics.alertObserver.dropped('mqtt', 'queue_full');
  const text = await metrics.text();
  assert.match(text, /^edgeloop_collector_alerts_open\{kind="drift",severity="critical",state="open"\} 1$/m);
  assert.match(text, /^edgeloop_collector_alerts_open\{kind="drift",severity="warning",state="open"\} 1$/m);
  assert.match(
    text,
    /^edgeloop_collector_alerts_open\{kind="drift",severity="warning",state="acknowledged"\} 1$/m,
  );
  assert.match(
    text,
    /^edgeloop_collector_alerts_open\{kind="integrity",severity="critical",state="open"\} 0$/m,
  );
  assert.match(text, /^edgeloop_collector_alert_notifications_sent_total\{channel="webhook"\} 1$/m);
  assert.match(
    text,
    /^edgeloop_collector_alert_notification_attempts_failed_total\{channel="alertmanager"\} 1$/m,
  );
  assert.match(
    text,
    /^edgeloop_collector_alert_notifications_dropped_total\{channel="mqtt",reason="queue_full"\} 1$/m,
  );
  assert.match(
    text,
    /^edgeloop_collector_alert_notifications_dropped_total\{channel="webhook",reason="closed"\} 0$/m,
  );
  const check = promtoolCheck(text);
  if (check === undefined) {
    assert.ok(process.env.CI === undefined, 'promtool is missing in CI');
    t.diagnostic('promtool not installed: exposition not checked');
    return;
  }
  assert.equal(check.status, 0, check.output);
});

test('docs/alerts.md documents every alert metric, Alertmanager label and drop reason', async () => {
  const doc = readFileSync(new URL('../../docs/alerts.md', import.meta.url), 'utf8');
  const metrics = createCollectorMetrics({
    queueDepth: () => 0,
    subscriberConnected: () => true,
    heldAcks: () => 0,
    alerts: { live: () => [] },
  });
  const names = [...(await metrics.text()).matchAll(/^# TYPE (edgeloop_collector_alert\S*)/gm)].map(
    (m) => m[1]!,
  );
  assert.equal(names.length, 4);
  for (const n of names) assert.ok(doc.includes(`\`${n}\``), n);
  for (const label of ['alertname', 'severity', 'kind', 'check', 'device', 'subject', 'cause'])
    assert.ok(doc.includes(`| \`${label}\``), label);
  for (const r of dropReasons) assert.ok(doc.includes(`\`${r}\``), r);
});
