// Issue #8 §3 "Prometheus correctness": Debian's real `promtool check metrics` (package `prometheus`, which
// .ci/run installs) must accept the agent's /metrics as a running agent serves it, with every metric family
// populated: a real IngestPipeline fed real wire frames (good ones, samples before HELLO, an unknown sensor,
// a short payload, a bad CRC, a runt frame), a real MemoryOutbox overflowed, inference, publishes and a
// model. The histograms and any summaries are also checked for their shape, which promtool does not do.

import { strict as assert } from 'node:assert';
import { test, type TestContext } from 'node:test';
import { startAgentHttpServer } from '../../agent/adapters/http.ts';
import type { InferenceEngine } from '../../agent/inference/engine.ts';
import { InferenceRunner } from '../../agent/inference/runner.ts';
import { IngestPipeline } from '../../agent/ingest/pipeline.ts';
import type { ReaderStats } from '../../agent/ingest/serial-reader.ts';
import { AgentMetrics } from '../../agent/metrics.ts';
import { MemoryOutbox } from '../../agent/outbox/memory-outbox.ts';
import { fail } from '../../shared/errors.ts';
import type { Window } from '../../shared/samples.ts';
import { referenceSensors } from '../../shared/sensors.ts';
import { encodeWireFrame } from '../../shared/serial/decoder.ts';
import { encodeSampleValues, type Frame, type SamplesFrame } from '../../shared/serial/frames.ts';
import { fakeWindow } from './agent-mqtt-fixture.ts';
import { parseExposition, type Family, type Sample } from '../helpers/prom-text.ts';
import { promtoolCheck, requireTool } from '../helpers/tools.ts';

const accel = referenceSensors[0];
if (accel === undefined) throw new Error('no reference accelerometer');

/** Skips locally without promtool; under CI (which installs it) its absence fails the test. */
function requirePromtool(t: TestContext): boolean {
  return requireTool(t, promtoolCheck('') !== undefined, 'promtool', 'apt-get install prometheus');
}

function samplesFrame(seq: number, firstIndex: number, count: number, sensorId = 0): SamplesFrame {
  // A constant signal: the windows it makes carry a flatline integrity flag.
  const values = Array.from({ length: count * 3 }, (_, i) => (i % 3 === 2 ? 1 : 0));
  return {
    type: 'samples',
    seq,
    sensorId,
    timestampUs: firstIndex * 1000,
    firstIndex,
    count,
    data: encodeSampleValues(values, accel ?? referenceSensors[0]!),
  };
}

/** A wire stream with good data and one of each kind of drop the agent counts. */
function wireStream(): Uint8Array {
  const frames: Frame[] = [samplesFrame(0, 0, 50)]; // before HELLO
  frames.push({
    type: 'hello',
    seq: 1,
    device: {
      deviceId: 'prom-1',
      firmwareVersion: '1.0.0',
      protocolVersion: 1,
      bootId: 9,
      sensors: [accel!],
    },
  });
  let seq = 2;
  for (let i = 0; i < 3500; i += 50) frames.push(samplesFrame(seq++, i, 50));
  frames.push({ ...samplesFrame(seq++, 3500, 50), sensorId: 77 }); // unknown sensor
  frames.push({ ...samplesFrame(seq++, 3500, 50), data: new Uint8Array(6) }); // payload shorter than count
  const parts = frames.map(encodeWireFrame);
  const bad = encodeWireFrame(samplesFrame(seq++, 3550, 50)).slice();
  bad[10] = (bad[10] ?? 0) ^ 0x55; // CRC mismatch
  parts.push(bad, Uint8Array.of(1, 2, 3, 0)); // and a runt frame (TRUNCATED)
  return Buffer.concat(parts);
}

async function populatedMetrics(t: TestContext): Promise<{ metrics: AgentMetrics; windows: Window[] }> {
  const metrics = new AgentMetrics({ deviceId: 'prom-1', agentVersion: '0.1.0', runId: 7 });
  t.after(() => {
    metrics.close();
  });
  const windows: Window[] = [];
  const pipeline = new IngestPipeline({ mode: 'binary' }, (w) => windows.push(w));
  pipeline.push(wireStream());
  const outbox = new MemoryOutbox({ clock: { nowMs: () => Date.now() }, maxOutboxBytes: 200 });
  for (let i = 0; i < 10; i++)
    outbox.enqueue({
      topic: 't',
      payload: new Uint8Array(50),
      qos: 1,
      class: 'raw',
      createdAtMs: Date.now(),
    });
  // A real runner behind an engine that stalls: with a queue of 1, the third window drops the second.
  let release: () => void = () => undefined;
  const stalled = new Promise<void>((r) => (release = r));
  const engine: InferenceEngine = {
    model: { name: 'stalled', version: '1.0.0' },
    manifestDigest: '0'.repeat(64),
    labels: ['a'],
    featurePipelineId: 'edgeloop-features/v1',
    featureNames: () => [],
    infer: async () => {
      await stalled;
      return fail('EDGELOOP_ERR_ONNX_RUN', 'stalled');
    },
    close: () => Promise.resolve(),
  };
  const runner = new InferenceRunner({ maxQueue: 1 });
  runner.swap(engine);
  t.after(() => {
    release();
    return runner.close();
  });
  for (const w of windows.slice(0, 3)) runner.submit(w, [accel!]);
  const reader: ReaderStats = {
    connected: true,
    connects: 2,
    disconnects: 1,
    openFailures: 1,
    helloRequests: 1,
  };
  metrics.bind({
    ingest: () => pipeline.stats(),
    gaps: () => 1,
    reader: () => reader,
    outbox: () => outbox.stats(),
    publisher: () => ({
      connected: true,
      inFlight: 1,
      publishedTotal: 3,
      ackedTotal: 2,
      failedTotal: 1,
      connections: 1,
    }),
    runner: () => runner.stats(),
    sink: () => ({
      windows: 3,
      telemetryEnqueued: 3,
      rawEnqueued: 1,
      invalidPayloads: 1,
      enqueueFailures: 0,
    }),
  });
  for (const w of windows) metrics.recordWindow(w);
  metrics.recordWindow(fakeWindow(3));
  metrics.observeInference(0.4, true);
  metrics.observeInference(Number.NaN, false);
  metrics.setActiveModel({ name: 'pump', version: '1.0.0' });
  metrics.connection(true);
  metrics.published('telemetry', 'acked');
  metrics.published('telemetry', 'failed');
  metrics.deliveredAfter('telemetry', 12);
  // Let the event-loop monitor take a few samples so its gauges carry a measurement.
  await new Promise((r) => setTimeout(r, 100));
  return { metrics, windows };
}

const withoutLe = (s: Sample): string =>
  JSON.stringify(
    Object.entries(s.labels)
      .filter(([k]) => k !== 'le' && k !== 'quantile')
      .sort(),
  );

/** Histogram series: sorted `le`, cumulative counts, a +Inf bucket equal to _count, and a _sum. */
function checkHistogram(name: string, f: Family): void {
  const series = new Map<string, Sample[]>();
  for (const s of f.samples.filter((x) => x.name === `${name}_bucket`)) {
    const k = withoutLe(s);
    series.set(k, [...(series.get(k) ?? []), s]);
  }
  assert.ok(series.size > 0, `${name} has buckets`);
  for (const [k, buckets] of series) {
    const les = buckets.map((b) => Number(b.labels.le === '+Inf' ? Infinity : b.labels.le));
    assert.deepEqual(
      les,
      [...les].sort((a, b) => a - b),
      `${name}${k} buckets in le order`,
    );
    assert.equal(les.at(-1), Infinity, `${name}${k} ends with le="+Inf"`);
    for (let i = 1; i < buckets.length; i++)
      assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, `${name}${k} buckets are cumulative`);
    const count = f.samples.find((s) => s.name === `${name}_count` && withoutLe(s) === k);
    const sum = f.samples.find((s) => s.name === `${name}_sum` && withoutLe(s) === k);
    assert.equal(count?.value, buckets.at(-1)?.value, `${name}${k} +Inf bucket equals _count`);
    assert.ok(sum !== undefined && Number.isFinite(sum.value), `${name}${k} has a _sum`);
  }
}

/** Summary series: quantile labels in [0, 1], plus _sum and _count per label set. */
function checkSummary(name: string, f: Family): void {
  for (const s of f.samples.filter((x) => x.name === name)) {
    const q = Number(s.labels.quantile);
    assert.ok(q >= 0 && q <= 1, `${name} quantile ${String(s.labels.quantile)} in [0, 1]`);
    const k = withoutLe(s);
    assert.ok(
      f.samples.some((x) => x.name === `${name}_sum` && withoutLe(x) === k),
      `${name}${k} _sum`,
    );
    assert.ok(
      f.samples.some((x) => x.name === `${name}_count` && withoutLe(x) === k),
      `${name}${k} _count`,
    );
  }
}

test('promtool check metrics accepts the agent /metrics with every family populated', async (t) => {
  if (!requirePromtool(t)) return;
  const { metrics, windows } = await populatedMetrics(t);
  assert.ok(windows.length >= 3, `the wire stream closed ${String(windows.length)} windows`);
  const server = await startAgentHttpServer({
    port: 0,
    metrics: () => metrics.text(),
    health: () => ({ healthy: true }),
  });
  assert.ok(server.ok, server.ok ? '' : server.message);
  t.after(() => server.value.close());
  const res = await fetch(`${server.value.url}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();

  const fams = parseExposition(text);
  const registered = metrics.registry.getMetricsAsArray().map((m) => m.name);
  assert.ok(registered.length > 30, 'the registry holds the agent metrics');
  for (const name of registered) {
    const f = fams.get(name);
    assert.ok(f !== undefined, `${name} is exposed`);
    assert.ok(f.samples.length > 0, `${name} has at least one series (populate it in this test)`);
    if (f.type === 'histogram') checkHistogram(name, f);
    if (f.type === 'summary') checkSummary(name, f);
    assert.ok(!(f.type !== 'summary' && f.samples.some((s) => 'quantile' in s.labels)), `${name}: quantile`);
  }

  // The drops of the wire stream and of the runner, each under its reason.
  const dropped = (kind: string, reason: string): number | undefined =>
    fams.get(`edgeloop_agent_${kind}_dropped_total`)?.samples.find((s) => s.labels.reason === reason)?.value;
  assert.equal(dropped('frames', 'no_hello'), 1);
  assert.equal(dropped('samples', 'no_hello'), 50);
  assert.equal(dropped('frames', 'unknown_sensor'), 1);
  assert.equal(dropped('samples', 'unknown_sensor'), 50);
  assert.equal(dropped('frames', 'truncated'), 1);
  assert.equal(dropped('samples', 'truncated'), 50);
  assert.equal(dropped('windows', 'inference_behind'), 1);

  const r = promtoolCheck(text);
  assert.ok(r !== undefined);
  assert.equal(r.status, 0, `promtool check metrics:\n${r.output}`);
  assert.equal(r.output, '', 'promtool reports no lint problems');
});

test('promtool (as this test runs it) rejects a gauge with a quantile label', (t) => {
  if (!requirePromtool(t)) return;
  const r = promtoolCheck('# HELP x_seconds Lag.\n# TYPE x_seconds gauge\nx_seconds{quantile="0.5"} 0.02\n');
  assert.ok(r !== undefined);
  assert.notEqual(r.status, 0);
  assert.match(r.output, /quantile/);
});
