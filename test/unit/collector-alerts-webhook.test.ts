// Webhook delivery (docs/alerts.md §Webhooks) against real local HTTP receivers: signed bodies a receiver
// verifies, retries with backoff, a receiver that is down, one that never answers, one that refuses; none of
// them delays notify() or another receiver.

import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { AlertManager } from '../../collector/alerts/manager.ts';
import {
  EVENT_ID_HEADER,
  EVENT_TYPE_HEADER,
  SIGNATURE_HEADER,
  signatureHeader,
  verifySignature,
} from '../../collector/alerts/signature.ts';
import type { AlertEvent } from '../../collector/alerts/types.ts';
import { createWebhookChannel } from '../../collector/alerts/webhook.ts';
import { collectorAlertEventSchema } from '../../shared/mqtt/schemas.ts';
import { systemClock } from '../../shared/platform/clock.ts';
import { waitFor } from '../helpers/wait.ts';
import {
  T0,
  countingObserver,
  deadUrl,
  obs,
  recorder,
  startReceiver,
  tempStore,
} from './collector-alerts-fixture.ts';

const SECRET = 'whsec-test-0123456789';
const fast = { baseMs: 2, capMs: 10, floorMs: 1 };

/** Real events from a real manager: opened, then acknowledged, then resolved, for `n` subjects. */
function events(t: TestContext, n = 1): AlertEvent[] {
  const { store } = tempStore(t);
  const rec = recorder();
  const m = new AlertManager({ store, clearAfter: 1, notify: rec.notify });
  for (let i = 0; i < n; i++) m.handle([obs({ subject: `ch${i}` })], T0 + i);
  return rec.events;
}

test('the signature verifies on the raw body, and fails when tampered, stale or malformed', () => {
  const body = '{"a":1}';
  const h = signatureHeader(SECRET, 1_700_000_000, body);
  assert.match(h, /^t=1700000000,v1=[0-9a-f]{64}$/);
  assert.deepEqual(verifySignature(SECRET, h, body, 1_700_000_010), { ok: true, timestamp: 1_700_000_000 });
  assert.deepEqual(verifySignature(SECRET, h, '{"a":2}', 1_700_000_010), { ok: false, reason: 'mismatch' });
  assert.deepEqual(verifySignature('other', h, body, 1_700_000_010), { ok: false, reason: 'mismatch' });
  assert.deepEqual(verifySignature(SECRET, h, body, 1_700_000_400), { ok: false, reason: 'stale' });
  assert.deepEqual(verifySignature(SECRET, 'v1=abc', body, 1_700_000_000), {
    ok: false,
    reason: 'malformed',
  });
  assert.deepEqual(verifySignature(SECRET, undefined, body, 1_700_000_000), {
    ok: false,
    reason: 'malformed',
  });
});

test('a receiver gets signed, schema-valid events; 5xx answers are retried with the same event id', async (t) => {
  const rx = await startReceiver(t, (_r, i) => (i < 2 ? 503 : 200));
  const observer = countingObserver();
  const ch = createWebhookChannel({
    urls: [`${rx.url}/hook`],
    secret: SECRET,
    clock: systemClock,
    observer,
    backoff: fast,
  });
  t.after(() => ch.close());
  const [e] = events(t);
  ch.notify(e!);
  await ch.idle();

  assert.equal(rx.requests.length, 3, 'two 503s, then delivered');
  for (const r of rx.requests) {
    assert.equal(r.method, 'POST');
    assert.equal(r.url, '/hook');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers[EVENT_ID_HEADER], e!.eventId);
    assert.equal(r.headers[EVENT_TYPE_HEADER], 'opened');
    const v = verifySignature(SECRET, r.headers[SIGNATURE_HEADER] as string, r.body, Date.now() / 1000);
    assert.equal(v.ok, true, JSON.stringify(v));
    const p = collectorAlertEventSchema.parse(JSON.parse(r.body));
    assert.equal(p.eventId, e!.eventId);
    assert.equal(p.alert.details?.evidence[0]?.method, 'wasserstein');
  }
  assert.deepEqual(observer.counts, { 'failed:webhook': 2, 'sent:webhook': 1 });
});

test('a receiver that is down is retried a bounded number of times, then dropped; the other gets everything', async (t) => {
  const down = await deadUrl();
  const up = await startReceiver(t);
  const observer = countingObserver();
  const ch = createWebhookChannel({
    urls: [down, `${up.url}/ok`],
    secret: SECRET,
    clock: systemClock,
    observer,
    backoff: fast,
    maxAttempts: 3,
  });
  t.after(() => ch.close());
  const evs = events(t, 4);
  for (const e of evs) ch.notify(e);
  await ch.idle();
  assert.deepEqual(
    up.requests.map((r) => r.headers[EVENT_ID_HEADER]),
    evs.map((e) => e.eventId),
    'in order, all of them',
  );
  assert.equal(observer.counts['sent:webhook'], 4);
  assert.equal(observer.counts['failed:webhook'], 12, '3 attempts for each of 4 events');
  assert.equal(observer.counts['dropped:webhook:attempts_exhausted'], 4);
});

test('a receiver that never answers times out per request and does not hold up the other', async (t) => {
  const hang = await startReceiver(t, () => 'hang');
  const up = await startReceiver(t);
  const observer = countingObserver();
  const ch = createWebhookChannel({
    urls: [hang.url, up.url],
    secret: SECRET,
    clock: systemClock,
    observer,
    backoff: fast,
    maxAttempts: 2,
    timeoutMs: 200,
  });
  t.after(() => ch.close());
  const [e] = events(t);
  ch.notify(e!);
  await waitFor('the healthy receiver', () => up.requests.length === 1);
  assert.equal(observer.counts['dropped:webhook:attempts_exhausted'] ?? 0, 0, 'the slow one is still trying');
  await ch.idle();
  assert.equal(hang.requests.length, 2);
  assert.equal(observer.counts['dropped:webhook:attempts_exhausted'], 1);
  assert.equal(observer.counts['sent:webhook'], 1);
});

test('a 4xx is not retried; a full queue drops and counts; notify never waits for the network', async (t) => {
  const refusing = await startReceiver(t, () => 401);
  const observer = countingObserver();
  const ch = createWebhookChannel({
    urls: [refusing.url],
    secret: SECRET,
    clock: systemClock,
    observer,
    backoff: fast,
    capacity: 3,
  });
  t.after(() => ch.close());
  const evs = events(t, 10);
  for (const e of evs) ch.notify(e);
  // All ten were handed over synchronously: nothing has been sent yet, 3 wait, 7 were refused.
  assert.equal(refusing.requests.length, 0);
  assert.equal(observer.counts['dropped:webhook:queue_full'], 7);
  await ch.idle();
  assert.equal(refusing.requests.length, 3, 'one attempt each');
  assert.equal(observer.counts['dropped:webhook:rejected'], 3);
});

test('close() drops what still waits, counted as closed, and later notifications too', async (t) => {
  const down = await deadUrl();
  const observer = countingObserver();
  const ch = createWebhookChannel({
    urls: [down],
    secret: SECRET,
    clock: systemClock,
    observer,
    backoff: { baseMs: 60_000, capMs: 60_000, floorMs: 60_000 },
    maxAttempts: 5,
  });
  const evs = events(t, 3);
  for (const e of evs) ch.notify(e);
  await waitFor('the first attempt', () => (observer.counts['failed:webhook'] ?? 0) >= 1);
  await ch.close();
  await ch.close();
  ch.notify(evs[0]!);
  assert.equal(observer.counts['dropped:webhook:closed'], 4);
});
