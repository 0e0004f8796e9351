// `edgeloop sim --fleet --model` against the embedded aedes broker (docs/firmware-sim.md §Fleet mode): a
// small bundle from `edgeloop train`, verified with its key, runs on every device's windows; each
// telemetry message carries a valid prediction and the model ref, the retained status names the model,
// and a device whose machine turns to bearing wear early is predicted `bearing_wear` late in the run.
// Without --trusted-key, or with the wrong key, the sim refuses to start.

import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type MqttClient } from 'mqtt';
import { trainCommand } from '../../cli/train.ts';
import { simCommand } from '../../firmware-sim/cli.ts';
import { generateSigningKeyPair } from '../../shared/bundle/signing.ts';
import { decodeMessage, type DecodedMessage } from '../../shared/mqtt/codec.ts';
import { fleetFilter } from '../../shared/mqtt/topics.ts';
import { runCommand } from '../helpers/run-command.ts';
import { waitFor } from '../helpers/wait.ts';
import { startAedes, type Broker } from './agent-mqtt-fixture.ts';

const DURATION_S = 25;

async function subscribe(url: string, filters: string[], got: DecodedMessage[]): Promise<MqttClient> {
  const client = connect(url, {
    clientId: `test-${Math.random().toString(16).slice(2)}`,
    reconnectPeriod: 0,
  });
  client.on('message', (topic, payload) => {
    const d = decodeMessage(topic, payload);
    assert.ok(d.ok, d.ok ? '' : `${topic}: ${d.message}`);
    got.push(d.value);
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => {
      client.subscribe(filters, { qos: 1 }, (err) => {
        if (err) reject(err);
        else resolve();
      });
    });
    client.once('error', reject);
  });
  return client;
}

describe('sim --fleet --model over MQTT (aedes)', () => {
  let broker: Broker;
  let dir: string;
  let bundle: string;
  let scenario: string;
  let manifest: { name: string; version: string; labels: string[]; pipeline: { id: string } };

  before(async () => {
    broker = await startAedes();
    dir = mkdtempSync(join(tmpdir(), 'sim-fleet-model-'));
    bundle = join(dir, 'bundle');
    // A small, fast training run; the ephemeral key is written beside the bundle (<out>.signing.pub).
    const r = await runCommand(trainCommand, [
      '--out',
      bundle,
      '--devices-per-state',
      '4',
      '--seconds-per-device',
      '15',
      '--trials',
      '2',
      '--folds',
      '2',
    ]);
    assert.equal(r.code, 0, r.err);
    manifest = JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8')) as typeof manifest;
    scenario = join(dir, 'bearing-early.json');
    // bearing-wear, but from 5 s with a 5 s ramp, so a 25 s run ends well inside the fault.
    writeFileSync(
      scenario,
      JSON.stringify({
        name: 'bearing-early',
        durationS: 60,
        machine: { state: 'normal', load: 0.8 },
        events: [{ kind: 'state', at: 5, state: 'bearing_wear', severity: 0.8, rampS: 5 }],
      }),
    );
  });
  after(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes a valid prediction and the model ref in every window; bearing wear is predicted late', async (t) => {
    const got: DecodedMessage[] = [];
    const sub = await subscribe(broker.url, [fleetFilter('telemetry'), fleetFilter('status')], got);
    const r = await runCommand(simCommand, [
      '--fleet',
      '3',
      '--mqtt',
      broker.url,
      '--model',
      bundle,
      '--trusted-key',
      `${bundle}.signing.pub`,
      '--scenario-map',
      `3=${scenario}`,
      '--duration',
      String(DURATION_S),
      '--speed',
      'max',
      '--seed',
      '3',
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, new RegExp(`model ${manifest.name}@${manifest.version}`));
    const telemetry = (): Extract<DecodedMessage, { kind: 'telemetry' }>['payload'][] =>
      got.flatMap((m) => (m.kind === 'telemetry' ? [m.payload] : []));
    await waitFor(
      () => `${3 * DURATION_S} telemetry messages (have ${telemetry().length})`,
      () => telemetry().length >= 3 * DURATION_S,
    );
    await sub.endAsync();

    const ref = { name: manifest.name, version: manifest.version };
    for (const p of telemetry()) {
      assert.ok(p.prediction !== null, `${p.deviceId} window ${p.window.index} has no prediction`);
      assert.deepEqual(p.model, ref);
      assert.ok(manifest.labels.includes(p.prediction.label));
      assert.deepEqual(Object.keys(p.prediction.probabilities).sort(), [...manifest.labels].sort());
      const probs = Object.values(p.prediction.probabilities);
      assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-3);
      const best = Math.max(...probs);
      assert.equal(p.prediction.probabilities[p.prediction.label], best);
      assert.ok(p.prediction.latencyMs >= 0);
      // The vector the model saw, under the bundle pipeline's names (as the agent publishes it).
      assert.equal(p.featurePipeline, manifest.pipeline.id);
      assert.equal(Object.keys(p.features).length, 192);
    }
    const statuses = got.flatMap((m) => (m.kind === 'status' ? [m.payload] : []));
    assert.ok(statuses.length > 0);
    for (const s of statuses) assert.deepEqual(s.model, ref);

    const worn = telemetry()
      .filter((p) => p.deviceId === 'sim-03')
      .sort((a, b) => a.window.index - b.window.index);
    assert.equal(worn.length, DURATION_S);
    const pWear = (ps: typeof worn): number =>
      ps.reduce((a, p) => a + (p.prediction?.probabilities.bearing_wear ?? 0), 0) / ps.length;
    const early = worn.slice(0, 4); // before the fault starts at 5 s
    const late = worn.slice(-10); // 10 s and more after the ramp ended
    const lateWear = late.filter((p) => p.prediction?.label === 'bearing_wear').length;
    t.diagnostic(
      `sim-03 p(bearing_wear) early ${pWear(early).toFixed(2)}, late ${pWear(late).toFixed(2)}; labels ${worn.map((p) => p.prediction?.label[0]).join('')}`,
    );
    assert.ok(
      pWear(late) > pWear(early) && lateWear >= 7,
      `p(bearing_wear) early ${pWear(early).toFixed(2)}, late ${pWear(late).toFixed(2)}; ${lateWear}/10 late labelled bearing_wear`,
    );
    // The steady devices stay away from bearing_wear.
    const steady = telemetry().filter((p) => p.deviceId !== 'sim-03');
    assert.ok(steady.filter((p) => p.prediction?.label === 'bearing_wear').length < steady.length / 4);
  });

  it('refuses --model without --trusted-key, and a bundle signed by another key', async () => {
    const base = [
      '--fleet',
      '1',
      '--mqtt',
      broker.url,
      '--model',
      bundle,
      '--duration',
      '2',
      '--speed',
      'max',
    ];
    const none = await runCommand(simCommand, base);
    assert.equal(none.code, 2);
    assert.match(none.err, /--trusted-key.*\[EDGELOOP_ERR_CONFIG_INVALID\]/);
    const other = join(dir, 'other.pub');
    writeFileSync(other, generateSigningKeyPair().publicKeyPem);
    const wrong = await runCommand(simCommand, [...base, '--trusted-key', other]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.err, /\[EDGELOOP_ERR_BUNDLE_[A-Z_]+\]/);
  });
});
