// Agent metrics (issue #4 §5, §6 "Metrics format"): served over a real HTTP socket on port 0, /metrics must
// parse under a strict parser of the Prometheus text exposition format 0.0.4 (test/helpers/prom-text.ts:
// HELP/TYPE lines, metric and label name syntax, escaped label values, float values, histograms), and carry
// the values of the components it pulls from; /healthz answers JSON.

import { strict as assert } from 'node:assert';
import { createServer, type AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { test } from 'node:test';
import { startAgentHttpServer } from '../../agent/adapters/http.ts';
import { AgentMetrics } from '../../agent/metrics.ts';
import { MemoryOutbox } from '../../agent/outbox/memory-outbox.ts';
import type { IngestStats } from '../../agent/ingest/pipeline.ts';
import { fakeWindow } from '../integration/agent-mqtt-fixture.ts';
import { parseExposition, value } from '../helpers/prom-text.ts';
import { waitFor } from '../helpers/wait.ts';

const ingestStats = (frames: number): IngestStats => ({
  mode: 'binary',
  decoder: {
    bytes: 1,
    frames,
    invalid: { EDGELOOP_ERR_FRAME_CRC: 2 },
    invalidTotal: 2,
    resyncs: 0,
    bytesDiscarded: 0,
  },
  stream: {
    frames,
    framesMissing: 0,
    framesOutOfOrder: 0,
    samples: { accel: frames * 10 },
    samplesLost: {},
    samplesLostTotal: 5,
    hellos: 1,
    reboots: 0,
    statusFrames: 0,
    deviceDroppedSamples: 0,
    droppedNoHello: 0,
    droppedUnknownSensor: 0,
    droppedBadPayload: 0,
    framesDropped: {
      EDGELOOP_ERR_NO_HELLO: 4,
      EDGELOOP_ERR_UNKNOWN_SENSOR: 2,
      EDGELOOP_ERR_FRAME_TRUNCATED: 1,
      EDGELOOP_ERR_FRAME_TYPE: 3,
      // Codes without a reason of their own add up under `other`.
      EDGELOOP_ERR_FRAME_CRC: 1,
      EDGELOOP_ERR_FRAME_COBS: 1,
    },
    samplesDropped: {
      EDGELOOP_ERR_NO_HELLO: 40,
      EDGELOOP_ERR_UNKNOWN_SENSOR: 20,
      EDGELOOP_ERR_FRAME_TRUNCATED: 10,
    },
    framesUnknownType: { '0x7f': 3 },
  },
  csv: { lines: 0, badLines: 0, overlongLines: 0, rateHz: 0 },
  windows: 3,
});

test('/metrics is valid Prometheus text with the agent metrics; /healthz is JSON', async (t) => {
  const metrics = new AgentMetrics({ deviceId: 'pump-07', agentVersion: '0.1.0', runId: 42 });
  t.after(() => {
    metrics.close();
  });
  const outbox = new MemoryOutbox({ clock: { nowMs: () => Date.now() }, maxOutboxBytes: 200 });
  // Overflow the outbox so drops are counted by class.
  for (let i = 0; i < 10; i++) {
    outbox.enqueue({
      topic: 't',
      payload: new Uint8Array(50),
      qos: 1,
      class: 'raw',
      createdAtMs: Date.now(),
    });
  }
  let frames = 100;
  let runnerDropped = 5;
  metrics.bind({
    ingest: () => ingestStats(frames),
    gaps: () => 1,
    outbox: () => outbox.stats(),
    runner: () => ({
      submitted: 9,
      inferred: 4,
      failed: 0,
      unserved: 0,
      dropped: runnerDropped,
      queueDepth: 0,
      swaps: 1,
    }),
  });
  metrics.recordWindow(fakeWindow(3)); // one flatline flag on accel.y
  metrics.observeInference(0.4, true);
  metrics.observeInference(Number.NaN, false);
  metrics.setActiveModel({ name: 'pump "vibration"\\x', version: '3.0.0' });
  metrics.connection(true);
  metrics.published('telemetry', 'acked');
  metrics.deliveredAfter('telemetry', 12);

  let healthy = true;
  const server = await startAgentHttpServer({
    port: 0,
    metrics: () => metrics.text(),
    health: () => ({ healthy, mqttConnected: true, outboxDepth: outbox.stats().depth }),
  });
  assert.ok(server.ok, server.ok ? '' : server.message);
  t.after(() => server.value.close());
  const base = server.value.url;

  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const fams = parseExposition(await res.text());

  assert.equal(value(fams, 'edgeloop_agent_frames_decoded_total'), 100);
  assert.equal(value(fams, 'edgeloop_agent_frames_invalid_total', { code: 'EDGELOOP_ERR_FRAME_CRC' }), 2);
  assert.equal(value(fams, 'edgeloop_agent_samples_total', { sensor: 'accel' }), 1000);
  assert.equal(value(fams, 'edgeloop_agent_sample_gaps_total'), 1);
  assert.equal(value(fams, 'edgeloop_agent_samples_missing_total'), 5);
  assert.equal(value(fams, 'edgeloop_agent_windows_total'), 3);
  const dropped = (name: string, reason: string): number | undefined =>
    value(fams, `edgeloop_agent_${name}_dropped_total`, { reason });
  assert.equal(dropped('frames', 'no_hello'), 4);
  assert.equal(dropped('frames', 'unknown_sensor'), 2);
  assert.equal(dropped('frames', 'truncated'), 1);
  assert.equal(dropped('frames', 'unknown_type'), 3);
  assert.equal(dropped('frames', 'other'), 2);
  assert.equal(dropped('samples', 'no_hello'), 40);
  assert.equal(dropped('samples', 'unknown_sensor'), 20);
  assert.equal(dropped('samples', 'truncated'), 10);
  assert.equal(dropped('samples', 'unknown_type'), 0, 'every reason has a series from the start');
  assert.equal(dropped('windows', 'inference_behind'), 5);
  assert.equal(
    value(fams, 'edgeloop_agent_integrity_flags_total', {
      channel: 'accel.y',
      check: 'flatline',
      status: 'suspect',
    }),
    1,
  );
  assert.equal(value(fams, 'edgeloop_agent_channel_status', { channel: 'accel.y' }), 1);
  assert.equal(value(fams, 'edgeloop_agent_inference_latency_seconds_count'), 1);
  assert.equal(value(fams, 'edgeloop_agent_inference_errors_total'), 1);
  assert.equal(fams.get('edgeloop_agent_inference_latency_seconds')?.type, 'histogram');
  assert.ok((value(fams, 'edgeloop_agent_outbox_dropped_total', { class: 'raw', reason: 'full' }) ?? 0) > 0);
  assert.equal(value(fams, 'edgeloop_agent_outbox_dropped_total', { class: 'alert', reason: 'full' }), 0);
  assert.equal(value(fams, 'edgeloop_agent_outbox_depth'), outbox.stats().depth);
  assert.equal(value(fams, 'edgeloop_agent_outbox_bytes'), outbox.stats().bytes);
  assert.equal(value(fams, 'edgeloop_agent_mqtt_connected'), 1);
  assert.equal(value(fams, 'edgeloop_agent_mqtt_publish_total', { class: 'telemetry', result: 'acked' }), 1);
  assert.equal(
    value(fams, 'edgeloop_agent_model_info', { name: 'pump "vibration"\\x', version: '3.0.0' }),
    1,
  );
  assert.ok((value(fams, 'edgeloop_agent_resident_memory_bytes') ?? 0) > 1e6);
  for (const q of ['p50', 'p99', 'max'])
    assert.equal(fams.get(`edgeloop_agent_event_loop_lag_${q}_seconds`)?.type, 'gauge');
  assert.equal(value(fams, 'edgeloop_agent_info', { device_id: 'pump-07', run_id: '42' }), 1);
  for (const [name, f] of fams) {
    assert.ok(f.help !== undefined && f.type !== undefined, `${name} has HELP and TYPE`);
    if (f.type === 'counter') assert.ok(name.endsWith('_total'), `counter ${name} ends in _total`);
  }

  // Totals become counter increments: a second scrape adds only the increase.
  frames = 150;
  runnerDropped = 7;
  const fams2 = parseExposition(await (await fetch(`${base}/metrics`)).text());
  assert.equal(value(fams2, 'edgeloop_agent_windows_dropped_total', { reason: 'inference_behind' }), 7);
  assert.equal(value(fams2, 'edgeloop_agent_frames_dropped_total', { reason: 'other' }), 2);
  assert.equal(value(fams2, 'edgeloop_agent_frames_decoded_total'), 150);
  assert.equal(value(fams2, 'edgeloop_agent_frames_invalid_total', { code: 'EDGELOOP_ERR_FRAME_CRC' }), 2);
  metrics.setActiveModel(null);
  const fams3 = parseExposition(await (await fetch(`${base}/metrics`)).text());
  assert.equal(fams3.get('edgeloop_agent_model_info')?.samples.length, 0);

  const h = await fetch(`${base}/healthz`);
  assert.equal(h.status, 200);
  assert.match(h.headers.get('content-type') ?? '', /application\/json/);
  const body = (await h.json()) as { status: string; healthy: boolean; outboxDepth: number };
  assert.equal(body.status, 'ok');
  assert.equal(body.outboxDepth, outbox.stats().depth);
  healthy = false;
  assert.equal((await fetch(`${base}/healthz`)).status, 503);

  const nf = await fetch(`${base}/nope`);
  assert.equal(nf.status, 404);
  assert.equal(((await nf.json()) as { error: { code: string } }).error.code, 'EDGELOOP_ERR_HTTP_NOT_FOUND');
  const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
});

test('the strict parser rejects malformed exposition text (so the test above can fail)', () => {
  const bad = [
    'foo 1', // no newline at end
    'foo 1\n', // no TYPE
    '# TYPE foo counter\nfoo{a=1} 1\n', // unquoted label value
    '# TYPE foo counter\nfoo{1a="x"} 1\n', // bad label name
    '# TYPE foo counter\nfoo abc\n', // bad value
    '# TYPE foo counter\nfoo 1\nfoo 2\n', // duplicate series
    '# TYPE foo bogus\nfoo 1\n', // bad type
    '# TYPE 1foo counter\n', // bad metric name
    '# TYPE foo counter\nfoo{a="x\\q"} 1\n', // bad escape
  ];
  for (const text of bad) assert.throws(() => parseExposition(text), Error, JSON.stringify(text));
  assert.equal(
    parseExposition('# HELP foo x\n# TYPE foo gauge\nfoo{a="b\\"c"} -1.5e3\n').get('foo')?.samples[0]?.value,
    -1500,
  );
});

test('each AgentMetrics has its own registry: two agents in one process do not collide', async (t) => {
  const a = new AgentMetrics({ deviceId: 'a', agentVersion: '1', runId: 1 });
  const b = new AgentMetrics({ deviceId: 'b', agentVersion: '1', runId: 2 });
  t.after(() => {
    a.close();
    b.close();
  });
  a.connection(true);
  const ta = parseExposition((await a.text()).body);
  const tb = parseExposition((await b.text()).body);
  assert.equal(value(ta, 'edgeloop_agent_mqtt_connections_total'), 1);
  assert.equal(value(tb, 'edgeloop_agent_mqtt_connections_total'), 0);
});

test('event-loop lag reads near zero on an idle loop, not the sampler period', async (t) => {
  const metrics = new AgentMetrics({ deviceId: 'idle', agentVersion: '1', runId: 1 });
  // A second monitor with the same period tells the test when the agent's monitor has ticked enough
  // (a condition, not a sleep): the agent's histogram fills at the same rate.
  const ticks = monitorEventLoopDelay({ resolution: 20 });
  ticks.enable();
  t.after(() => {
    metrics.close();
    ticks.disable();
  });
  const p50s: number[] = [];
  for (let scrape = 0; scrape < 5; scrape++) {
    ticks.reset();
    await waitFor('10 event-loop monitor ticks', () => ticks.count >= 10, { intervalMs: 25 });
    const fams = parseExposition((await metrics.text()).body);
    const p50 = value(fams, 'edgeloop_agent_event_loop_lag_p50_seconds');
    const max = value(fams, 'edgeloop_agent_event_loop_lag_max_seconds');
    assert.ok(p50 !== undefined && max !== undefined && p50 >= 0 && max >= p50);
    p50s.push(p50);
  }
  p50s.sort((a, b) => a - b);
  // Idle lag is well under 1 ms; the loose bound keeps a loaded machine from failing the test, and is still
  // far below the 20 ms the sampler period alone used to read.
  assert.ok((p50s[2] ?? 1) < 0.005, `median idle lag ${String(p50s[2])} s`);
});

test('a busy port is an EDGELOOP_ERR_HTTP_LISTEN result, not a throw', async (t) => {
  const first = await startAgentHttpServer({
    port: 0,
    metrics: () => Promise.resolve({ contentType: 'text/plain', body: '' }),
    health: () => ({ healthy: true }),
  });
  assert.ok(first.ok);
  t.after(() => first.value.close());
  const second = await startAgentHttpServer({
    port: first.value.port,
    metrics: () => Promise.resolve({ contentType: 'text/plain', body: '' }),
    health: () => ({ healthy: true }),
  });
  assert.ok(!second.ok);
  assert.equal(second.code, 'EDGELOOP_ERR_HTTP_LISTEN');
  await first.value.close();
  await first.value.close(); // idempotent
});

test('with retryListen a busy port is logged with its codes and retried until the port is free', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as AddressInfo).port;
  t.after(() => {
    blocker.close();
  });
  const warns: Record<string, unknown>[] = [];
  const infos: string[] = [];
  const server = await startAgentHttpServer({
    port,
    metrics: () => Promise.resolve({ contentType: 'text/plain', body: '' }),
    health: () => ({ healthy: true }),
    retryListen: {
      log: {
        info: (m) => infos.push(m),
        warn: (m, f) => warns.push({ message: m, ...f }),
      },
      backoff: { baseMs: 20, capMs: 100, floorMs: 5 },
    },
  });
  assert.ok(server.ok, 'a busy port does not fail the start');
  t.after(() => server.value.close());
  assert.equal(server.value.listening, false);
  assert.equal(server.value.url, `http://127.0.0.1:${String(port)}`);
  assert.equal(warns.length, 1);
  const first = warns[0];
  assert.ok(first !== undefined);
  assert.equal(first.code, 'EDGELOOP_ERR_HTTP_LISTEN');
  assert.equal(first.errno, 'EADDRINUSE');
  assert.equal(first.address, `127.0.0.1:${String(port)}`);

  // Still retrying while the port stays taken, logging only on doublings of the attempt count.
  await waitFor('three busy-port warnings', () => warns.length >= 3, { timeoutMs: 30_000 });
  assert.deepEqual(
    warns.map((w) => w.attempt),
    [1, 2, 4],
  );
  await new Promise<void>((resolve) => {
    blocker.close(() => {
      resolve();
    });
  });
  await waitFor('the listener to bind', () => server.value.listening, { timeoutMs: 30_000 });
  assert.equal(server.value.port, port);
  assert.deepEqual(infos, ['metrics listener bound']);
  assert.equal((await fetch(`${server.value.url}/healthz`)).status, 200);
});

test('close() while a listen is being retried resolves and leaves nothing listening', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    blocker.close();
  });
  const server = await startAgentHttpServer({
    port: (blocker.address() as AddressInfo).port,
    metrics: () => Promise.resolve({ contentType: 'text/plain', body: '' }),
    health: () => ({ healthy: true }),
    retryListen: {
      log: { info: () => undefined, warn: () => undefined },
      backoff: { baseMs: 5, floorMs: 5 },
    },
  });
  assert.ok(server.ok);
  await server.value.close();
  await server.value.close();
  assert.equal(server.value.listening, false);
});
