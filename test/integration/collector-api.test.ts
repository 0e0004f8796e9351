// Issue #9 §2 and §6: the collector's telemetry read API (collector/api/telemetry.ts) on the real Fastify
// app (collector/adapters/http.ts) over a real SQLite store, through inject(): devices with live health and
// drift, windows, rollups, integrity events, monitor results, fleet drift, and raw captures; and the
// refusals (bad ranges, unknown devices, features, captures and query parameters) with their codes.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createHttpApp, type HttpApp } from '../../collector/adapters/http.ts';
import { telemetryRoutes, type TelemetryApiOptions } from '../../collector/api/telemetry.ts';
import { openSqliteTelemetryStore } from '../../collector/storage/sqlite-store.ts';
import type { IncomingMessage, TelemetryStore } from '../../collector/storage/types.ts';
import type { DecodedMessage } from '../../shared/mqtt/codec.ts';
import { telemetry } from './collector-fixture.ts';

const T0 = Date.UTC(2026, 0, 1); // hour-aligned
const MIN = 60_000;
let dir: string;
let store: TelemetryStore;
const now = T0 + 10 * MIN;

function window(deviceId: string, seq: number, tsMs: number): IncomingMessage {
  const p = telemetry(deviceId, 1, seq);
  return { message: { kind: 'telemetry', deviceId, payload: { ...p, tsMs } }, receivedMs: tsMs };
}

function raw(deviceId: string, msgSeq: number): DecodedMessage {
  return {
    kind: 'raw',
    deviceId,
    payload: {
      sensorId: 1,
      axes: 3,
      runId: 1,
      msgSeq,
      bootId: 3,
      firstIndex: msgSeq * 2,
      timestampUs: msgSeq * 1e4,
      periodUs: 1000,
      count: 2,
      values: Float32Array.from([1.5, -2, 3, 4, 5, 6.25]),
    },
  };
}

async function app(options: Partial<TelemetryApiOptions> = {}): Promise<HttpApp> {
  const a = createHttpApp();
  await a.register(telemetryRoutes, { store, nowMs: () => now, ...options });
  await a.ready();
  return a;
}

async function get(a: HttpApp, url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await a.inject({ method: 'GET', url });
  return { status: r.statusCode, body: r.json() };
}

function assertError(
  r: { status: number; body: Record<string, unknown> },
  status: number,
  code: string,
  re?: RegExp,
) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  const e = r.body.error as { code: string; message: string };
  assert.equal(e.code, code);
  if (re !== undefined) assert.match(e.message, re);
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgeloop-collector-api-'));
  store = openSqliteTelemetryStore(join(dir, 'collector.sqlite'));
  // dev-a: 180 windows, one a second over minutes 0-2 after T0 (feature temp_mean is null in each).
  store.writeBatch(Array.from({ length: 180 }, (_, i) => window('dev-a', i + 1, T0 + i * 1000)));
  store.writeBatch([
    {
      message: {
        kind: 'integrity',
        deviceId: 'dev-a',
        payload: {
          v: 1,
          deviceId: 'dev-a',
          runId: 1,
          msgSeq: 1000,
          tsMs: T0 + 5000,
          bootId: 3,
          windowIndex: 5,
          channel: 'accel.x',
          check: 'flatline',
          status: 'fail',
          previousStatus: 'good',
          reason: 'stuck',
        },
      },
      receivedMs: T0 + 5000,
    },
  ]);
  store.writeMonitorResults([
    {
      deviceId: 'dev-a',
      monitor: 'drift.psi',
      channel: 'accel.x',
      tsMs: T0,
      status: 'ok',
      statistic: 0.01,
      threshold: 0.2,
    },
    {
      deviceId: 'dev-a',
      monitor: 'integrity.staleness',
      channel: null,
      tsMs: T0 + 1,
      status: 'good',
      statistic: null,
      threshold: null,
    },
  ]);
  // Roll the first minutes up (the windows stay: they are within the 48 h retention).
  store.compact(T0 + 5 * MIN);
});
after(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('devices', () => {
  test('one device: its record, deployments, and the live health and drift from the monitors', async () => {
    const a = await app({
      health: (id) => ({ id, status: 'good' }),
      drift: (id) => (id === 'dev-a' ? { verdict: 'no_drift' } : undefined),
    });
    const r = await get(a, '/api/v1/devices/dev-a');
    assert.equal(r.status, 200);
    assert.equal((r.body.device as { deviceId: string }).deviceId, 'dev-a');
    assert.deepEqual(r.body.health, { id: 'dev-a', status: 'good' });
    assert.deepEqual(r.body.drift, { verdict: 'no_drift' });
    assert.deepEqual(
      (r.body.deployments as { model: unknown }[]).map((d) => d.model),
      [{ name: 'fan', version: '1.0.0' }],
    );
  });

  test('with monitors off, health and drift are null', async () => {
    const r = await get(await app(), '/api/v1/devices/dev-a');
    assert.equal(r.status, 200);
    assert.equal(r.body.health, null);
    assert.equal(r.body.drift, null);
  });

  test('an unknown device is 404, a malformed id 400, an unknown parameter 400', async () => {
    const a = await app();
    assertError(
      await get(a, '/api/v1/devices/dev-zz'),
      404,
      'EDGELOOP_ERR_HTTP_NOT_FOUND',
      /no device dev-zz/,
    );
    assertError(
      await get(a, '/api/v1/devices/dev%20a'),
      400,
      'EDGELOOP_ERR_HTTP_BAD_REQUEST',
      /forbidden character/,
    );
    assertError(await get(a, '/api/v1/devices/dev-zz/windows'), 404, 'EDGELOOP_ERR_HTTP_NOT_FOUND');
    assertError(
      await get(a, '/api/v1/devices/dev-a/windows?form=1'),
      400,
      'EDGELOOP_ERR_HTTP_BAD_REQUEST',
      /unknown query parameter form \(this route takes from, to, limit, features\)/,
    );
  });
});

describe('windows', () => {
  test('a range, a limit and selected features; null features as null', async () => {
    const a = await app();
    const r = await get(
      a,
      `/api/v1/devices/dev-a/windows?from=${T0 + 10_000}&to=${T0 + 20_000}&features=accel_x_mean,temp_mean`,
    );
    assert.equal(r.status, 200);
    const ws = r.body.windows as { msgSeq: number; tsMs: number; features: Record<string, number | null> }[];
    assert.equal(ws.length, 10);
    assert.equal(r.body.truncated, false);
    assert.deepEqual(ws[0], { ...ws[0], msgSeq: 11, tsMs: T0 + 10_000 });
    assert.deepEqual(ws[0].features, { accel_x_mean: 5.5, temp_mean: null });
    const limited = await get(a, `/api/v1/devices/dev-a/windows?from=${T0}&limit=5`);
    const lw = limited.body.windows as { features: Record<string, unknown>; values?: unknown }[];
    assert.equal(lw.length, 5);
    assert.equal(limited.body.truncated, true);
    assert.deepEqual(Object.keys(lw[0]?.features ?? {}).sort(), ['accel_x_mean', 'accel_x_std', 'temp_mean']);
    assert.equal(lw[0]?.values, undefined, 'packed values are not sent');
  });

  test('the default range is the hour before now', async () => {
    const r = await get(await app(), '/api/v1/devices/dev-a/windows');
    assert.equal(r.body.fromMs, now - 3_600_000);
    assert.equal((r.body.windows as unknown[]).length, 100);
  });

  test('bad ranges, limits and unknown features are 400 with a reason', async () => {
    const a = await app();
    const base = '/api/v1/devices/dev-a/windows';
    assertError(
      await get(a, `${base}?from=${T0 + 5}&to=${T0 + 5}`),
      400,
      'EDGELOOP_ERR_HTTP_BAD_REQUEST',
      /must be before to/,
    );
    assertError(await get(a, `${base}?from=abc`), 400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST', /from/);
    assertError(await get(a, `${base}?from=-5`), 400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST');
    assertError(await get(a, `${base}?limit=0`), 400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST');
    assertError(await get(a, `${base}?limit=1001`), 400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST');
    assertError(
      await get(a, `${base}?from=${T0}&features=accel_x_mean,nope`),
      400,
      'EDGELOOP_ERR_HTTP_BAD_REQUEST',
      /unknown feature nope/,
    );
    assertError(
      await get(a, `${base}?features=,`),
      400,
      'EDGELOOP_ERR_HTTP_BAD_REQUEST',
      /features is empty/,
    );
  });
});

describe('rollups, integrity events, monitor results', () => {
  test('minute rollups with selected features; hour rollups; resolution checked', async () => {
    const a = await app();
    const r = await get(
      a,
      `/api/v1/devices/dev-a/rollups?resolution=minute&from=${T0}&to=${T0 + 3 * MIN}&features=accel_x_std,temp_mean`,
    );
    assert.equal(r.status, 200);
    const rs = r.body.rollups as {
      bucketStartMs: number;
      windows: number;
      features: Record<string, { count: number; sum: number; min: number | null }>;
    }[];
    assert.deepEqual(
      rs.map((b) => [b.bucketStartMs - T0, b.windows]),
      [
        [0, 60],
        [MIN, 60],
        [2 * MIN, 60],
      ],
    );
    assert.deepEqual(Object.keys(rs[0]?.features ?? {}), ['accel_x_std', 'temp_mean']);
    assert.equal(rs[0]?.features.accel_x_std?.sum, 15);
    // A feature that was always null: count 0, and min (Infinity in the store) as JSON null.
    assert.equal(rs[0].features.temp_mean?.count, 0);
    assert.equal(rs[0].features.temp_mean.min, null);
    const hour = await get(a, `/api/v1/devices/dev-a/rollups?resolution=hour&from=${T0}`);
    assert.deepEqual(
      (hour.body.rollups as { windows: number }[]).map((b) => b.windows),
      [180],
    );
    assertError(
      await get(a, '/api/v1/devices/dev-a/rollups?resolution=day'),
      400,
      'EDGELOOP_ERR_HTTP_BAD_REQUEST',
      /resolution/,
    );
    assertError(
      await get(a, `/api/v1/devices/dev-a/rollups?from=${T0}&features=bogus`),
      400,
      'EDGELOOP_ERR_HTTP_BAD_REQUEST',
      /unknown feature bogus/,
    );
  });

  test('integrity events of a device in a range', async () => {
    const a = await app();
    const r = await get(a, `/api/v1/devices/dev-a/integrity-events?from=${T0}&to=${T0 + MIN}`);
    assert.equal(r.status, 200);
    assert.deepEqual(
      (r.body.events as { check: string; status: string }[]).map((e) => [e.check, e.status]),
      [['flatline', 'fail']],
    );
    const none = await get(a, `/api/v1/devices/dev-a/integrity-events?from=${T0 + 6000}&to=${T0 + MIN}`);
    assert.deepEqual(none.body.events, []);
  });

  test('monitor results by device and monitor; deviceId required and known', async () => {
    const a = await app();
    const all = await get(a, `/api/v1/monitor-results?deviceId=dev-a&from=${T0}&to=${T0 + MIN}`);
    assert.equal(all.status, 200);
    assert.deepEqual(
      (all.body.results as { monitor: string }[]).map((x) => x.monitor),
      ['drift.psi', 'integrity.staleness'],
    );
    const psi = await get(
      a,
      `/api/v1/monitor-results?deviceId=dev-a&monitor=drift.psi&from=${T0}&to=${T0 + MIN}&limit=1`,
    );
    assert.deepEqual(
      (psi.body.results as { statistic: number }[]).map((x) => x.statistic),
      [0.01],
    );
    assertError(
      await get(a, '/api/v1/monitor-results'),
      400,
      'EDGELOOP_ERR_HTTP_BAD_REQUEST',
      /deviceId is required/,
    );
    assertError(await get(a, '/api/v1/monitor-results?deviceId=dev-q'), 404, 'EDGELOOP_ERR_HTTP_NOT_FOUND');
  });

  test('fleet drift: the snapshot with monitors on, enabled false with them off', async () => {
    const on = await get(await app({ fleetDrift: () => ({ devices: 2, drifting: [] }) }), '/api/v1/drift');
    assert.deepEqual(on, { status: 200, body: { enabled: true, drift: { devices: 2, drifting: [] } } });
    const off = await get(await app(), '/api/v1/drift');
    assert.deepEqual(off, { status: 200, body: { enabled: false, drift: null } });
  });
});

describe('captures', () => {
  test('request, list, read in pages, delete', async () => {
    const a = await app({ maxCaptureMs: 10 * MIN });
    const post = await a.inject({
      method: 'POST',
      url: '/api/v1/devices/dev-a/captures',
      payload: { fromMs: now, toMs: now + MIN, note: 'bearing check' },
    });
    assert.equal(post.statusCode, 201, post.body);
    const capture = post.json<{ capture: { id: number; note: string; createdMs: number } }>().capture;
    assert.equal(post.headers.location, `/api/v1/captures/${capture.id}`);
    assert.equal(capture.createdMs, now);
    // Raw blocks the device sends within the range are kept; one outside is not.
    const written = store.writeBatch(
      [1, 2, 3]
        .map((s) => ({ message: raw('dev-a', s), receivedMs: now + s * 1000 }))
        .concat([{ message: raw('dev-a', 9), receivedMs: now + 2 * MIN }]),
    );
    assert.equal(written.written, 3);

    const list = await get(a, '/api/v1/captures?deviceId=dev-a');
    assert.deepEqual(
      (list.body.captures as { id: number }[]).map((c) => c.id),
      [capture.id],
    );
    assert.deepEqual((await get(a, '/api/v1/captures')).body.captures, list.body.captures);

    const page1 = await get(a, `/api/v1/captures/${capture.id}?limit=2`);
    assert.equal(page1.status, 200);
    assert.equal(page1.body.totalBlocks, 3);
    assert.equal(page1.body.nextOffset, 2);
    const blocks = page1.body.blocks as { msgSeq: number; values: number[] }[];
    assert.deepEqual(
      blocks.map((b) => b.msgSeq),
      [1, 2],
    );
    assert.deepEqual(blocks[0]?.values, [1.5, -2, 3, 4, 5, 6.25]);
    const page2 = await get(a, `/api/v1/captures/${capture.id}?offset=2&limit=2`);
    assert.deepEqual(
      (page2.body.blocks as { msgSeq: number }[]).map((b) => b.msgSeq),
      [3],
    );
    assert.equal(page2.body.nextOffset, null);

    const del = await a.inject({ method: 'DELETE', url: `/api/v1/captures/${capture.id}` });
    assert.equal(del.statusCode, 204);
    assertError(
      await get(a, `/api/v1/captures/${capture.id}`),
      404,
      'EDGELOOP_ERR_HTTP_NOT_FOUND',
      /no capture/,
    );
    const again = await a.inject({ method: 'DELETE', url: `/api/v1/captures/${capture.id}` });
    assert.equal(again.statusCode, 404);
  });

  test('bad capture requests: inverted or too long ranges, unknown devices, bad bodies and ids', async () => {
    const a = await app({ maxCaptureMs: 10 * MIN });
    const post = async (url: string, payload: unknown) => {
      const r = await a.inject({ method: 'POST', url, payload: payload as Record<string, unknown> });
      return { status: r.statusCode, body: r.json<Record<string, unknown>>() };
    };
    const url = '/api/v1/devices/dev-a/captures';
    assertError(
      await post(url, { fromMs: now, toMs: now }),
      400,
      'EDGELOOP_ERR_HTTP_BAD_REQUEST',
      /must be before/,
    );
    assertError(
      await post(url, { fromMs: now, toMs: now + 11 * MIN }),
      400,
      'EDGELOOP_ERR_HTTP_BAD_REQUEST',
      /at most 600000 ms/,
    );
    assertError(await post(url, { fromMs: now }), 400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST', /toMs/);
    assertError(await post(url, { fromMs: 'soon', toMs: now }), 400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST');
    assertError(
      await post('/api/v1/devices/dev-nope/captures', { fromMs: now, toMs: now + 1 }),
      404,
      'EDGELOOP_ERR_HTTP_NOT_FOUND',
    );
    assert.equal(store.device('dev-nope'), undefined, 'a refused capture creates no device');
    assertError(await get(a, '/api/v1/captures/abc'), 400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST');
    assertError(await get(a, '/api/v1/captures/0'), 400, 'EDGELOOP_ERR_HTTP_BAD_REQUEST');
    assertError(await get(a, '/api/v1/captures/999'), 404, 'EDGELOOP_ERR_HTTP_NOT_FOUND');
    assertError(await get(a, '/api/v1/captures?deviceId=dev-nope'), 404, 'EDGELOOP_ERR_HTTP_NOT_FOUND');
    const put = await a.inject({ method: 'PUT', url: '/api/v1/captures/1' });
    assert.equal(put.statusCode, 405);
  });
});
