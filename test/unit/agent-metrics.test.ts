// Agent metrics (issue #4 §5, §6 "Metrics format"): served over a real HTTP socket on port 0, /metrics must
// parse under a strict parser of the Prometheus text exposition format 0.0.4 written here (HELP/TYPE
// lines, metric and label name syntax, escaped label values, float values, histogram series), and carry
// the values of the components it pulls from; /healthz answers JSON.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { startAgentHttpServer } from '../../agent/adapters/http.ts';
import { AgentMetrics } from '../../agent/metrics.ts';
import { MemoryOutbox } from '../../agent/outbox/memory-outbox.ts';
import type { IngestStats } from '../../agent/ingest/pipeline.ts';
import { fakeWindow } from '../integration/agent-mqtt-fixture.ts';

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}
interface Family {
  help?: string;
  type?: string;
  readonly samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`bad value ${JSON.stringify(s)}`);
  return Number(s);
}

/** Parses label pairs `{a="x",b="y\"z"}` starting at s[i] === '{'; returns labels and the index after '}'. */
function parseLabels(s: string, start: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  let i = start + 1;
  while (s[i] !== '}') {
    const eq = s.indexOf('=', i);
    if (eq < 0) throw new Error(`label without = in ${s}`);
    const name = s.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`bad label name ${JSON.stringify(name)}`);
    if (name in labels) throw new Error(`duplicate label ${name}`);
    if (s[eq + 1] !== '"') throw new Error(`unquoted label value in ${s}`);
    let j = eq + 2;
    let v = '';
    for (;;) {
      const c = s[j];
      if (c === undefined) throw new Error(`unterminated label value in ${s}`);
      if (c === '"') break;
      if (c === '\\') {
        const n = s[j + 1];
        if (n === 'n') v += '\n';
        else if (n === '\\' || n === '"') v += n;
        else throw new Error(`bad escape \\${String(n)} in ${s}`);
        j += 2;
      } else {
        if (c === '\n') throw new Error('raw newline in label value');
        v += c;
        j++;
      }
    }
    labels[name] = v;
    i = j + 1;
    if (s[i] === ',') i++;
    else if (s[i] !== '}') throw new Error(`expected , or } at ${i} in ${s}`);
  }
  return [labels, i + 1];
}

/** A strict parser of the text format: throws on anything a Prometheus server would reject. */
function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (f === undefined) {
      f = { samples: [] };
      families.set(name, f);
    }
    return f;
  };
  const seen = new Set<string>();
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (m === null) continue; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name ${name}`);
      const f = family(name);
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new Error(`second HELP for ${name}`);
        f.help = rest;
      } else {
        if (f.type !== undefined) throw new Error(`second TYPE for ${name}`);
        if (f.samples.length > 0) throw new Error(`TYPE after samples for ${name}`);
        if (!TYPES.has(rest)) throw new Error(`bad type ${rest} for ${name}`);
        f.type = rest;
      }
      continue;
    }
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`bad sample line ${JSON.stringify(line)}`);
    const name = line.slice(0, nameEnd);
    if (!METRIC_NAME.test(name)) throw new Error(`bad metric name ${name}`);
    let labels: Record<string, string> = {};
    let i = nameEnd;
    if (line[i] === '{') [labels, i] = parseLabels(line, i);
    if (line[i] !== ' ') throw new Error(`expected space before value in ${line}`);
    const parts = line.slice(i + 1).split(' ');
    if (parts.length > 2) throw new Error(`trailing fields in ${line}`);
    const value = parseValue(parts[0] ?? '');
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`bad timestamp in ${line}`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`duplicate series ${key}`);
    seen.add(key);
    const base = name.replace(/_(bucket|sum|count)$/, '');
    const f = families.has(name) ? family(name) : families.has(base) ? family(base) : family(name);
    if (f.type === undefined) throw new Error(`sample ${name} before its TYPE`);
    if (f.type === 'histogram' && name.endsWith('_bucket') && !('le' in labels))
      throw new Error(`${name} without le`);
    f.samples.push({ name, labels, value });
  }
  return families;
}

function value(
  fams: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const base = name.replace(/_(bucket|sum|count)$/, '');
  const f = fams.get(name) ?? fams.get(base);
  return f?.samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;
}

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
  metrics.bind({ ingest: () => ingestStats(frames), gaps: () => 1, outbox: () => outbox.stats() });
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
  assert.ok(fams.has('edgeloop_agent_event_loop_lag_seconds'));
  assert.equal(value(fams, 'edgeloop_agent_info', { device_id: 'pump-07', run_id: '42' }), 1);
  for (const [name, f] of fams) {
    assert.ok(f.help !== undefined && f.type !== undefined, `${name} has HELP and TYPE`);
    if (f.type === 'counter') assert.ok(name.endsWith('_total'), `counter ${name} ends in _total`);
  }

  // Totals become counter increments: a second scrape adds only the increase.
  frames = 150;
  const fams2 = parseExposition(await (await fetch(`${base}/metrics`)).text());
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
