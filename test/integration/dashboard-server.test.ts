// Issue 11 §2, the server half of the dashboard (collector/dashboard/, docs/dashboard.md), on a real
// collector over real HTTP: the page and every module it imports are served from the package (no CDN), the
// fleet rows, a feature's distribution, the live feed (SSE) sending a new device and a new alert, and a
// collector that still shuts down promptly with a page connected.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import {
  deviceClient,
  encodeTelemetry,
  startTestCollector,
  telemetry,
  telemetryTopic,
  type CollectorFixture,
} from './collector-fixture.ts';
import { waitFor } from '../helpers/wait.ts';

let fx: CollectorFixture;
let devA: MqttClient;

before(async () => {
  fx = await startTestCollector({ evaluateIntervalMs: 200 });
  devA = await deviceClient(fx.collector.brokerUrl, 'dev-a');
});

after(async () => {
  devA.end(true);
  await fx.close();
});

const url = (p: string): string => `${fx.collector.httpUrl}${p}`;

async function publish(client: MqttClient, deviceId: string, seq: number): Promise<void> {
  await client.publishAsync(telemetryTopic(deviceId), encodeTelemetry(telemetry(deviceId, 1, seq)), {
    qos: 1,
  });
}

test('the page and every module it imports are served by the collector, none from elsewhere', async () => {
  const page = await fetch(url('/'));
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  const htmlText = await page.text();
  assert.doesNotMatch(htmlText, /https?:\/\//, 'no absolute URL (CDN) in the page');
  // Everything the page names: stylesheet, module entry and the import map's targets.
  const refs = [...htmlText.matchAll(/(?:href|src)="(\/[^"]+)"|"(\/vendor\/[^"]+)"/g)].map(
    (m) => m[1] ?? m[2],
  );
  assert.ok(refs.includes('/ui/app.js') && refs.includes('/vendor/uPlot.esm.js'), refs.join(' '));
  // Walk the module graph from app.js: each relative import must be served as JavaScript.
  const seen = new Set<string>();
  const queue = refs.filter((r): r is string => r !== undefined);
  while (queue.length > 0) {
    const path = queue.shift() as string;
    if (seen.has(path)) continue;
    seen.add(path);
    const r = await fetch(url(path));
    assert.equal(r.status, 200, `${path} is served`);
    const type = r.headers.get('content-type') ?? '';
    if (path.endsWith('.js') || path.endsWith('.mjs')) {
      assert.match(type, /javascript/, `${path} as JavaScript`);
      const body = await r.text();
      assert.doesNotMatch(body, /from\s*["']https?:/, `${path} imports nothing remote`);
      for (const m of body.matchAll(/(?:from|import)\s*["'](\.{1,2}\/[^"']+)["']/g)) {
        const next = new URL(m[1] as string, `http://x${path}`).pathname;
        queue.push(next);
      }
    } else if (path.endsWith('.css')) assert.match(type, /text\/css/);
  }
  assert.ok(seen.size >= 12, `modules walked: ${[...seen].join(' ')}`);
});

test('unknown assets are 404 with a stable code; nothing outside the asset folder is served', async () => {
  for (const p of ['/vendor/react.js', '/ui/nope.js', '/ui/../package.json', '/ui/%2e%2e/package.json']) {
    const r = await fetch(url(p));
    assert.equal(r.status, 404, p);
    const body = (await r.json()) as { error: { code: string } };
    assert.equal(body.error.code, 'EDGELOOP_ERR_HTTP_NOT_FOUND', p);
  }
});

test('fleet rows, and a feature distribution of the device against its model reference', async () => {
  for (let seq = 1; seq <= 5; seq++) await publish(devA, 'dev-a', seq);
  await waitFor('dev-a in the fleet', async () => {
    const r = (await (await fetch(url('/api/v1/fleet'))).json()) as { devices: { deviceId: string }[] };
    return r.devices.some((d) => d.deviceId === 'dev-a');
  });
  const fleet = (await (await fetch(url('/api/v1/fleet'))).json()) as {
    mounted: Record<string, boolean>;
    devices: Record<string, unknown>[];
  };
  // No --trusted-key: no registry, so no loop; the page asks for neither.
  assert.deepEqual(fleet.mounted, { registry: false, loop: false, retraining: false });
  const row = fleet.devices.find((d) => d.deviceId === 'dev-a') as Record<string, unknown>;
  assert.deepEqual(row.model, { name: 'fan', version: '1.0.0' });
  for (const k of ['state', 'lastSeenMs', 'integrity', 'integrityIssues', 'drift', 'driftGroups', 'alerts'])
    assert.ok(k in row, `fleet row has ${k}`);

  type Dist = { x: number[]; current: number[]; reference: null; currentStats: { n: number } };
  let dist: Dist | undefined;
  await waitFor('the 5 windows stored', async () => {
    const d = await fetch(url('/api/v1/devices/dev-a/distribution?feature=accel_x_mean'));
    assert.equal(d.status, 200);
    dist = (await d.json()) as Dist;
    return dist.currentStats.n === 5;
  });
  if (dist === undefined) throw new Error('no distribution');
  assert.equal(dist.x.length, dist.current.length);
  assert.equal(dist.currentStats.n, 5);
  assert.ok(Math.abs(dist.current.reduce((a, b) => a + b, 0) - 1) < 1e-9, 'shares sum to 1');
  assert.equal(dist.reference, null, 'the model is not in this registry: no reference side');

  const unknown = await fetch(url('/api/v1/devices/nobody/distribution?feature=accel_x_mean'));
  assert.equal(unknown.status, 404);
  const badFeature = await fetch(url('/api/v1/devices/dev-a/distribution?feature=nope'));
  assert.equal(badFeature.status, 400);
  assert.equal(
    ((await badFeature.json()) as { error: { code: string } }).error.code,
    'EDGELOOP_ERR_HTTP_BAD_REQUEST',
  );
  const missing = await fetch(url('/api/v1/devices/dev-a/distribution'));
  assert.equal(missing.status, 400);
});

/** Reads SSE events from a fetch body until `until` returns true. */
async function readEvents(
  body: ReadableStream<Uint8Array>,
  until: (events: { event: string; data: unknown }[]) => boolean,
  timeoutMs: number,
): Promise<{ event: string; data: unknown }[]> {
  const reader = body.getReader();
  const events: { event: string; data: unknown }[] = [];
  let text = '';
  const deadline = Date.now() + timeoutMs;
  try {
    while (!until(events)) {
      if (Date.now() > deadline)
        throw new Error(`no such event in ${timeoutMs} ms: ${JSON.stringify(events)}`);
      const { value, done } = await reader.read();
      if (done) throw new Error('the event stream ended');
      text += Buffer.from(value).toString();
      let cut: number;
      while ((cut = text.indexOf('\n\n')) >= 0) {
        const block = text.slice(0, cut);
        text = text.slice(cut + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) });
      }
    }
    return events;
  } finally {
    reader.releaseLock();
  }
}

test('the live feed says hello, then sends a device that appears and an alert that opens', async () => {
  const controller = new AbortController();
  const res = await fetch(url('/api/v1/events'), { signal: controller.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const body = res.body as ReadableStream<Uint8Array>;
  await readEvents(body, (es) => es.some((e) => e.event === 'hello'), 5000);

  const devB = await deviceClient(fx.collector.brokerUrl, 'dev-b');
  try {
    await publish(devB, 'dev-b', 1);
    const events = await readEvents(
      body,
      (es) =>
        es.some(
          (e) =>
            e.event === 'devices' && (e.data as { deviceId: string }[]).some((d) => d.deviceId === 'dev-b'),
        ),
      15_000,
    );
    assert.ok(events.length > 0);
    // A gap in dev-b's message sequence (1, then 50) is lost data: the integrity monitor opens an alert.
    await publish(devB, 'dev-b', 50);
    const alerts = await readEvents(
      body,
      (es) => es.some((e) => e.event === 'alert' && (e.data as { deviceId: string }).deviceId === 'dev-b'),
      60_000,
    );
    const alert = alerts.find((e) => e.event === 'alert')?.data as { id: number; state: string };
    assert.equal(alert.state, 'open');
  } finally {
    devB.end(true);
  }
  // The page stays connected while the collector shuts down: close() must not wait for it.
  const started = Date.now();
  await fx.collector.close();
  assert.ok(Date.now() - started < 10_000, 'close() with an open event stream');
  controller.abort();
});
