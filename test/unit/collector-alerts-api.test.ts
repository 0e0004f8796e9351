// The alerts HTTP API (docs/alerts.md §HTTP API) through Fastify's inject() on the collector's app.

import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { createHttpApp } from '../../collector/adapters/http.ts';
import { AlertManager } from '../../collector/alerts/manager.ts';
import { alertRoutes } from '../../collector/api/alerts.ts';
import { collectorAlertEventSchema } from '../../shared/mqtt/schemas.ts';
import { ManualClock } from '../../shared/platform/clock.ts';
import { T0, obs, recorder, tempStore } from './collector-alerts-fixture.ts';

async function setup(t: TestContext) {
  const { store } = tempStore(t);
  const rec = recorder();
  const clock = new ManualClock(T0);
  const manager = new AlertManager({ store, clearAfter: 1, notify: rec.notify });
  manager.handle(
    [
      obs({ severity: 'warning' }),
      obs({ subject: 'accel.y', severity: 'critical' }),
      obs({
        deviceId: 'dev-2',
        kind: 'integrity',
        check: 'integrity.stale',
        subject: null,
        severity: 'critical',
      }),
      obs({
        deviceId: null,
        kind: 'condition',
        check: 'condition.prediction_mix',
        subject: null,
        severity: 'info',
      }),
    ],
    T0,
  );
  manager.handle([obs({ subject: 'accel.y', active: false })], T0 + 1);
  const app = createHttpApp();
  await app.register(alertRoutes, { manager, store, clock });
  t.after(() => app.close());
  const ids = Object.fromEntries(
    store.alerts().map((a) => [`${a.deviceId ?? '*'}/${a.channel ?? '*'}`, a.id]),
  );
  return { app, store, rec, ids };
}

const alertItem = collectorAlertEventSchema.shape.alert;

test('GET /api/v1/alerts lists newest first and filters by state, device, kind, severity and limit', async (t) => {
  const { app } = await setup(t);
  const list = async (qs: string) => {
    const r = await app.inject({ method: 'GET', url: `/api/v1/alerts${qs}` });
    assert.equal(r.statusCode, 200, r.body);
    const alerts = r.json<{ alerts: unknown[] }>().alerts.map((a) => alertItem.parse(a));
    return alerts;
  };
  const all = await list('');
  assert.equal(all.length, 4);
  assert.deepEqual(
    all.map((a) => a.id),
    [...all.map((a) => a.id)].sort((a, b) => b - a),
  );
  assert.deepEqual(
    (await list('?state=resolved')).map((a) => a.subject),
    ['accel.y'],
  );
  assert.equal((await list('?state=open')).length, 3);
  assert.deepEqual(
    (await list('?deviceId=dev-2')).map((a) => a.check),
    ['integrity.stale'],
  );
  assert.deepEqual(
    (await list('?kind=condition')).map((a) => a.deviceId),
    [null],
  );
  assert.deepEqual(
    (await list('?severity=critical&state=open')).map((a) => a.deviceId),
    ['dev-2'],
  );
  assert.equal((await list('?severity=critical')).length, 2);
  assert.equal((await list('?limit=1')).length, 1);
  const details = (await list('?deviceId=dev-1&state=open'))[0]?.details;
  assert.equal(details?.evidence[0]?.effectSigma, 2.4);
  assert.equal(details.reference?.model?.version, '1.2.0');
});

test('bad filters are 400 EDGELOOP_ERR_HTTP_BAD_REQUEST', async (t) => {
  const { app } = await setup(t);
  for (const qs of ['?state=closed', '?severity=fatal', '?limit=0', '?limit=5000']) {
    const r = await app.inject({ method: 'GET', url: `/api/v1/alerts${qs}` });
    assert.equal(r.statusCode, 400, qs);
    assert.equal(r.json<{ error: { code: string } }>().error.code, 'EDGELOOP_ERR_HTTP_BAD_REQUEST', qs);
  }
});

test('GET /api/v1/alerts/:id returns one alert, live or resolved; an unknown id is 404', async (t) => {
  const { app, ids } = await setup(t);
  for (const key of ['dev-1/accel.x', 'dev-1/accel.y']) {
    const r = await app.inject({ method: 'GET', url: `/api/v1/alerts/${ids[key]}` });
    assert.equal(r.statusCode, 200);
    assert.equal(alertItem.parse(r.json<{ alert: unknown }>().alert).id, ids[key]);
  }
  const missing = await app.inject({ method: 'GET', url: '/api/v1/alerts/9999' });
  assert.equal(missing.statusCode, 404);
  const body = missing.json<{ error: { code: string; message: string } }>();
  assert.equal(body.error.code, 'EDGELOOP_ERR_HTTP_NOT_FOUND');
  assert.match(body.error.message, /no alert with id 9999/);
  const bad = await app.inject({ method: 'GET', url: '/api/v1/alerts/abc' });
  assert.equal(bad.statusCode, 400);
});

test('POST /api/v1/alerts/:id/ack acknowledges (by whom) and notifies; bad bodies are 400, unknown ids 404', async (t) => {
  const { app, ids, rec } = await setup(t);
  const id = ids['dev-1/accel.x']!;
  // A text/plain body, as curl -d sends it, is read as JSON too.
  const r = await app.inject({
    method: 'POST',
    url: `/api/v1/alerts/${id}/ack`,
    headers: { 'content-type': 'text/plain' },
    payload: JSON.stringify({ by: 'ops@plant' }),
  });
  assert.equal(r.statusCode, 200, r.body);
  const a = alertItem.parse(r.json<{ alert: unknown }>().alert);
  assert.equal(a.state, 'acknowledged');
  assert.equal(a.acknowledgedBy, 'ops@plant');
  assert.equal(a.acknowledgedMs, T0);
  assert.equal(rec.events.at(-1)?.type, 'acknowledged');

  for (const payload of [{}, { by: '' }, { by: { name: 'x' } }, 'not json']) {
    const bad = await app.inject({
      method: 'POST',
      url: `/api/v1/alerts/${id}/ack`,
      headers: { 'content-type': 'application/json' },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });
    assert.equal(bad.statusCode, 400, JSON.stringify(payload));
    assert.equal(bad.json<{ error: { code: string } }>().error.code, 'EDGELOOP_ERR_HTTP_BAD_REQUEST');
  }
  const missing = await app.inject({
    method: 'POST',
    url: '/api/v1/alerts/424242/ack',
    payload: { by: 'x' },
  });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json<{ error: { code: string } }>().error.code, 'EDGELOOP_ERR_HTTP_NOT_FOUND');
  const wrongMethod = await app.inject({ method: 'DELETE', url: `/api/v1/alerts/${id}` });
  assert.equal(wrongMethod.statusCode, 405);
});
