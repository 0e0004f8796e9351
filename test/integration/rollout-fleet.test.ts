// A rollout over the real stack: the embedded aedes broker, the registry's HTTP server serving real signed
// bundles, the collector's SQLite telemetry store fed from MQTT, and a firmware-sim fleet (runFleet) whose
// devices download, verify (pinned key) and commit as an agent does. The canary commits, a silent device
// times out without blocking, the rest of the fleet follows, production moves, and the inventory and the
// devices' own telemetry say they run the new version.

import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect } from 'mqtt';
import { getBundle } from '../../firmware-sim/adapters/download.ts';
import { stageFleetBundle } from '../../firmware-sim/adapters/fleet-bundle.ts';
import { connectFleetDevice } from '../../firmware-sim/adapters/mqtt.ts';
import { loadScenario } from '../../firmware-sim/adapters/scenario-files.ts';
import { fleetDeviceIds, runFleet } from '../../firmware-sim/fleet.ts';
import { FleetModelCache } from '../../firmware-sim/fleet-models.ts';
import { updateDefaults } from '../../firmware-sim/fleet-updates.ts';
import { generateSigningKeyPair, trustedKeySet } from '../../shared/bundle/signing.ts';
import { decodeMessage } from '../../shared/mqtt/codec.ts';
import { fleetFilter } from '../../shared/mqtt/topics.ts';
import { systemClock } from '../../shared/platform/clock.ts';
import { MemoryLogger } from '../../shared/platform/logger.ts';
import { openSqliteDatabase } from '../../shared/platform/sqlite.ts';
import { createRegistryServer } from '../../collector/registry/server.ts';
import { createRolloutController } from '../../collector/rollout/controller.ts';
import { openSqliteTelemetryStore } from '../../collector/storage/sqlite-store.ts';
import { waitFor } from '../helpers/wait.ts';
import { archiveOf, makeModelBundle } from './agent-model-fixture.ts';
import { startAedes } from './agent-mqtt-fixture.ts';

const N = 8;
const NAME = 'pump-condition';

test('rollout of a real signed bundle to a simulated fleet over aedes: canary, fleet, production', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rollout-fleet-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const broker = await startAedes();
  t.after(() => broker.close());
  const key = generateSigningKeyPair();
  const registry = await createRegistryServer({
    dataDir: join(dir, 'registry'),
    tokens: [{ token: 'write-token-0123456789abcdef', actor: 'ci' }],
    trustedKeys: [key.publicKeyPem],
  });
  t.after(() => registry.close());
  const v1 = await makeModelBundle(key, { name: NAME, version: '1.0.0', seed: 7 });
  // 2.0.0 has 1.0.0's weights (it agrees with it: a good candidate); 3.0.0 has other random weights and
  // predicts another class for the same machine (a bad one).
  const v2 = await makeModelBundle(key, { name: NAME, version: '2.0.0', seed: 7 });
  const v3 = await makeModelBundle(key, { name: NAME, version: '3.0.0', seed: 8 });
  for (const b of [v1, v2, v3]) {
    const r = await registry.registry.push(NAME, archiveOf(b), 'ci');
    assert.ok(r.ok, r.ok ? '' : r.message);
  }
  assert.ok(
    registry.registry.moveAlias({
      model: NAME,
      alias: 'production',
      version: '1.0.0',
      reason: 'seed',
      actor: 'ci',
    }).ok,
  );

  const store = openSqliteTelemetryStore(join(dir, 'collector.sqlite'));
  t.after(() => {
    store.close();
  });
  const db = openSqliteDatabase(join(dir, 'loop.sqlite'));
  t.after(() => {
    db.close();
  });
  const mqtt = connect(broker.url, { clientId: `rollout-test-${process.pid}`, reconnectPeriod: 0 });
  t.after(() => mqtt.endAsync());
  await new Promise<void>((resolve, reject) => {
    mqtt.once('connect', () => {
      resolve();
    });
    mqtt.once('error', reject);
  });
  const logger = new MemoryLogger();
  const controller = createRolloutController({
    db,
    registry: registry.registry,
    store,
    publish: async (topic, payload, o) => {
      await mqtt.publishAsync(topic, Buffer.from(payload), o);
    },
    bundleUrl: (m, v) => `${registry.url}/api/v1/models/${m}/versions/${v}/bundle`,
    reference: () => undefined,
    clock: systemClock,
    logger,
    tickMs: 100,
  });
  t.after(() => {
    controller.close();
  });
  // What the integrator wires: every decoded device message is stored, then observed.
  mqtt.on('message', (topic, payload) => {
    const d = decodeMessage(topic, payload);
    if (!d.ok) return;
    const batch = [{ message: d.value, receivedMs: Date.now() }];
    store.writeBatch(batch);
    controller.observe(batch);
  });
  await mqtt.subscribeAsync([fleetFilter('modelState'), fleetFilter('status'), fleetFilter('telemetry')], {
    qos: 1,
  });

  const ids = fleetDeviceIds(N, 'ro-');
  const silent = ids[N - 1] as string;
  const keys = trustedKeySet([key.publicKeyPem]);
  const initial = await stageFleetBundle(v1.contents, keys);
  assert.ok(initial.ok, initial.ok ? '' : initial.message);
  const models = new FleetModelCache((c) => stageFleetBundle(c, keys));
  t.after(() => models.close());
  const scenario = loadScenario('steady');
  assert.ok(scenario.ok);
  const abort = new AbortController();
  const run = runFleet({
    devices: N,
    prefix: 'ro-',
    scenarioOf: () => scenario.value,
    seed: 5,
    speed: 1,
    durationS: 600,
    replayWindows: 2,
    model: initial.value,
    updates: {
      config: { ...updateDefaults, trustedKeys: keys, seed: 5, retryBaseMs: 50, retryCapMs: 200 },
      models,
      get: getBundle,
      silent: new Set([silent]),
      maxDownloads: 4,
    },
    connect: (deviceId, will) => connectFleetDevice({ url: broker.url, clientId: deviceId, will }),
    nowMs: () => Date.now(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    signal: abort.signal,
  });
  t.after(async () => {
    abort.abort();
    await run;
  });
  const windowsOf = (d: string): number =>
    store.windows({ deviceId: d, fromMs: 0, toMs: Date.now() + 60_000 }).length;
  await waitFor(
    () => `${N} devices reporting ${NAME}, with windows to compare with`,
    () =>
      store.devices().filter((d) => d.model?.name === NAME).length === N &&
      ids.slice(0, N - 1).every((d) => windowsOf(d) >= 3),
    { timeoutMs: 30_000 },
  );

  const started = controller.start(
    {
      model: NAME,
      toVersion: '2.0.0',
      canary: { devices: [ids[0] as string, silent] },
      canaryBakeS: 3,
      phases: [{ percent: 100, bakeS: 0 }],
      deviceTimeoutS: 8,
      // Latency on this shared 2-core box while devices load ONNX sessions says nothing about the model
      // (timing claims go in bench/): only the deterministic checks decide here.
      analysis: { minWindows: 2, baselineS: 30, maxLatencyP95Ratio: 1e6 },
      reason: 'fleet test',
    },
    'ci',
  );
  assert.ok(started.ok, started.ok ? '' : started.message);
  const id = started.value.id;
  controller.startTimer();
  await waitFor(
    () =>
      `rollout ended (now ${controller.get(id)?.state ?? '?'}: ${JSON.stringify(controller.get(id)?.counts)})`,
    () => ['completed', 'rolled_back', 'aborted', 'paused'].includes(controller.get(id)?.state ?? ''),
    { timeoutMs: 90_000 },
  );
  const v = controller.get(id);
  assert.ok(v !== undefined);
  assert.equal(v.state, 'completed', JSON.stringify({ analyses: v.analyses, events: v.events }, null, 1));
  assert.equal(v.production?.moved, true);
  const prod = registry.registry.listAliases(NAME);
  assert.ok(prod.ok);
  assert.equal(prod.value.find((a) => a.alias === 'production')?.version, '2.0.0');
  assert.equal(v.devices.find((d) => d.deviceId === silent)?.state, 'timed_out');
  assert.equal(v.counts.committed, N - 1);
  const [first] = v.analyses;
  assert.ok(first !== undefined);
  assert.equal(first.verdict, 'pass');
  assert.ok((first.figures.before as { windows: number }).windows >= 2, 'compared with before');
  assert.ok((first.figures.after as { windows: number }).windows >= 2);
  const inventory = controller.inventory();
  for (const id2 of ids.slice(0, N - 1)) {
    const row = inventory.find((r) => r.deviceId === id2);
    assert.equal(row?.model?.version, '2.0.0', id2);
    assert.equal(row.state, 'COMMITTED');
  }
  // The devices' own telemetry names the new version after the commit.
  await waitFor(
    () => 'telemetry of 2.0.0 from every device but the silent one',
    () => ids.slice(0, N - 1).every((d) => store.device(d)?.model?.version === '2.0.0'),
    { timeoutMs: 15_000 },
  );
  assert.equal(store.device(silent)?.model?.version, '1.0.0');

  // The bad candidate: its canary commits (the device's health window sees nothing wrong), but it predicts
  // another class than before and than the devices still on 2.0.0, so the analysis fails and the rollout
  // rolls back; production stays on 2.0.0.
  const bad = controller.start(
    {
      model: NAME,
      toVersion: '3.0.0',
      devices: ids.slice(0, N - 1),
      canary: { devices: [ids[1] as string] },
      canaryBakeS: 3,
      phases: [{ percent: 100, bakeS: 0 }],
      deviceTimeoutS: 8,
      // Latency on this shared 2-core box while devices load ONNX sessions says nothing about the model
      // (timing claims go in bench/): only the deterministic checks decide here.
      analysis: { minWindows: 2, baselineS: 30, maxLatencyP95Ratio: 1e6 },
    },
    'ci',
  );
  assert.ok(bad.ok, bad.ok ? '' : bad.message);
  await waitFor(
    () => `bad rollout ended (now ${controller.get(bad.value.id)?.state ?? '?'})`,
    () =>
      ['completed', 'rolled_back', 'aborted', 'paused'].includes(controller.get(bad.value.id)?.state ?? ''),
    { timeoutMs: 60_000 },
  );
  const b = controller.get(bad.value.id);
  assert.ok(b !== undefined);
  assert.equal(b.state, 'rolled_back', JSON.stringify(b.analyses, null, 1));
  assert.equal(b.analyses[0]?.checks.find((c) => c.name === 'prediction_mix')?.status, 'fail');
  assert.equal(b.devices.find((d) => d.deviceId === ids[1])?.state, 'reverted');
  const after = registry.registry.listAliases(NAME);
  assert.ok(after.ok);
  assert.equal(after.value.find((a) => a.alias === 'production')?.version, '2.0.0');
  assert.equal(after.value.find((a) => a.alias === 'canary')?.version, '2.0.0');
  assert.equal(controller.inventory().find((r) => r.deviceId === ids[1])?.model?.version, '2.0.0');
  assert.equal(controller.inventory().find((r) => r.deviceId === ids[2])?.model?.version, '2.0.0');
});
