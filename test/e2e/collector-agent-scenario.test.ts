// Issue #9 §8 "Scenarios end to end", agent path, with real components only: firmware-sim writes a
// shortened calibration-drift scenario to a real pseudo-terminal; the whole agent reads it through the
// real serialport binding, serves a model that `edgeloop train` made and the collector's own registry holds
// (installed over the model command topic, as a rollout would), and publishes to the collector's embedded
// aedes broker; the collector stores it and its monitors must name the drifting sensor, with the cause
// calibration drift, and raise nothing about the sensors that stayed put.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { connectAsync } from 'mqtt';
import { loadAgentConfig, startAgent } from '../../agent/index.ts';
import { registryCommand } from '../../cli/registry.ts';
import { trainCommand } from '../../cli/train.ts';
import { ptyOutput } from '../../firmware-sim/adapters/pty.ts';
import { runSim } from '../../firmware-sim/run.ts';
import { parseScenario } from '../../firmware-sim/scenario.ts';
import { sha256Hex } from '../../shared/bundle/signing.ts';
import { encodeJsonPayload } from '../../shared/mqtt/codec.ts';
import { buildTopic } from '../../shared/mqtt/topics.ts';
import { MemoryLogger } from '../../shared/platform/logger.ts';
import { runCommand } from '../helpers/run-command.ts';
import { waitFor } from '../helpers/wait.ts';
import { startTestCollector } from '../integration/collector-fixture.ts';

const DEVICE = 'pump-s1';
const DEVICE_PASSWORD = 'pump-s1-secret-0123456789';
const COLLECTOR = { username: 'collector', password: 'collector-secret-0123' };
const TOKEN = 'agent-scenario-token-0123456789';
const ONSET_S = 150;

/** calibration-drift, shortened: accel.x bias +0.15 g ramped in over 60 s from 02:30; 6 min in all. */
const scenario = {
  name: 'calibration-drift-short',
  durationS: 360,
  deviceId: DEVICE,
  machine: { state: 'normal', load: 0.8 },
  events: [{ kind: 'bias_ramp', at: ONSET_S, channel: 'accel.x', delta: 0.15, durationS: 60 }],
};

test(
  'sim -> pty -> agent (model from the collector registry) -> aedes -> collector: calibration drift named',
  { timeout: 600_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeloop-agent-scenario-'));
    t.after(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const bundle = join(dir, 'bundle');
    const trained = await runCommand(trainCommand, ['--out', bundle, '--seed', '1'], {}, true);
    assert.equal(trained.code, 0, trained.err);
    const pub = `${bundle}.signing.pub`;

    const credentialsFile = join(dir, 'credentials.json');
    writeFileSync(
      credentialsFile,
      JSON.stringify({ devices: { [DEVICE]: DEVICE_PASSWORD }, collector: COLLECTOR }),
    );
    const fx = await startTestCollector(
      {
        credentialsFile,
        trustedKeys: [pub],
        evaluateIntervalMs: 250,
        driftWindow: 60,
        alertMqtt: false,
      },
      { trustedKeys: [readFileSync(pub, 'utf8')], registryTokens: [{ token: TOKEN, actor: 'test' }] },
    );
    t.after(() => fx.close());
    const http = fx.collector.httpUrl;
    const pushed = await runCommand(
      registryCommand,
      ['push', bundle, '--url', http, '--token', TOKEN],
      {},
      true,
    );
    assert.equal(pushed.code, 0, pushed.err);
    const manifest = JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8')) as {
      name: string;
      version: string;
    };
    const bundleUrl = `${http}/api/v1/models/${manifest.name}/versions/${manifest.version}/bundle`;
    const archive = new Uint8Array(await (await fetch(bundleUrl)).arrayBuffer());

    const pty = await ptyOutput();
    assert.ok(pty.ok, pty.ok ? '' : pty.message);
    t.after(() => pty.value.close());
    const brokerUrl = `mqtt://127.0.0.1:${String(fx.collector.brokerPort)}`;
    const agent = await startAgent(
      loadAgentConfig(
        {
          serial: pty.value.target,
          deviceId: DEVICE,
          mqtt: brokerUrl,
          mqttUsername: DEVICE,
          mqttPassword: DEVICE_PASSWORD,
          dataDir: join(dir, 'agent'),
          trustedKeys: [pub],
          registry: `${http}/api/v1`,
          metricsPort: '0',
          modelHealthWindows: '4',
        },
        {},
      ),
      { log: new MemoryLogger(), mqttReconnectPeriodMs: 100 },
    );
    t.after(() => agent.close());
    await waitFor('agent connected', () => agent.services?.link.connected === true, { timeoutMs: 20_000 });

    // Install the model as a rollout would: a model command from the collector's user.
    const command = encodeJsonPayload('modelCommand', {
      v: 1,
      deviceId: DEVICE,
      runId: 1,
      msgSeq: 1,
      tsMs: Date.now(),
      action: 'install',
      deploySeq: 1,
      model: { name: manifest.name, version: manifest.version },
      url: bundleUrl,
      digest: `sha256:${sha256Hex(archive)}`,
    });
    assert.ok(command.ok, command.ok ? '' : command.message);
    const topic = buildTopic('modelCommand', DEVICE);
    assert.ok(topic.ok);
    const controller = await connectAsync(brokerUrl, { ...COLLECTOR, clientId: 'test-rollout', clean: true });
    await controller.publishAsync(topic.value, Buffer.from(command.value), { qos: 1 });
    await controller.endAsync();

    const parsed = parseScenario(scenario, 'test');
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.message);
    const summary = await runSim({
      scenario: parsed.value,
      seed: 5,
      speed: 10,
      out: pty.value,
      deviceId: DEVICE,
    });
    await waitFor(
      () => `the windows of ${String(summary.timeS)} s stored`,
      () => {
        const d = fx.collector.store.device(DEVICE);
        const stored = fx.collector.store.windows({ deviceId: DEVICE, fromMs: 0, toMs: Date.now() + 60_000 });
        return (
          d !== undefined &&
          stored.length >= summary.timeS - 2 &&
          fx.collector.ingest.queueDepth() === 0 &&
          agent.services?.outbox.stats().depth === 0
        );
      },
      { timeoutMs: 60_000 },
    );
    const drained = Date.now();
    await waitFor(
      'two monitor cycles',
      () => (fx.collector.monitors.lastCycle()?.atMs ?? 0) > drained + 500,
      {
        timeoutMs: 30_000,
      },
    );

    const windows = fx.collector.store.windows({ deviceId: DEVICE, fromMs: 0, toMs: Date.now() + 60_000 });
    const served = windows.filter((w) => w.prediction !== null);
    assert.ok(served.length > 200, `${served.length} of ${windows.length} windows served by the model`);
    const alerts = fx.collector.store.alerts({ deviceId: DEVICE });
    const snapshot = (await (await fetch(`${http}/api/v1/devices/${DEVICE}`)).json()) as { drift: unknown };
    const text = [
      ...alerts.map((a) => `${a.kind} ${a.channel ?? '-'} ${a.state}: ${a.message}`),
      `drift: ${JSON.stringify(snapshot.drift).slice(0, 8000)}`,
    ].join('\n');
    const drift = alerts.filter((a) => a.kind === 'drift' || a.kind === 'environment');
    assert.ok(
      drift.some((a) => a.channel === 'accel'),
      `a drift alert on accel:\n${text}`,
    );
    assert.ok(
      drift.every((a) => a.channel === 'accel'),
      `drift only on accel:\n${text}`,
    );
    const accel = drift.find((a) => a.channel === 'accel');
    assert.equal((accel?.details as { cause?: string } | undefined)?.cause, 'calibration_drift', text);
    assert.ok(!alerts.some((a) => a.kind === 'integrity' && a.severity !== 'info'), `integrity:\n${text}`);
    // Named within a few windows of the onset: its start lies after 02:30 of device time.
    const onset = windows.find((w) => w.windowIndex >= ONSET_S);
    const since = (accel?.details as { sinceMs?: number } | undefined)?.sinceMs;
    assert.ok(onset !== undefined && since !== undefined && since >= onset.tsMs, `since ${String(since)}`);
  },
);
