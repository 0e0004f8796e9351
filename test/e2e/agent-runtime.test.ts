// Issue #4 end to end, with real components only: firmware-sim writes the serial protocol to a real
// pseudo-terminal, the whole agent (startAgent, the composition root) reads it through the real serialport
// binding, runs features and onnxruntime, stores in its SQLite outbox and publishes to an embedded aedes
// broker on port 0. A test subscriber checks that every window arrives exactly once by msgSeq, then a
// signed model is installed over the model command topic and later telemetry carries its predictions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { connect } from 'mqtt';
import { ptyOutput } from '../../firmware-sim/adapters/pty.ts';
import { loadScenario } from '../../firmware-sim/adapters/scenario-files.ts';
import { runSim } from '../../firmware-sim/run.ts';
import { agentCommand } from '../../agent/cli.ts';
import { loadAgentConfig, startAgent } from '../../agent/index.ts';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import { MemoryLogger } from '../../shared/platform/logger.ts';
import { decodeMessage, encodeJsonPayload } from '../../shared/mqtt/codec.ts';
import type { ModelStatePayload, TelemetryPayload } from '../../shared/mqtt/schemas.ts';
import { streamKey } from '../../shared/mqtt/sequence.ts';
import { buildTopic } from '../../shared/mqtt/topics.ts';
import {
  archiveOf,
  installCommand,
  makeModelBundle,
  startFileServer,
  tempDir,
} from '../integration/agent-model-fixture.ts';
import { startAedes, Subscriber } from '../integration/agent-mqtt-fixture.ts';
import { waitFor } from '../helpers/wait.ts';

const DEVICE = 'pump-e2e';

function topic(kind: Parameters<typeof buildTopic>[0], device = DEVICE): string {
  const t = buildTopic(kind, device);
  assert.ok(t.ok);
  return t.value;
}

function steady() {
  const s = loadScenario('steady');
  assert.ok(s.ok, s.ok ? '' : s.message);
  return s.value;
}

/** The retained message on `t`, read by a fresh client (undefined when none within 2 s). */
async function readRetained(url: string, t: string): Promise<Uint8Array | undefined> {
  const client = connect(url, { clientId: `retained-${Math.random().toString(16).slice(2)}`, clean: true });
  try {
    return await new Promise<Uint8Array | undefined>((resolve, reject) => {
      const timer = setTimeout(() => {
        resolve(undefined);
      }, 2000);
      client.on('message', (got, payload, packet) => {
        if (got === t && packet.retain) {
          clearTimeout(timer);
          resolve(new Uint8Array(payload));
        }
      });
      client.once('connect', () => {
        client.subscribe(t, { qos: 1 }, (err) => {
          if (err) reject(err);
        });
      });
      client.once('error', reject);
    });
  } finally {
    await client.endAsync(true);
  }
}

async function publishCommand(url: string, payload: Uint8Array): Promise<void> {
  const client = await import('mqtt').then((m) =>
    m.connectAsync(url, { clientId: 'e2e-rollout', clean: true }),
  );
  await client.publishAsync(topic('modelCommand'), Buffer.from(payload), { qos: 1 });
  await client.endAsync();
}

test('the whole agent: pty -> windows -> telemetry exactly once by msgSeq; a signed model installed over MQTT serves', async (t) => {
  const broker = await startAedes();
  t.after(() => broker.close());
  const dir = tempDir(t);
  const key = generateSigningKeyPair();
  const keyFile = join(dir, 'release.pub');
  writeFileSync(keyFile, key.publicKeyPem);
  const files = await startFileServer(t);
  const bundle = await makeModelBundle(key, { name: 'pump-condition', version: '1.2.0' });
  const archive = archiveOf(bundle);
  files.set('/bundles/pump-condition-1.2.0.tar', archive);

  const pty = await ptyOutput();
  assert.ok(pty.ok, pty.ok ? '' : pty.message);
  t.after(() => pty.value.close());
  const sub = await Subscriber.connect(broker.url, `edgeloop/v1/devices/${DEVICE}/#`);
  t.after(() => sub.close());

  const config = loadAgentConfig(
    {
      serial: pty.value.target,
      deviceId: DEVICE,
      mqtt: broker.url,
      dataDir: join(dir, 'state'),
      trustedKeys: [keyFile],
      registry: `${files.url}/bundles`,
      metricsPort: '0',
      modelHealthWindows: '4',
      drainTimeoutMs: '3000',
    },
    {},
  );
  const log = new MemoryLogger();
  const agent = await startAgent(config, {
    log,
    serialBackoff: { baseMs: 20, capMs: 200, floorMs: 5 },
    mqttReconnectPeriodMs: 100,
    modelOptions: { retryBaseMs: 20, retryCapMs: 100 },
  });
  t.after(() => agent.close());
  const services = agent.services;
  assert.ok(services !== null);
  assert.ok(agent.metricsUrl?.startsWith('http://127.0.0.1:'), String(agent.metricsUrl));
  await waitFor('serial and broker', () => agent.reader.stats.connected && services.link.connected);

  // 40 s of device time at 5x (about 8 s): the model is installed while the board streams.
  const sim = runSim({
    scenario: steady(),
    seed: 3,
    durationS: 40,
    speed: 5,
    out: pty.value,
    deviceId: DEVICE,
  });
  const telemetry = () => sub.of('telemetry').map((m) => m.payload);
  await waitFor('telemetry before any model', () => telemetry().length >= 5, { timeoutMs: 20_000 });
  const early = telemetry()[0] as TelemetryPayload;
  assert.equal(early.prediction, null, 'no model yet: no prediction');
  assert.equal(
    early.featurePipeline,
    'edgeloop-features/v1',
    'features from the shared pipeline without a model',
  );
  assert.equal(Object.keys(early.features).length, 192);

  // A command for a bundle outside --registry is refused with its code, and nothing is fetched.
  const outside = {
    ...installCommand('http://elsewhere.invalid/x.tar', archive, { deploySeq: 1 }),
    deviceId: DEVICE,
  };
  const enc = (c: unknown) => {
    const e = encodeJsonPayload('modelCommand', c as never);
    assert.ok(e.ok, e.ok ? '' : e.message);
    return e.value;
  };
  await publishCommand(broker.url, enc(outside));
  const states = () => sub.of('modelState').map((m) => m.payload);
  await waitFor('refusal', () => states().some((s) => s.code === 'EDGELOOP_ERR_MODEL_URL_REFUSED'));
  assert.equal(files.requests.length, 0);

  const install = {
    ...installCommand(`${files.url}/bundles/pump-condition-1.2.0.tar`, archive, {
      deploySeq: 2,
      version: '1.2.0',
    }),
    deviceId: DEVICE,
  };
  await publishCommand(broker.url, enc(install));
  await waitFor(
    'commit',
    () => states().some((s) => s.deploySeq === 2 && ['COMMITTED', 'FAILED', 'ROLLED_BACK'].includes(s.state)),
    { timeoutMs: 20_000 },
  );
  const final = states().at(-1) as ModelStatePayload;
  assert.equal(final.state, 'COMMITTED', `${final.reason} ${final.code}`);
  assert.deepEqual(final.active, { name: 'pump-condition', version: '1.2.0' });
  assert.deepEqual(
    states().map((s) => s.state),
    ['IDLE', 'FAILED', 'DOWNLOADING', 'VERIFYING', 'STAGED', 'ACTIVATING', 'HEALTH_CHECK', 'COMMITTED'],
  );
  // Retained: a client that connects now is told the committed state.
  const kept = await readRetained(broker.url, topic('modelState'));
  assert.ok(kept !== undefined, 'model state is retained');
  const keptMsg = decodeMessage(topic('modelState'), kept);
  assert.ok(keptMsg.ok && keptMsg.value.kind === 'modelState');
  assert.equal(keptMsg.value.payload.state, 'COMMITTED');

  await sim;
  await waitFor('the last windows', () => telemetry().length >= 39 && services.outbox.stats().depth === 0, {
    timeoutMs: 20_000,
  });
  const metrics = await fetch(`${agent.metricsUrl}/metrics`).then((r) => r.text());
  assert.match(metrics, /^edgeloop_agent_windows_total (3\d|4\d)$/m);
  assert.match(metrics, /^edgeloop_agent_model_info\{name="pump-condition",version="1\.2\.0"\} 1$/m);
  assert.match(metrics, /^edgeloop_agent_mqtt_connected 1$/m);
  const health = await fetch(`${agent.metricsUrl}/healthz`);
  assert.equal(health.status, 200);
  const h = (await health.json()) as { status: string; model: { active: unknown } };
  assert.equal(h.status, 'ok');
  assert.deepEqual(h.model.active, { name: 'pump-condition', version: '1.2.0' });

  await agent.close();
  await waitFor('offline status', () => sub.of('status').some((s) => s.payload.state === 'offline'));

  // Exactly once: every window index once, msgSeq without gaps or duplicates over every topic.
  const tel = telemetry();
  const indices = tel.map((m) => m.window.index).sort((a, b) => a - b);
  assert.deepEqual(
    indices,
    indices.map((_, i) => i),
    'windows 0..n-1, each once',
  );
  assert.equal(tel.length, agent.stats().sink?.telemetryEnqueued);
  assert.equal(sub.duplicates, 0);
  assert.equal(sub.invalid.length, 0, sub.invalid.join('\n'));
  // The agent's own stream (the subscriber also sees the test's model commands, under their runId).
  const tracker = sub.trackers.get(streamKey(DEVICE, services.sequence.runId));
  assert.ok(tracker !== undefined);
  assert.equal(tracker.received, services.sequence.last, 'every msgSeq the agent handed out arrived');
  assert.equal(tracker.missing, 0, `gaps ${JSON.stringify(tracker.openGaps())}`);
  for (const m of tel) {
    assert.equal(m.deviceId, DEVICE);
    assert.ok(['good', 'suspect', 'fail'].includes(m.integrity.status));
    assert.ok(m.counters.framesDecoded > 0 && m.counters.samples > 0, 'ingest counters');
    assert.equal(m.counters.framesInvalid, 0);
    assert.equal(m.counters.samplesMissing, 0);
  }
  const served = tel.filter((m) => m.prediction !== null);
  assert.ok(served.length >= 5, `${served.length} windows with predictions`);
  for (const m of served) {
    assert.deepEqual(m.model, { name: 'pump-condition', version: '1.2.0' });
    assert.deepEqual(Object.keys(m.prediction!.probabilities).sort(), [
      'bearing_wear',
      'imbalance',
      'normal',
    ]);
  }
  // Once served, every later window is served (the swap falls between two windows, nothing reverts).
  const first = tel.findIndex((m) => m.prediction !== null);
  assert.ok(tel.slice(first).every((m) => m.prediction !== null || m === tel.at(-1)));
  assert.ok(!log.records.some((r) => r.level === 'warn' && /HELLO/.test(r.message)), log.text());
});

test('edgeloop agent --mqtt: SIGTERM (io.signal) flushes, publishes offline and exits 0', async (t) => {
  const broker = await startAedes();
  t.after(() => broker.close());
  const dir = tempDir(t);
  const keyFile = join(dir, 'k.pub');
  writeFileSync(keyFile, generateSigningKeyPair().publicKeyPem);
  const pty = await ptyOutput();
  assert.ok(pty.ok, pty.ok ? '' : pty.message);
  t.after(() => pty.value.close());
  const sub = await Subscriber.connect(broker.url, `edgeloop/v1/devices/${DEVICE}/#`);
  t.after(() => sub.close());
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let err = '';
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  stdout.resume();
  const ac = new AbortController();
  const run = agentCommand.run(
    [
      '--serial',
      pty.value.target,
      '--mqtt',
      broker.url,
      '--device-id',
      DEVICE,
      '--data-dir',
      join(dir, 'state'),
      '--trusted-key',
      keyFile,
      '--metrics-port',
      '0',
    ],
    { stdout, stderr, env: {}, signal: ac.signal },
  );
  await waitFor('metrics URL', () => /metrics at .*url=http:\/\/127\.0\.0\.1:\d+/.test(err));
  const sim = runSim({
    scenario: steady(),
    seed: 4,
    durationS: 6,
    speed: 5,
    out: pty.value,
    deviceId: DEVICE,
  });
  await waitFor('telemetry', () => sub.of('telemetry').length >= 3, { timeoutMs: 20_000 });
  ac.abort();
  assert.equal(await run, 0);
  await sim;
  assert.match(err, /INFO {2}stopping: flushing and closing reason=signal/);
  assert.match(err, /INFO {2}summary windows=\d+.*outboxDepth=0/);
  await waitFor('offline', () => sub.of('status').some((s) => s.payload.state === 'offline'));
  const off = sub.of('status').find((s) => s.payload.state === 'offline')!;
  assert.equal(off.payload.reason, 'shutdown', 'a clean DISCONNECT, not the last will');
});
